"""The demo city for tests, built once per test process and then restored from a snapshot.

About twenty tests need the demo city (every page, no raw codes, role homes, relevance, the API
fuzzer…). Building it takes tens of seconds; restoring what the first build wrote takes about a
second. `demo_city()` builds the city for real (`manage.py demo_city`) the first time in a process,
copies every table the build wrote (binary COPY) and the sequences, and later restores that copy
inside the calling test's transaction — but only when the database is in the state the first
build started from (the same row count in every table), so a test that made objects of its own
first still gets a real build. A separate snapshot is kept for transactional tests (their build
runs its after-commit handlers; a `db` test's does not).

The restored rows keep the first build's ids (sequences never go back, so no later test reuses
them) and the first build's Redis state and media files stay valid for them. Tests that check the
build itself (idempotence, determinism, step times) call `demo_city()` first and then
`manage.py demo_city` again: the second run is a real one over the restored city.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from django.core.management import call_command
from django.db import connection

_SKIP = {"django_migrations", "spatial_ref_sys"}


@dataclass
class _Snapshot:
    baseline: dict[str, int]  # rows per table before the first build
    tables: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # table -> (column list, COPY data)
    sequences: dict[str, int] = field(default_factory=dict)
    partitions: list[tuple[str, str, str]] = field(default_factory=list)  # (partition, parent, bound)


_snapshots: dict[bool, _Snapshot] = {}


def _tables(cur) -> list[str]:
    # Plain tables and partitioned parents (their partitions are copied through the parent).
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1"
    )
    return [r[0] for r in cur.fetchall() if r[0] not in _SKIP]


def _counts(cur, tables: list[str]) -> dict[str, int]:
    sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM \"{t}\"" for t in tables)  # noqa: S608 - catalogue names
    cur.execute(sql)
    return dict(cur.fetchall())


def _columns(cur, table: str) -> str:
    cur.execute(
        "SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = ''",
        [f'"{table}"'],
    )
    return cur.fetchone()[0]


def _sequences(cur) -> dict[str, int]:
    cur.execute(
        "SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), last_value FROM pg_sequences "
        "WHERE schemaname = 'public' AND last_value IS NOT NULL"
    )
    return dict(cur.fetchall())


def _capture(baseline: dict[str, int]) -> _Snapshot:
    snap = _Snapshot(baseline=baseline)
    with connection.cursor() as cur:
        for table, n in _counts(cur, list(baseline)).items():
            if n == 0:
                continue
            cols = _columns(cur, table)
            buf = io.BytesIO()
            sql = f'COPY (SELECT {cols} FROM "{table}") TO STDOUT WITH (FORMAT binary)'  # noqa: S608 - catalogue names
            cur.cursor.copy_expert(sql, buf)
            snap.tables[table] = (cols, buf.getvalue())
        snap.sequences = _sequences(cur)
        # Partitions the build made (monthly observation partitions): its DDL is undone with the test.
        cur.execute(
            "SELECT quote_ident(c.relname), quote_ident(p.relname), pg_get_expr(c.relpartbound, c.oid) "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relispartition AND c.relkind IN ('r', 'p')"
        )
        snap.partitions = cur.fetchall()
    return snap


def _restore(snap: _Snapshot) -> None:
    with connection.cursor() as cur:
        # Foreign keys are not checked while copying rows that are known to be consistent (they were
        # read from a consistent database); SET LOCAL ends with the test's transaction.
        local = connection.in_atomic_block
        cur.execute(f"SET {'LOCAL ' if local else ''}session_replication_role = replica")
        ok = False
        try:
            for part, parent, bound in snap.partitions:
                cur.execute(f"CREATE TABLE IF NOT EXISTS {part} PARTITION OF {parent} {bound}")
            for table, n in snap.baseline.items():
                if n and table in snap.tables:
                    cur.execute(f'DELETE FROM "{table}"')  # noqa: S608 - catalogue names
            for table, (cols, data) in snap.tables.items():
                cur.cursor.copy_expert(f'COPY "{table}" ({cols}) FROM STDIN WITH (FORMAT binary)', io.BytesIO(data))
            now = _sequences(cur)
            for seq, value in snap.sequences.items():
                if value > now.get(seq, 0):
                    cur.execute("SELECT setval(%s, %s)", [seq, value])
            ok = True
        finally:
            # Foreign keys and triggers apply again for the rest of the test. After an error inside
            # a transaction nothing more can run there, and SET LOCAL ends with the rollback.
            if ok or not local:
                cur.execute(f"SET {'LOCAL ' if local else ''}session_replication_role = origin")


def demo_city() -> None:
    """The demo city in the test database, as `manage.py demo_city --quiet-logins` makes it."""
    key = connection.in_atomic_block  # a `db` test runs inside a transaction, a transactional one does not
    with connection.cursor() as cur:
        tables = _tables(cur)
        baseline = _counts(cur, tables)
    snap = _snapshots.get(key)
    if snap is not None and snap.baseline == baseline:
        _restore(snap)
        return
    call_command("demo_city", "--quiet-logins")
    if snap is None:
        _snapshots[key] = _capture(baseline)
