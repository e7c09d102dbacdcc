"""Service levels: deadlines per category and priority in working hours, the holiday calendar,
and supervision orders."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class SlaPolicy(models.Model):
    category = models.ForeignKey(
        "governance.Category",
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text=_("Empty: the default for every category"),
    )
    priority = models.CharField(_("priority"), max_length=8, blank=True, help_text=_("Empty: any priority"))
    resolve_hours = models.FloatField(_("working hours to resolve"))
    warn_hours = models.FloatField(_("warn this many working hours before"), default=4)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["category", "priority"]
        constraints = [models.UniqueConstraint(fields=["category", "priority"], name="sla_policy_unique")]

    def __str__(self) -> str:
        return f"{self.category or '*'}/{self.priority or '*'}: {self.resolve_hours}h"


class CalendarDay(models.Model):
    """An exception to the Mon–Fri working week: a holiday on a weekday or a make-up working day."""

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("Holiday")
        WORKDAY = "workday", _("Make-up working day")

    date = models.DateField(_("date"), unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("calendar day")
        verbose_name_plural = _("calendar days")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_kind_display()}"


class SupervisionOrder(models.Model):
    """督办单: a supervisor's order on a case, with its own deadline."""

    class Kind(models.TextChoices):
        ESCALATION = "escalation", _("Overdue escalation")
        MANUAL = "manual", _("Supervision")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ANSWERED = "answered", _("Answered")
        OVERDUE = "overdue", _("Overdue")

    case = models.ForeignKey("governance.Case", on_delete=models.CASCADE, related_name="supervisions")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.MANUAL)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    department = models.ForeignKey(
        "datahub.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    instruction = models.TextField(_("instruction"))
    due_at = models.DateTimeField(_("due"))
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answer = models.TextField(_("answer"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("supervision order")
        verbose_name_plural = _("supervision orders")
        ordering = ["-created_at"]
        constraints = [
            # At most one automatic escalation per case: the overdue scan may run twice.
            models.UniqueConstraint(
                fields=["case"], condition=Q(kind="escalation"), name="supervision_one_escalation_per_case"
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_kind_display()}"
