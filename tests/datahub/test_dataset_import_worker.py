"""Imports in a real Celery worker, with progress pushed over the user's WebSocket."""

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.uploadedfile import SimpleUploadedFile

from cityos.asgi import application
from datahub.models import DatasetImport, DatasetRecord, Run
from datahub.services import datasets as svc
from tests.datahub.dataset_factories import make_dataset

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


def test_it_pushes_progress_to_the_users_open_page(client, user, department, media_tmp):
    ds = make_dataset(owner_department=department)
    imp = svc.dataset_import_preview(dataset=ds, upload=SimpleUploadedFile("rows.csv", ROWS.encode()), user=user)
    DatasetImport.objects.filter(id=imp.id).update(status=DatasetImport.Status.QUEUED)
    client.force_login(user)
    headers = [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
               (b"origin", b"http://localhost"), (b"host", b"localhost")]

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        connected, _ = await comm.connect()
        assert connected
        await comm.receive_json_from(timeout=5)  # hello
        await sync_to_async(svc.dataset_import_execute)(import_id=imp.id)
        received = []
        while True:
            msg = await comm.receive_json_from(timeout=5)
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
