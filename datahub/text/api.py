"""API of internet data: documents, the public-opinion aggregates, source health and the push webhook."""

import hashlib
import hmac
import json
import time

import redis
from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from cityos.api.exceptions import ApiError
from cityos.api.permissions import HasRole
from cityos.roles import STAFF_ROLES, Role
from datahub.core.models import Source
from datahub.text import selectors as sel
from datahub.text.connectors.http import FetchError
from datahub.text.filtersets import DocumentFilterSet
from datahub.text.models import Document
from datahub.text.serializers import (
    DocumentDetailSerializer,
    DocumentListSerializer,
    InternetSourceCreateSerializer,
    OpinionQuerySerializer,
)
from datahub.text.services.documents import document_flag
from datahub.text.services.internet import internet_source_create, push_ingest

Staff = HasRole.of(*STAFF_ROLES)


class DocumentViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [IsAuthenticated, Staff]
    filterset_class = DocumentFilterSet
    serializer_class = DocumentListSerializer

    def get_queryset(self):
        return Document.objects.select_related("source").order_by("-published_at", "-id")

    def retrieve(self, request, *args, **kwargs):
        doc = self.get_object()
        detail = sel.document_detail(document_id=doc.id)
        return Response(DocumentDetailSerializer(detail["document"], context={"detail": detail}).data)

    @extend_schema(
        request=None,
        responses={200: DocumentListSerializer},
        description="Flag the document as a citizen issue: publishes `datahub.document_flagged`.",
    )
    @action(detail=True, methods=["post"])
    def flag(self, request, pk=None):
        doc = self.get_object()
        doc = document_flag(document_id=doc.id, user_id=request.user.id)
        return Response(DocumentListSerializer(doc).data)


class OpinionViewSet(viewsets.ViewSet):
    """Aggregates for the public-opinion dashboard (not paginated: bounded by days × topics/areas)."""

    permission_classes = [IsAuthenticated, Staff]

    def _params(self, request) -> dict:
        s = OpinionQuerySerializer(data=request.query_params)
        s.is_valid(raise_exception=True)
        return s.validated_data

    @extend_schema(parameters=[OpinionQuerySerializer], responses={200: OpenApiResponse(description="volume series")})
    @action(detail=False, methods=["get"])
    def volume(self, request):
        p = self._params(request)
        rows = sel.opinion_volume_by_topic(days=p["days"], bucket=p["bucket"], area_id=p["area"])
        return Response({"results": [{"t": r["t"].isoformat(), "topic": r["topic"], "n": r["n"]} for r in rows]})

    @extend_schema(parameters=[OpinionQuerySerializer], responses={200: OpenApiResponse(description="per district")})
    @action(detail=False, methods=["get"])
    def areas(self, request):
        p = self._params(request)
        return Response({"results": sel.opinion_by_area(days=p["days"], topic=p["topic"])})

    @extend_schema(parameters=[OpinionQuerySerializer], responses={200: OpenApiResponse(description="per sentiment")})
    @action(detail=False, methods=["get"])
    def sentiment(self, request):
        p = self._params(request)
        rows = sel.opinion_sentiment_over_time(days=p["days"])
        return Response(
            {"results": [{"t": r["t"].isoformat(), "sentiment": r["sentiment"], "n": r["n"]} for r in rows]}
        )

    @extend_schema(
        parameters=[OpinionQuerySerializer],
        responses={200: inline_serializer("OpinionTop", {"results": DocumentListSerializer(many=True)})},
    )
    @action(detail=False, methods=["get"])
    def top(self, request):
        p = self._params(request)
        docs = sel.opinion_top_documents(days=p["days"])
        data = DocumentListSerializer(docs, many=True).data
        for row, d in zip(data, docs, strict=True):
            row["reposts"] = d.repost_count
        return Response({"results": data})

    @extend_schema(responses={200: OpenApiResponse(description="negative spike events")})
    @action(detail=False, methods=["get"])
    def spikes(self, request):
        from datahub.core.models import Event
        from datahub.text.services.opinion import SPIKE_EVENT

        events = Event.objects.filter(type=SPIKE_EVENT).select_related("area").order_by("-occurred_at", "-id")[:100]
        return Response(
            {
                "results": [
                    {
                        "id": e.id,
                        "occurred_at": e.occurred_at.isoformat(),
                        "area_id": e.area_id,
                        "area": e.area.name if e.area else "",
                        **e.payload,
                    }
                    for e in events
                ]
            }
        )


class InternetSourceViewSet(viewsets.ViewSet):
    permission_classes = [IsAuthenticated, Staff]

    @extend_schema(responses={200: OpenApiResponse(description="internet sources with health")})
    def list(self, request):
        rows = sel.internet_source_health()
        for r in rows:
            r["last_run_at"] = r["last_run_at"].isoformat() if r["last_run_at"] else None
        return Response({"count": len(rows), "results": rows})

    @extend_schema(
        request=InternetSourceCreateSerializer,
        responses={201: OpenApiResponse(description="the source; a push source's secret is shown once")},
    )
    def create(self, request):
        if not (request.user.is_superuser or request.user.role == Role.ADMINISTRATOR):
            raise ApiError("only administrators register internet sources", code="permission_denied", status=403)
        s = InternetSourceCreateSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        source = internet_source_create(**s.validated_data, owner_department_id=request.user.department_id)
        body = {
            "id": source.id,
            "code": source.code,
            "connector": source.connector,
            "schedule": source.schedule.name if source.schedule else None,
        }
        if source.connector == "push":
            body["push_secret"] = source.credentials["push_secret"]  # shown once, to configure the sender
        return Response(body, status=201)


# --- the push webhook ------------------------------------------------------------------------

PUSH_MAX_BYTES = 1024 * 1024  # 1 MiB per request: ~1,000 posts; larger batches are split by the sender
PUSH_WINDOW_S = 300  # a signed request is valid for ±5 minutes
_redis: dict[str, redis.Redis] = {}


def _r() -> redis.Redis:
    url = settings.CACHES["default"]["LOCATION"]
    if url not in _redis:
        _redis[url] = redis.Redis.from_url(url)
    return _redis[url]


def push_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


class PushView(APIView):
    """`POST /api/v1/datahub/sources/<code>/push/`, signed by the platform with the source's secret:

    X-CityOS-Timestamp: <unix seconds>
    X-CityOS-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>
    X-CityOS-Nonce: <unique id of this delivery> (optional; the signature is remembered otherwise)
    """

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=inline_serializer("PushBody", {"items": serializers.ListField(child=serializers.DictField())}),
        responses={
            202: inline_serializer(
                "PushResult",
                {
                    "run_id": serializers.IntegerField(),
                    "stored": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "rejected": serializers.IntegerField(),
                },
            ),
            401: OpenApiResponse(description="Missing, stale, replayed or wrong signature"),
        },
    )
    def post(self, request, code: str):
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit():
            raise ApiError("Content-Length header is not a number", code="bad_length", status=400)
        if int(length) > PUSH_MAX_BYTES:
            raise ApiError(
                f"body of {length} bytes is larger than the limit of {PUSH_MAX_BYTES}",
                code="payload_too_large",
                status=413,
            )
        source = Source.objects.filter(code=code, kind=Source.Kind.INTERNET, connector="push").first()
        if source is None or not source.is_active:
            raise ApiError(f"no active push source '{code}'", code="not_found", status=404)
        secret = (source.credentials or {}).get("push_secret")
        if not secret:
            raise ApiError(f"push source '{code}' has no secret configured", code="not_configured", status=403)
        body = request.body
        if len(body) > PUSH_MAX_BYTES:  # chunked uploads carry no Content-Length
            raise ApiError(
                f"body is larger than the limit of {PUSH_MAX_BYTES} bytes", code="payload_too_large", status=413
            )
        ts = request.headers.get("X-CityOS-Timestamp", "")
        sig = request.headers.get("X-CityOS-Signature", "")
        if not ts or not sig:
            raise ApiError(
                "X-CityOS-Timestamp and X-CityOS-Signature headers are required", code="signature_missing", status=401
            )
        if not ts.isdigit():
            raise ApiError("X-CityOS-Timestamp must be unix seconds", code="bad_timestamp", status=401)
        if abs(time.time() - int(ts)) > PUSH_WINDOW_S:
            raise ApiError(
                f"X-CityOS-Timestamp is more than {PUSH_WINDOW_S}s from the server's clock",
                code="stale_timestamp",
                status=401,
            )
        if not hmac.compare_digest(push_signature(secret, ts, body), sig):
            raise ApiError("X-CityOS-Signature does not match the body", code="bad_signature", status=401)
        nonce = request.headers.get("X-CityOS-Nonce") or sig
        # Remembered for twice the window: a replay is either outside the window or still remembered.
        key = f"datahub:push:{source.id}:{hashlib.sha256(nonce.encode()).hexdigest()}"
        if not _r().set(key, ts, nx=True, ex=2 * PUSH_WINDOW_S):
            raise ApiError("this delivery was already received (replay)", code="replayed", status=409)
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            _r().delete(key)  # a fixed body may be resent with the same nonce
            raise ApiError(f"body is not JSON: {exc}", code="bad_json", status=400) from exc
        try:
            run, result = push_ingest(source=source, payload=payload)
        except FetchError as exc:
            _r().delete(key)
            raise ApiError(str(exc), code=exc.code, status=400) from exc
        return Response(
            {
                "run_id": run.id,
                "stored": result.stored,
                "duplicates": result.duplicates,
                "rejected": result.rejected,
                "errors": result.errors[:20],
            },
            status=202,
        )


__all__ = ["DocumentViewSet", "InternetSourceViewSet", "OpinionViewSet", "PushView", "push_signature"]
