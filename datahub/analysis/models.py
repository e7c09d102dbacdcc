"""Analysis models: situations (cross-source judgments), the signal weights their verdicts tune,
and the daily briefings. Imported from `datahub.models` so the app label stays `datahub`."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from datahub.core.models import Area


class Situation(models.Model):
    """Signals from different sources that coincide in one area and time window."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CONFIRMED = "confirmed", _("Confirmed")
        DISMISSED = "dismissed", _("Dismissed")

    class Level(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")
        CRITICAL = "critical", _("Critical")

    key = models.CharField(max_length=120, unique=True, editable=False, help_text=_("area and window"))
    area = models.ForeignKey(Area, verbose_name=_("area"), null=True, on_delete=models.SET_NULL, related_name="+")
    window_start = models.DateTimeField(_("window start"))
    window_end = models.DateTimeField(_("window end"))
    kinds = models.JSONField(_("signal kinds"), default=list)
    evidence = models.JSONField(_("evidence"), default=list)
    score = models.FloatField(_("combined unusualness"), default=0.0)
    severity = models.CharField(_("severity"), max_length=16, choices=Level.choices, default=Level.LOW)
    summary = models.TextField(_("summary (Chinese)"), blank=True)
    summary_en = models.TextField(_("summary (English)"), blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True)
    verdict_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("judged by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    verdict_at = models.DateTimeField(_("judged at"), null=True, blank=True)
    verdict_note = models.TextField(_("verdict note"), blank=True)
    detected_at = models.DateTimeField(_("detected at"), auto_now_add=True)

    class Meta:
        verbose_name = _("situation")
        verbose_name_plural = _("situations")
        ordering = ["-window_start", "-id"]
        indexes = [models.Index(fields=["status", "window_start"], name="situation_status_window")]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} @ {self.area or '-'} {self.window_start:%Y-%m-%d %H:%M}"


class SignalWeight(models.Model):
    """How much one kind of signal counts towards a situation; tuned by officers' verdicts."""

    kind = models.CharField(_("signal kind"), max_length=32, unique=True)
    weight = models.FloatField(_("weight"), default=1.0)
    confirmed = models.PositiveIntegerField(_("confirmed"), default=0)
    dismissed = models.PositiveIntegerField(_("dismissed"), default=0)

    class Meta:
        verbose_name = _("signal weight")
        verbose_name_plural = _("signal weights")
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.weight:.2f}"


class Briefing(models.Model):
    """The daily city briefing for one day: its figures as data, rendered in zh-hans and en."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        READY = "ready", _("Ready")
        FAILED = "failed", _("Failed")

    day = models.DateField(_("day"), unique=True, help_text=_("The day the briefing reports on (city time)"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.FloatField(_("progress"), default=0.0)
    content = models.JSONField(_("content"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    generated_at = models.DateTimeField(_("generated"), null=True, blank=True)
    emailed_at = models.DateTimeField(_("e-mailed"), null=True, blank=True)

    class Meta:
        verbose_name = _("briefing")
        verbose_name_plural = _("briefings")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d}"
