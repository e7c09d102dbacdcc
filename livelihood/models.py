"""The livelihood wing: facilities, the service guide (事项) and life events (一件事), appointments,
notices, citizen reports and 好差评 ratings.

Facilities are datahub entities (type `facility`) plus this wing's record; places are datahub areas;
cases are governance's, reached only by domain events (the report and rating keep the case's id and
tracking number as plain values).
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import CheckConstraint, F, Q, UniqueConstraint
from django.utils.translation import gettext_lazy as _


class FacilityType(models.TextChoices):
    SCHOOL = "school", _("School")
    LIBRARY = "library", _("Library")
    HOSPITAL = "hospital", _("Hospital")
    CLINIC = "clinic", _("Clinic")
    POLICE = "police", _("Police station")
    WIFI = "wifi", _("Public Wi-Fi")
    PARK = "park", _("Park")
    SERVICE_HALL = "service_hall", _("Service hall")
    ELDERLY_CARE = "elderly_care", _("Elderly care")
    HISTORIC_SITE = "historic_site", _("Historic site")
    CAFE = "cafe", _("Café")
    TOILET = "toilet", _("Public toilet")
    OTHER = "other", _("Other")


class Facility(models.Model):
    """A public facility: the datahub entity (type `facility`) plus what only the finder needs.

    `point` is a geography: KNN (`<->`) and radius queries work in metres on the GiST index.
    `hours` is the weekly pattern {"mon": [["08:00", "17:00"]], …, "sun": []}; exceptions override a date.
    """

    entity = models.OneToOneField(
        "datahub.Entity", verbose_name=_("entity"), on_delete=models.CASCADE, related_name="facility"
    )
    key = models.CharField(_("key"), max_length=200, unique=True, help_text=_("source:identifier"))
    type = models.CharField(_("type"), max_length=32, choices=FacilityType.choices, db_index=True)
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("English name"), max_length=300, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    point = models.PointField(_("location"), geography=True, srid=4326)
    area = models.ForeignKey(
        "datahub.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey(
        "datahub.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    hours = models.JSONField(_("opening hours"), default=dict, blank=True)
    always_open = models.BooleanField(_("open 24 hours"), default=False)
    accessibility = models.JSONField(_("accessibility"), default=list, blank=True)
    services = models.JSONField(_("services offered"), default=list, blank=True)
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    is_active = models.BooleanField(_("active"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("facility")
        verbose_name_plural = _("facilities")
        ordering = ["type", "name"]
        indexes = [models.Index(fields=["area", "type"], name="facility_area_type")]

    def __str__(self) -> str:
        return self.name


class FacilityHoursException(models.Model):
    """A date on which a facility keeps other hours (a holiday closure, an evening opening)."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="exceptions")
    date = models.DateField(_("date"))
    closed = models.BooleanField(_("closed all day"), default=True)
    opens = models.TimeField(_("opens"), null=True, blank=True)
    closes = models.TimeField(_("closes"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("opening exception")
        verbose_name_plural = _("opening exceptions")
        ordering = ["date"]
        constraints = [UniqueConstraint(fields=["facility", "date"], name="facility_exception_unique")]

    def __str__(self) -> str:
        return f"{self.facility} {self.date}"


# --- service guide --------------------------------------------------------------------------------


class Audience(models.TextChoices):
    PERSON = "person", _("Individuals")
    ENTERPRISE = "enterprise", _("Enterprises")


class ServiceMode(models.TextChoices):
    ONLINE = "online", _("Online")
    OFFLINE = "offline", _("At a counter")
    BOTH = "both", _("Online or at a counter")


class PublishStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    UNPUBLISHED = "unpublished", _("Unpublished")


class Service(models.Model):
    """One government service (事项) as the public guide describes it; edits make a new version."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices, default=Audience.PERSON)
    summary = models.TextField(_("summary"), blank=True)
    conditions = models.TextField(_("conditions"), blank=True)
    materials = models.JSONField(_("required materials"), default=list, blank=True)
    steps = models.JSONField(_("steps"), default=list, blank=True)
    fees = models.CharField(_("fees"), max_length=300, blank=True)
    legal_days = models.PositiveSmallIntegerField(_("legal time limit (working days)"), null=True, blank=True)
    promised_days = models.PositiveSmallIntegerField(_("promised time (working days)"), null=True, blank=True)
    mode = models.CharField(_("how to apply"), max_length=16, choices=ServiceMode.choices, default=ServiceMode.BOTH)
    locations = models.TextField(_("where"), blank=True)
    hours = models.CharField(_("office hours"), max_length=300, blank=True)
    legal_basis = models.TextField(_("legal basis"), blank=True)
    faq = models.JSONField(_("FAQ"), default=list, blank=True)
    bookable = models.BooleanField(_("bookable"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=PublishStatus.choices, default=PublishStatus.DRAFT)
    version = models.PositiveIntegerField(_("version"), default=1)
    published_at = models.DateTimeField(_("published at"), null=True, blank=True)
    popularity = models.PositiveIntegerField(_("popularity"), default=0)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["code"]
        indexes = [models.Index(fields=["status", "-popularity"], name="service_status_pop")]

    def __str__(self) -> str:
        return self.name


class ServiceVersion(models.Model):
    """A snapshot of a service's guide at each saved version (who changed what, and when)."""

    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField(_("version"))
    data = models.JSONField(_("content"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("service version")
        verbose_name_plural = _("service versions")
        ordering = ["service", "-version"]
        constraints = [UniqueConstraint(fields=["service", "version"], name="service_version_unique")]

    def __str__(self) -> str:
        return f"{self.service} v{self.version}"


class LifeEvent(models.Model):
    """一件事: the services a life situation needs, with their materials listed once."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    services = models.ManyToManyField(Service, through="LifeEventService", related_name="life_events")
    status = models.CharField(_("status"), max_length=16, choices=PublishStatus.choices, default=PublishStatus.DRAFT)
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("life event")
        verbose_name_plural = _("life events")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class LifeEventService(models.Model):
    life_event = models.ForeignKey(LifeEvent, on_delete=models.CASCADE, related_name="steps")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    order = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        verbose_name = _("life event step")
        verbose_name_plural = _("life event steps")
        ordering = ["life_event", "order"]
        constraints = [UniqueConstraint(fields=["life_event", "service"], name="life_event_service_unique")]

    def __str__(self) -> str:
        return f"{self.life_event} / {self.service}"


# --- appointments ---------------------------------------------------------------------------------


class Office(models.Model):
    """A service hall or counter office where bookable services are handled."""

    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    point = models.PointField(_("location"), geography=True, srid=4326, null=True, blank=True)
    area = models.ForeignKey(
        "datahub.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    phone = models.CharField(_("phone"), max_length=64, blank=True)
    services = models.ManyToManyField(Service, verbose_name=_("services"), related_name="offices", blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("office")
        verbose_name_plural = _("offices")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class SlotTemplate(models.Model):
    """Weekly pattern: on `weekday` (0 = Monday) from `start` to `end`, slots of `slot_minutes`."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="templates")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    weekday = models.PositiveSmallIntegerField(_("weekday"))
    start = models.TimeField(_("from"))
    end = models.TimeField(_("to"))
    slot_minutes = models.PositiveSmallIntegerField(_("slot length (minutes)"), default=30)
    capacity = models.PositiveSmallIntegerField(_("places per slot"), default=4)

    class Meta:
        verbose_name = _("slot template")
        verbose_name_plural = _("slot templates")
        ordering = ["office", "weekday", "start"]
        constraints = [
            CheckConstraint(condition=Q(weekday__lte=6), name="slot_template_weekday"),
            CheckConstraint(condition=Q(end__gt=F("start")), name="slot_template_order"),
        ]

    def __str__(self) -> str:
        return f"{self.office} {self.weekday} {self.start}-{self.end}"


class Holiday(models.Model):
    """A day without slots: for one office, or every office when `office` is empty."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, null=True, blank=True, related_name="holidays")
    date = models.DateField(_("date"), db_index=True)
    name = models.CharField(_("name"), max_length=100, blank=True)
    # Mirrored from governance's working calendar (`governance.calendar_changed`): kept in step
    # with it, while the holidays an office adds itself are left alone.
    from_calendar = models.BooleanField(_("from the city's working calendar"), default=False, editable=False)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class Slot(models.Model):
    """A bookable time. `booked <= capacity` is a database constraint and booking is one conditional
    UPDATE (`booked = booked + 1 WHERE booked < capacity`): concurrent requests can never overbook."""

    office = models.ForeignKey(Office, on_delete=models.CASCADE, related_name="slots")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", null=True, blank=True)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveSmallIntegerField(_("capacity"))
    booked = models.PositiveSmallIntegerField(_("booked"), default=0)

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["starts_at", "id"]
        constraints = [
            CheckConstraint(condition=Q(booked__lte=F("capacity")), name="slot_not_overbooked"),
            UniqueConstraint(fields=["office", "service", "starts_at"], name="slot_unique", nulls_distinct=False),
        ]
        indexes = [models.Index(fields=["office", "starts_at"], name="slot_office_time")]

    def __str__(self) -> str:
        return f"{self.office} {self.starts_at:%Y-%m-%d %H:%M}"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", _("Booked")
    CANCELLED = "cancelled", _("Cancelled")
    CHECKED_IN = "checked_in", _("Checked in")
    SERVING = "serving", _("Being served")
    SERVED = "served", _("Served")
    NO_SHOW = "no_show", _("No-show")


class CancelReason(models.TextChoices):
    CITIZEN = "citizen", _("Cancelled on request")
    HOLIDAY = "holiday", _("The office is closed: a public holiday")


class Appointment(models.Model):
    # Unique through Meta.constraints, not unique=True: the same unique index without the second
    # (varchar_pattern_ops) index PostgreSQL gets for unique=True, which no LIKE query uses; with
    # the office's index kept only as appointment_office_status's prefix, a booking updates 7
    # indexes here instead of 10 (bench/bench_livelihood.py).
    code = models.CharField(_("confirmation code"), max_length=16)
    token = models.CharField(max_length=64, editable=False)
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    office = models.ForeignKey(Office, on_delete=models.PROTECT, related_name="appointments", db_index=False)
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="appointments")
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="appointments"
    )
    name = models.CharField(_("name"), max_length=100)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    email = models.EmailField(_("email"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    queue_number = models.PositiveIntegerField(_("queue number"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    served_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    cancel_reason = models.CharField(_("cancellation reason"), max_length=16, choices=CancelReason.choices, blank=True)
    # What the citizen is told with the reason: the holiday's name and day.
    cancel_note = models.CharField(_("cancellation note"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["slot__starts_at", "id"]
        indexes = [models.Index(fields=["office", "status"], name="appointment_office_status")]
        constraints = [
            models.UniqueConstraint(fields=["code"], name="appointment_code_unique"),
            models.UniqueConstraint(fields=["token"], name="appointment_token_unique"),
        ]

    def __str__(self) -> str:
        return self.code


# --- notices --------------------------------------------------------------------------------------


class Notice(models.Model):
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=200, blank=True)
    body = models.TextField(_("body (Markdown)"))
    body_en = models.TextField(_("English body (Markdown)"), blank=True)
    areas = models.ManyToManyField(
        "datahub.Area", verbose_name=_("audience areas"), blank=True, related_name="+", help_text=_("empty: the city")
    )
    publish_at = models.DateTimeField(_("publish at"), db_index=True)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    pinned = models.BooleanField(_("pinned"), default=False)
    status = models.CharField(_("status"), max_length=16, choices=PublishStatus.choices, default=PublishStatus.DRAFT)
    announced_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        ordering = ["-pinned", "-publish_at"]
        constraints = [
            CheckConstraint(
                condition=Q(expires_at__isnull=True) | Q(expires_at__gt=F("publish_at")), name="notice_expiry_order"
            )
        ]

    def __str__(self) -> str:
        return self.title


class NoticeSubscription(models.Model):
    """An e-mail address that gets a digest of new notices for an area."""

    email = models.EmailField(_("email"))
    area = models.ForeignKey("datahub.Area", verbose_name=_("area"), on_delete=models.CASCADE, related_name="+")
    citizen = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    token = models.CharField(max_length=64, unique=True, editable=False)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("notice subscription")
        verbose_name_plural = _("notice subscriptions")
        ordering = ["email"]
        constraints = [UniqueConstraint(fields=["email", "area"], name="notice_subscription_unique")]

    def __str__(self) -> str:
        return f"{self.email} / {self.area_id}"


# --- citizen reports and ratings ------------------------------------------------------------------


class ReportCategory(models.TextChoices):
    ROADS = "roads", _("Roads and pavements")
    LIGHTING = "lighting", _("Street lighting")
    SANITATION = "sanitation", _("Rubbish and cleanliness")
    NOISE = "noise", _("Noise")
    GREENERY = "greenery", _("Trees and parks")
    WATER = "water", _("Water and drains")
    FACILITIES = "facilities", _("Public facilities")
    OTHER = "other", _("Something else")


# Labels of the statuses a report mirrors from its governance case (the portal never shows raw codes).
REPORT_STATUS_LABELS = {
    "submitted": _("Submitted"),
    "received": _("Received"),
    "dispatched": _("Sent to the department"),
    "accepted": _("Accepted"),
    "in_progress": _("Being handled"),
    "suspended": _("On hold"),
    "resolved": _("Resolved"),
    "returned": _("Returned for re-dispatch"),
    "verified": _("Checked"),
    "closed": _("Closed"),
    "rejected": _("Not accepted"),
    "merged": _("Merged with an earlier report"),
}


class Report(models.Model):
    """A citizen's "report a problem" from the portal; governance turns it into a case.

    The tracking page needs the number AND the token (≥128 random bits): the number alone shows nothing.
    """

    number = models.CharField(_("number"), max_length=20, unique=True)
    token = models.CharField(max_length=64, unique=True, editable=False)
    category = models.CharField(_("category"), max_length=16, choices=ReportCategory.choices)
    description = models.TextField(_("description"))
    photo = models.ImageField(_("photo"), upload_to="livelihood/reports/%Y/%m/", blank=True)
    point = models.PointField(_("location"), srid=4326)
    area = models.ForeignKey(
        "datahub.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(_("address"), max_length=300, blank=True)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    reporter_name = models.CharField(_("name"), max_length=100, blank=True)
    reporter_phone = models.CharField(_("phone"), max_length=32, blank=True)
    reporter_email = models.EmailField(_("email"), blank=True)
    case_id = models.PositiveIntegerField(_("case"), null=True, blank=True)
    case_number = models.CharField(_("case number"), max_length=32, blank=True)
    status = models.CharField(_("status"), max_length=16, default="submitted")
    department = models.ForeignKey(
        "datahub.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    public_note = models.TextField(_("reply"), blank=True)
    history = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("citizen report")
        verbose_name_plural = _("citizen reports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.number

    @property
    def status_label(self) -> str:
        return str(REPORT_STATUS_LABELS.get(self.status, self.status))

    @property
    def history_labelled(self) -> list[dict]:
        return [{**h, "label": str(REPORT_STATUS_LABELS.get(h.get("status"), h.get("status")))} for h in self.history]


class RatingTarget(models.TextChoices):
    SERVICE = "service", _("Service handling")
    APPOINTMENT = "appointment", _("Appointment")
    CASE = "case", _("Closed case")


class Rating(models.Model):
    """好差评: 1–5 with reasons from a list; 1–2 opens a rectification case the department answers."""

    target = models.CharField(_("rated"), max_length=16, choices=RatingTarget.choices)
    service = models.ForeignKey(Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="ratings")
    appointment = models.OneToOneField(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="rating"
    )
    report = models.OneToOneField(Report, null=True, blank=True, on_delete=models.SET_NULL, related_name="rating")
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    area = models.ForeignKey("datahub.Area", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    score = models.PositiveSmallIntegerField(_("score"))
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    citizen = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="ratings"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    rectification_case_id = models.PositiveIntegerField(null=True, blank=True)
    rectification_number = models.CharField(max_length=32, blank=True)
    rectification_status = models.CharField(max_length=16, blank=True)
    reply = models.TextField(_("department reply"), blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    replied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("rating")
        verbose_name_plural = _("ratings")
        ordering = ["-created_at"]
        constraints = [CheckConstraint(condition=Q(score__gte=1, score__lte=5), name="rating_score_range")]
        indexes = [models.Index(fields=["department", "created_at"], name="rating_dept_time")]

    def __str__(self) -> str:
        return f"{self.get_target_display()} {self.score}"
