"""Events from a CSV file: incidents, service requests or any other dated (and usually located)
records that were not recorded by an app, appended to the event log with lineage (a Source and a
Run) so analysis can treat them like any app's events.

Idempotent: each row's `object_ref` is `<source>:<key>` (the key column, else the row number), and
a re-import stores only the rows not already in the log for that source. Rows whose time does not
parse are rejected with their row and column; rows without coordinates are stored without a
location. Each stored event gets the smallest area containing its point (one SQL update).
"""

import csv
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.contrib.gis.geos import Point
from django.db import connection, transaction
from django.utils import timezone

from datahub.core.services.runs import run_finish
from datahub.models import Event, Run, Source

BATCH = 5000  # bulk_create with a geometry column stores ~7k rows/s here; one transaction per batch


class EventImportError(ValueError):
    pass


@dataclass
class EventCsvMapping:
    type: str  # the event type given to every row, e.g. "incident.violent_crime"
    time_column: str
    time_formats: tuple[str, ...] = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
    tz: str = "UTC"
    lon_column: str = ""
    lat_column: str = ""
    key_column: str = ""
    # payload key -> CSV column (e.g. {"category": "Offense"}); values are stripped strings
    payload_columns: dict[str, str] = field(default_factory=dict)


def _parse_time(value: str, formats: tuple[str, ...], tz) -> datetime | None:
    value = (value or "").strip()
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz)  # noqa: DTZ007 - tz attached at once
        except ValueError:
            continue
    return None


def _coord(value: str, lo: float, hi: float) -> float | None:
    try:
        v = float((value or "").strip())
    except ValueError:
        return None
    return v if lo <= v <= hi and v != 0.0 else None


def events_import_csv(
    *, path: Path, mapping: EventCsvMapping, source_code: str, source_name: str = "", limit_rows: int | None = None
) -> Run:
    """Import the file; returns the finished Run (rows read, stored, rejected, errors by row/column)."""
    try:
        tz = zoneinfo.ZoneInfo(mapping.tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise EventImportError(f"unknown time zone {mapping.tz!r}") from exc
    source, _ = Source.objects.get_or_create(
        code=source_code,
        defaults={"name": source_name or source_code, "kind": Source.Kind.GOVERNMENT, "connector": "event_csv"},
    )
    run = Run.objects.create(source=source, status=Run.Status.RUNNING, started_at=timezone.now())
    prefix = f"{source_code}:"
    seen = set(Event.objects.filter(source=source, object_ref__startswith=prefix).values_list("object_ref", flat=True))
    read = stored = rejected = 0
    errors: list[dict] = []
    batch: list[Event] = []

    def flush():
        nonlocal stored, batch
        if not batch:
            return
        with transaction.atomic():
            created = Event.objects.bulk_create(batch, batch_size=BATCH)
            _assign_areas([e.id for e in created])
        stored += len(batch)
        batch = []

    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        needed = [mapping.time_column, mapping.lon_column, mapping.lat_column, mapping.key_column]
        needed += list(mapping.payload_columns.values())
        missing = [c for c in needed if c and c not in header]
        if missing:
            run_finish(
                run_id=run.id, status=Run.Status.FAILED, errors=[{"column": missing[0], "message": "no such column"}]
            )
            raise EventImportError(f"column {missing[0]!r} is not in the file")
        for rowno, rec in enumerate(reader, start=2):  # row 1 is the header
            if limit_rows is not None and read >= limit_rows:
                break
            read += 1
            key = (rec.get(mapping.key_column) or "").strip() if mapping.key_column else str(rowno)
            ref = f"{prefix}{key}"[:100]
            if ref in seen:
                continue
            at = _parse_time(rec[mapping.time_column], mapping.time_formats, tz)
            if at is None:
                rejected += 1
                if len(errors) < 100:
                    errors.append({"row": rowno, "column": mapping.time_column, "message": "time does not parse"})
                continue
            lon = _coord(rec.get(mapping.lon_column, ""), -180, 180) if mapping.lon_column else None
            lat = _coord(rec.get(mapping.lat_column, ""), -90, 90) if mapping.lat_column else None
            payload = {k: (rec.get(col) or "").strip() for k, col in mapping.payload_columns.items()}
            batch.append(
                Event(
                    type=mapping.type,
                    occurred_at=at,
                    source=source,
                    object_ref=ref,
                    location=Point(lon, lat, srid=4326) if lon is not None and lat is not None else None,
                    payload=payload,
                )
            )
            seen.add(ref)
            if len(batch) >= BATCH:
                flush()
    flush()
    run_finish(
        run_id=run.id,
        status=Run.Status.SUCCEEDED,
        counts={"read": read, "stored": stored, "rejected": rejected},
        errors=errors,
    )
    run.refresh_from_db()
    return run


def _assign_areas(event_ids: list[int]) -> None:
    """Each event's area: the smallest area whose boundary contains its point."""
    if not event_ids:
        return
    with connection.cursor() as cur:
        cur.execute(
            """
            UPDATE datahub_event e SET area_id = (
                SELECT a.id FROM datahub_area a
                WHERE a.geometry IS NOT NULL AND ST_Contains(a.geometry, e.location)
                ORDER BY ST_Area(a.geometry) LIMIT 1
            )
            WHERE e.id = ANY(%s) AND e.location IS NOT NULL AND e.area_id IS NULL
            """,
            [event_ids],
        )


LITTLE_ROCK_CRIME = EventCsvMapping(
    type="incident.violent_crime",
    time_column="Date",
    time_formats=("%m/%d/%y %H:%M",),
    tz="America/Chicago",
    lon_column="Longitude",
    lat_column="Latitude",
    payload_columns={"category": "Offense", "address": "Address", "zip": "Zip"},
)

NYC_311 = EventCsvMapping(
    type="service_request.created",
    time_column="Created Date",
    time_formats=("%m/%d/%Y %I:%M:%S %p",),
    tz="America/New_York",
    lon_column="Longitude",
    lat_column="Latitude",
    key_column="Unique Key",
    payload_columns={"category": "Complaint Type", "agency": "Agency", "borough": "Borough"},
)
