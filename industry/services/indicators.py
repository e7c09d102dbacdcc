"""Economic indicators: bulk upsert of monthly (or quarterly/yearly) values and the rollup of months
into quarters and years in SQL (flows add up, levels — employees — average)."""

import csv
import io
import math
from datetime import date

from django.db import connection, transaction

from industry.models import FLOW_METRICS, Enterprise, Metric, Period

from .common import parse_date
from .errors import IndustryError

MAX_VALUE = 1e13


def indicators_upsert(*, rows: list[dict], source: str = "", rollup: bool = True) -> dict:
    """rows: {"enterprise_id" | "uscc", "metric", "period", "period_start", "value"}. All or nothing;
    errors name the row and column. Uses one multi-row INSERT … ON CONFLICT per 5,000 rows."""
    errors, clean = [], []
    usccs = {str(r.get("uscc")) for r in rows if r.get("uscc")}
    by_uscc = dict(Enterprise.objects.filter(uscc__in=usccs).values_list("uscc", "id")) if usccs else {}
    ids = {r.get("enterprise_id") for r in rows if r.get("enterprise_id")}
    known = set(Enterprise.objects.filter(id__in=[i for i in ids if isinstance(i, int)]).values_list("id", flat=True))
    for n, r in enumerate(rows, start=1):
        eid = r.get("enterprise_id") or by_uscc.get(str(r.get("uscc") or ""))
        if eid not in known and eid not in by_uscc.values():
            errors.append(
                {"row": n, "column": "uscc" if r.get("uscc") else "enterprise_id", "message": "unknown enterprise"}
            )
            continue
        if r.get("metric") not in Metric.values:
            errors.append({"row": n, "column": "metric", "message": f"unknown indicator {r.get('metric')!r}"})
            continue
        period = r.get("period") or "month"
        if period not in Period.values:
            errors.append({"row": n, "column": "period", "message": "must be month, quarter or year"})
            continue
        try:
            start = parse_date(r.get("period_start"), field="period_start")
            value = float(r.get("value"))
            if start is None or not math.isfinite(value) or abs(value) > MAX_VALUE:
                raise ValueError("period_start/value: required, finite")
        except (TypeError, ValueError) as exc:
            errors.append({"row": n, "column": "value" if "value" in str(exc) else "period_start", "message": str(exc)})
            continue
        start = _period_start(start, period)
        clean.append((eid, r["metric"], period, start, value, source[:64]))
    if errors:
        raise IndustryError(
            f"row {errors[0]['row']}, column {errors[0]['column']}: {errors[0]['message']}",
            extra={"errors": errors[:200]},
        )
    with transaction.atomic(), connection.cursor() as cur:
        for i in range(0, len(clean), 5000):
            batch = clean[i : i + 5000]
            cur.execute(
                "INSERT INTO industry_indicator (enterprise_id, metric, period, period_start, value, source) VALUES "  # noqa: S608
                + ",".join(["(%s,%s,%s,%s,%s,%s)"] * len(batch))
                + " ON CONFLICT (enterprise_id, metric, period, period_start) DO UPDATE SET value = EXCLUDED.value,"
                " source = EXCLUDED.source",
                [x for row in batch for x in row],
            )
        if rollup and clean:
            indicators_rollup(enterprise_ids=sorted({c[0] for c in clean}))
    return {"stored": len(clean)}


def _period_start(d: date, period: str) -> date:
    if period == "year":
        return date(d.year, 1, 1)
    if period == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    return date(d.year, d.month, 1)


def indicators_rollup(*, enterprise_ids: list[int] | None = None) -> None:
    """Quarters and years from months (complete or not: a year so far is the sum so far)."""
    flows = list(FLOW_METRICS)
    for period, trunc in (("quarter", "quarter"), ("year", "year")):
        with connection.cursor() as cur:
            cur.execute(
                f"""
                INSERT INTO industry_indicator (enterprise_id, metric, period, period_start, value, source)
                SELECT enterprise_id, metric, %s, date_trunc('{trunc}', period_start)::date,
                       CASE WHEN metric = ANY(%s) THEN sum(value) ELSE avg(value) END, 'rollup'
                FROM industry_indicator
                WHERE period = 'month' AND (%s::bigint[] IS NULL OR enterprise_id = ANY(%s::bigint[]))
                GROUP BY 1, 2, 4
                ON CONFLICT (enterprise_id, metric, period, period_start)
                DO UPDATE SET value = EXCLUDED.value WHERE industry_indicator.source = 'rollup'
                """,  # noqa: S608 - trunc is one of two literals above
                [period, flows, enterprise_ids, enterprise_ids],
            )


def indicators_import_csv(*, data: bytes) -> dict:
    """CSV with columns uscc, metric, period, period_start, value."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise IndustryError("file: not UTF-8 text", extra={"field": "file"}) from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = {"uscc", "metric", "period_start", "value"} - set(reader.fieldnames or [])
    if missing:
        raise IndustryError(f"file: missing column {sorted(missing)[0]!r}", extra={"field": "file"})
    return indicators_upsert(rows=list(reader), source="csv")
