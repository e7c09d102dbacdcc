from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from datahub import facade
from datahub.iot.services import ingest as iot_ingest
from datahub.iot.services.partitions import observation_partitions_list
from datahub.iot.tasks import observation_partitions_ensure_task
from datahub.models import Device, IngestBatch, ObservationLatest, ObservationRollup
from tests.datahub.iot.factories import make_device

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def ts(minutes: float) -> float:
    return (T0 + timedelta(minutes=minutes)).timestamp()


def stored(ds_id: int) -> list[tuple[datetime, float]]:
    with connection.cursor() as cur:
        cur.execute("SELECT time, value FROM datahub_observation WHERE datastream_id = %s ORDER BY time", [ds_id])
        return cur.fetchall()


def test_it_stores_readings_and_ignores_a_resend_first_write_wins():
    _, s, _ = make_device()
    ds = s["pm25"].id
    first = iot_ingest.observations_store(rows=[(ds, ts(0), 10.0), (ds, ts(1), 11.0)])
    again = iot_ingest.observations_store(rows=[(ds, ts(1), 99.0), (ds, ts(2), 12.0)])
    assert (first.stored, again.stored, again.duplicates) == (2, 1, 1)
    assert [v for _, v in stored(ds)] == [10.0, 11.0, 12.0]


def test_it_accepts_a_late_reading_from_an_older_month_in_a_partition_made_on_demand():
    _, s, _ = make_device()
    ds = s["pm25"].id
    iot_ingest.observations_store(rows=[(ds, ts(0), 10.0)])
    late = datetime(2025, 7, 4, 12, 0, tzinfo=UTC)
    assert "datahub_observation_p202507" not in observation_partitions_list()
    iot_ingest.observations_store(rows=[(ds, late.timestamp(), 7.0)])
    assert "datahub_observation_p202507" in observation_partitions_list()
    assert stored(ds)[0] == (late, 7.0)


def test_it_merges_late_readings_into_rollups_without_double_counting_resends():
    _, s, _ = make_device(expected_interval_s=10)
    ds = s["pm25"].id
    iot_ingest.observations_store(rows=[(ds, ts(0), 10.0), (ds, ts(30), 20.0)])
    # out of order, late (same hour), and a resend of the first reading with another value
    iot_ingest.observations_store(rows=[(ds, ts(15), 60.0), (ds, ts(0), 500.0)])
    hour = ObservationRollup.objects.get(datastream_id=ds, resolution="hour")
    assert (hour.count, hour.min, hour.max, hour.sum) == (3, 10.0, 60.0, 90.0)
    assert hour.mean == 30.0
    assert ObservationRollup.objects.filter(datastream_id=ds, resolution="minute").count() == 3
    day = ObservationRollup.objects.get(datastream_id=ds, resolution="day")
    assert day.count == 3


def test_it_buckets_days_in_the_city_time_zone():
    _, s, _ = make_device()
    ds = s["pm25"].id
    # 17:00 UTC is 01:00 next day in Asia/Shanghai: a day of its own there
    iot_ingest.observations_store(
        rows=[(ds, T0.replace(hour=15).timestamp(), 1.0), (ds, T0.replace(hour=17).timestamp(), 2.0)]
    )
    days = list(ObservationRollup.objects.filter(datastream_id=ds, resolution="day").order_by("bucket"))
    assert [d.count for d in days] == [1, 1]
    assert days[1].bucket == datetime(2026, 3, 10, 16, 0, tzinfo=UTC)


def test_it_moves_the_latest_value_only_forward_in_time():
    _, s, _ = make_device()
    ds = s["pm25"].id
    iot_ingest.observations_store(rows=[(ds, ts(5), 5.0)])
    iot_ingest.observations_store(rows=[(ds, ts(1), 1.0)])
    latest = ObservationLatest.objects.get(datastream_id=ds)
    assert (latest.time, latest.value) == (T0 + timedelta(minutes=5), 5.0)
    assert facade.latest_values(datastream_ids=[ds]) == {ds: (T0 + timedelta(minutes=5), 5.0)}


def test_it_hands_committed_readings_to_registered_listeners(django_capture_on_commit_callbacks):
    _, s, _ = make_device()
    ds = s["pm25"].id
    got = []
    facade.observations_batch_listen(got.extend)
    try:
        iot_ingest.observations_store(rows=[(ds, ts(0), 1.5)])
        with django_capture_on_commit_callbacks(execute=True):
            iot_ingest.observations_store(rows=[(ds, ts(0), 9.0), (ds, ts(1), 2.5)])
    finally:
        facade.observations_batch_unlisten(got.extend)
    assert got == [(ds, ts(1), 2.5)]


def test_it_marks_the_device_seen_and_records_the_batch_for_the_monitor():
    device, s, _ = make_device()
    iot_ingest.observations_store(rows=[(s["pm25"].id, ts(0), 1.0)], channel="mqtt")
    device.refresh_from_db()
    assert device.status == Device.Status.ONLINE
    batch = IngestBatch.objects.get()
    assert (batch.channel, batch.stored) == ("mqtt", 1)


def test_it_validates_readings_and_gives_each_bad_one_its_index_field_and_reason():
    device, s, _ = make_device(metrics=(("pm25", "µg/m³", 0, 1000), ("no2", "µg/m³", 0, 2000)))
    records = [
        {"device": device.key, "metric": "pm25", "time": "2026-03-10T16:00:00+08:00", "value": 12},
        {"device": device.key, "metric": "pm25", "time": "2026-03-10T16:00:00", "value": 12},
        {"device": device.key, "metric": "so2", "time": ts(0), "value": 1},
        {"device": "nope", "metric": "pm25", "time": ts(0), "value": 1},
        {"device": device.key, "metric": "no2", "time": ts(0), "value": 5000},
        {"datastream": s["no2"].id, "time": ts(0) * 1000, "value": "7.5"},
        {"device": device.key, "metric": "no2", "time": datetime.now(UTC).timestamp() + 3600, "value": 1},
        {"device": device.key, "metric": "no2", "time": ts(1), "value": "NaN"},
    ]
    result = iot_ingest.observations_ingest(records=records)
    assert result.stored == 2
    assert [(e["index"], e["field"]) for e in result.errors] == [
        (1, "time"),
        (2, "metric"),
        (3, "device"),
        (4, "value"),
        (6, "time"),
        (7, "value"),
    ]
    assert "offset" in result.errors[0]["reason"] and "range" in result.errors[3]["reason"]


def test_it_creates_monthly_partitions_ahead_from_the_beat_task():
    created = observation_partitions_ensure_task()
    now = datetime.now(UTC)
    assert f"datahub_observation_p{now.year:04d}{now.month:02d}" in observation_partitions_list()
    assert len(created) >= 3
    assert observation_partitions_ensure_task() == []


def test_it_keeps_minute_rollups_only_for_streams_faster_than_a_minute():
    _, fast, _ = make_device(expected_interval_s=10)
    _, slow, _ = make_device(expected_interval_s=60)
    for ds in (fast["pm25"].id, slow["pm25"].id):
        iot_ingest.observations_store(rows=[(ds, ts(0), 1.0), (ds, ts(1), 2.0)])
    assert ObservationRollup.objects.filter(datastream_id=fast["pm25"].id, resolution="minute").count() == 2
    assert not ObservationRollup.objects.filter(datastream_id=slow["pm25"].id, resolution="minute").exists()
    assert ObservationRollup.objects.get(datastream_id=slow["pm25"].id, resolution="hour").count == 2


def test_it_rebuilds_rollups_from_raw_after_a_bulk_load():
    _, s, _ = make_device(expected_interval_s=10)
    ds = s["pm25"].id
    iot_ingest.observations_store(rows=[(ds, ts(0), 1.0), (ds, ts(90), 5.0)])
    with connection.cursor() as cur:  # a raw load that bypasses the ingest path
        cur.execute("INSERT INTO datahub_observation VALUES (%s, %s, 3.0)", [ds, T0 + timedelta(minutes=30)])
    iot_ingest.observation_rollups_rebuild(datastream_ids=[ds])
    hours = list(
        ObservationRollup.objects.filter(datastream_id=ds, resolution="hour")
        .order_by("bucket")
        .values_list("count", "sum")
    )
    assert hours == [(2, 4.0), (1, 5.0)]
    assert ObservationRollup.objects.filter(datastream_id=ds, resolution="minute").count() == 3
