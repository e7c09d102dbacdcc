"""Reads for internet data: document search, the public-opinion aggregates and source health."""

import html
import json
import re
from datetime import datetime, timedelta

from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import Count, F, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from cityos.roles import is_staff_role
from datahub.core.models import Area, Run, Source
from datahub.text.models import Document, DocumentEntity
from datahub.text.nlp.tokens import detect_language, tokenize


def query_terms(q: str) -> list[str]:
    """The query segmented the same way documents are indexed."""
    q = (q or "").strip()
    if not q:
        return []
    return [t for t in tokenize(q, detect_language(q)) if t.strip()]


def document_search(
    *,
    q: str = "",
    topic: str = "",
    sentiment: str = "",
    language: str = "",
    area_id: int | None = None,
    source_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cluster_id: int | None = None,
) -> QuerySet[Document]:
    qs = Document.objects.select_related("source", "area", "district")
    terms = query_terms(q)
    if terms:
        query = SearchQuery(" ".join(terms), config="simple", search_type="plain")
        qs = qs.filter(search_vector=query).annotate(rank=SearchRank(F("search_vector"), query))
    if topic:
        qs = qs.filter(topic=topic)
    if sentiment:
        qs = qs.filter(sentiment=sentiment)
    if language:
        qs = qs.filter(language=language)
    if area_id:
        qs = qs.filter(Q(district_id=area_id) | Q(area_links__area_id=area_id)).distinct()
    if source_id:
        qs = qs.filter(source_id=source_id)
    if since:
        qs = qs.filter(published_at__gte=since)
    if until:
        qs = qs.filter(published_at__lt=until)
    if cluster_id:
        qs = qs.filter(cluster_id=cluster_id)
    return qs.order_by("-rank", "-published_at", "-id") if terms else qs.order_by("-published_at", "-id")


def highlight(text: str, terms: list[str], *, max_len: int = 400) -> SafeString:
    """HTML-escaped text with the query terms in <mark>; cut around the first hit."""
    if not text:
        return mark_safe("")  # noqa: S308 - empty
    words = sorted({t for t in terms if len(t) >= 1}, key=len, reverse=True)
    if len(text) > max_len:
        first = min((i for t in words if (i := text.lower().find(t)) >= 0), default=0)
        start = max(0, first - max_len // 4)
        text = ("…" if start else "") + text[start : start + max_len] + "…"
    escaped = html.escape(text)
    if words:
        pattern = re.compile("|".join(re.escape(html.escape(w)) for w in words), re.IGNORECASE)
        escaped = pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", escaped)
    return mark_safe(escaped)  # noqa: S308 - built from escaped text


def document_detail(*, document_id: int) -> dict:
    doc = Document.objects.select_related("source", "run", "area", "district", "flagged_by").get(id=document_id)
    areas = list(doc.area_links.select_related("area").order_by("area__level", "area__code"))
    entities = list(doc.entity_links.select_related("entity").order_by("entity__name"))
    duplicates = (
        list(
            Document.objects.filter(cluster_id=doc.cluster_id)
            .exclude(id=doc.id)
            .select_related("source")
            .order_by("published_at", "id")[:50]
        )
        if doc.cluster_id
        else []
    )
    return {"document": doc, "areas": areas, "entities": entities, "duplicates": duplicates}


ENTITY_MENTIONS_SHOWN = 20


def entity_mentions_context(*, entity_id: int, user) -> dict | None:
    """The entity page's "Internet mentions" section: the newest documents that name the entity (as
    the text pipeline linked them), for the staff who may read documents; None (section hidden) for
    others or when no document names it."""
    if not is_staff_role(user):
        return None
    links = list(
        DocumentEntity.objects.filter(entity_id=entity_id)
        .select_related("document__source", "document__district")
        .order_by("-document__published_at", "-document_id")[: ENTITY_MENTIONS_SHOWN + 1]
    )
    if not links:
        return None
    return {"mentions": links[:ENTITY_MENTIONS_SHOWN], "more": len(links) > ENTITY_MENTIONS_SHOWN}


def _window(days: int, until: datetime | None) -> tuple[datetime, datetime]:
    until = until or timezone.now()
    return until - timedelta(days=days), until


def opinion_volume_by_topic(
    *, days: int = 14, until: datetime | None = None, bucket: str = "day", area_id: int | None = None
) -> list[dict]:
    """[{"t": datetime, "topic": str, "n": int}] ordered by time then topic."""
    since, until = _window(days, until)
    trunc = TruncHour if bucket == "hour" else TruncDay
    qs = Document.objects.filter(published_at__gte=since, published_at__lt=until)
    if area_id:
        qs = qs.filter(district_id=area_id)
    return list(
        qs.annotate(t=trunc("published_at")).values("t", "topic").annotate(n=Count("id")).order_by("t", "topic")
    )


def opinion_sentiment_over_time(*, days: int = 14, until: datetime | None = None) -> list[dict]:
    since, until = _window(days, until)
    return list(
        Document.objects.filter(published_at__gte=since, published_at__lt=until)
        .annotate(t=TruncDay("published_at"))
        .values("t", "sentiment")
        .annotate(n=Count("id"))
        .order_by("t", "sentiment")
    )


def opinion_by_area(
    *, days: int = 14, until: datetime | None = None, topic: str = "", with_geometry: bool = False
) -> list[dict]:
    """Per district: total, negative, share negative, centroid and (optionally) a simplified
    GeoJSON boundary (~0.001° ≈ 100 m tolerance: a few KB per district for the map)."""
    since, until = _window(days, until)
    qs = Document.objects.filter(published_at__gte=since, published_at__lt=until, district__isnull=False)
    if topic:
        qs = qs.filter(topic=topic)
    counts = {
        r["district_id"]: r
        for r in qs.values("district_id")
        .annotate(n=Count("id"), neg=Count("id", filter=Q(sentiment="negative")))
        .order_by()
    }
    out = []
    for a in Area.objects.filter(level="district").order_by("code"):
        r = counts.get(a.id, {"n": 0, "neg": 0})
        c = a.centroid or (a.geometry.centroid if a.geometry else None)
        out.append(
            {
                "area_id": a.id,
                "code": a.code,
                "name": a.name,
                "name_en": a.name_en,
                "n": r["n"],
                "negative": r["neg"],
                "negative_share": round(r["neg"] / r["n"], 3) if r["n"] else 0.0,
                "lon": c.x if c else None,
                "lat": c.y if c else None,
            }
        )
        if with_geometry:
            geom = a.geometry.simplify(0.001, preserve_topology=True) if a.geometry else None
            out[-1]["geometry"] = json.loads(geom.geojson) if geom else None
    return out


def opinion_by_topic(*, days: int = 14, until: datetime | None = None) -> list[dict]:
    since, until = _window(days, until)
    return list(
        Document.objects.filter(published_at__gte=since, published_at__lt=until)
        .values("topic")
        .annotate(n=Count("id"), negative=Count("id", filter=Q(sentiment="negative")))
        .order_by("-n", "topic")
    )


def opinion_top_documents(
    *, days: int = 7, until: datetime | None = None, limit: int = 10, sentiment: str = ""
) -> list[Document]:
    """The most reposted stories of the period (one document per repost cluster: the earliest)."""
    since, until = _window(days, until)
    qs = Document.objects.filter(published_at__gte=since, published_at__lt=until)
    if sentiment:
        qs = qs.filter(sentiment=sentiment)
    clusters = list(
        qs.values("cluster_id")
        .annotate(n=Count("id"), latest=Max("published_at"))
        .order_by("-n", "-latest", "cluster_id")[:limit]
    )
    if not clusters:
        return []
    docs = {
        d.id: d
        for d in Document.objects.filter(id__in=[c["cluster_id"] for c in clusters]).select_related(
            "source", "district"
        )
    }
    out = []
    for c in clusters:
        d = docs.get(c["cluster_id"])
        if d is None:  # the cluster's first post is outside the window: show the earliest inside it
            d = (
                qs.filter(cluster_id=c["cluster_id"])
                .select_related("source", "district")
                .order_by("published_at")
                .first()
            )
        if d is not None:
            d.repost_count = c["n"]
            out.append(d)
    return out


def internet_source_health() -> list[dict]:
    """Every internet source with its last run, status, recent error count and documents."""
    last_run = Run.objects.filter(source=OuterRef("pk")).order_by("-created_at", "-id")
    day_ago = timezone.now() - timedelta(days=1)
    sources = (
        Source.objects.filter(kind=Source.Kind.INTERNET)
        .annotate(
            last_run_id=Subquery(last_run.values("id")[:1]),
            last_run_status=Subquery(last_run.values("status")[:1]),
            last_run_at=Subquery(last_run.values("created_at")[:1]),
            errors_24h=Count("runs", filter=Q(runs__status="failed", runs__created_at__gte=day_ago), distinct=True),
        )
        .select_related("feed_state")
        .order_by("code")
    )
    doc_counts = dict(
        Document.objects.filter(source__kind=Source.Kind.INTERNET)
        .values("source_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("source_id", "n")
    )
    out = []
    for s in sources:
        state = getattr(s, "feed_state", None)
        out.append(
            {
                "id": s.id,
                "code": s.code,
                "name": s.name,
                "connector": s.connector,
                "is_active": s.is_active,
                "last_run_id": s.last_run_id,
                "last_run_status": s.last_run_status or "",
                "last_run_at": s.last_run_at,
                "errors_24h": s.errors_24h,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "last_error": state.last_error if state else "",
                "documents": doc_counts.get(s.id, 0),
                "healthy": bool(
                    s.is_active and (state is None or state.consecutive_failures == 0) and s.last_run_status != "failed"
                ),
            }
        )
    return out
