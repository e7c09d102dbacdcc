import pytest
from django_celery_beat.models import PeriodicTask

from cityos.roles import Role
from datahub import facade
from datahub.core import connectors
from datahub.core.services.runs import MAX_STORED_ERRORS, RunError
from datahub.core.services.sources import Schedule, SourceError, source_register, source_update
from datahub.core.tasks import source_pull
from datahub.models import Run, Source
from tests.datahub.core.factories import make_source
from tests.factories import make_user

pytestmark = pytest.mark.django_db

SECRET = "pa55-w0rd-never-shown"


def pull_ok(*, source_id, run_id):
    facade.run_progress(run_id=run_id, progress=0.5, counts={"read": 5})
    return {"read": 10, "stored": 9, "rejected": 1}


def pull_boom(*, source_id, run_id):
    raise ConnectionError("feed unreachable")


# --- runs ------------------------------------------------------------------------------------


def test_it_records_a_run_from_start_to_finish():
    run_id = facade.run_start(source_id=make_source().id)
    facade.run_progress(
        run_id=run_id, progress=0.25, counts={"read": 100, "stored": 98}, errors=[{"row": 3, "message": "bad date"}]
    )
    assert facade.run_finish(run_id=run_id, status="partial", counts={"read": 400, "stored": 395, "rejected": 5})
    run = Run.objects.get(id=run_id)
    assert (run.status, run.rows_read, run.rows_stored, run.rows_rejected) == ("partial", 400, 395, 5)
    assert run.started_at <= run.finished_at
    assert run.errors == [{"row": 3, "message": "bad date"}]


def test_it_finishes_a_run_only_once():
    run_id = facade.run_start(source_id=make_source().id)
    assert facade.run_finish(run_id=run_id, status="succeeded", counts={"stored": 3})
    assert not facade.run_finish(run_id=run_id, status="failed", errors=["late"])
    run = Run.objects.get(id=run_id)
    assert (run.status, run.rows_stored, run.errors, run.progress) == ("succeeded", 3, [], 1.0)


def test_it_ignores_progress_after_the_run_finished():
    run_id = facade.run_start(source_id=make_source().id)
    facade.run_finish(run_id=run_id, status="failed")
    facade.run_progress(run_id=run_id, progress=0.9, counts={"read": 7})
    run = Run.objects.get(id=run_id)
    assert (run.status, run.rows_read) == ("failed", 0)


def test_it_caps_the_errors_it_stores():
    run_id = facade.run_start(source_id=make_source().id)
    facade.run_finish(run_id=run_id, status="failed", errors=[{"row": i} for i in range(MAX_STORED_ERRORS + 500)])
    errors = Run.objects.get(id=run_id).errors
    assert len(errors) == MAX_STORED_ERRORS
    assert errors[-1]["errors_total"] == MAX_STORED_ERRORS + 500


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: facade.run_finish(run_id=r, status="done"), "status must be one of"),
        (lambda r: facade.run_progress(run_id=r, counts={"rows": 1}), "unknown count 'rows'"),
        (lambda r: facade.run_progress(run_id=r, counts={"read": -1}), "non-negative integer"),
        (lambda r: facade.run_progress(run_id=r, progress=1.5), "between 0 and 1"),
        (lambda r: facade.run_finish(run_id=r + 999, status="failed"), "does not exist"),
    ],
)
def test_it_refuses_bad_run_updates(call, message):
    run_id = facade.run_start(source_id=make_source().id)
    with pytest.raises(RunError, match=message):
        call(run_id)


def test_it_refuses_to_start_a_run_of_an_unknown_source():
    with pytest.raises(RunError, match="source 424242 does not exist"):
        facade.run_start(source_id=424242)


# --- sources and schedules -------------------------------------------------------------------


def test_it_schedules_a_source_through_a_periodic_task():
    sid = source_register(
        code="air", name="Air feed", kind="iot", connector="ok", schedule=Schedule(cron="*/15 * * * *")
    )
    task = Source.objects.get(id=sid).schedule
    assert (task.task, task.kwargs, task.enabled) == ("datahub.source_pull", f'{{"source_id": {sid}}}', True)
    from cityos.celery import app

    assert task.task in app.tasks  # beat would call a task the workers know
    assert (task.crontab.minute, task.crontab.hour) == ("*/15", "*")
    source_update(source_id=sid, schedule=Schedule(interval_seconds=3600))
    task.refresh_from_db()
    assert (task.crontab, task.interval.every) == (None, 3600)
    source_update(source_id=sid, is_active=False)
    task.refresh_from_db()
    assert task.enabled is False
    source_update(source_id=sid, schedule=None)
    assert not PeriodicTask.objects.filter(id=task.id).exists()
    assert Source.objects.get(id=sid).schedule is None


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (Schedule(cron="every day"), "must have 5 fields"),
        (Schedule(cron="61 * * * *"), "is not valid"),
        (Schedule(interval_seconds=5), "at least 60"),
        (Schedule(), "either cron or interval_seconds"),
    ],
)
def test_it_refuses_a_bad_schedule_and_registers_nothing(schedule, message):
    with pytest.raises(SourceError, match=message):
        source_register(code="x", name="X", kind="internet", schedule=schedule)
    assert not Source.objects.exists()
    assert not PeriodicTask.objects.filter(task="datahub.source_pull").exists()


def test_it_keeps_credentials_unless_new_ones_are_given():
    sid = source_register(code="api", name="API", kind="internet", credentials={"token": SECRET})
    source_update(source_id=sid, name="API 2", credentials=None)
    assert Source.objects.get(id=sid).credentials == {"token": SECRET}
    source_update(source_id=sid, credentials={})
    assert Source.objects.get(id=sid).credentials == {}


def test_a_pull_runs_the_registered_connector_and_records_counts():
    facade.connector_register(name="test-ok", path="tests.datahub.core.test_runs_sources.pull_ok")
    source = make_source(connector="test-ok")
    run_id = source_pull(source.id)
    run = Run.objects.get(id=run_id)
    assert (run.status, run.rows_read, run.rows_stored, run.rows_rejected) == ("partial", 10, 9, 1)
    assert source_pull(source.id, run_id) == run_id  # a redelivered task changes nothing
    assert Run.objects.filter(source=source).count() == 1


def test_a_failing_connector_leaves_a_failed_run_with_the_error():
    connectors.register("test-boom", "tests.datahub.core.test_runs_sources.pull_boom")
    run = Run.objects.get(id=source_pull(make_source(connector="test-boom").id))
    assert run.status == "failed"
    assert run.errors == [{"message": "ConnectionError: feed unreachable"}]


def test_a_pull_of_an_unknown_connector_fails_its_run():
    run = Run.objects.get(id=source_pull(make_source(connector="nope").id))
    assert run.errors == [{"message": "no connector named 'nope' is registered"}]


# --- API and admin ---------------------------------------------------------------------------


@pytest.fixture
def admin_client(api_client):
    api_client.force_authenticate(make_user(role=Role.ADMINISTRATOR))
    return api_client


def test_the_api_stores_credentials_but_never_returns_them(admin_client, department):
    body = {
        "code": "weather",
        "name": "Weather API",
        "kind": "internet",
        "owner_department": department.id,
        "connector": "rss",
        "config": {"url": "https://example.org/feed"},
        "credentials": {"api_key": SECRET},
        "schedule": {"cron": "0 * * * *"},
    }
    created = admin_client.post("/api/v1/datahub/sources/", body, format="json")
    assert created.status_code == 201, created.content
    assert SECRET not in created.content.decode()
    assert created.json()["has_credentials"] is True
    assert created.json()["schedule"]["cron"] == "0 * * * *"
    assert Source.objects.get(code="weather").credentials == {"api_key": SECRET}
    for url in ("/api/v1/datahub/sources/", f"/api/v1/datahub/sources/{created.json()['id']}/"):
        response = admin_client.get(url)
        assert response.status_code == 200
        assert SECRET not in response.content.decode()
        assert "api_key" not in response.content.decode()


def test_the_api_refuses_a_bad_schedule_with_a_clear_error(admin_client):
    response = admin_client.post(
        "/api/v1/datahub/sources/",
        {"code": "w", "name": "W", "kind": "iot", "schedule": {"cron": "* *"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith("schedule: cron '* *' must have 5 fields")


def test_only_administrators_register_sources(auth_client):
    response = auth_client.post("/api/v1/datahub/sources/", {"code": "w", "name": "W", "kind": "iot"}, format="json")
    assert response.status_code == 403
    assert auth_client.get("/api/v1/datahub/sources/").status_code == 200


def test_the_api_lists_sources_and_runs_without_n_plus_one(admin_client, django_assert_max_num_queries):
    for i in range(5):
        s = make_source()
        facade.run_finish(run_id=facade.run_start(source_id=s.id), status="succeeded", counts={"stored": i})
    with django_assert_max_num_queries(6):
        sources = admin_client.get("/api/v1/datahub/sources/")
    assert sources.json()["count"] == 5
    assert all(s["last_run"]["status"] == "succeeded" for s in sources.json()["results"])
    with django_assert_max_num_queries(5):
        runs = admin_client.get("/api/v1/datahub/runs/?status=succeeded")
    assert runs.json()["count"] == 5


def test_the_api_queues_a_pull(admin_client, django_capture_on_commit_callbacks):
    connectors.register("test-ok", "tests.datahub.core.test_runs_sources.pull_ok")
    source = make_source(connector="test-ok")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(f"/api/v1/datahub/sources/{source.id}/pull/")
    assert response.status_code == 202
    assert response.json()["status"] == "running"
    assert len(callbacks) == 1  # the task is queued after commit, not before


def test_the_admin_never_shows_credentials(client):
    admin = make_user(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(admin)
    sid = source_register(code="secret-feed", name="Secret feed", kind="internet", credentials={"password": SECRET})
    page = client.get(f"/admin/datahub/source/{sid}/change/")
    assert page.status_code == 200
    assert SECRET not in page.content.decode()
    listing = client.get("/admin/datahub/source/")
    assert SECRET not in listing.content.decode()


def test_the_admin_replaces_credentials_only_when_new_ones_are_typed(client):
    admin = make_user(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client.force_login(admin)
    sid = source_register(code="feed", name="Feed", kind="internet", credentials={"password": SECRET})
    form = {
        "code": "feed",
        "name": "Feed renamed",
        "kind": "internet",
        "connector": "",
        "config": "{}",
        "is_active": "on",
        "new_credentials": "",
        "schedule_cron": "30 2 * * *",
        "schedule_interval": "",
    }
    assert client.post(f"/admin/datahub/source/{sid}/change/", form).status_code == 302
    source = Source.objects.get(id=sid)
    assert (source.name, source.credentials, source.schedule.crontab.hour) == (
        "Feed renamed",
        {"password": SECRET},
        "2",
    )
    form["new_credentials"] = '{"password": "new"}'
    client.post(f"/admin/datahub/source/{sid}/change/", form)
    assert Source.objects.get(id=sid).credentials == {"password": "new"}


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_a_scheduled_pull_runs_in_a_real_worker_and_closes_its_run(celery_worker_process):
    # The worker is another process: it cannot see connectors registered in this one, so this
    # source names one nobody registered; the worker must still open and close the run.
    source = make_source(connector="not-installed")
    result = source_pull.apply_async(args=[source.id], queue=celery_worker_process["queue"])
    run_id = result.get(timeout=20)
    run = Run.objects.get(id=run_id)
    assert (run.source_id, run.status) == (source.id, "failed")
    assert run.errors == [{"message": "no connector named 'not-installed' is registered"}]


@pytest.mark.django_db(transaction=True)
def test_run_progress_is_pushed_live_to_who_started_it(client):
    import asyncio

    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from cityos.asgi import application

    user = make_user()
    client.force_login(user)
    headers = [
        (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()),
        (b"origin", b"http://localhost"),
        (b"host", b"localhost"),
    ]
    source = make_source()
    run_id = facade.run_start(source_id=source.id, triggered_by_id=user.id)

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/live/", headers=headers)
        assert (await comm.connect(timeout=20))[0]
        await comm.receive_json_from(timeout=20)  # hello
        await sync_to_async(facade.run_progress)(run_id=run_id, progress=0.5, counts={"read": 50})
        msg = await comm.receive_json_from(timeout=20)
        await comm.disconnect()
        return msg

    msg = asyncio.run(scenario())
    assert msg["event"] == "datahub.run"
    assert (msg["data"]["run_id"], msg["data"]["progress"], msg["data"]["rows_read"]) == (run_id, 0.5, 50)
