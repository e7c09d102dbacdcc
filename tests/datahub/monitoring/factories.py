"""Factories and data helpers for the monitoring tests."""

import csv
from datetime import datetime
from zoneinfo import ZoneInfo

from datahub.monitoring.services.rules import rule_create

BEIJING = ZoneInfo("Asia/Shanghai")


def make_rule(**kw):
    kw.setdefault("name", "PM2.5 high")
    kw.setdefault("kind", "threshold")
    kw.setdefault("params", {"op": ">", "threshold": 150, "duration_s": 7200})
    kw.setdefault("metric", "pm25")
    kw.setdefault("severity", "major")
    return rule_create(**kw)


def read_station(data_dir, station: str, column: str = "PM2.5", *, year_month_from=(2013, 3), months: int = 12):
    """Hourly rows of one station as [(aware datetime in Beijing time, float or None for "NA")]."""
    path = next((data_dir / "beijing_multisite_air_quality").glob(f"PRSA_Data_{station}_*.csv"))
    y0, m0 = year_month_from
    start = y0 * 12 + m0 - 1
    rows = []
    with path.open(newline="") as fh:
        for rec in csv.DictReader(fh):
            ym = int(rec["year"]) * 12 + int(rec["month"]) - 1
            if ym < start or ym >= start + months:
                continue
            at = datetime(int(rec["year"]), int(rec["month"]), int(rec["day"]), int(rec["hour"]), tzinfo=BEIJING)
            raw = rec[column]
            rows.append((at, None if raw == "NA" else float(raw)))
    return rows


def as_batches(rows, *, datastream_id=1, metric="pm25", size=24, subject_id=None, area_id=None, device_type="air"):
    batch = []
    for at, value in rows:
        if value is None:
            continue  # a gap: the device sent nothing that hour
        batch.append(
            {
                "datastream_id": datastream_id,
                "time": at,
                "value": value,
                "metric": metric,
                "device_type": device_type,
                "area_id": area_id,
                "subject_id": subject_id,
            }
        )
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
