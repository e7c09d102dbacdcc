import csv
from datetime import UTC, datetime

import pytest
from django.db import connection

from datahub.iot.services import csv_import as iot_import
from datahub.models import Datastream, Device, Run

pytestmark = pytest.mark.django_db


def value_at(key: str, metric: str, when: datetime) -> float | None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT o.value FROM datahub_observation o JOIN datahub_datastream s ON s.id = o.datastream_id "
            "JOIN datahub_device d ON d.id = s.device_id WHERE d.key = %s AND s.metric = %s AND o.time = %s",
            [key, metric, when],
        )
        row = cur.fetchone()
        return row[0] if row else None


def test_it_imports_a_full_beijing_station_file_in_local_time_skipping_na_gaps(data_dir):
    path = next(p for p in iot_import.beijing_files(data_dir) if "Dongsi" in p.name)
    with open(path, newline="") as fh:
        present = sum(1 for rec in csv.DictReader(fh) for col in iot_import.BEIJING_METRICS if rec[col] != "NA")
    seen = []
    [run] = iot_import.beijing_air_quality_import(
        data_dir=data_dir, stations=["Dongsi"], progress=lambda r: seen.append(r.progress)
    )
    assert run.rows_read == present and run.rows_stored + run.rows_rejected == present
    assert run.rows_stored > 350_000 and seen[-1] == 1.0 and len(seen) > 5
    assert Datastream.objects.filter(device__key="bj-aq-dongsi").count() == 11
    # first row: 2013-03-01 00:00 Beijing time is 2013-02-28 16:00 UTC; PM2.5 = 9 in the file
    assert value_at("bj-aq-dongsi", "pm25", datetime(2013, 2, 28, 16, tzinfo=UTC)) == 9.0
    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM datahub_observation o JOIN datahub_datastream s ON s.id = o.datastream_id WHERE s.device_id = (SELECT id FROM datahub_device WHERE key = 'bj-aq-dongsi')"
        )
        assert cur.fetchone()[0] == run.rows_stored


def test_it_resumes_an_import_storing_only_what_is_missing(data_dir):
    first = iot_import.beijing_air_quality_import(data_dir=data_dir, stations=["Tiantan"], limit_rows=100)[0]
    again = iot_import.beijing_air_quality_import(data_dir=data_dir, stations=["Tiantan"], limit_rows=300)[0]
    assert first.rows_stored > 900
    assert again.rows_read == again.rows_stored + again.rows_rejected + first.rows_stored
    assert Run.objects.filter(source__code=iot_import.BEIJING_SOURCE).count() == 2


def test_it_imports_the_la_loops_wide_to_long_with_sensor_coordinates(data_dir):
    run = iot_import.metr_la_import(data_dir=data_dir, limit_rows=30)
    assert Device.objects.filter(key__startswith="la-loop-").count() == 207
    assert run.rows_stored == 30 * 207
    sensor = Device.objects.get(key="la-loop-773869")
    assert (round(sensor.point.x, 5), round(sensor.point.y, 5)) == (-118.31829, 34.15497)
    # row 2 of the file is 00:05 Los Angeles time (PST, UTC-8); the first sensor read 62.67
    assert value_at("la-loop-773869", "speed", datetime(2012, 3, 1, 8, 5, tzinfo=UTC)) == 62.66666667


def test_it_fails_an_import_whose_mapping_names_a_missing_column(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("when,level\n2026-01-01T00:00:00,1\n")
    mapping = iot_import.ColumnMapping(device_key="x", value_columns={"depth": "level"}, time_column="when")
    with pytest.raises(iot_import.ImportError_, match="depth"):
        iot_import.timeseries_import_csv(path=path, mapping=mapping, source_code="test-x")
    assert Run.objects.get(source__code="test-x").status == Run.Status.FAILED
