"""Writes to the search index: upsert and remove (after commit, in bulk), providers and reindex."""

from __future__ import annotations

import contextlib
import contextvars
import io
import json
import math
import time as _time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache

from django.db import connection, transaction

from ..models import Area, Department
from . import analysis
from .models import LEVEL_CODES

TABLE = "datahub_searchitem"
SUGGEST_TABLE = "datahub_searchsuggestion"
STAGE = "search_stage"
STAGE_IDS = "search_stage_ids"
BATCH = 2000
GIN_MERGE_ROWS = 1000  # a write of this many items merges the GIN pending lists (_write)


class SearchItemError(ValueError):
    """A malformed item handed to the index; the message names the item and the field."""


# --- providers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Provider:
    kind: str
    function: Callable[[], Iterable[dict]]
    label: str
    label_en: str
    facet_labels: Callable[[], dict] | None = None


PROVIDERS: dict[str, Provider] = {}
# Functions `(user) -> list[str]` giving a user extra access tokens (`grid:12`, `kind:case`) that
# items list in their `grants` (apps register them: governance's dispatchers see every case).
ACCESS_FUNCTIONS: list[Callable] = []


def provider_register(
    *, kind: str, provider: Callable[[], Iterable[dict]], label: str = "", label_en: str = "", facet_labels=None
) -> None:
    PROVIDERS[kind] = Provider(kind, provider, label or kind, label_en or label or kind, facet_labels)


def access_register(function: Callable) -> None:
    if function not in ACCESS_FUNCTIONS:
        ACCESS_FUNCTIONS.append(function)


# --- reference data: area ancestors and department paths ---------------------------------------


@dataclass
class _Refs:
    loaded_at: float = 0.0
    areas: dict[int, tuple[int | None, str]] = field(default_factory=dict)
    depts: dict[int, str] = field(default_factory=dict)
    # Names (zh, en) of areas and departments: results and facets are labelled from here, not by
    # two queries per search (~18 ms of a search at load 8 went to those two round trips).
    area_names: dict[int, tuple[str, str]] = field(default_factory=dict)
    dept_names: dict[int, tuple[str, str]] = field(default_factory=dict)


_refs = _Refs()
REFS_SECONDS = 30.0  # areas and departments change once in a while; the signals reset sooner


def refs_reset(**_kwargs) -> None:
    _refs.loaded_at = 0.0
    _english_places.clear()


_english_places: dict[str, int] = {}
PLACE_SUFFIXES = (" district", " subdistrict", " street", " county", " town")


def english_place_names() -> dict[str, int]:
    """{"chaoyang": id of 朝阳区}: English names of districts and streets without their suffix
    (the gazetteer matches "Chaoyang District"; people type "Chaoyang"). Unambiguous names only."""
    if not _english_places:
        seen: dict[str, list[int]] = {}
        for id_, name_en in (
            Area.objects.filter(level__in=["district", "street"]).exclude(name_en="").values_list("id", "name_en")
        ):
            low = name_en.lower().strip()
            for suffix in PLACE_SUFFIXES:
                if low.endswith(suffix):
                    low = low[: -len(suffix)].strip()
                    break
            if len(low) >= 3:
                seen.setdefault(low, []).append(id_)
        _english_places.update({k: v[0] for k, v in seen.items() if len(v) == 1})
        _english_places.setdefault("", 0)  # cached even when the city has no English names
    return _english_places


def refs_current() -> _Refs:
    if _time.monotonic() - _refs.loaded_at > REFS_SECONDS:
        areas = list(Area.objects.values_list("id", "parent_id", "level", "name", "name_en"))
        depts = list(Department.objects.values_list("id", "path", "name", "name_en"))
        _refs.areas = {i: (p, lv) for i, p, lv, _n, _e in areas}
        _refs.area_names = {i: (n, e) for i, _p, _lv, n, e in areas}
        _refs.depts = {i: path for i, path, _n, _e in depts}
        _refs.dept_names = {i: (n, e) for i, _path, n, e in depts}
        _refs.loaded_at = _time.monotonic()
    return _refs


def names(kind: str, ids, *, en: bool) -> dict[int, str]:
    """{id: name} of areas (`kind="area"`) or departments, in English when asked and known."""
    table = refs_current().area_names if kind == "area" else refs_current().dept_names
    return {i: (e if en and e else n) for i in ids if i is not None and (ne := table.get(i)) for n, e in [ne]}


def _area_path(refs: _Refs, area_id: int | None) -> tuple[list[int], int | None]:
    path, district, seen = [], None, set()
    while area_id is not None and area_id in refs.areas and area_id not in seen:
        seen.add(area_id)
        path.append(area_id)
        parent, level = refs.areas[area_id]
        if level == "district" and district is None:
            district = area_id
        area_id = parent
    return path, district


# --- preparing items ---------------------------------------------------------------------------


def _str(item: dict, name: str, n: int, *, required: bool = False, limit: int | None = None) -> str:
    value = item.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise SearchItemError(f"item {n}: {name} must be a string")
    if required and not value.strip():
        raise SearchItemError(f"item {n}: {name} is required")
    if limit is not None and len(value) > limit:
        if name in ("kind", "key"):
            raise SearchItemError(f"item {n}: {name} is longer than {limit} characters")
        value = value[:limit]
    return value


def _num(item: dict, name: str, n: int, lo: float, hi: float) -> float | None:
    value = item.get(name)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not lo <= value <= hi
    ):
        raise SearchItemError(f"item {n}: {name} must be a number between {lo} and {hi}")
    return float(value)


def _int(item: dict, name: str, n: int) -> int | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise SearchItemError(f"item {n}: {name} must be an integer id")
    return value


@lru_cache(maxsize=50_000)
def _suggestions(kind: str, title: str, title_en: str) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The item's suggestion terms and their weights: the kind's prior, a title that starts with
    what is typed, shorter titles first (they order the completions of a prefix). Memoised: titles
    come back (analysis._title_literal)."""
    terms = analysis.suggest_terms(title, title_en)
    starts = {analysis.suggest_text(t)[: analysis.SUGGEST_CHARS].rstrip() for t in (title, title_en)}
    base = analysis.KIND_PRIOR.get(kind, 0.0) - min(len(title), 200) * 0.002
    return tuple(terms), tuple(round(base + (1.0 if t in starts else 0.0), 4) for t in terms)


@lru_cache(maxsize=50_000)
def _suggestion_literals(kind: str, title: str, title_en: str) -> tuple[str, str]:
    """The terms and weights as array literals (COPY text). Terms are word characters and single
    spaces (analysis.suggest_text): nothing to escape."""
    terms, weights = _suggestions(kind, title, title_en)
    return "{" + ",".join(f'"{t}"' for t in terms) + "}", "{" + ",".join(map(str, weights)) + "}"


def _when(item: dict, name: str, n: int) -> datetime | None:
    value = item.get(name)
    if value is not None and not (isinstance(value, datetime) and value.tzinfo is not None):
        raise SearchItemError(f"item {n}: {name} must be an aware datetime or None")
    return value


def prepare(item: dict, n: int, refs: _Refs) -> tuple:
    """Validate one item and compute its index columns (the row COPY writes to the stage)."""
    if not isinstance(item, dict):
        raise SearchItemError(f"item {n}: must be a dict")
    kind = _str(item, "kind", n, required=True, limit=32)
    key = _str(item, "key", n, required=True, limit=191)
    title = _str(item, "title", n, required=True, limit=1000)
    title_en = _str(item, "title_en", n, limit=1000)
    body = _str(item, "body", n, limit=20000)
    body_en = _str(item, "body_en", n, limit=20000)
    identifiers = _str(item, "identifiers", n, limit=1000)
    url = _str(item, "url", n, limit=500)
    when = _when(item, "time", n)
    lon, lat = _num(item, "lon", n, -180, 180), _num(item, "lat", n, -90, 90)
    if (lon is None) != (lat is None):
        raise SearchItemError(f"item {n}: lon and lat go together")
    area_id, department_id = _int(item, "area_id", n), _int(item, "department_id", n)
    level = item.get("level", "internal")
    if level not in LEVEL_CODES:
        raise SearchItemError(f"item {n}: level must be one of public, internal, restricted")
    facets = item.get("facets") or {}
    if not isinstance(facets, dict) or not all(isinstance(k, str) for k in facets):
        raise SearchItemError(f"item {n}: facets must be a dict of strings")
    facets = {k[:64]: str(v)[:200] for k, v in facets.items() if v is not None and v != ""}
    grants = item.get("grants") or []
    if not isinstance(grants, list | tuple) or not all(isinstance(g, str) for g in grants):
        raise SearchItemError(f"item {n}: grants must be a list of strings")
    valid_from, valid_until = _when(item, "valid_from", n), _when(item, "valid_until", n)
    area_path, district = _area_path(refs, area_id)
    dept_path = refs.depts.get(department_id, "") if department_id is not None else ""
    literal, stream, vocab = analysis.document_tokens(title=f"{title} {title_en}", identifiers=identifiers, body=body)
    level_code = int(LEVEL_CODES[level])
    grants = [g[:64] for g in [f"kind:{kind}", *grants]]
    access = analysis.access_lexemes(level=level_code, grants=grants, dept_path=dept_path)
    terms, weights = _suggestion_literals(kind, title, title_en)
    return (
        (
            kind,
            key,
            title,
            title_en,
            body,
            body_en,
            identifiers,
            url,
            when,
            area_id,
            "{" + ",".join(map(str, area_path)) + "}",
            district,
            f"SRID=4326;POINT({lon} {lat})" if lon is not None else None,
            department_id,
            dept_path,
            level_code,
            "{" + ",".join(json.dumps(g) for g in grants) + "}",
            json.dumps(facets, ensure_ascii=False),
            f"{literal} {access}" if literal else access,
            stream,
            analysis.latin_only(f"{title} {title_en}"),
            analysis.latin_only(f"{body_en} {body}"[: analysis.BODY_CHARS]),
            valid_from,
            valid_until,
            terms,
            weights,
        ),
        vocab,
    )


# Every item's tsvector carries access lexemes (analysis.access_lexemes, in the `lexemes`
# literal), so the GIN index applies permissions while it matches: an officer's query never
# visits the rows of other departments.

STAGE_COLUMNS = (
    "kind, key, title, title_en, body, body_en, identifiers, url, time, area_id, area_path, district_id, point,"
    " department_id, dept_path, level, grants, facets, lexemes, body_tokens, en_title, en_body, valid_from,"
    " valid_until, suggest_terms, suggest_weights"
)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v).translate(_COPY_ESCAPES)


def _copy_line(row: tuple) -> str:
    return "\t".join([_copy_value(v) for v in row]) + "\n"


def _write(rows: list[str], vocab: set[str], *, durable: bool = True) -> None:
    """Write prepared rows (COPY lines of the stage: _prepare_all) to the index and suggestions.

    `durable=False` (bulk loads only, outside any caller's transaction) does not wait for the WAL
    flush at each batch's commit; write_batches then ends with one synchronous commit (_wal_flush),
    whose flush covers every batch before it. Live indexing is always durable."""
    if not rows:
        return
    buf = io.StringIO("".join(rows))
    with transaction.atomic(), connection.cursor() as cur:
        # The suggestions' sort (~40,000 terms per 5,000 items) stays in memory.
        cur.execute("SET LOCAL work_mem = '64MB'")
        if not durable:
            cur.execute("SET LOCAL synchronous_commit = off")
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE_IDS} (id bigint, kind text, key text, fresh boolean)"
            " ON COMMIT DELETE ROWS"
        )
        cur.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (kind text, key text, title text, title_en text, body text,"
            " body_en text, identifiers text, url text, time timestamptz, area_id int, area_path int[],"
            " district_id int, point geometry(Point, 4326), department_id int, dept_path text, level smallint,"
            " grants text[], facets jsonb, lexemes text, body_tokens text, en_title text, en_body text,"
            " valid_from timestamptz, valid_until timestamptz, suggest_terms text[], suggest_weights float8[])"
            " ON COMMIT DELETE ROWS"
        )
        # ON COMMIT DELETE ROWS empties it at commit; inside an outer transaction (tests, the
        # reindex of several kinds) an earlier batch may still be there.
        cur.execute(f"TRUNCATE {STAGE}, {STAGE_IDS}")
        # JIT compiles this INSERT for seconds per batch (its cost estimate is high), for nothing.
        cur.execute("SET LOCAL jit = off")
        cur.cursor.copy_expert(f"COPY {STAGE} ({STAGE_COLUMNS}) FROM STDIN", buf)
        cur.execute(
            f"""
            WITH written AS (
            INSERT INTO {TABLE} (kind, key, title, title_en, body, body_en, identifiers, url, time, area_id,
                area_path, district_id, point, department_id, dept_path, level, grants, facets, valid_from,
                valid_until, tsv, updated_at)
            SELECT kind, key, title, title_en, body, body_en, identifiers, url, time, area_id, area_path,
                district_id, point, department_id, dept_path, level, grants, facets, valid_from, valid_until,
                -- `||` shifts the right side's positions past the left's: fields never share a phrase.
                lexemes::tsvector || setweight(to_tsvector('simple', body_tokens), 'C')
                    || setweight(to_tsvector('english', en_title), 'A')
                    || setweight(to_tsvector('english', en_body), 'C'),
                clock_timestamp()
            -- One lock order for every batch: concurrent writers (write_batches) never deadlock.
            FROM {STAGE} ORDER BY kind, key
            ON CONFLICT (kind, key) DO UPDATE SET
                title = EXCLUDED.title, title_en = EXCLUDED.title_en, body = EXCLUDED.body,
                body_en = EXCLUDED.body_en, identifiers = EXCLUDED.identifiers, url = EXCLUDED.url,
                time = EXCLUDED.time, area_id = EXCLUDED.area_id, area_path = EXCLUDED.area_path,
                district_id = EXCLUDED.district_id, point = EXCLUDED.point,
                department_id = EXCLUDED.department_id, dept_path = EXCLUDED.dept_path, level = EXCLUDED.level,
                grants = EXCLUDED.grants, facets = EXCLUDED.facets, valid_from = EXCLUDED.valid_from,
                valid_until = EXCLUDED.valid_until, tsv = EXCLUDED.tsv, updated_at = clock_timestamp()
            -- xmax is 0 in a row the statement inserted, set in one it updated.
            RETURNING id, kind, key, xmax = 0)
            INSERT INTO {STAGE_IDS} SELECT * FROM written
            """  # noqa: S608
        )
        # The suggestions follow the item: its old terms out (updated items only), its terms in
        # with its access columns. Both join the two stages, never the index (a join with the
        # index read all of it per batch).
        cur.execute(
            f"DELETE FROM {SUGGEST_TABLE} s USING {STAGE_IDS} w WHERE s.item_id = w.id AND NOT w.fresh"  # noqa: S608
        )
        cur.execute(
            f"""
            INSERT INTO {SUGGEST_TABLE} (item_id, term, weight, level, dept_path, grants, valid_from, valid_until)
            SELECT i.id, t.term, t.weight, st.level, st.dept_path, st.grants, st.valid_from, st.valid_until
            FROM {STAGE} st JOIN {STAGE_IDS} i ON i.kind = st.kind AND i.key = st.key,
                unnest(st.suggest_terms, st.suggest_weights) AS t(term, weight)
            -- In term order: consecutive rows land on the same leaf pages of the term index
            -- (random order touched a random page of a 1.6 GB index per row: 4.4 s per 5,000
            -- items). The terms of an item are distinct and the stage holds an item once, so
            -- no conflict is possible (the old rows were deleted just above).
            ORDER BY t.term
            """  # noqa: S608
        )
        if len(rows) >= GIN_MERGE_ROWS:
            # A bulk batch leaves thousands of entries in the GIN indexes' pending lists, which
            # every query reads in full (up to 4 MB: 507 pages after 20,000 items): merge them
            # now, in one sorted pass, rather than let queries pay until the list fills.
            cur.execute(
                "SELECT gin_clean_pending_list('search_item_tsv_open'::regclass),"
                " gin_clean_pending_list('search_item_tsv_restricted'::regclass)"
            )
        if vocab:
            cur.execute(
                "INSERT INTO datahub_searchterm (word) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                [sorted(vocab)],
            )


def _prepare_all(items: Iterable[dict], refs: _Refs | None = None) -> tuple[list[str], set[str]]:
    """The items' stage rows as COPY lines (built here, so in the workers of prepared_batches, not
    in the process that writes) and their vocabulary."""
    refs = refs or refs_current()
    by_key: dict[tuple[str, str], tuple] = {}
    vocab: set[str] = set()
    for n, item in enumerate(items, start=1):
        row, words = prepare(item, n, refs)
        by_key[(row[0], row[1])] = row  # the last version of an item in a batch wins
        vocab |= words
    return [_copy_line(row) for row in by_key.values()], vocab


_paused: contextvars.ContextVar[bool] = contextvars.ContextVar("search_paused", default=False)


@contextlib.contextmanager
def indexing_paused():
    """Skip per-item index writes (the demo city builds thousands of rows, then reindexes once)."""
    token = _paused.set(True)
    try:
        yield
    finally:
        _paused.reset(token)


def search_index_upsert(items: list[dict]) -> int:
    """Add or replace items (by kind and key); written after the caller's transaction commits.

    Items are validated now (SearchItemError names the item and field), written in one COPY and
    one INSERT … ON CONFLICT per call. Returns how many items were accepted.
    """
    if _paused.get():
        return 0
    rows, vocab = _prepare_all(items)
    if not rows:
        return 0
    if connection.in_atomic_block:
        transaction.on_commit(lambda: _write(rows, vocab))
    else:
        _write(rows, vocab)
    return len(rows)


def search_index_remove(*, kind: str, keys: list[str]) -> None:
    """Remove items of a kind by key (after the caller's transaction commits)."""
    keys = [str(k) for k in keys]

    def _delete() -> None:
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE kind = %s AND key = ANY(%s)", [kind, keys])  # noqa: S608

    if keys:
        if connection.in_atomic_block:
            transaction.on_commit(_delete)
        else:
            _delete()


def _batched(items: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _prepare_in_worker(batch: list[dict], refs: _Refs) -> tuple[list[str], set[str]]:
    return _prepare_all(batch, refs)


def prepared_batches(batches: Iterable[list[dict]], *, workers: int = 1) -> Iterator[tuple[list[str], set[str], int]]:
    """(rows, vocab, items) per batch. With workers ≥ 1 the Python side (segmentation, pinyin) runs
    in forked processes while this one writes the previous batch: indexing costs max(prepare,
    write) per batch instead of their sum. Workers never touch the database (the reference data
    is handed to them)."""
    refs = refs_current()
    if workers < 1:
        for batch in batches:
            rows, vocab = _prepare_all(batch, refs)
            yield rows, vocab, len(batch)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    analysis._init_jieba()  # load the dictionary once, before forking
    pending = []
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
        for batch in batches:
            pending.append((pool.submit(_prepare_in_worker, batch, refs), len(batch)))
            if len(pending) > workers:
                future, n = pending.pop(0)
                yield (*future.result(), n)
        for future, n in pending:
            yield (*future.result(), n)


def search_reindex(
    *,
    kinds: list[str] | None = None,
    batch_size: int = BATCH,
    progress: Callable[[str, int], None] | None = None,
    workers: int = 0,
) -> dict[str, int]:
    """Rebuild the given kinds (default: every registered provider) from their providers.

    Each kind is written in batches; rows of the kind that the provider no longer yields are
    removed at the end (by the reindex start time), so a rerun converges and an interrupted run
    only leaves stale rows until the next one. `workers` processes prepare batches in parallel.
    """
    unknown = [k for k in kinds or [] if k not in PROVIDERS]
    if unknown:
        raise SearchItemError(f"kind: no provider for {', '.join(unknown)} (known: {', '.join(sorted(PROVIDERS))})")
    counts: dict[str, int] = {}
    for kind in kinds or sorted(PROVIDERS):
        started = datetime.now(UTC)
        done = 0
        batches = prepared_batches(_batched(PROVIDERS[kind].function(), batch_size), workers=workers)
        done = write_batches(
            batches, writers=WRITERS if workers else 1, progress=(lambda n, k=kind: progress(k, n)) if progress else None
        )
        with connection.cursor() as cur:
            cur.execute(f"DELETE FROM {TABLE} WHERE kind = %s AND updated_at < %s", [kind, started])  # noqa: S608
        counts[kind] = done
    return counts


WRITERS = 2  # database connections writing batches at once in a bulk load (write_batches)


def _wal_flush() -> None:
    """Make a bulk load's asynchronous commits durable: a transaction with a transaction id commits
    synchronously, and the WAL flush it waits for covers every commit record written before it."""
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute("SELECT txid_current()")


def _write_and_close(rows: list[str], vocab: set[str]) -> int:
    try:
        _write(rows, vocab, durable=False)
    finally:
        connection.close()  # this thread's own connection (a writer thread of write_batches)
    return len(rows)


def write_batches(
    prepared: Iterable[tuple[list[str], set[str], int]],
    *,
    writers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Write prepared batches (prepared_batches) and return the number of items written. With
    writers ≥ 2, outside a transaction, that many connections write consecutive batches at once:
    the database's side of indexing (~250 µs of one backend per item over a million, against
    ~110 µs of a worker process to prepare it) then uses more than one core. Batches take
    their row locks in key order, so two writers never deadlock."""
    done = 0
    if writers < 2 or connection.in_atomic_block:
        for rows, vocab, _n in prepared:
            _write(rows, vocab)
            done += len(rows)
            if progress:
                progress(done)
        return done
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    pending: deque = deque()
    with ThreadPoolExecutor(max_workers=writers, thread_name_prefix="search-writer") as pool:
        for rows, vocab, _n in prepared:
            pending.append(pool.submit(_write_and_close, rows, vocab))
            while len(pending) > writers:
                done += pending.popleft().result()
                if progress:
                    progress(done)
        while pending:
            done += pending.popleft().result()
            if progress:
                progress(done)
    if done:
        _wal_flush()
    return done


def index_rows_direct(rows: list[str], vocab: set[str]) -> None:
    """Write prepared rows now (the benchmark and the demo's bulk path)."""
    _write(rows, vocab)


def _suggestion_rows(rows: list[tuple]) -> list[str]:
    out = []
    for id_, kind, title, title_en, level, dept_path, grants, valid_from, valid_until in rows:
        terms, weights = _suggestions(kind, title, title_en)
        grants_lit = _copy_value("{" + ",".join(json.dumps(g, ensure_ascii=False) for g in grants) + "}")
        tail = "\t".join(
            [str(level), _copy_value(dept_path), grants_lit, _copy_value(valid_from), _copy_value(valid_until)]
        )
        out += [f"{id_}\t{t}\t{w}\t{tail}\n" for t, w in zip(terms, weights, strict=True)]
    return out


def search_suggestions_rebuild(*, batch_size: int = 20_000, progress: Callable[[int], None] | None = None) -> int:
    """Rebuild the suggestion table from the index rows (after upgrading, or to repair it): the
    terms are computed again from each item's titles and written with COPY, the term index
    dropped during the load and built once at the end (~5x faster than maintaining it row by row).
    Returns the number of items read."""
    done = 0
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(f"TRUNCATE {SUGGEST_TABLE}")
        cur.execute("DROP INDEX IF EXISTS search_suggestion_term")
        last = 0
        while True:
            cur.execute(
                f"SELECT id, kind, title, title_en, level, dept_path, grants, valid_from, valid_until"  # noqa: S608
                f" FROM {TABLE} WHERE id > %s ORDER BY id LIMIT %s",
                [last, batch_size],
            )
            rows = cur.fetchall()
            if not rows:
                break
            last = rows[-1][0]
            buf = io.StringIO("".join(_suggestion_rows(rows)))
            cur.cursor.copy_expert(
                f"COPY {SUGGEST_TABLE} (item_id, term, weight, level, dept_path, grants, valid_from, valid_until)"
                " FROM STDIN",
                buf,
            )
            done += len(rows)
            if progress:
                progress(done)
        cur.execute(
            f"CREATE INDEX search_suggestion_term ON {SUGGEST_TABLE} (term, weight DESC)"
            " INCLUDE (item_id, level, dept_path, grants, valid_from, valid_until)"
        )
    with connection.cursor() as cur:
        cur.execute(f"VACUUM ANALYZE {SUGGEST_TABLE}") if not connection.in_atomic_block else None
    return done
