"""`/api/v1/datahub/` monitoring endpoints: rules (+ preview), alerts (+ lifecycle actions),
notification preferences, webhooks and their delivery log."""

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from cityos.api.exceptions import ApiError
from cityos.api.permissions import HasRole
from cityos.roles import Role
from cityos.scoping import can_see_department
from datahub.filtersets import AlertFilterSet, AlertRuleFilterSet
from datahub.models import (
    Alert,
    AlertComment,
    AlertHistory,
    AlertRule,
    NotificationPreference,
    WebhookDelivery,
    WebhookEndpoint,
)
from datahub.models.monitoring import WebhookEvent
from datahub.selectors.monitoring import alerts_visible, rules_visible
from datahub.services.monitoring import alerts as alert_services
from datahub.services.monitoring import rules as rule_services
from datahub.services.monitoring import webhooks as webhook_services
from datahub.services.monitoring.evaluators import RuleParamError
from datahub.services.monitoring.preview import rule_preview

RULE_FIELDS = [
    "name",
    "description",
    "kind",
    "params",
    "severity",
    "metric",
    "device_type",
    "area",
    "subject",
    "datastream",
    "department",
    "notify_users",
    "open_case",
    "clear_on_case_close",
    "is_active",
]


def _refuse_old_datastream_key(data) -> None:
    # Before the foreign key the field was `datastream_id`; ignoring it silently would widen a rule
    # meant for one sensor to every datastream of its metric.
    if hasattr(data, "keys") and "datastream_id" in data:
        raise serializers.ValidationError({"datastream_id": ["renamed: send `datastream` (the datastream's id)"]})


class AlertRuleSerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertRule
        fields = ["id", *RULE_FIELDS, "revision", "created_at", "updated_at"]
        read_only_fields = ["revision", "created_at", "updated_at"]

    def to_internal_value(self, data):
        _refuse_old_datastream_key(data)
        return super().to_internal_value(data)

    def validate(self, attrs):
        kind = attrs.get("kind", getattr(self.instance, "kind", None))
        params = attrs.get("params", getattr(self.instance, "params", {}))
        metric = attrs.get("metric", getattr(self.instance, "metric", ""))
        datastream = attrs["datastream"] if "datastream" in attrs else getattr(self.instance, "datastream", None)
        if datastream is not None and not metric and kind in rule_services.SERIES_KINDS:
            metric = attrs["metric"] = datastream.metric  # a rule on one datastream watches its metric
        try:
            attrs["params"] = rule_services.rule_validate(
                kind=kind, params=params, metric=metric, datastream_id=datastream.id if datastream else None
            )
        except RuleParamError as exc:
            field = next((f for f in ("metric", "kind", "datastream") if str(exc).startswith(f)), "params")
            raise serializers.ValidationError({field: [str(exc)]}) from None
        department = attrs.get("department")
        request = self.context.get("request")
        if department is not None and request and not can_see_department(request.user, department.id):
            raise serializers.ValidationError({"department": ["You cannot create rules for this department."]})
        return attrs

    @staticmethod
    def service_kwargs(data: dict) -> dict:
        out = {}
        for name, value in data.items():
            if name in ("area", "subject", "department", "datastream"):
                out[f"{name}_id"] = value.id if value else None
            elif name == "notify_users":
                out["notify_user_ids"] = [u.id for u in value]
            else:
                out[name] = value
        return out


class PreviewRequestSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=AlertRule.Kind.choices)
    params = serializers.JSONField()
    metric = serializers.CharField(required=False, allow_blank=True, default="")
    device_type = serializers.CharField(required=False, allow_blank=True, default="")
    area = serializers.IntegerField(required=False, allow_null=True, default=None)
    subject = serializers.IntegerField(required=False, allow_null=True, default=None)
    datastream = serializers.IntegerField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    days = serializers.IntegerField(required=False, min_value=1, max_value=31, default=7)

    def to_internal_value(self, data):
        _refuse_old_datastream_key(data)
        return super().to_internal_value(data)


class EpisodeSerializer(serializers.Serializer):
    subject_key = serializers.CharField()
    raised_at = serializers.DateTimeField()
    cleared_at = serializers.DateTimeField(allow_null=True)
    value = serializers.FloatField(allow_null=True)


class PreviewSerializer(serializers.Serializer):
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    points = serializers.IntegerField()
    episodes = EpisodeSerializer(many=True)


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

    def perform_create(self, serializer):
        data = AlertRuleSerializer.service_kwargs(serializer.validated_data)
        serializer.instance = rule_services.rule_create(created_by=self.request.user, **data)

    def perform_update(self, serializer):
        data = AlertRuleSerializer.service_kwargs(serializer.validated_data)
        serializer.instance = rule_services.rule_update(rule=serializer.instance, **data)

    def perform_destroy(self, instance):
        rule_services.rule_delete(rule=instance)

    @extend_schema(request=PreviewRequestSerializer, responses=PreviewSerializer)
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """Replay the last 7 days (or `days`) through an unsaved rule: when it would have fired."""
        ser = PreviewRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
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


class AlertSerializer(serializers.ModelSerializer):
    rule_name = serializers.CharField(source="rule.name", read_only=True)
    assignee_name = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id",
            "rule",
            "rule_name",
            "subject_key",
            "datastream",
            "area",
            "subject",
            "department",
            "severity",
            "title",
            "description",
            "status",
            "acknowledged",
            "acknowledged_by",
            "acknowledged_at",
            "assignee",
            "assignee_name",
            "value",
            "raised_at",
            "last_triggered_at",
            "cleared_at",
            "clear_reason",
            "escalation_level",
            "case_id",
            "case_tracking_number",
        ]
        read_only_fields = fields

    def get_assignee_name(self, obj) -> str:
        return str(obj.assignee) if obj.assignee_id else ""


class HistorySerializer(serializers.ModelSerializer):
    actor = serializers.StringRelatedField()

    class Meta:
        model = AlertHistory
        fields = ["id", "action", "actor", "at", "note", "data"]


class CommentSerializer(serializers.ModelSerializer):
    author = serializers.StringRelatedField()

    class Meta:
        model = AlertComment
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = ["author", "created_at"]


class AssignSerializer(serializers.Serializer):
    assignee = serializers.IntegerField(allow_null=True)


class BulkSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), min_length=1, max_length=500)
    action = serializers.ChoiceField(choices=["acknowledge", "clear", "assign"])
    assignee = serializers.IntegerField(required=False, allow_null=True)


def _user_or_error(user_id):
    if user_id is None:
        return None
    user = get_user_model().objects.filter(id=user_id, is_active=True).first()
    if user is None:
        raise ApiError(f"assignee: no active user with id {user_id}", code="invalid_assignee")
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
            alert=alert, actor=request.user, assignee=_user_or_error(ser.validated_data["assignee"])
        )
        alert.refresh_from_db()
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=CommentSerializer, responses=CommentSerializer)
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
            _user_or_error(ser.validated_data.get("assignee")) if ser.validated_data["action"] == "assign" else None
        )
        changed = alert_services.alert_bulk(
            alerts=found, action=ser.validated_data["action"], actor=request.user, assignee=assignee
        )
        return Response({"changed": changed})


class PreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = ["id", "channel", "enabled", "min_severity", "rule_kinds", "quiet_start", "quiet_end", "quiet_action"]

    def validate_rule_kinds(self, value):
        bad = [k for k in value or [] if k not in AlertRule.Kind.values]
        if bad:
            raise serializers.ValidationError(f"unknown rule kinds: {', '.join(map(str, bad))}")
        return value


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


class WebhookSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(write_only=True, min_length=16)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "name",
            "url",
            "secret",
            "department",
            "min_severity",
            "events",
            "is_active",
            "max_attempts",
            "disable_after",
            "consecutive_failures",
            "disabled_at",
            "disabled_reason",
            "created_at",
        ]
        read_only_fields = ["consecutive_failures", "disabled_at", "disabled_reason", "created_at"]

    def validate_events(self, value):
        bad = [e for e in value or [] if e not in WebhookEvent.values]
        if bad:
            raise serializers.ValidationError(f"unknown events: {', '.join(map(str, bad))}")
        return value


class WebhookViewSet(viewsets.ModelViewSet):
    serializer_class = WebhookSerializer
    permission_classes = [HasRole.of(Role.ADMINISTRATOR)]
    queryset = WebhookEndpoint.objects.select_related("department").order_by("name", "id")

    @extend_schema(
        request=None, responses={202: inline_serializer("WebhookTest", {"delivery": serializers.IntegerField()})}
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        """Queue a signed test delivery (event webhook.test), even to a disabled endpoint."""
        delivery = webhook_services.webhook_send_test(endpoint=self.get_object(), actor=request.user)
        return Response({"delivery": delivery.id}, status=202)

    @extend_schema(request=None, responses=WebhookSerializer)
    @action(detail=True, methods=["post"])
    def reenable(self, request, pk=None):
        """Enable an endpoint again (disabled by hand or after dead-lettered deliveries)."""
        endpoint = self.get_object()
        webhook_services.webhook_reenable(endpoint=endpoint)
        return Response(WebhookSerializer(endpoint).data)


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "endpoint",
            "alert",
            "event",
            "status",
            "attempts",
            "attempt_log",
            "last_status_code",
            "next_attempt_at",
            "created_at",
            "delivered_at",
        ]


class WebhookDeliveryViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The delivery log (dead letters are status=dead)."""

    serializer_class = DeliverySerializer
    permission_classes = [HasRole.of(Role.ADMINISTRATOR)]
    queryset = WebhookDelivery.objects.order_by("-created_at", "-id")
    filterset_fields = ["endpoint", "status", "event"]


def get_alert_for(user, alert_id: int) -> Alert:
    return get_object_or_404(alerts_visible(user), id=alert_id)
