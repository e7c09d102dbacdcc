"""Pages of internet data: source health, document search and detail, the public-opinion dashboard."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cityos.roles import STAFF_ROLES
from datahub.core.models import Area
from datahub.text import selectors as sel
from datahub.text.models import Document, Sentiment, Topic
from datahub.text.services.documents import document_flag


def _staff(request) -> None:
    user = request.user
    if not (user.is_superuser or user.role in STAFF_ROLES):
        raise PermissionDenied


@login_required
def sources(request):
    _staff(request)
    return render(request, "datahub/text_sources.html", {"sources": sel.internet_source_health()})


@login_required
def documents(request):
    _staff(request)
    g = request.GET
    area = g.get("area", "")
    qs = sel.document_search(
        q=g.get("q", ""),
        topic=g.get("topic", ""),
        sentiment=g.get("sentiment", ""),
        area_id=int(area) if area.isdigit() else None,
    )
    page = Paginator(qs, 20).get_page(g.get("page"))
    terms = sel.query_terms(g.get("q", ""))
    for d in page.object_list:
        d.snippet = sel.highlight(d.body, terms, max_len=220)
        d.title_hl = sel.highlight(d.title, terms, max_len=300)
    return render(
        request,
        "datahub/documents.html",
        {
            "page": page,
            "q": g.get("q", ""),
            "topic": g.get("topic", ""),
            "sentiment": g.get("sentiment", ""),
            "area": area,
            "topics": Topic.choices,
            "sentiments": Sentiment.choices,
            "districts": Area.objects.filter(level="district").order_by("code"),
        },
    )


@login_required
def document_detail(request, pk: int):
    _staff(request)
    get_object_or_404(Document, pk=pk)
    detail = sel.document_detail(document_id=pk)
    terms = sel.query_terms(request.GET.get("q", ""))
    detail["body_hl"] = sel.highlight(detail["document"].body, terms, max_len=100_000)
    return render(request, "datahub/document_detail.html", detail)


@login_required
@require_POST
def document_flag_view(request, pk: int):
    _staff(request)
    get_object_or_404(Document, pk=pk)
    document_flag(document_id=pk, user_id=request.user.id)
    messages.success(request, _("Flagged as a citizen issue: a case will be opened."))
    return redirect("datahub-document", pk=pk)


@login_required
def opinion(request):
    _staff(request)
    days = 14
    volume = sel.opinion_volume_by_topic(days=days)
    sentiment = sel.opinion_sentiment_over_time(days=days)
    data = {
        "topics": {k: str(v) for k, v in Topic.choices},
        "sentiments": {k: str(v) for k, v in Sentiment.choices},
        "volume": [{"t": r["t"].date().isoformat(), "topic": r["topic"], "n": r["n"]} for r in volume],
        "sentiment": [{"t": r["t"].date().isoformat(), "sentiment": r["sentiment"], "n": r["n"]} for r in sentiment],
        "areas": sel.opinion_by_area(days=days, with_geometry=True),
    }
    return render(
        request,
        "datahub/opinion.html",
        {
            "data_json": json.dumps(data, ensure_ascii=False),
            "days": days,
            "by_topic": sel.opinion_by_topic(days=days),
            "top": sel.opinion_top_documents(days=7),
            "spikes": sel_spikes(),
            "topic_labels": dict(Topic.choices),
        },
    )


def sel_spikes():
    from datahub.core.models import Event
    from datahub.text.services.opinion import SPIKE_EVENT

    labels = dict(Topic.choices)
    events = list(Event.objects.filter(type=SPIKE_EVENT).select_related("area").order_by("-occurred_at", "-id")[:10])
    for e in events:
        e.topic_label = labels.get(e.payload.get("topic"), e.payload.get("topic", ""))
    return events
