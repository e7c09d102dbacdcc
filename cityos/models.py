from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import CITY_WIDE_ROLES, STAFF_ROLES, Role


class User(AbstractUser):
    """A person using CityOS: civil servant, analyst, administrator or external developer."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, default=Role.DEPARTMENT_OFFICER)
    department = models.ForeignKey(
        "datahub.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
    )
    display_name = models.CharField(_("display name"), max_length=150, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return self.display_name or self.get_full_name() or self.username

    @property
    def is_staff_role(self) -> bool:
        """Works for the city (see cityos.roles.is_staff_role); unrelated to Django's is_staff."""
        return self.is_superuser or self.role in STAFF_ROLES

    @property
    def is_city_wide(self) -> bool:
        return self.is_superuser or self.role in CITY_WIDE_ROLES


# --- the open platform: developer organisations, applications, API keys, plans, usage -------------------


class ApiPlan(models.Model):
    """Quotas of a key: a burst per second, a rate per minute and a volume per day (0 = no limit)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    per_second = models.PositiveIntegerField(_("requests per second (burst)"), default=10)
    per_minute = models.PositiveIntegerField(_("requests per minute"), default=300)
    per_day = models.PositiveIntegerField(_("requests per day"), default=50_000)

    class Meta:
        verbose_name = _("API plan")
        verbose_name_plural = _("API plans")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DeveloperOrganisation(models.Model):
    """An external developer's organisation; an administrator approves it before its keys work."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    contact_email = models.EmailField(_("contact e-mail"))
    website = models.URLField(_("website"), blank=True)
    is_approved = models.BooleanField(_("approved"), default=False)
    # Developers who manage the organisation's applications, keys and subscriptions in the portal.
    members = models.ManyToManyField(
        User, verbose_name=_("members"), blank=True, related_name="developer_organisations"
    )
    approved_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("developer organisation")
        verbose_name_plural = _("developer organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ApiApplication(models.Model):
    class Level(models.TextChoices):
        # Keys see what an external developer sees (public data) unless an administrator grants
        # the application its owner's own rights.
        PUBLIC = "public", _("Public data only")
        OWNER = "owner", _("Its owner's access (granted by an administrator)")

    organisation = models.ForeignKey(DeveloperOrganisation, on_delete=models.CASCADE, related_name="applications")
    owner = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_applications")
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    plan = models.ForeignKey(ApiPlan, verbose_name=_("plan"), on_delete=models.PROTECT, related_name="applications")
    access_level = models.CharField(_("access level"), max_length=16, choices=Level.choices, default=Level.PUBLIC)
    allowed_origins = models.JSONField(_("allowed CORS origins"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("API application")
        verbose_name_plural = _("API applications")
        ordering = ["organisation", "name"]
        constraints = [models.UniqueConstraint(fields=["organisation", "name"], name="api_application_unique_name")]

    def __str__(self) -> str:
        return f"{self.organisation} / {self.name}"


class ApiKey(models.Model):
    """`Authorization: Api-Key cos_<prefix>_<secret>`: the prefix finds the key, the secret is stored
    only as its SHA-256 (it is 256 random bits, so a slow hash adds nothing) and shown once."""

    application = models.ForeignKey(ApiApplication, on_delete=models.CASCADE, related_name="keys")
    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(_("prefix"), max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list)
    ip_allowlist = models.JSONField(_("IP allow-list"), default=list, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} (cos_{self.prefix}_…)"


class ApiUsage(models.Model):
    """Calls per key, endpoint, status and day (flushed from Redis counters by beat)."""

    key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="usage")
    day = models.DateField(_("day"))
    endpoint = models.CharField(_("endpoint"), max_length=200)
    status = models.PositiveSmallIntegerField(_("status"))
    count = models.PositiveBigIntegerField(_("calls"), default=0)

    class Meta:
        verbose_name = _("API usage")
        verbose_name_plural = _("API usage")
        ordering = ["-day", "endpoint"]
        constraints = [
            models.UniqueConstraint(fields=["key", "day", "endpoint", "status"], name="api_usage_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.key_id} {self.day} {self.endpoint} {self.status}: {self.count}"


# --- event subscriptions: domain events pushed to external applications as signed webhooks ---------------


class EventSubscription(models.Model):
    """A webhook for domain events (cityos.webhooks): which events, which filters, where.

    Deliveries are signed with HMAC-SHA256 over `<timestamp>.<body>` with `secret`, retried with
    exponential backoff, dead-lettered after `max_attempts`; `disable_after` dead letters in a row
    switch the subscription off (dead endpoint).

    Two owners, one mechanism:
    - an external application's subscription (`application` set): made in the developer portal or
      the API, restricted events only if an administrator granted the application its owner's access;
    - the city's own subscription (`application` empty): made by staff on the monitoring webhook
      pages (what used to be the separate monitoring webhooks), `created_by` names who. No
      developer organisation or application stands in for the city: an empty application is the
      simplest marker, staff pages select exactly those rows, and the portal (which lists an
      application's rows) never sees them. Staff subscriptions may take restricted events.
    `department` narrows events that carry one (alerts) to that department; empty: every department.
    """

    application = models.ForeignKey(
        ApiApplication,
        verbose_name=_("application"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="event_subscriptions",
        help_text=_("Empty: a subscription of the city's own staff"),
    )
    name = models.CharField(_("name"), max_length=200)
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=200, editable=False)
    # Event codes (cityos.webhooks.catalogue.EVENTS); at least one.
    events = models.JSONField(_("events"), default=list)
    # Filters (empty: no filter): areas (an event in a sub-area matches), category codes, minimum severity.
    area_ids = models.JSONField(_("areas"), default=list, blank=True)
    categories = models.JSONField(_("categories"), default=list, blank=True)
    min_severity = models.CharField(_("minimum severity"), max_length=10, blank=True)
    department = models.ForeignKey(
        "datahub.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: every department"),
    )
    is_active = models.BooleanField(_("active"), default=True)
    max_attempts = models.PositiveSmallIntegerField(_("attempts per delivery"), default=8)
    disable_after = models.PositiveSmallIntegerField(_("disable after dead deliveries"), default=5)
    consecutive_failures = models.PositiveIntegerField(_("dead deliveries in a row"), default=0, editable=False)
    disabled_at = models.DateTimeField(_("disabled at"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("event subscription")
        verbose_name_plural = _("event subscriptions")
        ordering = ["application", "name", "id"]

    def __str__(self) -> str:
        return f"{self.application or _('City staff')} / {self.name}"


class EventDelivery(models.Model):
    """The delivery log: one row per (subscription, event), with every attempt; dead rows are the
    dead-letter list (replayable)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RETRYING = "retrying", _("Retrying")
        SUCCEEDED = "succeeded", _("Succeeded")
        DEAD = "dead", _("Dead-lettered")

    subscription = models.ForeignKey(EventSubscription, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(_("event id"), db_index=True)
    event = models.CharField(_("event"), max_length=64)
    payload = models.JSONField(default=dict)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    attempt_log = models.JSONField(default=list, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("event delivery")
        verbose_name_plural = _("event deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="event_delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "event_id"], name="event_delivery_once"),
        ]

    def __str__(self) -> str:
        return f"{self.subscription_id} {self.event} ({self.status})"
