"""Writes of the dataset catalogue: create datasets, preview, confirm, run and cancel imports.

The import path (`dataset_import_execute`, run by Celery):
  1. read and validate every row in Python, writing valid rows as COPY text lines;
  2. if invalid rows and the user chose "abort": stop, store the error report, write nothing;
  3. in one transaction: COPY into a temporary staging table, close the current states of
     changed (and, in replace mode, removed) keys, insert new states for new and changed keys,
     locate new states to areas with one UPDATE … FROM join, record the version.
A cancel request or any failure before the commit rolls everything back.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from cityos import bus
from datahub.core import files
from datahub.core.files import ImportFileError
from datahub.core.models import Department, Run, Source
from datahub.core.services import runs
from datahub.datasets.models import Dataset, DatasetField, DatasetImport, DatasetRecord, DatasetVersion

log = logging.getLogger(__name__)

PREVIEW_SAMPLE_ROWS = 50_000  # inference reads up to this many rows (~0.5 s); the import validates all
PREVIEW_ROWS = 20
FIRST_ERRORS = 100


class ImportCancelled(Exception):
    pass


# --- datasets -------------------------------------------------------------------------------------


def dataset_create(
    *,
    title: str,
    owner_department: Department,
    slug: str = "",
    description: str = "",
    tags: list[str] | None = None,
    update_frequency: str = Dataset.Frequency.IRREGULAR,
    licence: str = "",
    level: str = Dataset.Level.INTERNAL,
    created_by=None,
) -> Dataset:
    """Register a dataset and the government source its imports run under (lineage)."""
    base = slugify(slug or title, allow_unicode=False)[:80] or "dataset"
    slug, n = base, 2
    while Dataset.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    source, _created = Source.objects.get_or_create(
        code=f"dataset-{slug}"[:100],
        defaults={
            "name": title[:200],
            "kind": Source.Kind.GOVERNMENT,
            "connector": "file_upload",
            "owner_department": owner_department,
        },
    )
    return Dataset.objects.create(
        slug=slug,
        title=title,
        description=description,
        owner_department=owner_department,
        tags=[t.strip() for t in (tags or []) if t.strip()],
        update_frequency=update_frequency,
        licence=licence,
        level=level,
        source=source,
        created_by=created_by,
    )


def dataset_schema(dataset: Dataset) -> list[dict]:
    return [
        {
            "name": f.name,
            "type": f.type,
            "format": f.format,
            "unit": f.unit,
            "required": f.required,
            "is_primary_key": f.is_primary_key,
        }
        for f in dataset.fields.order_by("position")
    ]


# --- imports: upload and preview ----------------------------------------------------------------


def dataset_import_preview(
    *, dataset: Dataset, upload: UploadedFile, user=None, encoding: str = "", delimiter: str = ""
) -> DatasetImport:
    """Store the upload, read a sample, infer (or apply) the schema and show the first errors.

    A file that cannot be read at all raises ImportFileError and leaves nothing stored.
    """
    if upload.size > files.max_upload_bytes():
        raise files.too_large(upload.size)
    imp = DatasetImport(dataset=dataset, filename=Path(upload.name).name[:255], size=upload.size, created_by=user)
    imp.file.save(imp.filename, upload, save=False)
    try:
        _fill_preview(imp, encoding=encoding, delimiter=delimiter)
    except ImportFileError:
        imp.file.delete(save=False)
        raise
    imp.save()
    return imp


def _fill_preview(imp: DatasetImport, *, encoding: str, delimiter: str) -> None:
    table = files.open_table(imp.file.path, filename=imp.filename, encoding=encoding, delimiter=delimiter)
    sample = []
    for item in table.rows:
        sample.append(item)
        if len(sample) >= PREVIEW_SAMPLE_ROWS:
            break
    inferred, location, notes = files.infer_schema(table.columns, sample)
    existing = dataset_schema(imp.dataset)
    if existing:
        # A known dataset keeps its schema; new columns are added with their inferred types.
        known = {f["name"] for f in existing}
        schema = existing + [f | {"is_primary_key": False} for f in inferred if f["name"] not in known]
        location = imp.dataset.location or location
    else:
        schema = inferred
    imp.format = table.format
    imp.encoding = table.encoding
    imp.delimiter = table.delimiter
    imp.schema = schema
    imp.location = location
    sample_table = files.Table(format=table.format, columns=table.columns, rows=iter(sample))
    res = files.validate(
        sample_table, schema, location, keep_errors=FIRST_ERRORS, preview_rows=PREVIEW_ROWS, write=False
    )
    imp.preview = {
        "columns": table.columns,
        "rows": res.preview,
        "sampled_rows": len(sample),
        "sample_is_whole_file": len(sample) < PREVIEW_SAMPLE_ROWS,
        "notes": table.notes + notes,
    }
    imp.errors = [e.as_dict() for e in res.errors]
    imp.error_count = res.error_count
    imp.rows_read = res.rows_read
    imp.rows_valid = res.rows_valid


def _clean_schema(schema: list[dict], columns: list[str]) -> list[dict]:
    out, names = [], set()
    valid_types = set(DatasetField.Type.values)
    for f in schema:
        name = str(f.get("name", "")).strip()
        if not name or name in names:
            raise ImportFileError(
                _("Schema: field name %(name)r is empty or repeated.") % {"name": name}, code="bad_schema"
            )
        ftype = f.get("type", "string")
        if ftype not in valid_types:
            raise ImportFileError(
                _("Schema: field %(name)r has an unknown type %(type)r.") % {"name": name, "type": ftype},
                code="bad_schema",
            )
        names.add(name)
        pk = bool(f.get("is_primary_key"))
        out.append(
            {
                "name": name,
                "type": ftype,
                "format": str(f.get("format") or "") if ftype in ("date", "datetime") else "",
                "unit": str(f.get("unit") or "")[:40],
                "required": bool(f.get("required")) or pk,
                "is_primary_key": pk,
            }
        )
    return out


def dataset_import_confirm(
    *,
    imp: DatasetImport,
    schema: list[dict] | None = None,
    location: dict | None = None,
    mode: str = DatasetImport.Mode.UPSERT,
    on_error: str = DatasetImport.OnError.ABORT,
    queue: bool = True,
) -> DatasetImport:
    """Fix the schema and options of a previewed import and queue it (Celery, after commit).

    `queue=False` leaves it for the caller to run with `dataset_import_execute` (demo data, scripts).
    """
    if imp.status != DatasetImport.Status.PREVIEWED:
        raise ImportFileError(
            _("This import is already %(status)s.") % {"status": imp.get_status_display()}, code="invalid_state"
        )
    if mode not in DatasetImport.Mode.values:
        raise ImportFileError(_("Unknown mode %(mode)r.") % {"mode": mode}, code="bad_option")
    if on_error not in DatasetImport.OnError.values:
        raise ImportFileError(_("Unknown on_error %(value)r.") % {"value": on_error}, code="bad_option")
    if mode == DatasetImport.Mode.REPLACE and on_error == DatasetImport.OnError.SKIP:
        # A skipped row is missing from the file as far as replace is concerned: it would be deleted.
        raise ImportFileError(
            _("Replace mode cannot skip invalid rows: the rows skipped would be removed from the dataset."),
            code="bad_option",
        )
    if schema is not None:
        imp.schema = _clean_schema(schema, imp.preview.get("columns", []))
    if location is not None:
        names = {f["name"] for f in imp.schema}
        bad = [v for v in location.values() if v and v not in names]
        if bad:
            raise ImportFileError(
                _("Location column %(name)r is not in the schema.") % {"name": bad[0]}, code="bad_schema"
            )
        imp.location = {k: v for k, v in location.items() if v}
    imp.mode, imp.on_error = mode, on_error
    imp.status = DatasetImport.Status.QUEUED
    imp.progress = 0.0
    imp.save()
    if queue:
        from datahub.datasets.tasks import dataset_import_run

        import_id = imp.id
        transaction.on_commit(lambda: dataset_import_run.delay(import_id))
    return imp


def dataset_import_cancel(*, imp: DatasetImport) -> bool:
    """Ask a queued or running import to stop; a queued one stops at once. Returns False if finished."""
    n = DatasetImport.objects.filter(id=imp.id, status=DatasetImport.Status.QUEUED).update(
        status=DatasetImport.Status.CANCELLED,
        cancel_requested=True,
        finished_at=timezone.now(),
        message=_("Cancelled before it started."),
    )
    if n:
        return True
    n = DatasetImport.objects.filter(
        id=imp.id, status__in=[DatasetImport.Status.RUNNING, DatasetImport.Status.PREVIEWED]
    ).update(cancel_requested=True)
    if n and imp.status == DatasetImport.Status.PREVIEWED:
        DatasetImport.objects.filter(id=imp.id).update(status=DatasetImport.Status.CANCELLED)
    return bool(n)


# --- imports: the run -------------------------------------------------------------------------------


class _Progress:
    """Stores progress in the import and its run, pushes it to the user, and honours cancel.

    Throttled to one write and one push every 0.5 s: a 100k-row file reports ~10 times.
    """

    def __init__(self, imp: DatasetImport, run: Run):
        self.imp, self.run, self.last = imp, run, 0.0

    def __call__(self, fraction: float, *, force: bool = False, stage: str = "") -> None:
        now = time.monotonic()
        if not force and now - self.last < 0.5:
            return
        self.last = now
        fraction = round(min(max(fraction, 0.0), 1.0), 3)
        if DatasetImport.objects.filter(id=self.imp.id, cancel_requested=True).exists():
            raise ImportCancelled
        DatasetImport.objects.filter(id=self.imp.id).update(progress=fraction)
        Run.objects.filter(id=self.run.id).update(progress=fraction)
        self.imp.progress = fraction
        _push(self.imp, stage=stage)


def _push(imp: DatasetImport, *, stage: str = "") -> None:
    if not imp.created_by_id:
        return
    from cityos.realtime import publish_to_user

    try:
        publish_to_user(
            imp.created_by_id,
            "datahub.dataset_import",
            {
                "import_id": imp.id,
                "dataset": imp.dataset.slug,
                "status": imp.status,
                "progress": imp.progress,
                "stage": stage,
                "rows_read": imp.rows_read,
                "rows_valid": imp.rows_valid,
                "error_count": imp.error_count,
                "message": imp.message,
                "title": imp.filename,
            },
        )
    except Exception:  # noqa: BLE001 - a push is best effort; the import row holds the truth
        log.warning("could not push import progress for import %s", imp.id, exc_info=True)


def dataset_run_start(*, dataset: Dataset, triggered_by_id: int | None, rows_read: int = 0) -> Run:
    """Open a run of the dataset's source (imports and entity linking both record one), first giving
    a dataset made before sources existed its own government source."""
    if dataset.source_id is None:
        dataset.source = Source.objects.create(
            code=f"dataset-{dataset.slug}-{dataset.id}"[:100],
            name=dataset.title[:200],
            kind=Source.Kind.GOVERNMENT,
            connector="file_upload",
            owner_department=dataset.owner_department,
        )
        dataset.save(update_fields=["source"])
    run_id = runs.run_start(source_id=dataset.source_id, triggered_by_id=triggered_by_id, rows_read=rows_read)
    return Run.objects.get(id=run_id)


def dataset_import_execute(*, import_id: int) -> DatasetImport | None:
    """Run a queued import. Safe to call twice: only the caller that claims it runs it."""
    now = timezone.now()
    # A run whose worker died (acks_late redelivers it) may be reclaimed once it is older than the
    # task's hard time limit: its write transaction was never committed, so re-running is safe.
    stale = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
    claimed = DatasetImport.objects.filter(
        Q(status=DatasetImport.Status.QUEUED) | Q(status=DatasetImport.Status.RUNNING, claimed_at__lt=stale),
        id=import_id,
        cancel_requested=False,
    ).update(status=DatasetImport.Status.RUNNING, claimed_at=now)
    if not claimed:
        return None
    imp = DatasetImport.objects.select_related("dataset").get(id=import_id)
    run = dataset_run_start(dataset=imp.dataset, triggered_by_id=imp.created_by_id)
    imp.run = run
    imp.save(update_fields=["run"])
    progress = _Progress(imp, run)
    try:
        _execute(imp, run, progress)
    except ImportCancelled:
        _finish(imp, run, DatasetImport.Status.CANCELLED, Run.Status.CANCELLED, _("Cancelled: nothing was imported."))
    except ImportFileError as e:
        _finish(imp, run, DatasetImport.Status.FAILED, Run.Status.FAILED, e.message)
    except Exception as e:
        log.exception("dataset import %s failed", imp.id)
        _finish(imp, run, DatasetImport.Status.FAILED, Run.Status.FAILED, _("Import failed: %(error)s") % {"error": e})
    return imp


def _finish(imp: DatasetImport, run: Run, status: str, run_status: str, message: str) -> None:
    now = timezone.now()
    imp.status, imp.message, imp.finished_at = status, message, now
    if status in (DatasetImport.Status.SUCCEEDED, DatasetImport.Status.PARTIAL):
        imp.progress = 1.0
    imp.save(
        update_fields=[
            "status",
            "message",
            "finished_at",
            "progress",
            "rows_read",
            "rows_valid",
            "error_count",
            "errors",
            "error_report",
            "version",
        ]
    )
    run.status, run.finished_at = run_status, now
    run.rows_read, run.rows_rejected = imp.rows_read, imp.error_count
    run.rows_stored = imp.rows_valid if status in (DatasetImport.Status.SUCCEEDED, DatasetImport.Status.PARTIAL) else 0
    run.errors = imp.errors[:20] + ([{"message": message}] if run_status == Run.Status.FAILED else [])
    run.progress = imp.progress
    run.save()
    _push(imp, stage="done")


def _execute(imp: DatasetImport, run: Run, progress: _Progress) -> None:
    table = files.open_table(imp.file.path, filename=imp.filename, encoding=imp.encoding, delimiter=imp.delimiter)
    # Rows are unknown until read; estimate from the file size and the preview's sample.
    sampled = imp.preview.get("sampled_rows") or 0
    estimate = sampled if imp.preview.get("sample_is_whole_file") else max(sampled, imp.size // 60)
    progress(0.0, force=True, stage="validating")
    res = files.validate(
        table,
        imp.schema,
        imp.location,
        progress=lambda n: progress(0.7 * min(n / max(estimate, 1), 0.99), stage="validating"),
    )
    imp.rows_read, imp.rows_valid, imp.error_count = res.rows_read, res.rows_valid, res.error_count
    imp.errors = [e.as_dict() for e in res.errors[:FIRST_ERRORS]]
    if res.errors:
        imp.error_report.save(
            f"import-{imp.id}-errors.csv", ContentFile(files.error_report_csv(res.errors)), save=False
        )
    if res.error_count and imp.on_error == DatasetImport.OnError.ABORT:
        first = res.errors[0]
        raise ImportFileError(
            _("%(errors)s invalid value(s) in %(rows)s rows; nothing was imported. First: %(first)s.")
            % {"errors": res.error_count, "rows": res.rows_read, "first": first}
        )
    if res.rows_valid == 0:
        raise ImportFileError(_("The file holds no valid rows; nothing was imported."), code="no_rows")
    progress(0.7, force=True, stage="writing")
    try:
        with transaction.atomic():
            version = _write(imp, run, res, progress)
    finally:
        res.buffer.close()
    imp.version = version
    status = DatasetImport.Status.PARTIAL if res.error_count else DatasetImport.Status.SUCCEEDED
    msg = _("Version %(v)s: %(a)s added, %(c)s changed, %(r)s removed.") % {
        "v": version.number,
        "a": version.rows_added,
        "c": version.rows_changed,
        "r": version.rows_removed,
    }
    if res.error_count:
        msg += " " + _("%(n)s invalid value(s) skipped.") % {"n": res.error_count}
    _finish(imp, run, status, Run.Status.PARTIAL if res.error_count else Run.Status.SUCCEEDED, msg)


def _write(imp: DatasetImport, run: Run, res: files.ValidationResult, progress: _Progress) -> DatasetVersion:
    dataset = Dataset.objects.select_for_update().get(id=imp.dataset_id)  # one import per dataset at a time
    v = dataset.current_version + 1
    rec = DatasetRecord._meta.db_table
    d = dataset.id
    with connection.cursor() as cur:
        # Dropped explicitly too: inside an outer transaction (tests, callers) ON COMMIT comes late.
        cur.execute("DROP TABLE IF EXISTS ds_stage")
        cur.execute(
            "CREATE TEMP TABLE ds_stage (key text, data jsonb, geom geometry(Geometry, 4326), row_number int) "
            "ON COMMIT DROP"
        )
        res.buffer.seek(0)
        cur.connection.cursor().copy_expert(
            "COPY ds_stage (key, data, geom, row_number) FROM STDIN", res.buffer, size=1 << 20
        )
        cur.execute("CREATE INDEX ON ds_stage (key); ANALYZE ds_stage")
        progress(0.8, force=True, stage="writing")
        # Every statement below is driven by the indexed staging table; none reads the records
        # table while inserting into it (an anti-join on the table being filled can turn
        # quadratic when its statistics are stale: 100k rows took minutes that way).
        removed = 0
        if imp.mode == DatasetImport.Mode.REPLACE:
            cur.execute(
                f"UPDATE {rec} r SET version_to = %s WHERE r.dataset_id = %s AND r.version_to IS NULL "  # noqa: S608
                "AND NOT EXISTS (SELECT 1 FROM ds_stage s WHERE s.key = r.key)",
                [v, d],
            )
            removed = cur.rowcount
        # Unchanged rows need nothing: drop them from the staging table.
        cur.execute(
            f"DELETE FROM ds_stage s USING {rec} r WHERE r.dataset_id = %s AND r.version_to IS NULL "  # noqa: S608
            "AND r.key = s.key AND r.data = s.data AND r.geom IS NOT DISTINCT FROM s.geom",
            [d],
        )
        # What is left is new or changed: close the current state of the changed keys…
        cur.execute(
            f"UPDATE {rec} r SET version_to = %s FROM ds_stage s "  # noqa: S608
            "WHERE r.dataset_id = %s AND r.version_to IS NULL AND r.key = s.key",
            [v, d],
        )
        changed = cur.rowcount
        # … and write the new states.
        cur.execute(
            f"INSERT INTO {rec} (dataset_id, key, data, geom, version_from, row_number, source_id, run_id, search) "  # noqa: S608
            "SELECT %s, s.key, s.data, s.geom, %s, s.row_number, %s, %s, "
            "jsonb_to_tsvector('simple', s.data, '[\"string\"]') FROM ds_stage s",
            [d, v, dataset.source_id, run.id],
        )
        added = cur.rowcount - changed
        if added + changed + removed > 5000:
            # Fresh statistics keep the next joins (locating here, the next import's) on good
            # plans; sampling costs ~0.2 s, a plan built on "the table is empty" costs minutes.
            cur.execute(f"ANALYZE {rec}")
        progress(0.9, force=True, stage="locating")
        _locate(cur, dataset_id=d, version=v, location=imp.location)
        cur.execute(
            f"SELECT count(*), bool_or(geom IS NOT NULL) FROM {rec} "  # noqa: S608
            "WHERE dataset_id = %s AND version_to IS NULL",
            [d],
        )
        row_count, geographic = cur.fetchone()
        cur.execute("DROP TABLE ds_stage")
    progress(0.97, force=True, stage="writing")
    version = DatasetVersion.objects.create(
        dataset=dataset,
        number=v,
        run=run,
        schema=imp.schema,
        mode=imp.mode,
        filename=imp.filename,
        rows_added=added,
        rows_changed=changed,
        rows_removed=removed,
        row_count=row_count,
        created_by_id=imp.created_by_id,
    )
    DatasetField.objects.filter(dataset=dataset).delete()
    DatasetField.objects.bulk_create(
        [
            DatasetField(
                dataset=dataset,
                position=i,
                name=f["name"],
                type=f["type"],
                format=f.get("format", ""),
                unit=f.get("unit", ""),
                required=f["required"],
                is_primary_key=f["is_primary_key"],
            )
            for i, f in enumerate(imp.schema)
        ]
    )
    dataset.current_version = v
    dataset.row_count = row_count
    dataset.is_geographic = bool(geographic)
    dataset.location = imp.location
    dataset.save(update_fields=["current_version", "row_count", "is_geographic", "location", "updated_at"])
    if DatasetImport.objects.filter(id=imp.id, cancel_requested=True).exists():
        raise ImportCancelled  # last chance: rolls the whole version back
    # In the same transaction as the version: the log and the subscribers see an import only
    # if it committed (bus.publish and event_record deliver after commit).
    from datahub.core.services.events import event_record

    event_record(
        type="datahub.dataset_imported",
        actor_id=imp.created_by_id,
        source_id=run.source_id,
        object_ref=f"datahub:dataset:{imp.dataset_id}",
        payload={
            "version": v,
            "import_id": imp.id,
            "added": added,
            "changed": changed,
            "removed": removed,
            "skipped": res.error_count,
        },
    )
    # Rows naming things attach to entities once the version is committed (Celery, chunked).
    from datahub.datasets.services.entities import dataset_entities_link_queue

    dataset_entities_link_queue(dataset=dataset, user_id=imp.created_by_id)
    bus.publish(
        "datahub.dataset_updated",
        {
            "dataset_id": imp.dataset_id,
            "slug": dataset.slug,
            "version": v,
            "added": added,
            "changed": changed,
            "removed": removed,
        },
    )
    return version


def _locate(cur, *, dataset_id: int, version: int, location: dict) -> None:
    """Locate the rows this version wrote to areas, set-based (one join per method, not per row).

    Geometry first (the smallest area containing the point, e.g. the grid cell), then the area
    named in a column (name, English name or code), then the longest area name found in an address.
    """
    rec = DatasetRecord._meta.db_table
    where = "r.dataset_id = %s AND r.version_from = %s AND r.area_id IS NULL"
    cur.execute(
        f"UPDATE {rec} r SET area_id = x.area_id FROM ("  # noqa: S608
        f"  SELECT DISTINCT ON (r.id) r.id, a.id AS area_id FROM {rec} r "
        "   JOIN datahub_area a ON a.geometry IS NOT NULL AND ST_Contains(a.geometry, ST_PointOnSurface(r.geom)) "
        f"  WHERE {where} AND r.geom IS NOT NULL ORDER BY r.id, ST_Area(a.geometry)"
        ") x WHERE r.id = x.id",
        [dataset_id, version],
    )
    if location.get("area_name"):
        cur.execute(
            f"UPDATE {rec} r SET area_id = x.area_id FROM ("  # noqa: S608
            f"  SELECT DISTINCT ON (r.id) r.id, a.id AS area_id FROM {rec} r JOIN datahub_area a "
            "   ON lower(btrim(r.data ->> %s)) IN (lower(a.name), lower(a.name_en), lower(a.code)) "
            f"  WHERE {where} ORDER BY r.id, a.id"
            ") x WHERE r.id = x.id",
            [location["area_name"], dataset_id, version],
        )
    if location.get("address"):
        cur.execute(
            f"UPDATE {rec} r SET area_id = x.area_id FROM ("  # noqa: S608
            f"  SELECT DISTINCT ON (r.id) r.id, a.id AS area_id FROM {rec} r JOIN datahub_area a "
            "   ON char_length(a.name) >= 2 AND strpos(r.data ->> %s, a.name) > 0 "
            f"  WHERE {where} ORDER BY r.id, char_length(a.name) DESC, a.id"
            ") x WHERE r.id = x.id",
            [location["address"], dataset_id, version],
        )
