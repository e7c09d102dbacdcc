"""Several `.values()` querysets in one SQL round trip.

A page that shows many small lists (一企一档: licences, tags, matches, grants, appeals, risk…) used
to pay one round trip per list. On a loaded 2-core host each round trip waits for the database
backend to be scheduled (5–20 ms each at load 4–5, measured on the industry profile bench), so
the wait, not the SQL, dominated. Here each queryset becomes a scalar subquery aggregated to a
JSON array of positional rows, all in one SELECT; the rows come back as the dicts `.values()`
would give, with dates, datetimes, decimals and floats restored from the columns' fields.
"""

import json
from datetime import date, datetime
from decimal import Decimal

from django.db import connections, models
from django.db.models import QuerySet


def _floats(value):
    """JSON numbers are parsed as Decimal (exact); inside a JSONField they are floats again, as
    json.loads would have given them."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [_floats(v) for v in value]
    if isinstance(value, dict):
        return {k: _floats(v) for k, v in value.items()}
    return value


def _converter(field):
    if isinstance(field, models.DateTimeField):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(field, models.DateField):
        return lambda v: None if v is None else date.fromisoformat(v)
    if isinstance(field, models.DecimalField):
        return None  # parsed as Decimal with the column's own scale ("100000.00")
    if isinstance(field, models.FloatField):
        return lambda v: None if v is None else float(v)
    return _floats


def values_together(parts: dict[str, QuerySet], *, using: str = "default") -> dict[str, list[dict]]:
    """{name: values-queryset} → {name: [row dicts]} in one query. Each queryset keeps its own
    filters, ordering and slice: PostgreSQL aggregates a sorted subquery's rows in that order."""
    selects, params, shapes = [], [], []
    for qs in parts.values():
        query = qs.query
        names = [*query.extra_select, *query.values_select, *query.annotation_select]
        compiler = query.get_compiler(using=using)
        sql, p = compiler.as_sql()
        fields = [expr.output_field for expr, _sql, _alias in compiler.select]
        if not names or len(names) != len(fields):
            raise ValueError("values_together() takes .values() querysets")
        cols = ", ".join(f"c{i}" for i in range(len(names)))
        row = ", ".join(f"t.c{i}" for i in range(len(names)))
        selects.append(
            f"(SELECT COALESCE(json_agg(json_build_array({row})), '[]')::text FROM ({sql}) AS t({cols}))"  # noqa: S608
        )
        params.extend(p)
        shapes.append((names, [_converter(f) for f in fields]))
    with connections[using].cursor() as cur:
        cur.execute("SELECT " + ", ".join(selects), params)  # noqa: S608 - compiled querysets, bound params
        texts = cur.fetchone()
    out = {}
    for key, text, (names, convs) in zip(parts, texts, shapes, strict=True):
        rows = []
        for values in json.loads(text, parse_float=Decimal):
            rows.append({n: (c(v) if c else v) for n, c, v in zip(names, convs, values, strict=True)})
        out[key] = rows
    return out
