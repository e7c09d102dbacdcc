"""Backfills do not page the city (issue 11, item 10).

A year of real past readings (Beijing PM2.5, one station) replayed through the ingest API, and a
file import of recent readings, are stored and rolled up and evaluated as history: alerts they
raise are marked historical, and nobody is notified, nothing escalates, no case opens; the ingest
monitor's lag counts live traffic only. A condition that still holds when live readings arrive
pages from the first live reading.
"""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from datahub.iot.selectors import ingest_monitor
from datahub.iot.services.ingest import observations_store
from datahub.models import Alert, EscalationLevel, EscalationPolicy, IngestBatch, Notification
from datahub.monitoring.services import notify
from datahub.monitoring.services.observations import describe_reset
from datahub.monitoring.services.rules import rule_index_reset
from governance.models import Case
from tests.datahub.iot.factories import make_device
from tests.datahub.monitoring.factories import make_rule, read_station
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/api/v1/datahub/observations/ingest/"


@pytest.fixture(autouse=True)
def _fresh():
    describe_reset()
    rule_index_reset()
    yield
    describe_reset()


@pytest.fixture
def watched(department):
    """A PM2.5 device, a rule that opens a case, department members who get e-mail and an
    escalation chain: everything a live exceedance would page."""
    make_user(department=department, email="duty@example.org")
    make_user(department=department, email="chief@example.org")
    policy = EscalationPolicy.objects.create(department=department)
    EscalationLevel.objects.create(policy=policy, level=1, after_minutes=1, roles=["department_officer"])
    device, streams, secret = make_device()
    rule = make_rule(
        params={"op": ">", "threshold": 150, "duration_s": 7200, "clear_threshold": 100},
        department_id=department.id,
        open_case=True,
    )
    return device, streams["pm25"], secret, rule


def _post(api_client, device, secret, readings):
    resp = api_client.post(
        URL, json.dumps(readings), content_type="application/json", HTTP_AUTHORIZATION=f"Device {device.key}:{secret}"
    )
    assert resp.status_code == 200, resp.content
    return resp.json()


def _nothing_paged():
    assert not Notification.objects.exists()
    assert mail.outbox == []
    assert not Case.objects.exists()
    assert not Alert.objects.filter(historical=False).exists()
    assert not Alert.objects.exclude(next_escalation_at=None).exists()


def test_a_year_of_past_readings_replayed_through_the_api_pages_nobody(api_client, watched, data_dir):
    device, stream, secret, rule = watched
    rows = [(at, v) for at, v in read_station(data_dir, "Aotizhongxin") if v is not None]
    assert len(rows) > 8000
    # Shift the year so that it ends three days ago: every reading is history.
    shift = (timezone.now() - timedelta(days=3)) - rows[-1][0]
    readings = [{"metric": "pm25", "time": (at + shift).isoformat(), "value": v} for at, v in rows]
    for i in range(0, len(readings), 24 * 14):  # two weeks per request, as a replay script would
        _post(api_client, device, secret, readings[i : i + 24 * 14])

    # Stored and rolled up…
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_observation WHERE datastream_id = %s", [stream.id])
        assert cur.fetchone()[0] == len(rows)
        cur.execute(
            "SELECT sum(count) FROM datahub_observation_rollup WHERE datastream_id = %s AND resolution = 'day'",
            [stream.id],
        )
        assert cur.fetchone()[0] == len(rows)
    # …and judged: the year had many two-hour PM2.5 episodes above 150, recorded as history.
    historical = Alert.objects.filter(rule=rule)
    assert historical.count() > 20
    assert set(historical.values_list("historical", flat=True)) == {True}
    # Nobody paged, nothing escalates, even once the escalation and deferred jobs run.
    assert notify.escalate_due(now=timezone.now() + timedelta(hours=2)) == 0
    _nothing_paged()
    # The monitor's lag counts live traffic only: a replay has none.
    monitor = ingest_monitor(minutes=60)
    assert monitor["channels"] and all(row["lag_max_s"] is None for row in monitor["channels"])
    assert IngestBatch.objects.aggregate(m=Max("lag_s"))["m"] is None


def test_a_file_import_is_a_backfill_even_of_recent_readings(watched):
    _device, stream, _secret, rule = watched
    now = timezone.now().timestamp()
    rows = [(stream.id, now - 3 * 3600 + i * 600, 200.0) for i in range(18)]  # 3 h above 150, up to now
    observations_store(rows=rows, channel=IngestBatch.Channel.IMPORT, touch_devices=False)
    alert = Alert.objects.get(rule=rule)
    assert alert.historical and alert.status == Alert.Status.ACTIVE
    assert IngestBatch.objects.get().lag_s is None
    _nothing_paged()


def test_a_condition_the_backfill_left_raised_pages_when_live_readings_confirm_it(api_client, watched, department):
    device, stream, secret, rule = watched
    now = timezone.now()
    backfill = [
        {"metric": "pm25", "time": (now - timedelta(hours=8) + timedelta(minutes=30 * i)).isoformat(), "value": 200}
        for i in range(11)  # 8 h to 3 h ago: above 150 for five hours, older than the rule's 2 h horizon
    ]
    _post(api_client, device, secret, backfill)
    alert = Alert.objects.get(rule=rule)
    assert alert.historical
    _nothing_paged()
    # Still above 150 now: the first live reading promotes the alert, which pages like any other.
    result = _post(api_client, device, secret, [{"metric": "pm25", "time": now.isoformat(), "value": 210}])
    assert result["stored"] == 1
    alert.refresh_from_db()
    assert (alert.historical, alert.status) == (False, Alert.Status.ACTIVE)
    assert alert.next_escalation_at is not None
    assert Notification.objects.filter(alert=alert).exists()
    case = Case.objects.get()
    assert case.origin_ref == f"alert:{alert.id}"
    # And the lag of that live batch is a live figure (seconds, not months).
    lags = [b for b in IngestBatch.objects.values_list("lag_s", flat=True) if b is not None]
    assert len(lags) == 1 and 0 <= lags[0] < 60
