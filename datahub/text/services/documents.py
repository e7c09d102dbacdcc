"""Writing documents: normalise → skip already-stored items → analyse → COPY, in one transaction.

Throughput: analysis is the cost (~0.5 ms per post, most of it jieba); storage is one COPY into
a temporary table and one INSERT … SELECT … ON CONFLICT DO NOTHING (so two runs racing on the same
items still store each once), then one COPY per link table.
"""

import hashlib
import html
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from cityos import bus
from datahub.core.models import Area
from datahub.text.models import Document, Topic
from datahub.text.nlp import simhash as sh
from datahub.text.nlp.pipeline import analyse_batch

MAX_TITLE = 500
MAX_BODY = 100_000  # characters; a longer "post" is a page dump, the first 100k carry the meaning
REPOST_WINDOW = timedelta(days=14)  # reposts older than two weeks start a new cluster
_TAGS = re.compile(r"<[^>]+>")
_WS = re.compile(r"[ \t\r\f\v]+")


@dataclass
class RawItem:
    title: str = ""
    body: str = ""
    url: str = ""
    author: str = ""
    published_at: datetime | None = None
    external_id: str = ""


@dataclass
class IngestResult:
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)
    document_ids: list[int] = field(default_factory=list)


def clean_text(value: str) -> str:
    """Feed bodies are HTML: tags out, entities decoded, whitespace collapsed."""
    if not value:
        return ""
    text = html.unescape(_TAGS.sub(" ", value)) if "<" in value or "&" in value else value
    text = text.replace("\x00", "")
    return "\n".join(line.strip() for line in _WS.sub(" ", text).splitlines() if line.strip())


def dedup_key(item: RawItem) -> str:
    basis = (
        f"id:{item.external_id}"
        if item.external_id
        else f"url:{item.url}"
        if item.url
        else f"text:{item.title}\n{item.body}"
    )
    return hashlib.sha256(basis.encode()).hexdigest()


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_value(v) -> str:
    if v is None:
        return "\\N"
    if isinstance(v, str):
        return v.translate(_COPY_ESCAPES)  # one C call per value: COPY text format escaping
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, datetime):
        return v.isoformat()
    return str(v).translate(_COPY_ESCAPES)


def _copy(cursor, table: str, columns: list[str], rows: list[tuple]) -> None:
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_copy_value(v) for v in row))
        buf.write("\n")
    buf.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buf)


def _normalise(items: list[RawItem], result: IngestResult) -> list[RawItem]:
    out, now = [], timezone.now()
    for n, item in enumerate(items, start=1):
        title = clean_text(item.title)[:MAX_TITLE]
        body = clean_text(item.body)[:MAX_BODY]
        if not title and not body:
            result.rejected += 1
            result.errors.append({"item": n, "field": "title/body", "message": "item has neither title nor body"})
            continue
        url = (item.url or "").strip()
        if url and not re.match(r"^https?://", url, re.IGNORECASE):
            url = ""  # javascript:, relative or garbage links are not kept as links
        published = item.published_at or now
        if timezone.is_naive(published):
            published = timezone.make_aware(published, timezone.get_default_timezone())
        if published > now + timedelta(days=1):
            published = now  # a clock in the future would put the post on top of every view forever
        out.append(
            RawItem(
                title=title,
                body=body,
                url=url[:1000],
                author=(item.author or "").strip()[:200],
                published_at=published,
                external_id=(item.external_id or "").strip()[:500],
            )
        )
    return out


def _known_clusters(hashes: list[int], since: datetime) -> dict[int, int]:
    """{simhash: cluster id} for hashes with a stored near-duplicate (≤ MAX_DISTANCE bits) since `since`.

    PostgreSQL does the comparison: one indexed equality join per band (pigeonhole: distance ≤ 3
    leaves one of four 16-bit bands intact), then bit_count of the XOR, so only true matches come
    back, however many similar posts are stored."""
    signed = sorted({sh.to_signed(h) for h in hashes if h})
    if not signed:
        return {}
    parts = []
    for col, shift in (("sh_band0", 48), ("sh_band1", 32), ("sh_band2", 16), ("sh_band3", 0)):
        parts.append(
            f"SELECT b.h, d.id, d.cluster_id FROM b JOIN datahub_document d ON d.{col} = ((b.h >> {shift}) & 65535)::int"  # noqa: S608 - constants
            " WHERE d.published_at >= %(since)s AND bit_count((d.simhash # b.h)::bit(64)) <= %(dist)s"
        )
    sql = "WITH b(h) AS (SELECT unnest(%(hashes)s::bigint[])) " + " UNION ALL ".join(parts)
    out: dict[int, tuple[int, int]] = {}
    with connection.cursor() as cur:
        cur.execute(sql, {"hashes": signed, "since": since, "dist": sh.MAX_DISTANCE})
        for h, doc_id, cluster_id in cur.fetchall():
            key = sh.to_unsigned(h)
            if key not in out or doc_id < out[key][0]:  # the earliest stored match decides
                out[key] = (doc_id, cluster_id or doc_id)
    return {h: v[1] for h, v in out.items()}


DOC_COLUMNS = [
    "id",
    "source_id",
    "run_id",
    "external_id",
    "dedup_key",
    "title",
    "body",
    "url",
    "author",
    "published_at",
    "fetched_at",
    "language",
    "keywords",
    "topic",
    "topic_confidence",
    "sentiment",
    "sentiment_score",
    "area_id",
    "district_id",
    "simhash",
    "sh_band0",
    "sh_band1",
    "sh_band2",
    "sh_band3",
    "cluster_id",
]


def documents_ingest(*, source_id: int, run_id: int | None, items: list[RawItem]) -> IngestResult:
    """Store new items of a source (analysed); items already stored are counted as duplicates."""
    result = IngestResult(read=len(items))
    clean = _normalise(items, result)
    by_key: dict[str, RawItem] = {}
    for item in clean:
        key = dedup_key(item)
        if key in by_key:
            result.duplicates += 1
        else:
            by_key[key] = item
    if not by_key:
        return result
    existing = set(
        Document.objects.filter(source_id=source_id, dedup_key__in=list(by_key)).values_list("dedup_key", flat=True)
    )
    result.duplicates += len(existing)
    fresh = [(k, it) for k, it in by_key.items() if k not in existing]
    if not fresh:
        return result
    texts = [f"{it.title}\n{it.body}".strip() for _, it in fresh]
    analyses = analyse_batch(texts)
    now = timezone.now()

    with transaction.atomic():
        with connection.cursor() as cur:
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('datahub_document', 'id')) FROM generate_series(1, %s)",
                [len(fresh)],
            )
            ids = [r[0] for r in cur.fetchall()]
        # Near-duplicates: the earliest document of a cluster gives the cluster its id.
        hashes = [a.simhash for a in analyses]
        known = _known_clusters(hashes, now - REPOST_WINDOW)
        # Within the batch: the same band trick with a dict per band (O(n), not O(n²)).
        index: list[dict[int, list[tuple[int, int]]]] = [{}, {}, {}, {}]
        clusters = []
        for doc_id, h in zip(ids, hashes, strict=True):
            cluster = known.get(h) if h else None
            if h and cluster is None:
                for i, b in enumerate(sh.bands(h)):
                    for other_h, other_cluster in index[i].get(b, ()):
                        if (h ^ other_h).bit_count() <= sh.MAX_DISTANCE:
                            cluster = other_cluster
                            break
                    if cluster:
                        break
            if h:
                for i, b in enumerate(sh.bands(h)):
                    index[i].setdefault(b, []).append((h, cluster or doc_id))
            clusters.append(cluster or doc_id)
        rows = []
        for doc_id, (key, it), a, cluster in zip(ids, fresh, analyses, clusters, strict=True):
            b = sh.bands(a.simhash)
            rows.append(
                (
                    doc_id,
                    source_id,
                    run_id,
                    it.external_id,
                    key,
                    it.title,
                    it.body,
                    it.url,
                    it.author,
                    it.published_at,
                    now,
                    a.language,
                    json.dumps(a.keywords, ensure_ascii=False),
                    a.topic,
                    a.topic_confidence,
                    a.sentiment,
                    a.sentiment_score,
                    a.area_id,
                    a.district_id,
                    sh.to_signed(a.simhash),
                    *b,
                    cluster,
                    a.segmented,
                )
            )
        with connection.cursor() as cur:
            raw = cur.connection.cursor()
            raw.execute(
                "CREATE TEMP TABLE IF NOT EXISTS _document_stage "
                "(LIKE datahub_document INCLUDING DEFAULTS, segmented text) ON COMMIT DELETE ROWS"
            )
            raw.execute("TRUNCATE _document_stage")
            _copy(raw, "_document_stage", [*DOC_COLUMNS, "segmented"], rows)
            cols = ", ".join(DOC_COLUMNS)
            raw.execute(
                f"INSERT INTO datahub_document ({cols}, search_vector) "  # noqa: S608 - fixed column list
                f"SELECT {cols}, to_tsvector('simple', segmented) FROM _document_stage "
                "ON CONFLICT (source_id, dedup_key) DO NOTHING RETURNING id"
            )
            stored = {r[0] for r in raw.fetchall()}
            area_rows, entity_rows = [], []
            for doc_id, a in zip(ids, analyses, strict=True):
                if doc_id not in stored:
                    continue
                area_rows += [(doc_id, h.area_id, h.mention[:200]) for h in a.area_hits]
                entity_rows += [(doc_id, h.entity_id, h.mention[:300]) for h in a.entity_hits]
            if area_rows:
                _copy(raw, "datahub_documentarea", ["document_id", "area_id", "mention"], area_rows)
            if entity_rows:
                _copy(raw, "datahub_documententity", ["document_id", "entity_id", "mention"], entity_rows)
    result.stored = len(stored)
    result.duplicates += len(fresh) - len(stored)
    result.document_ids = sorted(stored)
    return result


def document_flag(*, document_id: int, user_id: int) -> Document:
    """An officer marks a post as a citizen issue: governance turns the event into a case."""
    with transaction.atomic():
        doc = Document.objects.select_for_update(of=("self",)).select_related("area", "district").get(id=document_id)
        first_time = doc.flagged_at is None
        if first_time:
            doc.flagged_at, doc.flagged_by_id = timezone.now(), user_id
            doc.save(update_fields=["flagged_at", "flagged_by"])
            area: Area | None = doc.area or doc.district
            point = area.centroid if area is not None and area.centroid is not None else None
            if point is None and area is not None and area.geometry is not None:
                point = area.geometry.point_on_surface
            bus.publish(
                "datahub.document_flagged",
                {
                    "document_id": doc.id,
                    "title": doc.title,
                    "body": doc.body[:5000],
                    "url": doc.url,
                    "area_id": area.id if area else None,
                    "lon": point.x if point else None,
                    "lat": point.y if point else None,
                    "flagged_by_user_id": user_id,
                    "topic": doc.topic if doc.topic in Topic.values else Topic.OTHER,
                },
            )
    return doc
