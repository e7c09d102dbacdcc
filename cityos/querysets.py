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

from django.core.exceptions import EmptyResultSet
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


def _compile(qs: QuerySet, using: str) -> tuple[str, list, tuple]:
    """One .values() queryset as a scalar subquery giving a JSON array of positional rows."""
    query = qs.query
    names = [*query.extra_select, *query.values_select, *query.annotation_select]
    compiler = query.get_compiler(using=using)
    try:
        sql, params = compiler.as_sql()
    except EmptyResultSet:  # qs.none(), or a filter on an empty list: no rows, no SQL
        return "'[]'::text", [], (names, [])
    fields = [expr.output_field for expr, _sql, _alias in compiler.select]
    if not names or len(names) != len(fields):
        raise ValueError("values_together() takes .values() querysets")
    cols = ", ".join(f"c{i}" for i in range(len(names)))
    row = ", ".join(f"t.c{i}" for i in range(len(names)))
    select = f"(SELECT COALESCE(json_agg(json_build_array({row})), '[]')::text FROM ({sql}) AS t({cols}))"  # noqa: S608
    return select, list(params), (names, [_converter(f) for f in fields])


class Prepared:
    """Querysets that differ per call only in a few values (an id, a date), compiled once per
    process: building and compiling 7 querysets costs ~5 ms of CPU per request, more than the
    query itself. `build(**sentinels)` must use each argument only as a bound parameter; a
    sentinel that the compiled SQL inlines is refused."""

    def __init__(self, build, **sentinels):
        self._build, self._sentinels, self._compiled = build, sentinels, {}

    def _plan(self, using: str):
        plan = self._compiled.get(using)
        if plan is None:
            plan = []
            for key, qs in self._build(**self._sentinels).items():
                select, params, shape = _compile(qs, using)
                slots = []
                for p in params:
                    name = next((n for n, v in self._sentinels.items() if type(p) is type(v) and p == v), None)
                    slots.append((name, p))
                for n, v in self._sentinels.items():
                    if str(v) in select:
                        raise ValueError(f"Prepared: the sentinel of {n} is inlined in the SQL")
                plan.append((key, select, slots, shape))
            self._compiled[using] = plan
        return plan

    def bind(self, *, using: str = "default", **args) -> list[tuple]:
        return [
            (key, select, [args[n] if n is not None else p for n, p in slots], shape)
            for key, select, slots, shape in self._plan(using)
        ]


def values_together(
    parts: dict[str, QuerySet], *, prepared: list[tuple] | None = None, using: str = "default"
) -> dict[str, list[dict]]:
    """{name: values-queryset} → {name: [row dicts]} in one query, with any Prepared(...).bind()
    parts. Each queryset keeps its own filters, ordering and slice: PostgreSQL aggregates a sorted
    subquery's rows in that order."""
    items = [(key, *_compile(qs, using)) for key, qs in parts.items()] + list(prepared or [])
    params = [p for _key, _select, ps, _shape in items for p in ps]
    with connections[using].cursor() as cur:
        cur.execute("SELECT " + ", ".join(select for _key, select, _ps, _shape in items), params)  # noqa: S608
        texts = cur.fetchone()
    out = {}
    for (key, _select, _ps, (names, convs)), text in zip(items, texts, strict=True):
        out[key] = [
            {n: (c(v) if c else v) for n, c, v in zip(names, convs, values, strict=True)}
            for values in json.loads(text, parse_float=Decimal)
        ]
    return out
