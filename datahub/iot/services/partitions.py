"""Monthly partitions of the observation table (PostgreSQL declarative partitioning on time).

A beat task creates them ahead (this month .. +3); ingestion creates any month a late or old
reading needs on demand, before it opens its transaction, so no reading is ever refused for
want of a partition and no DDL lock is held while a batch commits.
"""

from datetime import UTC, datetime

from django.db import connection

PARENT = "datahub_observation"


def partition_name(year: int, month: int) -> str:
    return f"{PARENT}_p{year:04d}{month:02d}"


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def months_between(start: datetime, end: datetime) -> list[tuple[int, int]]:
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    ym, last, out = (start.year, start.month), (end.year, end.month), []
    while ym <= last:
        out.append(ym)
        ym = _next_month(*ym)
    return out


def observation_partitions_ensure(*, start: datetime, end: datetime) -> list[str]:
    """Create the monthly partitions covering [start, end] that do not exist yet; returns the new ones."""
    months = months_between(start, end)
    names = [partition_name(y, m) for y, m in months]
    with connection.cursor() as cur:
        cur.execute("SELECT n FROM unnest(%s::text[]) AS n WHERE to_regclass(n) IS NULL", [names])
        missing = {r[0] for r in cur.fetchall()}
        created = []
        for (y, m), name in zip(months, names, strict=True):
            if name not in missing:
                continue
            ny, nm = _next_month(y, m)
            # Bounds in UTC; names come from integers only (no injection). IF NOT EXISTS: two
            # ingesters racing for the same new month both succeed.
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {PARENT} "  # noqa: S608
                f"FOR VALUES FROM ('{y:04d}-{m:02d}-01 00:00+00') TO ('{ny:04d}-{nm:02d}-01 00:00+00')"
            )
            created.append(name)
    return created


def observation_partitions_list() -> list[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [PARENT],
        )
        return [r[0] for r in cur.fetchall()]
