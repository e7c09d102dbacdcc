"""`/api/v1/events/`: event subscriptions of external applications (scope `events:subscribe`).

One authorization rule (`subscriptions_visible_to`) for list, detail, writes and actions:
- an API key manages the subscriptions of its own application;
- a signed-in developer those of the applications they own;
- administrators every subscription.
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from cityos.models import ApiApplication, EventDelivery, EventSubscription
from cityos.roles import Role

from . import catalogue, services

SCOPE = "events:subscribe"


def _is_admin(user) -> bool:
    return bool(user.is_superuser or getattr(user, "role", None) == Role.ADMINISTRATOR)


def _key(request):
    return getattr(request._request, "cityos_api_key", None)


def applications_of(request) -> QuerySet[ApiApplication]:
    info = _key(request)
    if info is not None:
        return ApiApplication.objects.filter(id=info.application_id)
    if _is_admin(request.user):
        return ApiApplication.objects.all()
    return ApiApplication.objects.filter(owner_id=request.user.id)


def subscriptions_visible_to(request) -> QuerySet[EventSubscription]:
    return EventSubscription.objects.filter(application__in=applications_of(request)).select_related("application")


def deliveries_visible_to(request) -> QuerySet[EventDelivery]:
    return EventDelivery.objects.filter(subscription__in=subscriptions_visible_to(request))


class EventSubscriptionSerializer(serializers.ModelSerializer):
    application = serializers.PrimaryKeyRelatedField(queryset=ApiApplication.objects.all(), required=False)
    events = serializers.ListField(child=serializers.ChoiceField(choices=list(catalogue.EVENTS)), min_length=1)
    area_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), required=False, max_length=200
    )
    categories = serializers.ListField(child=serializers.CharField(max_length=64), required=False, max_length=200)
    min_severity = serializers.ChoiceField(
        choices=[("", "")] + [(s, s) for s in catalogue.SEVERITIES], required=False, allow_blank=True
    )

    class Meta:
        model = EventSubscription
        fields = [
            "id",
            "application",
            "name",
            "url",
            "events",
            "area_ids",
            "categories",
            "min_severity",
            "is_active",
            "max_attempts",
            "disable_after",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = ["is_active", "consecutive_failures", "disabled_at", "disabled_reason", "created_at"]
        extra_kwargs = {
            "max_attempts": {"min_value": 1, "max_value": 20},
            "disable_after": {"min_value": 1, "max_value": 100},
        }


class EventSubscriptionCreatedSerializer(EventSubscriptionSerializer):
    secret = serializers.CharField(read_only=True, help_text="HMAC-SHA256 signing secret: shown once.")

    class Meta(EventSubscriptionSerializer.Meta):
        fields = [*EventSubscriptionSerializer.Meta.fields, "secret"]


class EventDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = EventDelivery
        fields = [
            "id",
            "subscription",
            "event_id",
            "event",
            "status",
            "attempts",
            "last_status_code",
            "next_attempt_at",
            "created_at",
            "delivered_at",
            "attempt_log",
            "payload",
        ]
        read_only_fields = fields


def _service_call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except services.SubscriptionError as e:
        raise ValidationError({e.field: [e.message]}) from None


class SubscriptionViewSet(viewsets.ModelViewSet):
    """Webhook subscriptions to domain events; deliveries are signed `sha256=HMAC(secret, "<ts>.<body>")`."""

    required_scope = SCOPE
    serializer_class = EventSubscriptionSerializer
    permission_classes = [IsAuthenticated]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return subscriptions_visible_to(self.request).order_by("id")

    def _application(self, data) -> ApiApplication:
        info = _key(self.request)
        if info is not None:
            return ApiApplication.objects.get(id=info.application_id)
        app = data.get("application")
        if app is None:
            mine = list(applications_of(self.request)[:2])
            if len(mine) != 1:
                raise ValidationError({"application": ["name the application (you have none or several)"]})
            return mine[0]
        if not applications_of(self.request).filter(id=app.id).exists():
            raise PermissionDenied("not your application")
        return app

    @extend_schema(request=EventSubscriptionSerializer, responses={201: EventSubscriptionCreatedSerializer})
    def create(self, request, *args, **kwargs):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        app = self._application(data)
        data.pop("application", None)
        sub, secret = _service_call(services.subscription_create, application=app, created_by=_creator(request), **data)
        out = EventSubscriptionSerializer(sub).data | {"secret": secret}
        return Response(out, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        sub = self.get_object()
        ser = self.get_serializer(sub, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        data = dict(ser.validated_data)
        if "application" in data and data.pop("application").id != sub.application_id:
            raise ValidationError({"application": ["a subscription cannot move to another application"]})
        _service_call(services.subscription_update, subscription=sub, **data)
        return Response(EventSubscriptionSerializer(sub).data)

    def update(self, request, *args, **kwargs):
        return self.partial_update(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.subscription_delete(subscription=instance)

    @extend_schema(
        request=None, responses={200: inline_serializer("EventSubscriptionSecret", {"secret": serializers.CharField()})}
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        return Response({"secret": services.subscription_rotate_secret(subscription=self.get_object())})

    @extend_schema(request=None, responses={200: EventSubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def enable(self, request, pk=None):
        sub = self.get_object()
        services.subscription_enable(subscription=sub)
        return Response(EventSubscriptionSerializer(sub).data)

    @extend_schema(request=None, responses={200: EventSubscriptionSerializer})
    @action(detail=True, methods=["post"])
    def disable(self, request, pk=None):
        sub = self.get_object()
        services.subscription_disable(subscription=sub, actor=request.user)
        return Response(EventSubscriptionSerializer(sub).data)

    @extend_schema(request=None, responses={202: EventDeliverySerializer})
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        d = services.subscription_send_test(subscription=self.get_object())
        return Response(EventDeliverySerializer(d).data, status=status.HTTP_202_ACCEPTED)


def _creator(request):
    user = request.user
    # An API key's limited user is a copy of its owner (never saved): store the owner's id.
    return user if getattr(user, "pk", None) and _key(request) is None else None


class DeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The delivery log; `?status=dead` is the dead-letter list; `replay` sends one again."""

    required_scope = SCOPE
    serializer_class = EventDeliverySerializer
    permission_classes = [IsAuthenticated]

    def get_queryset(self):
        qs = deliveries_visible_to(self.request).order_by("-created_at", "-id")
        st = self.request.query_params.get("status")
        if st:
            if st not in EventDelivery.Status.values:
                raise ValidationError({"status": [f"one of {', '.join(EventDelivery.Status.values)}"]})
            qs = qs.filter(status=st)
        sub = self.request.query_params.get("subscription")
        if sub:
            if not sub.isdigit() or len(sub) > 12:
                raise ValidationError({"subscription": ["a subscription id"]})
            qs = qs.filter(subscription_id=int(sub))
        return qs

    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=list(EventDelivery.Status.values)),
            OpenApiParameter("subscription", int),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    @extend_schema(request=None, responses={202: EventDeliverySerializer})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        d = self.get_object()
        if d.status not in (EventDelivery.Status.DEAD, EventDelivery.Status.SUCCEEDED):
            raise ValidationError({"status": ["only a dead or finished delivery can be replayed"]})
        return Response(
            EventDeliverySerializer(services.delivery_replay(delivery=d)).data, status=status.HTTP_202_ACCEPTED
        )


class EventTypesView(APIView):
    """The events one may subscribe to (restricted ones need an application granted access)."""

    required_scope = SCOPE
    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            200: inline_serializer(
                "EventType",
                {
                    "code": serializers.CharField(),
                    "label": serializers.CharField(),
                    "restricted": serializers.BooleanField(),
                },
                many=True,
            )
        }
    )
    def get(self, request):
        return Response(
            [{"code": e.code, "label": str(e.label), "restricted": e.restricted} for e in catalogue.EVENTS.values()]
        )


router = DefaultRouter()
router.include_root_view = False
router.register("subscriptions", SubscriptionViewSet, basename="event-subscription")
router.register("deliveries", DeliveryViewSet, basename="event-delivery")

from django.urls import path  # noqa: E402

urlpatterns = [path("types/", EventTypesView.as_view(), name="event-types"), *router.urls]
