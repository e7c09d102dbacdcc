"""Reads of the search index: search (results, count, facets, parse), suggestions, did-you-mean.

Permissions are a WHERE clause of the same statement (`visibility_sql`), so the count and every
facet are computed only over what the user may see.
"""

from __future__ import annotations

import html
import re
import time as _time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import get_language

from cityos.roles import STAFF_ROLES

from ..models import Department
from . import analysis, parse
from .models import SearchSynonym
from .services import ACCESS_FUNCTIONS, PROVIDERS, SUGGEST_TABLE, TABLE, names, refs_current

MAX_QUERY = 200  # characters of a query that are read (a 2,000-character paste is cut, not refused)
MAX_TERMS = 12
FACET_LIMIT = 20
KIND_PRIOR = analysis.KIND_PRIOR

BUILTIN_KINDS = {
    "case": ("工单", "Case"),
    "dataset": ("数据集", "Dataset"),
    "record": ("数据记录", "Dataset record"),
    "enterprise": ("企业", "Enterprise"),
    "facility": ("设施", "Facility"),
    "place": ("地点", "Place"),
    "entity": ("实体", "Entity"),
    "device": ("设备", "Device"),
    "datastream": ("数据流", "Datastream"),
    "document": ("互联网文档", "Internet document"),
    "alert": ("告警", "Alert"),
    "area": ("区域", "Area"),
}


class SearchError(ValueError):
    """A bad search parameter; the message names it."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def _en() -> bool:
    return (get_language() or "").startswith("en")


def kind_label(kind: str) -> str:
    p = PROVIDERS.get(kind)
    zh, en = (p.label, p.label_en) if p else BUILTIN_KINDS.get(kind, (kind, kind))
    return en if _en() else zh


# --- access ------------------------------------------------------------------------------------


def _is_staff(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in STAFF_ROLES))


NO_RESTRICTED = ""  # visibility_sql's access of a user who sees no restricted item
# Items with dates (a scheduled or expiring notice) are found only while current: checked at
# query time, so no reindex is needed when a date passes.
CURRENT_SQL = (
    "(valid_from IS NULL OR valid_from <= statement_timestamp())"
    " AND (valid_until IS NULL OR valid_until > statement_timestamp())"
)


def visibility_sql(user) -> tuple[str, list, str | None]:
    """What a user may see: (WHERE clause, its params, access tsquery of restricted items, or
    None: the user sees every restricted item (city-wide roles) or none (outsiders)).

    Anonymous users, citizens and external developers: public items. Staff: public and internal
    items, restricted items of their department subtree (and of the departments above theirs),
    and items that grant them access (`grants`: the kind for dispatchers, their grids for grid
    workers, `user:<id>` for assignees). City-wide roles: all. The same rule is given twice: the
    restricted part as access lexemes ANDed to the text query in the restricted items' GIN index
    (it skips what the user may not see, so an officer's query costs what a leader's does) and
    as a plain WHERE clause (defence in depth)."""
    if not _is_staff(user):
        return f"level = 0 AND {CURRENT_SQL}", [], NO_RESTRICTED
    if user.is_city_wide:
        return CURRENT_SQL, [], None
    tokens = [f"user:{user.id}"]
    for fn in ACCESS_FUNCTIONS:
        tokens += list(fn(user) or [])
    cond, params = "level <= 1 OR grants && %s::varchar[]", [tokens]
    lexemes = [analysis.quote_lexeme(f"§g{t}") for t in tokens]
    path = refs_current().depts.get(user.department_id) if user.department_id else None
    if path:
        parts = [p for p in path.strip("/").split("/") if p]
        ancestors = ["/" + "/".join(parts[:i]) + "/" for i in range(1, len(parts))]
        cond += " OR (dept_path LIKE %s OR dept_path = ANY(%s::varchar[]))"
        params += [path + "%", ancestors]
        lexemes += [analysis.quote_lexeme(f"§d{path}")] + [analysis.quote_lexeme(f"§e{a}") for a in ancestors]
    return f"({cond}) AND {CURRENT_SQL}", params, " | ".join(lexemes)


# --- the query ---------------------------------------------------------------------------------


_synonyms_cache: tuple[float, dict[str, list[str]]] = (0.0, {})


def synonyms() -> dict[str, list[str]]:
    """{word: its group}, cached for 10 s per process (admins edit them rarely)."""
    global _synonyms_cache
    at, groups = _synonyms_cache
    if _time.monotonic() - at > 10:
        groups = {}
        for syn in SearchSynonym.objects.filter(is_active=True):
            words = syn.words()
            for w in words:
                groups.setdefault(w, [])
                groups[w] += [x for x in words if x not in groups[w]]
        _synonyms_cache = (_time.monotonic(), groups)
    return groups


def synonyms_reset(**_kwargs) -> None:
    global _synonyms_cache
    _synonyms_cache = (0.0, {})


TOKEN = re.compile(r'(-?)"([^"]*)"|(-?)(\S+)')


@dataclass
class Clause:
    sql: str
    params: list
    words: list[str]  # for highlighting


def _word_sql(word: str) -> tuple[str, list]:
    """One word as a tsquery expression (codes of 4+ characters with digits match by prefix)."""
    if analysis.is_cjk(word):
        return "%s::tsquery", [analysis.tsquery_literal_cjk(word)]
    lit = analysis.quote_lexeme(word) + (":*" if any(c.isdigit() for c in word) and len(word) >= 4 else "")
    if word.isalpha():
        return "(%s::tsquery || plainto_tsquery('english', %s))", [lit, word]
    return "%s::tsquery", [lit]


def edit_distance(a: str, b: str) -> int:
    """Damerau–Levenshtein (optimal string alignment): a swap of two letters is one edit."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _typo_variants(words: list[str]) -> dict[str, list[str]]:
    """Latin words the index does not know → up to 3 known words within one edit (two for words of
    7+ letters), sharing the first letter. Candidates come from the vocabulary by first letter and
    length (its primary key range), then trigram similarity; the edit distance decides."""
    latin = [w for w in words if w.isascii() and w.isalpha() and len(w) >= 4]
    if not latin:
        return {}
    with connection.cursor() as cur:
        cur.execute("SELECT word FROM datahub_searchterm WHERE word = ANY(%s)", [latin])
        known = {r[0] for r in cur.fetchall()}
        out = {}
        for w in latin:
            if w in known:
                continue
            cur.execute(
                "SELECT word FROM datahub_searchterm WHERE word >= %s AND word < %s"
                " AND length(word) BETWEEN %s AND %s ORDER BY similarity(word, %s) DESC, word LIMIT 50",
                [w[0], chr(ord(w[0]) + 1), len(w) - 2, len(w) + 2, w],
            )
            limit = 1 if len(w) < 7 else 2
            scored = sorted((edit_distance(w, c), c) for (c,) in cur.fetchall())
            out[w] = [c for dist, c in scored if dist <= limit][:3]
    return out


def _clause_for(word: str, syn: dict, typos: dict) -> Clause:
    variants = [word] + [s for s in syn.get(word, []) if s != word] + typos.get(word, [])
    parts, params, shown = [], [], []
    for v in variants:
        for_v = analysis.split_query_words(v) if " " in v else [v]
        sub = [_word_sql(x) for x in for_v if x]
        if not sub:
            continue
        parts.append("(" + " && ".join(s for s, _p in sub) + ")")
        params += [p for _s, ps in sub for p in ps]
        shown += for_v
    return Clause("(" + " || ".join(parts) + ")", params, shown)


def build_tsquery(text: str, *, relaxed: bool = False) -> tuple[str | None, list, list[str], list[str]]:
    """(SQL expression of the tsquery or None, params, words to highlight, raw words)."""
    positives: list[Clause] = []
    negatives: list[Clause] = []
    raw: list[str] = []
    syn = synonyms()
    tokens = list(TOKEN.finditer(text[:MAX_QUERY]))
    words_of: list[tuple[bool, bool, list[str]]] = []
    for m in tokens:
        neg = bool(m.group(1) or m.group(3))
        if m.group(2) is not None:  # a quoted phrase
            words = analysis.split_query_words(m.group(2))
            words_of.append((neg, True, words))
        else:
            words_of.append((neg, False, analysis.split_query_words(m.group(4))))
    all_words = [w for _n, _p, ws in words_of for w in ws]
    typos = _typo_variants(all_words)
    for neg, phrase, words in words_of:
        if not words:
            continue
        if phrase and len(words) > 1:
            parts = [_word_sql(w) for w in words]
            sql = (
                "(" + " <-> ".join(f"({s})" for s, _ in parts) + ")"
                if all(not analysis.is_cjk(w) for w in words)
                else None
            )
            if sql is None:  # a Chinese phrase: the bigrams of the whole run, in order
                joined = "".join(words)
                clause = Clause("%s::tsquery", [analysis.tsquery_literal_cjk(joined)], [joined])
            else:
                clause = Clause(sql, [p for _s, ps in parts for p in ps], words)
            (negatives if neg else positives).append(clause)
            continue
        for w in words:
            c = _clause_for(w, syn, {} if neg else typos)
            (negatives if neg else positives).append(c)
            raw.append(w)
    positives = positives[:MAX_TERMS]
    if not positives:
        return None, [], [], raw
    op = " || " if relaxed else " && "
    sql = "(" + op.join(c.sql for c in positives) + ")"
    params = [p for c in positives for p in c.params]
    for c in negatives[:MAX_TERMS]:
        sql += f" && !!{c.sql}"
        params += c.params
    return sql, params, [w for c in positives for w in c.words], raw


@dataclass
class SearchRequest:
    q: str = ""
    kinds: list[str] = field(default_factory=list)
    area_id: int | None = None
    bbox: tuple[float, float, float, float] | None = None
    near: tuple[float, float] | None = None
    radius: float = 1000.0
    since: datetime | None = None
    until: datetime | None = None
    department_id: int | None = None
    category: str | None = None
    status: str | None = None
    facets: dict[str, str] = field(default_factory=dict)
    ignore: set[str] = field(default_factory=set)
    page: int = 1
    page_size: int = 20
    understand: bool = True


_labels_cache: tuple[float, dict] = (0.0, {})
LABELS_SECONDS = 30.0


def _provider_labels() -> dict[str, dict]:
    """{facet: {code: info}} of every provider, cached for 30 s per process (one query per
    provider, not one per search)."""
    global _labels_cache
    at, labels = _labels_cache
    if _time.monotonic() - at > LABELS_SECONDS:
        labels = {}
        for p in PROVIDERS.values():
            if p.facet_labels:
                for facet, values in (p.facet_labels() or {}).items():
                    labels.setdefault(facet, {}).update(values)
        _labels_cache = (_time.monotonic(), labels)
    return labels


def labels_reset() -> None:
    global _labels_cache
    _labels_cache = (0.0, {})


def category_words() -> dict[str, str]:
    """{word: category} from the providers' facet labels (names and keywords of categories)."""
    out: dict[str, str] = {}
    for code, info in _provider_labels().get("category", {}).items():
        for w in [info.get("label", ""), info.get("label_en", ""), *info.get("words", [])]:
            w = (w or "").strip().lower()
            if len(w) >= 2:
                out.setdefault(w, code)
    return out


def facet_label_map(facet: str) -> dict[str, str]:
    en = _en()
    return {
        code: (info.get("label_en") if en else None) or info.get("label") or code
        for code, info in _provider_labels().get(facet, {}).items()
    }


def _filters(req: SearchRequest, parsed: parse.Parsed | None) -> tuple[list[str], list]:
    where, params = [], []
    kinds = req.kinds or (parsed.kinds if parsed else [])
    if kinds:
        where.append("kind = ANY(%s)")
        params.append(list(kinds))
    area_id = req.area_id or (parsed.area_id if parsed else None)
    if area_id:
        where.append("area_path @> ARRAY[%s]::integer[]")
        params.append(area_id)
    if req.bbox:
        where.append("point && ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
        params += list(req.bbox)
    if req.near:
        lon, lat = req.near
        deg = req.radius / 111_000 / max(0.2, abs(__import__("math").cos(__import__("math").radians(lat))))
        where.append(
            "point && ST_MakeEnvelope(%s, %s, %s, %s, 4326) AND ST_DWithin(point::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s)"
        )
        params += [lon - deg, lat - req.radius / 111_000, lon + deg, lat + req.radius / 111_000, lon, lat, req.radius]
    since = req.since or (parsed.since if parsed else None)
    until = req.until or (parsed.until if parsed else None)
    if since:
        where.append("time >= %s")
        params.append(since)
    if until:
        where.append("time < %s")
        params.append(until)
    if req.department_id:
        path = Department.objects.filter(id=req.department_id).values_list("path", flat=True).first() or "/-/"
        where.append("dept_path LIKE %s")
        params.append(path + "%")
    category = req.category or (parsed.category if parsed else None)
    if category:
        where.append("facets->>'category' = %s")
        params.append(category)
    status = req.status or (parsed.status if parsed else None)
    if status in ("open", "done"):
        where.append("facets->>'state' = %s")
        params.append(status)
    elif status == "overdue":
        where.append("facets->>'state' = 'open' AND facets->>'due' < %s")
        params.append(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    for k, v in {**(parsed.facets if parsed else {}), **req.facets}.items():
        where.append("facets->>%s = %s")
        params += [k, v]
    return where, params


def _score_sql(qtext: str) -> tuple[str, list]:
    prior = " ".join(f"WHEN '{k}' THEN {v}" for k, v in KIND_PRIOR.items())
    return (
        # Weight D holds the access lexemes (and, in rows written before 0016, title-prefix
        # lexemes): not text, kept out of the length that normalises the rank.
        f"(ts_rank(ts_filter(tsv, '{{a,b,c}}'), q.q, 1) * 2"
        f" + CASE WHEN lower(title) = %s OR lower(title_en) = %s THEN 1.0"
        f" WHEN %s <> '' AND (strpos(lower(title), %s) > 0 OR strpos(lower(title_en), %s) > 0) THEN 0.4 ELSE 0 END"
        f" + CASE kind {prior} ELSE 0 END"
        f" + COALESCE(0.3 / (1 + extract(epoch FROM (now() - time)) / 2592000.0), 0))",
        [qtext, qtext, qtext, qtext, qtext],
    )


def _highlight(text: str, words: list[str], width: int = 120) -> str:
    """An escaped excerpt of `text` around the first hit, hits wrapped in <mark>."""
    if not text:
        return ""
    low = analysis.normalize(text)
    words = sorted({analysis.normalize(w) for w in words if w}, key=len, reverse=True)
    first = min((i for w in words if (i := low.find(w)) >= 0), default=-1)
    start = max(0, first - width // 3) if first > width // 2 else 0
    piece, low_piece = text[start : start + width], low[start : start + width]
    if len(low_piece) != len(piece):  # NFKC changed lengths: highlight nothing rather than misplace
        return html.escape(piece)
    marks = [False] * len(piece)
    for w in words:
        i = low_piece.find(w)
        while i >= 0 and w:
            for k in range(i, min(i + len(w), len(piece))):
                marks[k] = True
            i = low_piece.find(w, i + len(w))
    out, open_ = [], False
    for ch, m in zip(piece, marks, strict=True):
        if m and not open_:
            out.append("<mark>")
        elif not m and open_:
            out.append("</mark>")
        open_ = m
        out.append(html.escape(ch))
    if open_:
        out.append("</mark>")
    return ("…" if start else "") + "".join(out) + ("…" if start + width < len(text) else "")


def search(*, user, req: SearchRequest) -> dict:
    """Results (one page), count, facets and the parse of a query, as the user may see them."""
    q = " ".join((req.q or "")[:2000].split())[:MAX_QUERY]
    parsed = parse.parse(q, categories=category_words(), ignore=req.ignore) if req.understand else None
    text = parsed.text if parsed else q
    vis, vparams, access = visibility_sql(user)
    fwhere, fparams = _filters(req, parsed)
    relaxed = False
    tsq, tparams, hl_words, raw = build_tsquery(text)
    result = _run(req, vis, vparams, access, fwhere, fparams, tsq, tparams, text)
    if result["count"] == 0 and tsq and len(raw) > 1:
        tsq2, tparams2, hl_words, _raw = build_tsquery(text, relaxed=True)
        result = _run(req, vis, vparams, access, fwhere, fparams, tsq2, tparams2, text)
        relaxed = result["count"] > 0
    en = _en()
    areas = names("area", {r["area_id"] for r in result["rows"]}, en=en)
    results = []
    for r in result["rows"]:
        title = (r["title_en"] if en and r["title_en"] else r["title"]) or r["title"]
        body = (r["body_en"] if en and r["body_en"] else r["body"]) or r["identifiers"]
        results.append(
            {
                "kind": r["kind"],
                "kind_label": kind_label(r["kind"]),
                "id": r["key"],
                "title": title,
                "title_html": _highlight(title, hl_words, 200),
                "snippet": _highlight(body, hl_words),
                "url": r["url"],
                "score": round(float(r["score"]), 4),
                "area": areas.get(r["area_id"]) or None,
                "area_id": r["area_id"],
                "time": r["time"].isoformat() if r["time"] else None,
                "lon": r["lon"],
                "lat": r["lat"],
            }
        )
    out = {
        "results": results,
        "count": result["count"],
        "count_is_lower_bound": result["capped"],
        "facets": _facet_labels(result["facets"]),
        "parsed": _parsed_dict(parsed, text, relaxed),
        "did_you_mean": did_you_mean(raw) if result["count"] == 0 else None,
        "page": req.page,
        "page_size": req.page_size,
    }
    return out


# At most this many matching items are ranked and counted (a query matching more shows "500+"):
# each candidate is a random heap page (~10 µs warm, far more when the page has left the cache
# of a loaded machine): over a million items a frequent word's 1,000 candidates read ~900 heap
# pages (leader p95 70–500 ms at load 3.5), 500 read ~450 (p95 26–34 ms). Specific queries (most
# of them) match fewer and are ranked exactly.
MAX_CANDIDATES = 500
# Of which at most this many from each access class (open, restricted: candidate_parts).
PART_CANDIDATES = MAX_CANDIDATES // 2


CANDIDATE_COLUMNS = "id, kind, time, district_id, department_id, facets->>'category' AS category"


def candidate_parts(vis, vparams, access, fwhere, fparams) -> list[tuple[list[str], list]]:
    """The text query's WHERE clauses, one per partial GIN index of `tsv`: open items (public and
    internal: the visibility clause decides) and restricted items, where an officer's access
    lexemes are ANDed to the text query so the index skips other departments' items. Each part
    reads its own index only, so an officer's query reads what a leader's does, or less."""
    common, cparams = [vis, *fwhere], [*vparams, *fparams]
    parts = [(["level <= 1", "tsv @@ q.q", *common], cparams)]
    if access is None:  # every restricted item
        parts.append((["level = 2", "tsv @@ q.q", *common], cparams))
    elif access != NO_RESTRICTED:
        parts.append((["level = 2", "tsv @@ (q.q && %s::tsquery)", *common], [access, *cparams]))
    return parts


def _run(req, vis, vparams, access, fwhere, fparams, tsq, tparams, text) -> dict:
    offset = (req.page - 1) * req.page_size
    today = timezone.localdate()
    if tsq:
        score, sparams = _score_sql(analysis.normalize(text))
        order = "score DESC, time DESC NULLS LAST, id DESC"
        selects, cte_params = [], []
        for part, (where, params) in enumerate(candidate_parts(vis, vparams, access, fwhere, fparams)):
            selects.append(
                f"(SELECT {CANDIDATE_COLUMNS}, {score} AS score, {part} AS part FROM {TABLE}, q"  # noqa: S608
                f" WHERE {' AND '.join(f'({w})' for w in where)} LIMIT %s)"
            )
            cte_params += [*sparams, *params, PART_CANDIDATES]
        candidates = " UNION ALL ".join(selects)
        qcte = f"WITH q AS (SELECT ({tsq}) AS q)"
    else:
        # Only a parse (上周, 朝阳区): the newest items the user may see (the time index).
        order = "time DESC NULLS LAST, id DESC"
        where = [vis, *fwhere]
        candidates = (
            f"SELECT {CANDIDATE_COLUMNS}, 0.0 AS score, 0 AS part FROM {TABLE}"  # noqa: S608
            f" WHERE {' AND '.join(f'({w})' for w in where)} ORDER BY {order} LIMIT %s"
        )
        cte_params = [*vparams, *fparams, PART_CANDIDATES]
        qcte, tparams = "WITH q AS (SELECT NULL::tsquery AS q)", []
    with transaction.atomic(), connection.cursor() as cur:
        # One statement: the candidates (permission and filters inside), their page and facets.
        cur.execute(
            f"""{PLAN_SETTINGS}{qcte}, c AS MATERIALIZED ({candidates}),
                top AS (SELECT id, score, row_number() OVER (ORDER BY {order}) AS rn
                        FROM c ORDER BY {order} LIMIT %s OFFSET %s),
                f AS (SELECT GROUPING(kind) AS gk, GROUPING(district_id) AS gd, GROUPING(department_id) AS gdep,
                             GROUPING(category) AS gc, GROUPING(bucket) AS gb, kind, district_id, department_id,
                             category, bucket, count(*) AS n
                      FROM (SELECT *, CASE WHEN time >= %s THEN 'today' WHEN time >= %s THEN 'week'
                                WHEN time >= %s THEN 'month' WHEN time >= %s THEN 'year'
                                WHEN time IS NULL THEN 'none' ELSE 'older' END AS bucket FROM c) b
                      GROUP BY GROUPING SETS ((), (kind), (district_id), (department_id), (category), (bucket)))
                SELECT 'r', id, score, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, rn FROM top
                UNION ALL
                SELECT 'f', NULL, NULL, gk, gd, gdep, gc, gb, kind, district_id, department_id, category, bucket, n
                FROM f
                UNION ALL
                SELECT 'p', NULL, NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, count(*)
                FROM c GROUP BY part HAVING count(*) >= %s""",  # noqa: S608
            [
                *tparams,
                *cte_params,
                req.page_size,
                offset,
                _day(today, 0),
                _day(today, 6),
                _day(today, 29),
                _day(today, 364),
                PART_CANDIDATES,
            ],
        )
        ranked: list[tuple[int, int, float]] = []
        facets: dict[str, dict] = {"kind": {}, "district": {}, "department": {}, "category": {}, "time": {}}
        count, capped = 0, False
        for tag, id_, sc, gk, gd, gdep, gc, gb, kind, district, dept, category, bucket, n in cur.fetchall():
            if tag == "p":  # an access class filled its candidates: the count is a lower bound
                capped = True
            elif tag == "r":
                ranked.append((n, id_, sc))
            elif gk and gd and gdep and gc and gb:
                count = n
            elif not gk:
                facets["kind"][kind] = n
            elif not gd and district is not None:
                facets["district"][district] = n
            elif not gdep and dept is not None:
                facets["department"][dept] = n
            elif not gc and category is not None:
                facets["category"][category] = n
            elif not gb:
                facets["time"][bucket] = n
        ids = [(id_, sc) for _rn, id_, sc in sorted(ranked)]
        rows = []
        if ids:
            cur.execute(
                f"SELECT id, kind, key, title, title_en, body, body_en, identifiers, url, time, area_id,"  # noqa: S608
                f" ST_X(point), ST_Y(point) FROM {TABLE} WHERE id = ANY(%s)",
                [[i for i, _s in ids]],
            )
            cols = [
                "id",
                "kind",
                "key",
                "title",
                "title_en",
                "body",
                "body_en",
                "identifiers",
                "url",
                "time",
                "area_id",
                "lon",
                "lat",
            ]
            by_id = {r[0]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}
            for i, s in ids:
                if i in by_id:
                    rows.append({**by_id[i], "score": s})
    return {"rows": rows, "count": count, "facets": facets, "capped": capped}


# Sent with the statement (one round trip, not two), inside its transaction: bitmap scans of the
# GIN index, never a sequential scan that stops at the LIMIT (the planner's bet on frequent words,
# which reads thousands of pages instead of hundreds); no JIT (it compiles for longer than these
# queries run).
PLAN_SETTINGS = "SET LOCAL enable_seqscan = off; SET LOCAL jit = off; "


def _day(today, back: int) -> datetime:
    from datetime import timedelta

    return parse._day_start(today - timedelta(days=back))


TIME_BUCKETS = {
    "today": ("今天", "Today"),
    "week": ("最近7天", "Last 7 days"),
    "month": ("最近30天", "Last 30 days"),
    "year": ("最近一年", "Last year"),
    "older": ("更早", "Older"),
    "none": ("无时间", "No date"),
}


def _facet_labels(facets: dict) -> dict:
    en = _en()
    districts = names("area", facets["district"], en=en)
    depts = names("department", facets["department"], en=en)
    cats = facet_label_map("category") if facets["category"] else {}

    def rows(d: dict, label) -> list[dict]:
        return [
            {"value": k, "label": label(k), "count": n}
            for k, n in sorted(d.items(), key=lambda kv: (-kv[1], str(kv[0])))
        ][:FACET_LIMIT]

    return {
        "kind": rows(facets["kind"], kind_label),
        "area": rows(facets["district"], lambda k: districts.get(k) or str(k)),
        "department": rows(facets["department"], lambda k: depts.get(k) or str(k)),
        "category": rows(facets["category"], lambda k: cats.get(k) or k),
        "time": [
            {"value": k, "label": TIME_BUCKETS[k][1] if en else TIME_BUCKETS[k][0], "count": facets["time"][k]}
            for k in TIME_BUCKETS
            if k in facets["time"]
        ],
    }


def _parsed_dict(parsed, text: str, relaxed: bool) -> dict:
    if parsed is None:
        return {"text": text, "chips": [], "relaxed": relaxed}
    return {
        "text": parsed.text,
        "kind": parsed.kinds,
        "area": {"id": parsed.area_id, "name": parsed.area_name} if parsed.area_id else None,
        "since": parsed.since.isoformat() if parsed.since else None,
        "until": parsed.until.isoformat() if parsed.until else None,
        "time": parsed.time_label or None,
        "category": parsed.category,
        "status": parsed.status,
        "facets": parsed.facets,
        "chips": parsed.chips,
        "relaxed": relaxed,
    }


def did_you_mean(words: list[str]) -> str | None:
    """The query with each unknown Latin word replaced by the most similar known one."""
    variants = _typo_variants(words)
    if not any(variants.values()):
        return None
    return " ".join(variants.get(w, [w])[0] if variants.get(w) else w for w in words)


SUGGEST_WALK = 40  # distinct completions read per request, then ranked by weight


def suggest(*, user, q: str, limit: int = 8) -> list[dict]:
    """Titles as you type. What is typed (normalised like the terms: analysis.suggest_text) is a
    prefix of the suggestion table's terms: title starts, word starts, pinyin and initials. The
    request walks the term index in order, one probe per distinct term (the probe's first row is
    the best item of that term the user may see: the index is (term, weight DESC) and carries the
    access columns), stops after SUGGEST_WALK terms, and ranks those by weight. Its cost does not
    grow with the index; permissions are the search's own (visibility_sql) inside each probe."""
    text = analysis.suggest_text((q or "")[:MAX_QUERY])[: analysis.SUGGEST_CHARS].rstrip()
    if not text:
        return []
    # The first string after every one that starts with text (terms sort by code point).
    upper = text[:-1] + chr(min(ord(text[-1]) + 1, 0x10FFFF))
    vis, vparams, _access = visibility_sql(user)
    probe = (
        f"SELECT term, item_id, weight FROM {SUGGEST_TABLE} s WHERE term {{op}} %s AND term < %s"  # noqa: S608
        f" AND ({vis}) ORDER BY term, weight DESC LIMIT 1"
    )
    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            f"""{PLAN_SETTINGS}WITH RECURSIVE walk(term, item_id, weight, n) AS (
                    (SELECT *, 1 FROM ({probe.format(op=">=")}) first)
                    UNION ALL
                    (SELECT x.term, x.item_id, x.weight, w.n + 1 FROM walk w,
                        LATERAL ({probe.format(op=">").replace("%s", "w.term", 1)}) x
                     WHERE w.n < %s))
                SELECT i.kind, i.key, i.title, i.title_en, i.url, w.weight
                FROM walk w JOIN {TABLE} i ON i.id = w.item_id""",  # noqa: S608
            [text, upper, *vparams, upper, *vparams, SUGGEST_WALK],
        )
        rows = cur.fetchall()
    en = _en()
    out, seen = [], set()
    for k, key, t, te, url, _w in sorted(rows, key=lambda r: (-r[5], len(r[2]), r[2])):
        if (k, key) in seen:
            continue
        seen.add((k, key))
        out.append({"kind": k, "kind_label": kind_label(k), "id": key, "title": (te if en and te else t), "url": url})
    return out[:limit]
