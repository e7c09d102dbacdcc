"""Dataset imports through the real services: inference, validation, upsert, versions, locating."""

import io
import json

import pytest
from django.contrib.gis.geos import MultiPolygon, Polygon

from datahub.core import files
from datahub.datasets.selectors import records_at, version_diff
from datahub.datasets.services import datasets as svc
from datahub.models import Area, DatasetImport, DatasetRecord, DatasetVersion, Event, Run
from tests.datahub.datasets.factories import make_dataset, preview, run_import

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_tmp", "english")]

CSV = b"id,name,opened,amount,active\n1,Alpha,2024-01-05,10.5,yes\n2,Beta,2024-02-06,7,no\n3,Gamma,2024-03-07,1e3,yes\n"


def _current(ds) -> dict:
    return {r.key: r.data for r in records_at(ds)}


def test_it_infers_types_required_flags_and_the_primary_key():
    imp = preview(make_dataset(), CSV)
    types = {f["name"]: f["type"] for f in imp.schema}
    assert types == {"id": "integer", "name": "string", "opened": "date", "amount": "decimal", "active": "boolean"}
    assert [f["name"] for f in imp.schema if f["is_primary_key"]] == ["id"]
    assert all(f["required"] for f in imp.schema)
    assert "primary key candidates: id, name, opened" in imp.preview["notes"]
    assert imp.preview["rows"][0]["opened"] == "2024-01-05"
    assert imp.status == DatasetImport.Status.PREVIEWED
    assert not DatasetRecord.objects.exists()  # a preview writes no rows


def test_it_reads_dates_in_several_formats():
    assert files.converter("date", "%d/%m/%Y")("31/12/2012") == "2012-12-31"
    assert files.converter("date", "%m/%d/%y")("2/22/21") == "2021-02-22"
    # Two-digit years never land in the future: a licence from "55" started in 1955.
    assert files.converter("date", "%m/%d/%y")("6/1/55") == "1955-06-01"
    assert files.converter("date", "iso")("2024-02-29") == "2024-02-29"
    with pytest.raises(ValueError, match="date"):
        files.converter("date", "%d/%m/%Y")("31/02/2012")


def test_it_imports_typed_rows_with_lineage_and_a_first_version():
    ds = make_dataset()
    imp = run_import(ds, CSV)
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    rec = DatasetRecord.objects.get(dataset=ds, key="3")
    assert rec.data == {"id": 3, "name": "Gamma", "opened": "2024-03-07", "amount": 1000.0, "active": True}
    assert rec.run_id == imp.run_id and rec.source_id == ds.source_id
    run = Run.objects.get(id=imp.run_id)
    assert (run.status, run.rows_read, run.rows_stored) == (Run.Status.SUCCEEDED, 3, 3)
    ds.refresh_from_db()
    assert (ds.current_version, ds.row_count) == (1, 3)
    assert [f.name for f in ds.fields.order_by("position")] == ["id", "name", "opened", "amount", "active"]
    event = Event.objects.get(type="datahub.dataset_imported")
    assert event.object_ref == f"datahub:dataset:{ds.id}" and event.payload["added"] == 3


def test_it_upserts_by_primary_key_and_versions_the_changes():
    ds = make_dataset()
    run_import(ds, CSV)
    second = (
        b"id,name,opened,amount,active\n2,Beta,2024-02-06,8,no\n3,Gamma,2024-03-07,1e3,yes\n4,Delta,2024-04-08,1,no\n"
    )
    imp = run_import(ds, second)
    v2 = DatasetVersion.objects.get(dataset=ds, number=2)
    assert (v2.rows_added, v2.rows_changed, v2.rows_removed, v2.row_count) == (1, 1, 0, 4)
    assert _current(ds)["2"]["amount"] == 8
    assert imp.message.startswith("Version 2: 1 added, 1 changed, 0 removed")
    # Version 1 is still readable as it was.
    ds.refresh_from_db()
    assert {r.key: r.data["amount"] for r in records_at(ds, 1)} == {"1": 10.5, "2": 7, "3": 1000.0}


def test_it_removes_rows_missing_from_the_file_in_replace_mode_and_diffs_versions():
    ds = make_dataset()
    run_import(ds, CSV)
    run_import(ds, b"id,name,opened,amount,active\n1,Alpha,2024-01-05,11,yes\n5,Eps,2024-05-01,2,no\n", mode="replace")
    ds.refresh_from_db()
    assert set(_current(ds)) == {"1", "5"}
    d = version_diff(ds, base=1, target=2)
    assert (d.added, d.changed, d.removed) == (1, 1, 2)
    by_key = {r["key"]: r for r in d.rows}
    assert by_key["1"]["change"] == "changed" and by_key["1"]["changed_fields"] == ["amount"]
    assert by_key["2"]["change"] == "removed" and by_key["5"]["change"] == "added"


def test_it_reimports_an_identical_file_as_a_version_without_changes():
    ds = make_dataset()
    run_import(ds, CSV)
    run_import(ds, CSV)
    v2 = DatasetVersion.objects.get(dataset=ds, number=2)
    assert (v2.rows_added, v2.rows_changed, v2.rows_removed) == (0, 0, 0)
    assert DatasetRecord.objects.filter(dataset=ds).count() == 3  # no new row states written


def test_it_refuses_the_whole_file_when_a_value_has_the_wrong_type():
    ds = make_dataset()
    imp = run_import(
        ds,
        b"id,amount\n1,5\n2,lots\n3,7\n",
        schema=[{"name": "id", "type": "integer", "is_primary_key": True}, {"name": "amount", "type": "decimal"}],
    )
    assert imp.status == DatasetImport.Status.FAILED
    assert "row 3, column amount: not a number" in imp.message
    assert imp.errors[0] == {"row": 3, "column": "amount", "value": "lots", "message": "not a number"}
    assert not DatasetRecord.objects.filter(dataset=ds).exists()
    assert not DatasetVersion.objects.filter(dataset=ds).exists()


def test_it_skips_invalid_rows_when_asked_and_offers_the_error_report():
    ds = make_dataset()
    imp = run_import(
        ds,
        b"id,amount\n1,5\n2,lots\n3,7\n",
        on_error="skip",
        schema=[{"name": "id", "type": "integer", "is_primary_key": True}, {"name": "amount", "type": "decimal"}],
    )
    assert imp.status == DatasetImport.Status.PARTIAL
    assert set(_current(ds)) == {"1", "3"}
    report = imp.error_report.read().decode("utf-8-sig").splitlines()
    assert report == ["row,column,value,message", "3,amount,lots,not a number"]


def test_it_names_both_rows_of_a_duplicate_key_and_writes_nothing():
    ds = make_dataset()
    imp = run_import(
        ds,
        b"code,name\nA1,x\nB2,y\nA1,z\n",
        schema=[{"name": "code", "type": "string", "is_primary_key": True}, {"name": "name", "type": "string"}],
    )
    assert imp.status == DatasetImport.Status.FAILED
    assert imp.errors[0]["row"] == 4
    assert "duplicate key 'A1': row 2 has the same key" in imp.errors[0]["message"]
    assert not DatasetRecord.objects.filter(dataset=ds).exists()


def test_it_keeps_identical_rows_of_a_file_without_primary_key():
    ds = make_dataset()
    imp = run_import(ds, b"name,city\nfoo,bar\nfoo,bar\nbaz,bar\n")
    assert imp.status == DatasetImport.Status.SUCCEEDED
    assert DatasetRecord.objects.filter(dataset=ds).count() == 3


def test_it_locates_rows_to_the_smallest_area_in_one_join_and_by_area_name():
    outer = Area.objects.create(
        code="D1",
        name="西湖区",
        name_en="West Lake",
        level="district",
        geometry=MultiPolygon(Polygon.from_bbox((120.0, 30.0, 120.2, 30.2))),
    )
    inner = Area.objects.create(
        code="G1",
        name="网格一",
        level="grid",
        parent=outer,
        geometry=MultiPolygon(Polygon.from_bbox((120.0, 30.0, 120.1, 30.1))),
    )
    ds = make_dataset()
    run_import(
        ds,
        (
            "id,lat,lon,area,地址\n"
            "1,30.05,120.05,,\n"  # inside the grid cell (and the district): the grid wins
            "2,30.15,120.15,,\n"  # only in the district
            "3,,,west lake,\n"  # by the area's English name, case-insensitive
            "4,,,,浙江省杭州市西湖区文三路\n"  # by the area named in the address
            "5,10.0,10.0,,\n"  # nowhere
        ).encode(),
    )
    areas = dict(DatasetRecord.objects.filter(dataset=ds).values_list("key", "area_id"))
    assert areas == {"1": inner.id, "2": outer.id, "3": outer.id, "4": outer.id, "5": None}
    ds.refresh_from_db()
    assert ds.is_geographic and ds.location == {"lat": "lat", "lon": "lon", "area_name": "area", "address": "地址"}


def test_it_reads_wkt_point_columns():
    ds = make_dataset()
    run_import(ds, b"name,the_geom\nLib,POINT (-92.45456 34.768822)\n")
    rec = DatasetRecord.objects.get(dataset=ds)
    assert (round(rec.geom.x, 5), round(rec.geom.y, 5)) == (-92.45456, 34.76882)
    assert "the_geom" not in rec.data


def test_it_imports_json_arrays_and_xlsx_sheets():
    ds = make_dataset()
    imp = run_import(
        ds, json.dumps([{"id": 1, "v": 2.5, "ok": True}, {"id": 2, "v": 3, "ok": False}]).encode(), "rows.json"
    )
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    assert _current(ds)["1"] == {"id": 1, "v": 2.5, "ok": True}

    from datetime import date

    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "when", "qty"])
    ws.append([1, date(2024, 5, 1), 3])
    ws.append([2, date(2024, 5, 2), 4])
    buf = io.BytesIO()
    wb.save(buf)
    ds2 = make_dataset()
    imp = run_import(ds2, buf.getvalue(), "sheet.xlsx")
    assert imp.status == DatasetImport.Status.SUCCEEDED, imp.message
    assert {f["name"]: f["type"] for f in imp.schema} == {"id": "integer", "when": "date", "qty": "integer"}
    assert _current(ds2)["2"] == {"id": 2, "when": "2024-05-02", "qty": 4}


def test_it_applies_an_existing_schema_to_a_new_file():
    ds = make_dataset()
    run_import(ds, CSV)
    imp = preview(ds, b"id,name,opened,amount,active\n9,Nine,05/01/2024,1,yes\n")
    # The dataset's date column is ISO: the new file's dd/mm/yyyy is reported, not silently re-guessed.
    assert imp.errors and imp.errors[0]["column"] == "opened"
    assert [f["name"] for f in imp.schema if f["is_primary_key"]] == ["id"]


def test_it_runs_twice_without_duplicating_work():
    ds = make_dataset()
    imp = preview(ds, CSV)
    svc.dataset_import_confirm(imp=imp)
    svc.dataset_import_execute(import_id=imp.id)
    assert svc.dataset_import_execute(import_id=imp.id) is None
    assert DatasetVersion.objects.filter(dataset=ds).count() == 1


def test_it_cancels_a_queued_import_before_it_runs():
    ds = make_dataset()
    imp = preview(ds, CSV)
    svc.dataset_import_confirm(imp=imp)
    assert svc.dataset_import_cancel(imp=imp)
    assert svc.dataset_import_execute(import_id=imp.id) is None
    imp.refresh_from_db()
    assert imp.status == DatasetImport.Status.CANCELLED
    assert not DatasetRecord.objects.filter(dataset=ds).exists()


def test_it_rolls_back_everything_when_cancelled_while_running(monkeypatch):
    ds = make_dataset()
    imp = preview(ds, CSV)
    svc.dataset_import_confirm(imp=imp)
    real_locate = svc._locate

    def cancel_midway(cur, **kw):
        real_locate(cur, **kw)
        DatasetImport.objects.filter(id=imp.id).update(cancel_requested=True)  # the user presses Cancel now

    monkeypatch.setattr(svc, "_locate", cancel_midway)
    svc.dataset_import_execute(import_id=imp.id)
    imp.refresh_from_db()
    assert imp.status == DatasetImport.Status.CANCELLED
    assert Run.objects.get(id=imp.run_id).status == Run.Status.CANCELLED
    assert not DatasetRecord.objects.filter(dataset=ds).exists()
    assert not DatasetVersion.objects.filter(dataset=ds).exists()
    ds.refresh_from_db()
    assert ds.current_version == 0


def test_it_reclaims_an_import_whose_worker_died_but_not_a_live_one(settings):
    from datetime import timedelta

    from django.utils import timezone

    ds = make_dataset()
    imp = preview(ds, CSV)
    svc.dataset_import_confirm(imp=imp)
    recent = timezone.now() - timedelta(minutes=1)
    DatasetImport.objects.filter(id=imp.id).update(status="running", claimed_at=recent)
    assert svc.dataset_import_execute(import_id=imp.id) is None  # someone is working on it
    dead = timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 120)
    DatasetImport.objects.filter(id=imp.id).update(claimed_at=dead)
    assert svc.dataset_import_execute(import_id=imp.id).status == DatasetImport.Status.SUCCEEDED


def test_it_refuses_to_replace_while_skipping_invalid_rows():
    ds = make_dataset()
    run_import(ds, CSV)
    imp = preview(ds, CSV)
    with pytest.raises(files.ImportFileError, match="Replace mode cannot skip invalid rows"):
        svc.dataset_import_confirm(imp=imp, mode="replace", on_error="skip")
    imp.refresh_from_db()
    assert imp.status == DatasetImport.Status.PREVIEWED


updates = []


def _on_dataset_updated(payload):
    updates.append(payload)


def test_it_publishes_dataset_updated_after_the_import_commits(monkeypatch, django_capture_on_commit_callbacks):
    from cityos import bus

    updates.clear()
    monkeypatch.setitem(bus._subscribers, "datahub.dataset_updated", [*bus.subscribers("datahub.dataset_updated"), "tests.datahub.datasets.test_imports._on_dataset_updated"])  # removed after the test
    ds = make_dataset()
    with django_capture_on_commit_callbacks(execute=True):
        run_import(ds, CSV)
    assert updates == [{"dataset_id": ds.id, "slug": ds.slug, "version": 1, "added": 3, "changed": 0, "removed": 0}]
