"""Citizen cases (工单): intake, workflow history, attachments, ratings and corrections."""

import secrets
import uuid

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    HOTLINE = "hotline", _("12345 hotline")
    API = "api", _("API")
    OPEN311 = "open311", _("Open311")
    ALERT = "alert", _("Monitoring alert")
    DOCUMENT = "document", _("Internet document")
    GRID = "grid", _("Grid patrol")
    PORTAL = "portal", _("Citizen portal")
    IMPORT = "import", _("Import")
    ENTERPRISE = "enterprise", _("Enterprise appeal")
    RATING = "rating", _("Service rating follow-up")


class Priority(models.TextChoices):
    URGENT = "urgent", _("Urgent")
    HIGH = "high", _("High")
    NORMAL = "normal", _("Normal")
    LOW = "low", _("Low")


class Status(models.TextChoices):
    RECEIVED = "received", _("Received")
    DISPATCHED = "dispatched", _("Dispatched")
    ACCEPTED = "accepted", _("Accepted")
    IN_PROGRESS = "in_progress", _("In progress")
    SUSPENDED = "suspended", _("Suspended")
    RESOLVED = "resolved", _("Resolved")
    RETURNED = "returned", _("Returned")
    VERIFIED = "verified", _("Verified")
    CLOSED = "closed", _("Closed")
    REJECTED = "rejected", _("Rejected")
    MERGED = "merged", _("Merged")


# Statuses in which the case is still someone's work (Open311 "open").
OPEN_STATUSES = (
    Status.RECEIVED,
    Status.DISPATCHED,
    Status.ACCEPTED,
    Status.IN_PROGRESS,
    Status.SUSPENDED,
    Status.RETURNED,
)
DONE_STATUSES = (Status.RESOLVED, Status.VERIFIED, Status.CLOSED)


class TrackingCounter(models.Model):
    """Per-day sequence of tracking numbers, incremented atomically (INSERT … ON CONFLICT)."""

    day = models.DateField(primary_key=True)
    last = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("tracking counter")
        verbose_name_plural = _("tracking counters")

    def __str__(self) -> str:
        return f"{self.day}: {self.last}"


def citizen_key_new() -> str:
    """The secret of a citizen's link to their case: 192 random bits, URL-safe (32 characters).
    Tracking numbers are sequential and published (Open311), so they never suffice alone."""
    return secrets.token_urlsafe(24)


class Case(models.Model):
    tracking_number = models.CharField(_("tracking number"), max_length=32, unique=True)
    citizen_key = models.CharField(
        _("citizen link key"), max_length=64, unique=True, default=citizen_key_new, editable=False
    )
    token = models.UUIDField(_("Open311 token"), default=uuid.uuid4, unique=True, editable=False)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices, db_index=True)
    title = models.CharField(_("title"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(
        "governance.Category", verbose_name=_("category"), null=True, blank=True, on_delete=models.SET_NULL
    )
    classification = models.JSONField(
        _("classification"), default=dict, blank=True, help_text=_("How the category was chosen, with confidence")
    )
    priority = models.CharField(_("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.RECEIVED)
    status_before_suspend = models.CharField(max_length=16, blank=True, editable=False)
    status_notes = models.CharField(_("status notes"), max_length=500, blank=True)
    location = models.PointField(_("location"), srid=4326, null=True, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    district = models.ForeignKey(
        "datahub.Area", verbose_name=_("district"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    street = models.ForeignKey(
        "datahub.Area", verbose_name=_("street"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    grid = models.ForeignKey(
        "datahub.Area", verbose_name=_("grid"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    area = models.ForeignKey(
        "datahub.Area",
        verbose_name=_("area"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The most specific area the case lies in"),
    )
    # Private: never shown on public pages or in Open311 responses.
    reporter_name = models.CharField(_("reporter name"), max_length=100, blank=True)
    reporter_phone = models.CharField(_("reporter phone"), max_length=32, blank=True)
    reporter_email = models.EmailField(_("reporter email"), blank=True)
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_cases",
    )
    dispatch_explanation = models.JSONField(_("dispatch explanation"), default=dict, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    media_url = models.URLField(_("media URL"), blank=True)
    origin = models.CharField(_("origin"), max_length=16, blank=True)
    origin_ref = models.CharField(_("origin reference"), max_length=100, blank=True)
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="merged")
    # Clocks. `due_at` is moved forward by the working time spent suspended.
    created_at = models.DateTimeField(_("received"), db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    sla_hours = models.FloatField(_("SLA working hours"), null=True, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True)
    suspended_seconds = models.PositiveIntegerField(_("suspended (s)"), default=0)
    warned_at = models.DateTimeField(_("warned"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    resolved_on_time = models.BooleanField(_("resolved on time"), null=True, blank=True)
    reopen_count = models.PositiveSmallIntegerField(_("reopened"), default=0)
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    rating_comment = models.TextField(_("rating comment"), blank=True)
    rated_at = models.DateTimeField(_("rated"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-created_at"], name="case_status_created"),
            models.Index(fields=["department", "status", "-created_at"], name="case_dept_status_created"),
            models.Index(fields=["category", "created_at"], name="case_category_created"),
            models.Index(fields=["due_at"], name="case_open_due", condition=Q(due_at__isnull=False)),
            # The intake desk's caller history: a caller's earlier cases by phone number.
            models.Index(
                fields=["reporter_phone", "-created_at"], name="case_reporter_phone", condition=~Q(reporter_phone="")
            ),
            # The default inbox (open cases, newest first) and its count read only this partial index:
            # ~40% of the table, and an index-only count instead of a sequential scan of 100k rows.
            models.Index(
                fields=["-created_at", "-id"], name="case_open_created", condition=Q(status__in=OPEN_STATUSES)
            ),
            # An officer's inbox (open cases of their department subtree): its count is an index-only
            # scan here instead of ~7k random heap reads (66 ms measured over 100k cases).
            models.Index(
                fields=["department", "-created_at"],
                name="case_open_dept_created",
                condition=Q(status__in=OPEN_STATUSES),
            ),
        ]
        constraints = [
            # One case per upstream object (alert, document, imported row): subscribers stay idempotent.
            models.UniqueConstraint(fields=["origin_ref"], condition=~Q(origin_ref=""), name="case_origin_ref_unique"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="case_rating_1_5"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tracking_number} {self.title}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CaseTransition(models.Model):
    """The history of a case: every workflow step, who did it, and from/to which state."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(_("action"), max_length=32)
    from_status = models.CharField(_("from"), max_length=16, blank=True)
    to_status = models.CharField(_("to"), max_length=16)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    department = models.ForeignKey(
        "datahub.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(_("at"), db_index=True)

    class Meta:
        verbose_name = _("case transition")
        verbose_name_plural = _("case transitions")
        ordering = ["case", "created_at", "id"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.action} {self.from_status}->{self.to_status}"


class CaseAttachment(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("file"), upload_to="cases/%Y/%m/")
    name = models.CharField(_("name"), max_length=200)
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveIntegerField(default=0)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["case", "id"]

    def __str__(self) -> str:
        return self.name


class CategoryCorrection(models.Model):
    """An officer's correction of the automatic category: kept as training data."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="corrections")
    previous = models.ForeignKey(
        "governance.Category", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    corrected = models.ForeignKey("governance.Category", on_delete=models.CASCADE, related_name="+")
    text = models.TextField(_("text"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("category correction")
        verbose_name_plural = _("category corrections")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.previous_id}->{self.corrected_id}"
