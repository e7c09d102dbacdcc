"""`/api/v1/datahub/` monitoring endpoints: rules (+ preview), alerts (+ lifecycle actions),
notification preferences, webhooks and their delivery log."""

import django_filters
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cityos.api.exceptions import ApiError
from cityos.api.permissions import HasRole
from cityos.models import EventDelivery, EventSubscription
from cityos.roles import Role
from datahub.iot.selectors import datastreams_visible_to
from datahub.monitoring.filtersets import AlertFilterSet, AlertRuleFilterSet
from datahub.monitoring.models import (
    Alert,
    NotificationPreference,
)
from datahub.monitoring.selectors import alerts_visible, assignable_users, rule_can, rules_visible
from datahub.monitoring.serializers import (
    AlertRuleSerializer,
    AlertSerializer,
    AssignSerializer,
    BulkSerializer,
    CommentSerializer,
    DeliverySerializer,
    HistorySerializer,
    PreferenceSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    WebhookSerializer,
)
from datahub.monitoring.services import alerts as alert_services
from datahub.monitoring.services import rules as rule_services
from datahub.monitoring.services import webhooks as webhook_services
from datahub.monitoring.services.evaluators import RuleParamError
from datahub.monitoring.services.preview import rule_preview


def _run_preview(data: dict) -> dict:
    rule = {
        "kind": data["kind"],
        "params": data["params"],
        "metric": data.get("metric") or "",
        "device_type": data.get("device_type") or "",
        "area_id": data.get("area"),
        "subject_id": data.get("subject"),
        "datastream_id": data.get("datastream"),
    }
    try:
        result = rule_preview(rule=rule, until=data.get("until"), days=data.get("days") or 7)
    except RuleParamError as exc:
        raise ApiError(str(exc), code="invalid_rule") from None
    return PreviewSerializer(result).data


class AlertRuleViewSet(viewsets.ModelViewSet):
    serializer_class = AlertRuleSerializer
    filterset_class = AlertRuleFilterSet
    search_fields = ["name", "metric"]

    def get_queryset(self):
        return rules_visible(self.request.user).prefetch_related("notify_users")

    def _may(self, action: str, rule=None, department=None) -> None:
        if not rule_can(self.request.user, action, rule, department_id=department.id if department else None):
            where = f"department {department.id}" if department else "the whole city (no department)"
            raise ApiError(
                f"department: you may not {action} alert rules for {where}",
                code="permission_denied",
                status=403,
                extra={"fields": {"department": ["outside what you manage"]}},
            )

    def perform_create(self, serializer):
        self._may("create", department=serializer.validated_data.get("department"))
        data = AlertRuleSerializer.service_kwargs(serializer.validated_data)
        serializer.instance = rule_services.rule_create(created_by=self.request.user, **data)

    def perform_update(self, serializer):
        rule = serializer.instance
        d = serializer.validated_data
        self._may("change", rule, d["department"] if "department" in d else rule.department)
        data = AlertRuleSerializer.service_kwargs(serializer.validated_data)
        serializer.instance = rule_services.rule_update(rule=serializer.instance, **data)

    def perform_destroy(self, instance):
        self._may("delete", instance, instance.department)
        rule_services.rule_delete(rule=instance)

    @extend_schema(request=PreviewRequestSerializer, responses=PreviewSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """Replay the last 7 days (or `days`) through an unsaved rule: when it would have fired."""
        if not rule_can(request.user, "preview"):
            raise ApiError(
                "only the roles that manage alert rules preview new ones", code="permission_denied", status=403
            )
        ser = PreviewRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        ds = ser.validated_data.get("datastream")
        if ds is not None and not datastreams_visible_to(request.user).filter(id=ds).exists():
            raise ApiError(
                f"datastream: no datastream {ds} you may see",
                code="invalid",
                extra={"fields": {"datastream": ["not found"]}},
            )
        return Response(_run_preview(ser.validated_data))

    @extend_schema(request=None, responses=PreviewSerializer, operation_id="datahub_alert_rules_preview_saved")
    @action(detail=True, methods=["post"], url_path="preview")
    def preview_saved(self, request, pk=None):
        """Replay the last 7 days through this saved rule."""
        rule = self.get_object()
        data = {
            "kind": rule.kind,
            "params": rule.params,
            "metric": rule.metric,
            "device_type": rule.device_type,
            "area": rule.area_id,
            "subject": rule.subject_id,
            "datastream": rule.datastream_id,
        }
        return Response(_run_preview(data))


def _user_or_error(actor, user_id):
    """The assignee, one of the users `actor` may assign to (staff roles in the actor's scope)."""
    if user_id is None:
        return None
    user = assignable_users(actor).filter(id=user_id).first()
    if user is None:
        raise ApiError(
            f"assignee: no active staff user with id {user_id} you may assign to",
            code="invalid_assignee",
            extra={"fields": {"assignee": ["not assignable"]}},
        )
    return user


class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AlertSerializer
    filterset_class = AlertFilterSet
    ordering_fields = ["raised_at", "severity"]

    def get_queryset(self):
        return alerts_visible(self.request.user)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None):
        alert = self.get_object()
        alert_services.alert_acknowledge(alert=alert, actor=request.user)
        alert.refresh_from_db()
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def clear(self, request, pk=None):
        alert = self.get_object()
        if not alert_services.alert_clear(alert=alert, actor=request.user, reason="manual"):
            raise ApiError("status: the alert is already cleared", code="already_cleared", status=409)
        alert.refresh_from_db()
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=AssignSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        alert = self.get_object()
        ser = AssignSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        alert_services.alert_assign(
            alert=alert, actor=request.user, assignee=_user_or_error(request.user, ser.validated_data["assignee"])
        )
        alert.refresh_from_db()
        return Response(AlertSerializer(alert).data)

    @extend_schema(methods=["GET"], responses=CommentSerializer(many=True))
    @extend_schema(methods=["POST"], request=CommentSerializer, responses={201: CommentSerializer})
    @action(detail=True, methods=["get", "post"])
    def comments(self, request, pk=None):
        alert = self.get_object()
        if request.method == "POST":
            ser = CommentSerializer(data=request.data)
            ser.is_valid(raise_exception=True)
            comment = alert_services.alert_comment(alert=alert, actor=request.user, text=ser.validated_data["text"])
            return Response(CommentSerializer(comment).data, status=201)
        page = self.paginate_queryset(alert.comments.select_related("author").order_by("created_at", "id"))
        return self.get_paginated_response(CommentSerializer(page, many=True).data)

    @extend_schema(responses=HistorySerializer(many=True))
    @action(detail=True, methods=["get"])
    def history(self, request, pk=None):
        alert = self.get_object()
        page = self.paginate_queryset(alert.history.select_related("actor").order_by("at", "id"))
        return self.get_paginated_response(HistorySerializer(page, many=True).data)

    @extend_schema(
        request=BulkSerializer, responses=inline_serializer("BulkResult", {"changed": serializers.IntegerField()})
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        """Acknowledge, clear or assign many alerts (only those the user can see)."""
        ser = BulkSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        ids = ser.validated_data["ids"]
        found = list(self.get_queryset().filter(id__in=ids))
        missing = sorted(set(ids) - {a.id for a in found})
        if missing:
            raise ApiError(f"ids: alerts not found: {missing[:10]}", code="not_found", status=404)
        assignee = (
            _user_or_error(request.user, ser.validated_data.get("assignee"))
            if ser.validated_data["action"] == "assign"
            else None
        )
        changed = alert_services.alert_bulk(
            alerts=found, action=ser.validated_data["action"], actor=request.user, assignee=assignee
        )
        return Response({"changed": changed})


class PreferenceViewSet(viewsets.ModelViewSet):
    """The signed-in user's own notification preferences (one per channel)."""

    serializer_class = PreferenceSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return NotificationPreference.objects.none()
        return NotificationPreference.objects.filter(user=self.request.user).order_by("channel")

    def perform_create(self, serializer):
        channel = serializer.validated_data["channel"]
        if NotificationPreference.objects.filter(user=self.request.user, channel=channel).exists():
            raise ApiError(f"channel: a preference for {channel} exists; update it instead", code="duplicate")
        serializer.save(user=self.request.user)


# --- webhooks: thin adapters over the city's own event subscriptions (cityos.webhooks) -------------


class WebhookViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookSerializer
    permission_classes = [HasRole.of(Role.ADMINISTRATOR)]
    queryset = EventSubscription.objects.filter(application__isnull=True).select_related("department")
    queryset = queryset.order_by("name", "id")

    def perform_destroy(self, instance):
        webhook_services.webhook_delete(endpoint=instance)

    @extend_schema(
        request=None, responses={202: inline_serializer("WebhookTest", {"delivery": serializers.IntegerField()})}
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Queue a signed test delivery (event subscription.test), even to a disabled endpoint."""
        delivery = webhook_services.webhook_send_test(endpoint=self.get_object(), actor=request.user)
        return Response({"delivery": delivery.id}, status=202)

    @extend_schema(request=None, responses=WebhookSerializer)
    @action(detail=True, methods=["post"])
    def reenable(self, request, pk=None):
        """Enable an endpoint again (disabled by hand or after dead-lettered deliveries)."""
        endpoint = self.get_object()
        webhook_services.webhook_reenable(endpoint=endpoint)
        return Response(WebhookSerializer(endpoint, context=self.get_serializer_context()).data)


class WebhookDeliveryFilterSet(django_filters.FilterSet):
    endpoint = django_filters.NumberFilter(field_name="subscription_id")
    status = django_filters.ChoiceFilter(choices=EventDelivery.Status.choices)
    event = django_filters.CharFilter()

    class Meta:
        model = EventDelivery
        fields = ["endpoint", "status", "event"]


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The delivery log of the monitoring webhooks (dead letters are status=dead)."""

    serializer_class = DeliverySerializer
    permission_classes = [HasRole.of(Role.ADMINISTRATOR)]
    queryset = EventDelivery.objects.filter(subscription__application__isnull=True).order_by("-created_at", "-id")
    filterset_class = WebhookDeliveryFilterSet


def get_alert_for(user, alert_id: int) -> Alert:
    return get_object_or_404(alerts_visible(user), id=alert_id)
