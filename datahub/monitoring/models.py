"""Monitoring and early warning: rules -> alerts (with a lifecycle) -> notifications.

Rules are scoped by metric, device type, area, subject and/or one datastream (a foreign key to
`Datastream`). The evaluation code reads the raw `datastream_id` attribute of rules, alerts and
observations, never the related object, so the foreign keys cost no query on the ingest path.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    MAJOR = "major", _("Major")
    MINOR = "minor", _("Minor")
    WARNING = "warning", _("Warning")
    INFO = "info", _("Info")


# Higher is more severe: preferences and webhooks filter with ">= min_severity".
SEVERITY_RANK = {"critical": 5, "major": 4, "minor": 3, "warning": 2, "info": 1}


def deactivate_rules(collector, field, sub_objs, using):
    """`on_delete` of `AlertRule.datastream`: the rule is kept (with its alerts and their history)
    but deactivated, and its datastream set to NULL.

    Neither CASCADE nor SET_NULL alone fits: CASCADE would delete the rule's alerts with it, and
    SET_NULL alone would silently widen a rule meant for one sensor to every datastream of its
    metric. Active rule indexes in every process are told to recompile after commit.
    """
    collector.add_field_update(field, None, sub_objs)
    collector.add_field_update(AlertRule._meta.get_field("is_active"), False, sub_objs)
    from datahub.monitoring.services.rules import rules_changed

    rules_changed()  # after commit


class AlertRule(models.Model):
    """A condition over a datastream scope or over the event log that raises alerts."""

    class Kind(models.TextChoices):
        THRESHOLD = "threshold", _("Threshold for a duration")
        RATE = "rate_of_change", _("Rate of change")
        NO_DATA = "no_data", _("No data (heartbeat)")
        ANOMALY = "anomaly", _("Anomaly against a rolling baseline")
        EVENT_COUNT = "event_count", _("Count of events in a window")
        COMBINATION = "combination", _("Combination (all / any)")

    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, default=Severity.WARNING)
    # Scope. Empty means "any". Observations match when every non-empty field matches.
    metric = models.CharField(_("metric"), max_length=64, blank=True, db_index=True, help_text=_("e.g. pm25"))
    device_type = models.CharField(_("device type"), max_length=64, blank=True)
    area = models.ForeignKey(
        "datahub.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_rules",
        help_text=_("The area and every area inside it"),
    )
    subject = models.ForeignKey(
        "datahub.Entity", verbose_name=_("subject"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    datastream = models.ForeignKey(
        "datahub.Datastream",
        verbose_name=_("datastream"),
        null=True,
        blank=True,
        on_delete=deactivate_rules,
        related_name="alert_rules",
        help_text=_("Only this datastream. Deleting the datastream deactivates the rule."),
    )
    department = models.ForeignKey(
        "datahub.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alert_rules",
        help_text=_("Owns the alerts: its members are notified and its escalation chain applies"),
    )
    notify_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("also notify"), blank=True, related_name="+"
    )
    open_case = models.BooleanField(_("open a governance case"), default=False)
    # The governance category (its code) of the case an alert of this rule opens. The datahub knows
    # no governance model: the code travels in the alert_raised payload, and governance registers
    # the list of codes for the forms (services.monitoring.cases.case_categories_register).
    case_category = models.CharField(
        _("case category"),
        max_length=64,
        blank=True,
        help_text=_("The category of the case an alert opens; the case goes to the rule's department"),
    )
    clear_on_case_close = models.BooleanField(_("clear when the case closes"), default=False)
    is_active = models.BooleanField(_("active"), default=True, db_index=True)
    revision = models.PositiveIntegerField(default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("alert rule")
        verbose_name_plural = _("alert rules")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def watches(self) -> str:
        """What the rule watches, for lists: its metric, else an event-count rule's event type."""
        params = self.params if isinstance(self.params, dict) else {}
        return self.metric or str(params.get("event_type") or "")


class Alert(models.Model):
    """One occurrence of a rule's condition for one subject. At most one is open per (rule, subject)."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        CLEARED = "cleared", _("Cleared")

    rule = models.ForeignKey(AlertRule, verbose_name=_("rule"), on_delete=models.CASCADE, related_name="alerts")
    # "ds:<datastream id>", "e:<entity id>" or "area:<area id>": what the alert is about.
    subject_key = models.CharField(_("subject key"), max_length=64)
    # SET_NULL: an alert is history and outlives its datastream (subject_key still names it).
    datastream = models.ForeignKey(
        "datahub.Datastream",
        verbose_name=_("datastream"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="alerts",
    )
    area = models.ForeignKey("datahub.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    subject = models.ForeignKey("datahub.Entity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    department = models.ForeignKey(
        "datahub.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    severity = models.CharField(_("severity"), max_length=10, choices=Severity.choices, db_index=True)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    acknowledged = models.BooleanField(_("acknowledged"), default=False)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_alerts",
    )
    value = models.FloatField(_("value"), null=True, blank=True)
    raised_at = models.DateTimeField(_("raised at"), db_index=True)
    last_triggered_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(_("cleared at"), null=True, blank=True)
    clear_reason = models.CharField(max_length=32, blank=True)
    escalation_level = models.PositiveSmallIntegerField(default=0)
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    case_id = models.BigIntegerField(null=True, blank=True)
    case_tracking_number = models.CharField(max_length=64, blank=True)
    # Raised by history (a backfill, a replay, readings older than the rule's live horizon): kept
    # for the record, but nobody was notified, it does not escalate and it opens no case.
    historical = models.BooleanField(
        _("historical"),
        default=False,
        help_text=_("Raised by past readings (a backfill or an import): recorded, not notified"),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "subject_key"], condition=Q(status="active"), name="alert_one_open_per_rule_subject"
            )
        ]
        indexes = [
            models.Index(fields=["status", "severity"]),
            models.Index(
                fields=["next_escalation_at"],
                condition=Q(status="active", acknowledged=False),
                name="alert_escalation_due",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class AlertHistory(models.Model):
    """Every state change of an alert (append-only)."""

    class Action(models.TextChoices):
        RAISED = "raised", _("Raised")
        CLEARED = "cleared", _("Cleared")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        ASSIGNED = "assigned", _("Assigned")
        COMMENTED = "commented", _("Commented")
        ESCALATED = "escalated", _("Escalated")
        CASE_LINKED = "case_linked", _("Linked to a case")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="history")
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    at = models.DateTimeField(_("at"))
    note = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("alert history entry")
        verbose_name_plural = _("alert history")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.action}"


class AlertComment(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    text = models.TextField(_("comment"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("alert comment")
        verbose_name_plural = _("alert comments")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text[:50]


class EscalationPolicy(models.Model):
    """A department's escalation chain: unacknowledged alerts climb its levels."""

    department = models.OneToOneField(
        "datahub.Department", verbose_name=_("department"), on_delete=models.CASCADE, related_name="escalation_policy"
    )
    repeat_minutes = models.PositiveIntegerField(
        _("repeat every (minutes)"), default=30, help_text=_("After the last level, notify it again at this interval")
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("escalation policy")
        verbose_name_plural = _("escalation policies")
        ordering = ["department_id"]

    def __str__(self) -> str:
        return str(self.department)


class EscalationLevel(models.Model):
    policy = models.ForeignKey(EscalationPolicy, on_delete=models.CASCADE, related_name="levels")
    level = models.PositiveSmallIntegerField(_("level"))
    after_minutes = models.PositiveIntegerField(
        _("after (minutes) unacknowledged"), help_text=_("Minutes after the previous notification")
    )
    users = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("users"), blank=True, related_name="+")
    roles = models.JSONField(_("roles"), default=list, blank=True, help_text=_("Role codes within the department"))
    channels = models.JSONField(
        _("channels"),
        default=list,
        blank=True,
        help_text=_("Channel codes (in_app, email); empty: every channel. Each user's preferences still apply."),
    )

    class Meta:
        verbose_name = _("escalation level")
        verbose_name_plural = _("escalation levels")
        ordering = ["policy_id", "level"]
        constraints = [models.UniqueConstraint(fields=["policy", "level"], name="escalation_level_unique")]

    def __str__(self) -> str:
        return f"{self.policy} L{self.level}"


class Channel(models.TextChoices):
    IN_APP = "in_app", _("In the app")
    EMAIL = "email", _("Email")


class NotificationPreference(models.Model):
    """A user's choice for one channel: which severities and rule kinds, and quiet hours."""

    class QuietAction(models.TextChoices):
        SUPPRESS = "suppress", _("Suppress")
        DEFER = "defer", _("Defer until the quiet hours end")

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_preferences")
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    min_severity = models.CharField(_("minimum severity"), max_length=10, choices=Severity.choices, default="info")
    rule_kinds = models.JSONField(_("rule kinds"), default=list, blank=True, help_text=_("Empty means every kind"))
    quiet_start = models.TimeField(_("quiet hours from"), null=True, blank=True)
    quiet_end = models.TimeField(_("quiet hours until"), null=True, blank=True)
    quiet_action = models.CharField(
        _("during quiet hours"), max_length=10, choices=QuietAction.choices, default=QuietAction.DEFER
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        ordering = ["user_id", "channel"]
        constraints = [models.UniqueConstraint(fields=["user", "channel"], name="notification_pref_unique")]

    def __str__(self) -> str:
        return f"{self.user} {self.channel}"


class Notification(models.Model):
    """One notification of one alert to one user on one channel (in-app and email log)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        SUPPRESSED = "suppressed", _("Suppressed")
        DEFERRED = "deferred", _("Deferred")
        FAILED = "failed", _("Failed")

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    reason = models.CharField(max_length=32, help_text="raised, cleared, escalation:<level>:<round>")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    deliver_after = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            # Idempotency: escalation and notification tasks may run twice.
            models.UniqueConstraint(fields=["alert", "user", "channel", "reason"], name="notification_once")
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} -> {self.user_id} ({self.channel})"


class WebhookEvent(models.TextChoices):
    """The alert events a monitoring webhook (a staff event subscription, cityos.webhooks) may take."""

    RAISED = "alert.raised", _("Alert raised")
    CLEARED = "alert.cleared", _("Alert cleared")
