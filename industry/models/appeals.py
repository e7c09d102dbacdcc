"""Enterprise appeals (企业诉求): each becomes a governance case through a domain event; progress
comes back by events."""

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _

from .registry import Enterprise


class Appeal(models.Model):
    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        ACCEPTED = "accepted", _("Accepted by the city")
        IN_PROGRESS = "in_progress", _("In progress")
        RESOLVED = "resolved", _("Resolved")
        CLOSED = "closed", _("Closed")
        REJECTED = "rejected", _("Rejected")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="appeals")
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    title = models.CharField(_("title"), max_length=200)
    description = models.TextField(_("description"))
    category = models.CharField(_("category"), max_length=64, blank=True, help_text=_("a governance category code"))
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.SUBMITTED)
    case_id = models.PositiveBigIntegerField(_("case"), null=True, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=40, blank=True)
    case_status = models.CharField(_("case status"), max_length=16, blank=True)
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("handling department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    reply = models.TextField(_("reply"), blank=True)
    rating = models.PositiveSmallIntegerField(_("satisfaction (1–5)"), null=True, blank=True)
    rating_comment = models.CharField(_("rating comment"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("appeal")
        verbose_name_plural = _("appeals")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "created_at"], name="appeal_status")]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status not in (self.Status.CLOSED, self.Status.REJECTED)


class AppealHistory(models.Model):
    appeal = models.ForeignKey(Appeal, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    note = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("appeal history")
        verbose_name_plural = _("appeal history")
        ordering = ["created_at", "id"]


class RiskSignal(models.Model):
    """One reason an enterprise is at risk, with its weight (the score is the sum of weights)."""

    class Code(models.TextChoices):
        LICENCE_EXPIRED = "licence_expired", _("Licence expired")
        LICENCE_EXPIRING = "licence_expiring", _("Licence expiring within 60 days")
        INDICATOR_DROP = "indicator_drop", _("Indicator drop beyond its own history")
        TAX_ANOMALY = "tax_anomaly", _("Tax anomaly")
        ENERGY_ANOMALY = "energy_anomaly", _("Energy use anomaly")
        CASES = "cases", _("Cases and complaints against it")
        NEGATIVE_COVERAGE = "negative_coverage", _("Negative internet coverage")
        ALERTS = "alerts", _("Monitoring alerts at its premises")
        ABNORMAL_STATUS = "abnormal_status", _("Abnormal registration status")

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="risk_signals")
    code = models.CharField(_("signal"), max_length=20, choices=Code.choices)
    weight = models.FloatField(_("weight"))
    reason = models.CharField(_("reason"), max_length=300)
    reason_en = models.CharField(_("reason (English)"), max_length=300, blank=True)
    value = models.JSONField(_("value"), default=dict, blank=True)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("risk signal")
        verbose_name_plural = _("risk signals")
        ordering = ["enterprise", "-weight"]
        constraints = [models.UniqueConstraint(fields=["enterprise", "code"], name="risk_signal_unique")]
