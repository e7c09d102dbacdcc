"""Imports in a real Celery worker, with progress pushed over the user's WebSocket."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from cityos.asgi import application
from datahub.datasets.services import datasets as svc
from datahub.models import DatasetImport, DatasetRecord, Run
from tests.datahub.datasets.factories import make_dataset
from tests.helpers import wait_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("english")]

ROWS = "id,name,amount\n" + "".join(f"{i},name {i},{i * 1.5}\n" for i in range(1, 3001))


@pytest.mark.celery_worker
def test_it_runs_a_confirmed_import_in_a_celery_worker(celery_worker_process, user, department):
    ds = make_dataset(owner_department=department)
    imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile("rows.csv", ROWS.encode()), user=user)
    svc.dataset_import_confirm(imp=imp)  # autocommit: the task is queued at once
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        imp.refresh_from_db()
        if imp.status in ("succeeded", "failed", "partial", "cancelled"):
            break
        time.sleep(0.2)
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    assert DatasetRecord.objects.filter(dataset=ds).count() == 3000
    run = Run.objects.get(id=imp.run_id)
    assert (run.status, run.rows_stored, run.progress, run.triggered_by_id) == ("succeeded", 3000, 1.0, user.id)
    imp.file.delete(save=False)


@pytest.mark.celery_worker
def test_the_worker_links_an_imports_rows_to_entities_after_it_commits(celery_worker_process, user, department):
    from datahub.datasets.services.entities import dataset_entity_mapping_set

    firms = "id,licence,name\n1,L-1,Alpha Ltd\n2,L-1,Alpha\n3,L-2,Beta Ltd\n"
    ds = make_dataset(owner_department=department)
    first = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile("f.csv", firms.encode()), user=user)
    svc.dataset_import_confirm(imp=first, queue=False)
    svc.dataset_import_execute(import_id=first.id)  # no mapping yet: nothing is queued
    first.refresh_from_db()
    assert first.status == "succeeded", first.message
    ds.refresh_from_db()
    dataset_entity_mapping_set(
        dataset=ds,
        mapping={"type": "enterprise", "name_field": "name", "id_field": "licence", "id_scheme": "test-licence"},
    )
    firms += "4,L-3,Gamma Ltd\n"
    imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile("f.csv", firms.encode()), user=user)
    svc.dataset_import_confirm(imp=imp)
    # The worker links the rows, then closes the run: wait for both (the run can lag the links).
    wait_until(
        lambda: (
            not DatasetRecord.objects.filter(dataset=ds, version_to=None, entity_id=None).exists()
            and Run.objects.filter(source_id=ds.source_id).order_by("-id").values_list("status", flat=True).first()
            not in (None, "pending", "running")
        ),
        timeout=60,
        what="the worker to link the rows and close its run",
        interval=0.2,
    )
    linked = {r.data["name"]: r.entity_id for r in DatasetRecord.objects.filter(dataset=ds, version_to=None)}
    assert None not in linked.values(), linked
    assert linked["Alpha Ltd"] == linked["Alpha"] and len(set(linked.values())) == 3
    run = Run.objects.filter(source_id=ds.source_id).order_by("-id").first()
    assert (run.status, run.rows_stored, run.triggered_by_id) == ("succeeded", 4, user.id)
    first.file.delete(save=False)
    imp.file.delete(save=False)


def test_it_pushes_progress_to_the_users_open_page(client, user, department, media_tmp):
    ds = make_dataset(owner_department=department)
    imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile("rows.csv", ROWS.encode()), user=user)
    DatasetImport.objects.filter(id=imp.id).update(status=DatasetImport.Status.QUEUED)
    client.force_login(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
    ]

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, _ = await comm.connect(timeout=20)
        assert connected
        await comm.receive_json_from(timeout=20)  # hello
        await sync_to_async(svc.dataset_import_execute)(import_id=imp.id)
        received = []
        while True:
            msg = await comm.receive_json_from(timeout=20)
            received.append(msg)
            if msg["data"]["status"] == "succeeded":
                break
        await comm.disconnect()
        return received

    received = asyncio.run(scenario())
    assert {m["event"] for m in received} == {"datahub.dataset_import"}
    assert all(m["data"]["import_id"] == imp.id for m in received)
    progress = [m["data"]["progress"] for m in received]
    assert progress == sorted(progress) and progress[-1] == 1.0 and len(progress) >= 3
    assert received[-1]["data"]["rows_valid"] == 3000
