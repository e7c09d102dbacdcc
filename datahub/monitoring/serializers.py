"""Serializers of the monitoring API (rules, previews, alerts, preferences, webhooks, deliveries)."""

from rest_framework import serializers

from cityos.api.fields import BoundedDateTimeField
from cityos.models import EventDelivery, EventSubscription
from datahub.core.models import Department
from datahub.monitoring.models import (
    Alert,
    AlertComment,
    AlertHistory,
    AlertRule,
    NotificationPreference,
    Severity,
    WebhookEvent,
)
from datahub.monitoring.services import rules as rule_services
from datahub.monitoring.services import webhooks as webhook_services
from datahub.monitoring.services.cases import case_category_validate
from datahub.monitoring.services.evaluators import RuleParamError

RULE_FIELDS = [*rule_services.RULE_FIELDS, "notify_users"]


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
        if "case_category" in attrs:
            try:
                attrs["case_category"] = case_category_validate(attrs["case_category"])
            except RuleParamError as exc:
                raise serializers.ValidationError({"case_category": [str(exc)]}) from None
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
    until = BoundedDateTimeField(required=False, allow_null=True, default=None)
    days = serializers.IntegerField(required=False, min_value=1, max_value=31, default=7)

    def to_internal_value(self, data):
        _refuse_old_datastream_key(data)
        return super().to_internal_value(data)


class EpisodeSerializer(serializers.Serializer):
    subject_key = serializers.CharField()
    raised_at = BoundedDateTimeField()
    cleared_at = BoundedDateTimeField(allow_null=True)
    value = serializers.FloatField(allow_null=True)


class PreviewSerializer(serializers.Serializer):
    since = BoundedDateTimeField()
    until = BoundedDateTimeField()
    points = serializers.IntegerField()
    episodes = EpisodeSerializer(many=True)


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
            "historical",
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


class PreferenceSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationPreference
        fields = ["id", "channel", "enabled", "min_severity", "rule_kinds", "quiet_start", "quiet_end", "quiet_action"]

    def validate_rule_kinds(self, value):
        if value is None:  # the column is NOT NULL: an empty list means every kind
            return []
        if not isinstance(value, list):
            raise serializers.ValidationError("expected a list of rule kinds")
        bad = [k for k in value if k not in AlertRule.Kind.values]
        if bad:
            raise serializers.ValidationError(f"unknown rule kinds: {', '.join(map(str, bad))}")
        return value


class WebhookSerializer(serializers.ModelSerializer):
    """A monitoring webhook as it always looked; underneath, an event subscription without an
    application (cityos.models.EventSubscription). `events` empty on input means every alert event."""

    secret = serializers.CharField(write_only=True, min_length=16, max_length=200)
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices), required=False)
    min_severity = serializers.ChoiceField(choices=Severity.choices, required=False, allow_blank=True)
    department = serializers.PrimaryKeyRelatedField(queryset=Department.objects.all(), allow_null=True, required=False)

    class Meta:
        model = EventSubscription
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

    def get_fields(self):
        fields = super().get_fields()
        if self.instance is not None:
            fields["secret"].required = False  # rotate it by sending a new one
        return fields

    def _service_fields(self, data: dict) -> dict:
        out = {k: v for k, v in data.items() if k in webhook_services.EDITABLE}
        if "department" in data:
            out["department_id"] = data["department"].id if data["department"] else None
        return out

    def _switch(self, sub, is_active):
        if is_active is True:
            webhook_services.webhook_reenable(endpoint=sub)
        elif is_active is False:
            webhook_services.webhook_disable(endpoint=sub, actor=self.context["request"].user)

    def create(self, validated_data):
        try:
            sub, _secret = webhook_services.webhook_create(
                created_by=self.context["request"].user,
                secret=validated_data["secret"],
                **self._service_fields(validated_data),
            )
        except webhook_services.WebhookError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        self._switch(sub, validated_data.get("is_active"))
        return sub

    def update(self, instance, validated_data):
        try:
            sub = webhook_services.webhook_update(
                endpoint=instance, secret=validated_data.get("secret"), **self._service_fields(validated_data)
            )
        except webhook_services.WebhookError as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        self._switch(sub, validated_data.get("is_active"))
        return sub


class DeliverySerializer(serializers.ModelSerializer):
    """One delivery of a monitoring webhook (an event delivery of a staff subscription)."""

    endpoint = serializers.IntegerField(source="subscription_id", read_only=True)
    alert = serializers.SerializerMethodField()

    class Meta:
        model = EventDelivery
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

    def get_alert(self, obj) -> int | None:
        return ((obj.payload or {}).get("data") or {}).get("alert_id")
