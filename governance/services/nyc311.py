"""Importing the NYC 311 service-request export (the 2022 schema, 41 columns) as cases.

Complaint types become categories (Open311 service codes `NYC-<SLUG>`) under one parent per agency;
rows are located in whatever areas contain their point (NYC boroughs and neighbourhoods once
loaded); rows without coordinates are kept, unlocated. Idempotent: a row's Unique Key is its
origin_ref (nyc311:<key>), and rows already imported are skipped. Atomic: a bad row aborts the
whole file with its row number and column.
"""

import csv
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from django.contrib.gis.geos import Point
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from governance.models import Case, CaseTransition, Category, Channel, Status
from governance.services.errors import CaseError
from governance.services.location import location_from_point
from governance.services.numbers import tracking_numbers_allocate

NYC_TZ = ZoneInfo("America/New_York")
DATE_FORMAT = "%m/%d/%Y %I:%M:%S %p"
REQUIRED = [
    "Unique Key",
    "Created Date",
    "Closed Date",
    "Agency",
    "Agency Name",
    "Complaint Type",
    "Descriptor",
    "Status",
    "Due Date",
    "Latitude",
    "Longitude",
]
STATUS_MAP = {
    "closed": Status.CLOSED,
    "in progress": Status.IN_PROGRESS,
    "started": Status.IN_PROGRESS,
    "assigned": Status.DISPATCHED,
    "open": Status.RECEIVED,
    "pending": Status.RECEIVED,
    "unspecified": Status.RECEIVED,
}


def _date(row: dict, column: str, line: int) -> datetime | None:
    raw = (row.get(column) or "").strip()
    if not raw:
        return None
    try:
        return datetime.strptime(raw, DATE_FORMAT).replace(tzinfo=NYC_TZ)
    except ValueError:
        raise CaseError(
            f"row {line}, column {column!r}: {raw!r} is not MM/DD/YYYY hh:mm:ss AM/PM", code="invalid_date"
        ) from None


def _category(agency: str, agency_name: str, complaint: str, cache: dict) -> Category:
    key = (agency, complaint)
    if key not in cache:
        parent, _ = Category.objects.get_or_create(
            code=f"nyc-{slugify(agency)}"[:64],
            defaults={"name": agency_name or agency, "name_en": agency_name or agency, "group": agency},
        )
        slug = slugify(complaint)[:50] or "other"
        code = f"nyc-{slugify(agency)}-{slug}"[:64]
        service_code = f"NYC-{slug.upper()}"[:64]
        if Category.objects.filter(service_code=service_code).exclude(code=code).exists():
            service_code = f"NYC-{slugify(agency).upper()}-{slug.upper()}"[:64]
        cache[key], _ = Category.objects.get_or_create(
            code=code,
            defaults={
                "name": complaint,
                "name_en": complaint,
                "parent": parent,
                "group": agency,
                "service_code": service_code,
                "keywords": complaint.lower(),
            },
        )
    return cache[key]


def nyc311_import(*, path: Path) -> dict:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise CaseError(f"header: missing column {missing[0]!r}", code="missing_column")
        rows = list(reader)
    keys = [r["Unique Key"].strip() for r in rows]
    done = set(Case.objects.filter(origin_ref__in=[f"nyc311:{k}" for k in keys]).values_list("origin_ref", flat=True))
    stats = {"rows": len(rows), "imported": 0, "skipped": 0, "unlocated": 0, "categories": 0}
    cats: dict = {}
    pending: list[tuple[dict, int]] = []
    for line, row in enumerate(rows, start=2):
        if f"nyc311:{row['Unique Key'].strip()}" in done:
            stats["skipped"] += 1
            continue
        if not row["Unique Key"].strip():
            raise CaseError(f"row {line}, column 'Unique Key': empty", code="missing_key")
        pending.append((row, line))
    with transaction.atomic():
        cases: list[Case] = []
        by_day: dict = defaultdict(list)
        for row, line in pending:
            created = _date(row, "Created Date", line)
            if created is None:
                raise CaseError(f"row {line}, column 'Created Date': empty", code="missing_date")
            closed, due = _date(row, "Closed Date", line), _date(row, "Due Date", line)
            status_raw = row["Status"].strip().lower()
            if status_raw not in STATUS_MAP:
                raise CaseError(f"row {line}, column 'Status': unknown status {row['Status']!r}", code="bad_status")
            status = STATUS_MAP[status_raw]
            lat, lon = row["Latitude"].strip(), row["Longitude"].strip()
            point = None
            located = None
            if lat and lon:
                try:
                    point = Point(float(lon), float(lat), srid=4326)
                except ValueError:
                    raise CaseError(
                        f"row {line}, column 'Latitude/Longitude': not numbers", code="bad_coords"
                    ) from None
                located = location_from_point(lon=point.x, lat=point.y)
            if located is None or located.area_id is None:
                stats["unlocated"] += 1
            cat = _category(row["Agency"].strip(), row["Agency Name"].strip(), row["Complaint Type"].strip(), cats)
            address = ", ".join(
                p
                for p in (
                    row.get("Incident Address", "").strip(),
                    row.get("City", "").strip(),
                    row.get("Incident Zip", "").strip(),
                )
                if p
            )
            case = Case(
                channel=Channel.IMPORT,
                title=f"{row['Complaint Type'].strip()}: {row['Descriptor'].strip()}"[:300],
                description=row.get("Resolution Description", "").strip(),
                category=cat,
                classification={"source": "import"},
                status=status,
                status_notes=row.get("Resolution Description", "").strip()[:500],
                location=point,
                address=address[:300],
                district_id=located.district_id if located else None,
                street_id=located.street_id if located else None,
                grid_id=located.grid_id if located else None,
                area_id=located.area_id if located else None,
                attributes={
                    "agency": row["Agency"].strip(),
                    "agency_name": row["Agency Name"].strip(),
                    "location_type": row.get("Location Type", "").strip(),
                    "zipcode": row.get("Incident Zip", "").strip(),
                    "borough": row.get("Borough", "").strip(),
                    "channel": row.get("Open Data Channel Type", "").strip(),
                },
                origin="nyc311",
                origin_ref=f"nyc311:{row['Unique Key'].strip()}",
                created_at=created,
                due_at=due,
                resolved_at=closed if status == Status.CLOSED else None,
                closed_at=closed if status == Status.CLOSED else None,
                resolved_on_time=(closed <= due) if (closed and due) else None,
            )
            by_day[timezone.localtime(created).date()].append(case)
            cases.append(case)
        for day, day_cases in by_day.items():
            for case, number in zip(day_cases, tracking_numbers_allocate(day=day, count=len(day_cases)), strict=True):
                case.tracking_number = number
        # 924 rows: bulk_create takes ~0.1 s here; COPY pays off only for the 100k-row benchmark.
        Case.objects.bulk_create(cases, batch_size=1000)
        CaseTransition.objects.bulk_create(
            [
                CaseTransition(
                    case=c,
                    action="import",
                    to_status=c.status,
                    created_at=c.created_at,
                    data={"origin_ref": c.origin_ref},
                )
                for c in cases
            ],
            batch_size=1000,
        )
        stats["imported"] = len(cases)
    stats["categories"] = len(cats)
    return stats
