"""Series file imports: preview, mapping checks, the run (in process here; the worker in
test_iot_reliability.py), checkpoints, resume after a lost worker, lease, cancel."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from datahub.core.files import ImportFileError
from datahub.iot.services import csv_import as iot_import
from datahub.iot.services import series_imports as svc
from datahub.models import Run, SeriesImport
from tests.datahub.iot.factories import make_device
from tests.factories import make_department, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("english", "media_tmp")]

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def upload(text: str, name: str = "series.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode())


def counts_by_stream(ds_ids: list[int]) -> dict[int, tuple[int, int]]:
    """{datastream: (raw readings, distinct times)}."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT datastream_id, count(*), count(DISTINCT time) FROM datahub_observation "
            "WHERE datastream_id = ANY(%s) GROUP BY datastream_id",
            [ds_ids],
        )
        return {d: (n, k) for d, n, k in cur.fetchall()}


def rollup_total(ds_id: int, resolution: str = "hour") -> int:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT coalesce(sum(count), 0) FROM datahub_observation_rollup WHERE datastream_id = %s AND resolution = %s",
            [ds_id, resolution],
        )
        return cur.fetchone()[0]


@pytest.fixture
def officer():
    return make_user(role="department_officer", department=make_department())


@pytest.fixture
def station(officer):
    device, streams, _ = make_device(
        key="st-1",
        metrics=(("pm25", "", 0, 1000), ("no2", "", 0, 2000)),
        owner_department_id=officer.department_id,
    )
    return device, streams


def long_csv(n: int, *, bad_row: int | None = None) -> str:
    lines = ["time,station,PM2.5,NO2"]
    for i in range(n):
        t = (T0 + timedelta(minutes=10 * i)).strftime("%Y-%m-%d %H:%M:%S")
        pm = "abc" if i == bad_row else str(i)
        lines.append(f"{t},st-1,{pm},{i * 2}")
    return "\n".join(lines) + "\n"


LONG_MAPPING = {
    "layout": "long",
    "time_column": "time",
    "tz": "UTC",
    "device_column": "station",
    "value_columns": {"PM2.5": "pm25", "NO2": "no2"},
}


def test_it_previews_the_header_and_first_rows_and_suggests_a_long_mapping(officer):
    imp = svc.series_import_preview(upload=upload(long_csv(30)), user=officer)
    assert imp.status == "previewed" and imp.preview["columns"] == ["time", "station", "PM2.5", "NO2"]
    assert len(imp.preview["rows"]) == svc.PREVIEW_ROWS and imp.preview["rows"][0][1] == "st-1"
    suggested = imp.preview["suggested"]
    assert suggested["layout"] == "long" and suggested["time_column"] == "time"
    assert suggested["device_column"] == "station"


def test_it_refuses_an_empty_file_and_a_file_that_is_not_csv(officer):
    with pytest.raises(ImportFileError) as e:
        svc.series_import_preview(upload=upload(""), user=officer)
    assert e.value.code == "empty_file"
    with pytest.raises(ImportFileError) as e:
        svc.series_import_preview(upload=upload("x", name="a.xlsx"), user=officer)
    assert e.value.code == "unsupported_format"
    assert not SeriesImport.objects.exists()


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"time_column": "when"}, "time_column", "'when' not in the header"),
        ({"tz": "Mars/Olympus"}, "tz", "unknown time zone"),
        ({"layout": "diagonal"}, "layout", "long or wide"),
        ({"value_columns": {"SO2": "so2"}}, "value_columns", "SO2"),
        ({"device_column": "sensor"}, "device_column", "'sensor' not in the header"),
        ({"frobnicate": 1}, "frobnicate", "unknown mapping key"),
    ],
)
def test_it_names_the_mapping_key_at_fault(officer, station, change, field, words):
    imp = svc.series_import_preview(upload=upload(long_csv(5)), user=officer)
    with pytest.raises(svc.SeriesImportError) as e:
        svc.series_mapping_check(imp=imp, mapping=LONG_MAPPING | change, user=officer)
    assert e.value.field == field and words in e.value.message


def test_the_check_reports_bad_cells_by_row_and_column(officer, station):
    imp = svc.series_import_preview(upload=upload(long_csv(10, bad_row=3)), user=officer)
    report = svc.series_mapping_check(imp=imp, mapping=LONG_MAPPING, user=officer)
    assert report["rows_checked"] == 10 and report["readings"] == 19 and report["rejected"] == 1
    assert report["errors"] == [{"row": 5, "column": "PM2.5", "reason": "'abc' is not a number"}]


def test_it_refuses_to_confirm_a_mapping_that_gives_no_reading(officer, station):
    imp = svc.series_import_preview(upload=upload(long_csv(5)), user=officer)
    with pytest.raises(svc.SeriesImportError) as e:
        svc.series_import_confirm(imp=imp, mapping=LONG_MAPPING | {"device_column": "time"}, user=officer)
    assert e.value.code == "no_readings" and "row 2, column PM2.5" in e.value.message


def test_it_imports_a_long_file_in_checkpointed_chunks_with_rollups(officer, station, monkeypatch):
    _device, streams = station
    monkeypatch.setattr(iot_import, "CHUNK", 50)
    imp = svc.series_import_preview(upload=upload(long_csv(300, bad_row=7)), user=officer)
    imp = svc.series_import_confirm(imp=imp, mapping=LONG_MAPPING, user=officer, queue=False)
    assert imp.status == "queued" and imp.run.status == "pending"
    imp = svc.series_import_execute(import_id=imp.id)
    assert imp.status == "partial", imp.message
    run = Run.objects.get(id=imp.run_id)
    assert (run.rows_read, run.rows_stored, run.rows_rejected, run.progress) == (600, 599, 1, 1.0)
    assert run.triggered_by_id == officer.id and run.source.code == svc.SOURCE_CODE
    assert run.errors == [{"row": 9, "column": "PM2.5", "reason": "'abc' is not a number"}]
    assert run.checkpoint["row"] == 300 and run.checkpoint["stored"] == 599
    ids = [streams["pm25"].id, streams["no2"].id]
    assert counts_by_stream(ids) == {ids[0]: (299, 299), ids[1]: (300, 300)}
    assert rollup_total(ids[0]) == 299 and rollup_total(ids[1], "day") == 300
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM datahub_observation WHERE run_id = %s", [run.id])
        assert cur.fetchone()[0] == 599
    # a second delivery of the task finds it finished and does nothing
    assert svc.series_import_execute(import_id=imp.id) is None


def test_it_imports_a_wide_file_by_explicit_column_to_datastream_mapping(officer):
    _d1, s1, _ = make_device(key="w-1", metrics=(("level", "", None, None),), owner_department_id=officer.department_id)
    _d2, s2, _ = make_device(key="w-2", metrics=(("level", "", None, None),), owner_department_id=officer.department_id)
    text = "ts,gauge A,gauge B\n" + "".join(f"{1740787200 + 60 * i},{i},{'' if i % 2 else i * 10}\n" for i in range(40))
    imp = svc.series_import_preview(upload=upload(text), user=officer)
    assert imp.preview["suggested"]["layout"] == "wide" and imp.preview["suggested"]["time_format"] == "epoch"
    mapping = {
        "layout": "wide",
        "time_column": "ts",
        "time_format": "epoch",
        "column_datastreams": {"gauge A": s1["level"].id, "gauge B": s2["level"].id},
    }
    svc.series_import_confirm(imp=imp, mapping=mapping, user=officer, queue=False)
    imp = svc.series_import_execute(import_id=imp.id)
    assert imp.status == "succeeded", imp.message
    assert counts_by_stream([s1["level"].id, s2["level"].id]) == {s1["level"].id: (40, 40), s2["level"].id: (20, 20)}


def test_it_imports_a_tidy_long_file_with_a_metric_and_a_value_column_in_local_time(officer, station):
    _device, streams = station
    text = (
        "日期,设备,指标,值\n2025-03-01 08:00,st-1,pm25,12\n2025-03-01 08:00,st-1,no2,30\n2025-03-01 09:00,st-1,so2,1\n"
    )
    imp = svc.series_import_preview(upload=upload(text), user=officer)
    mapping = {
        "layout": "long",
        "time_column": "日期",
        "time_format": "%Y-%m-%d %H:%M",
        "tz": "Asia/Shanghai",
        "device_column": "设备",
        "metric_column": "指标",
        "value_column": "值",
    }
    assert imp.preview["suggested"] | {"tz": "Asia/Shanghai", "time_format": "%Y-%m-%d %H:%M"} == mapping
    svc.series_import_confirm(imp=imp, mapping=mapping, user=officer, queue=False)
    imp = svc.series_import_execute(import_id=imp.id)
    assert imp.status == "partial" and imp.run.errors[0]["reason"] == "no datastream st-1/so2"
    with connection.cursor() as cur:
        cur.execute("SELECT time FROM datahub_observation WHERE datastream_id = %s", [streams["pm25"].id])
        assert cur.fetchone()[0] == datetime(2025, 3, 1, 0, 0, tzinfo=UTC)


def test_it_writes_only_into_the_datastreams_of_devices_the_user_manages(officer, station):
    other, other_streams, _ = make_device(key="st-other", owner_department_id=make_department().id)
    text = "time,station,PM2.5\n2025-03-01T00:00:00,st-1,1\n2025-03-01T00:00:00,st-other,2\n"
    imp = svc.series_import_preview(upload=upload(text), user=officer)
    mapping = LONG_MAPPING | {"value_columns": {"PM2.5": "pm25"}}
    svc.series_import_confirm(imp=imp, mapping=mapping, user=officer, queue=False)
    imp = svc.series_import_execute(import_id=imp.id)
    assert imp.run.rows_stored == 1 and imp.run.errors[0]["reason"] == "no datastream st-other/pm25"
    assert counts_by_stream([other_streams["pm25"].id]) == {}
    wide = svc.series_import_preview(upload=upload("ts,x\n2025-03-01T00:00:00,1\n"), user=officer)
    with pytest.raises(svc.SeriesImportError) as e:
        svc.series_mapping_check(
            imp=wide,
            mapping={"layout": "wide", "time_column": "ts", "column_datastreams": {"x": other_streams["pm25"].id}},
            user=officer,
        )
    assert e.value.field == "column_datastreams" and "may write" in e.value.message


def _crash_after_chunks(imp: SeriesImport, n: int, monkeypatch) -> None:
    """Run the import in process and make the worker 'die' after n committed chunks."""
    calls = {"n": 0}
    real = iot_import.observations_store

    def store(**kw):
        calls["n"] += 1
        if calls["n"] > n:
            raise SystemExit("worker killed")  # not an Exception: nothing catches it, like SIGKILL
        return real(**kw)

    monkeypatch.setattr(iot_import, "observations_store", store)
    with pytest.raises(SystemExit):
        svc.series_import_execute(import_id=imp.id)
    monkeypatch.setattr(iot_import, "observations_store", real)


def test_a_run_whose_worker_died_is_resumed_from_its_checkpoint_storing_each_row_once(officer, station, monkeypatch):
    _device, streams = station
    monkeypatch.setattr(iot_import, "CHUNK", 100)
    imp = svc.series_import_preview(upload=upload(long_csv(500)), user=officer)
    svc.series_import_confirm(imp=imp, mapping=LONG_MAPPING, user=officer, queue=False)
    _crash_after_chunks(imp, 3, monkeypatch)
    imp.refresh_from_db()
    run = Run.objects.get(id=imp.run_id)
    assert imp.status == "running" and run.checkpoint["row"] == 150 and run.rows_stored == 300
    # Still heartbeating as far as anyone can tell: neither a redelivery nor recovery touches it.
    assert svc.series_import_execute(import_id=imp.id) is None
    assert svc.series_imports_recover()["queued"] == []
    Run.objects.filter(id=run.id).update(heartbeat_at=timezone.now() - timedelta(seconds=svc.stale_after_s() + 1))
    queued = []
    monkeypatch.setattr(svc, "_queue", lambda import_id, countdown=None: queued.append(import_id))
    assert svc.series_imports_recover()["queued"] == [imp.id] and queued == [imp.id]
    imp = svc.series_import_execute(import_id=imp.id)
    assert imp.status == "succeeded" and imp.attempt == 2
    run.refresh_from_db()
    assert (run.rows_read, run.rows_stored, run.rows_rejected) == (1000, 1000, 0)
    ids = [streams["pm25"].id, streams["no2"].id]
    assert counts_by_stream(ids) == {ids[0]: (500, 500), ids[1]: (500, 500)}
    assert rollup_total(ids[0]) == 500 and rollup_total(ids[1]) == 500


def test_a_worker_presumed_dead_stops_at_its_next_chunk_without_writing(officer, station, monkeypatch):
    _device, streams = station
    monkeypatch.setattr(iot_import, "CHUNK", 100)
    imp = svc.series_import_preview(upload=upload(long_csv(200)), user=officer)
    svc.series_import_confirm(imp=imp, mapping=LONG_MAPPING, user=officer, queue=False)
    real = iot_import.observations_store
    taken = {"done": False}

    def store(**kw):
        if not taken["done"]:
            # Another worker took the import over (the lease moved on) while this one was stalled.
            taken["done"] = True
            SeriesImport.objects.filter(id=imp.id).update(attempt=99)
        return real(**kw)

    monkeypatch.setattr(iot_import, "observations_store", store)
    assert svc.series_import_execute(import_id=imp.id) is None
    # the chunk during which the lease moved committed (its guard ran before); the next did not
    assert counts_by_stream([streams["pm25"].id]) == {streams["pm25"].id: (50, 50)}
    assert Run.objects.get(id=imp.run_id).checkpoint["row"] == 50


def test_a_cancel_stops_a_running_import_before_its_next_chunk(officer, station, monkeypatch):
    _device, streams = station
    monkeypatch.setattr(iot_import, "CHUNK", 100)
    imp = svc.series_import_preview(upload=upload(long_csv(300)), user=officer)
    svc.series_import_confirm(imp=imp, mapping=LONG_MAPPING, user=officer, queue=False)
    real = iot_import.observations_store

    def store(**kw):
        res = real(**kw)
        svc.series_import_cancel(imp=SeriesImport.objects.get(id=imp.id))
        return res

    monkeypatch.setattr(iot_import, "observations_store", store)
    imp = svc.series_import_execute(import_id=imp.id)
    assert imp.status == "cancelled" and imp.run.status == "cancelled"
    assert counts_by_stream([streams["pm25"].id]) == {streams["pm25"].id: (50, 50)}
    assert svc.series_import_cancel(imp=imp) is False


def test_a_queued_import_cancels_at_once(officer, station):
    imp = svc.series_import_preview(upload=upload(long_csv(5)), user=officer)
    imp = svc.series_import_confirm(imp=imp, mapping=LONG_MAPPING, user=officer, queue=False)
    assert svc.series_import_cancel(imp=imp) is True
    imp.refresh_from_db()
    assert imp.status == "cancelled" and imp.run.status == "cancelled"
    assert svc.series_import_execute(import_id=imp.id) is None
