"""Policies (惠企政策), their structured criteria, matches (who qualifies and why) and grants."""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.utils.translation import gettext_lazy as _

from .registry import Enterprise


class Policy(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        ACTIVE = "active", _("Active")
        EXPIRED = "expired", _("Expired")

    code = models.SlugField(_("code"), max_length=60, unique=True)
    title = models.CharField(_("title"), max_length=300)
    title_en = models.CharField(_("English title"), max_length=300, blank=True)
    text = models.TextField(_("text"), blank=True)
    text_en = models.TextField(_("English text"), blank=True)
    benefit = models.CharField(_("benefit"), max_length=300, blank=True)
    benefit_en = models.CharField(_("benefit (English)"), max_length=300, blank=True)
    amount = models.DecimalField(_("amount (10k CNY)"), max_digits=12, decimal_places=2, null=True, blank=True)
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("issuing department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.DRAFT)
    automatic = models.BooleanField(
        _("automatic (免申即享)"), default=False, help_text=_("eligible enterprises get a grant proposal")
    )
    reference_year = models.PositiveSmallIntegerField(
        _("reference year"), null=True, blank=True, help_text=_("indicator year the criteria read (default: last year)")
    )
    matched_at = models.DateTimeField(_("last matched"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        ordering = ["-valid_from", "code"]

    def __str__(self) -> str:
        return self.title


class Criterion(models.Model):
    """One structured condition of a policy, typed so the matching engine evaluates it in SQL.

    kind        uses
    industry    codes: industry sections or divisions ("C", "36")
    size        codes: micro/small/medium/large
    tag         codes: tag codes (any of them)
    area        area + area_ids (the area and its sub-areas, filled by the service)
    park        park_id
    age         number (years), op gte/lte
    indicator   metric, measure (value | growth), op, number
    licence     codes: licence types (a valid one held)
    status      active status
    no_violations  no open violation signal (risk signals of kind "cases")
    """

    class Kind(models.TextChoices):
        INDUSTRY = "industry", _("Industry")
        SIZE = "size", _("Size")
        TAG = "tag", _("Tag")
        AREA = "area", _("Area")
        PARK = "park", _("Park")
        AGE = "age", _("Age (years)")
        INDICATOR = "indicator", _("Indicator")
        LICENCE = "licence", _("Licence held")
        STATUS = "status", _("Active status")
        NO_VIOLATIONS = "no_violations", _("No open violations")

    class Op(models.TextChoices):
        GTE = "gte", "≥"
        LTE = "lte", "≤"

    class Measure(models.TextChoices):
        VALUE = "value", _("Value in the reference year")
        GROWTH = "growth", _("Growth on the previous year (%)")

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="criteria")
    position = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    codes = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    area = models.ForeignKey("datahub.Area", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    area_ids = ArrayField(models.IntegerField(), default=list, blank=True, editable=False)
    park = models.ForeignKey("industry.Park", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(_("metric"), max_length=16, blank=True)
    measure = models.CharField(_("measure"), max_length=8, choices=Measure.choices, blank=True)
    op = models.CharField(_("operator"), max_length=4, choices=Op.choices, blank=True)
    number = models.FloatField(_("threshold"), null=True, blank=True)

    class Meta:
        verbose_name = _("policy criterion")
        verbose_name_plural = _("policy criteria")
        ordering = ["policy", "position", "id"]

    def __str__(self) -> str:
        return f"{self.policy_id}:{self.kind}"


class Match(models.Model):
    """An enterprise that meets a policy (eligible: every criterion met; possible: none failed but
    some unknown), with one explanation per criterion: {criterion, kind, met, value}."""

    class Status(models.TextChoices):
        ELIGIBLE = "eligible", _("Eligible")
        POSSIBLE = "possible", _("Possibly eligible")

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="matches")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="matches")
    status = models.CharField(_("status"), max_length=8, choices=Status.choices)
    criteria = models.JSONField(_("criteria"), default=list)
    computed_at = models.DateTimeField(_("computed"))

    class Meta:
        verbose_name = _("policy match")
        verbose_name_plural = _("policy matches")
        ordering = ["policy", "enterprise"]
        constraints = [models.UniqueConstraint(fields=["policy", "enterprise"], name="match_unique")]
        indexes = [models.Index(fields=["enterprise", "status"], name="match_enterprise")]


class Grant(models.Model):
    """A benefit for an enterprise: proposed by 免申即享 matching (or an application), confirmed by an officer."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed")
        CONFIRMED = "confirmed", _("Confirmed")
        REJECTED = "rejected", _("Rejected")

    class Origin(models.TextChoices):
        AUTOMATIC = "automatic", _("Automatic (免申即享)")
        APPLICATION = "application", _("Application")

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="grants")
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="grants")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PROPOSED)
    origin = models.CharField(_("origin"), max_length=12, choices=Origin.choices, default=Origin.AUTOMATIC)
    amount = models.DecimalField(_("amount (10k CNY)"), max_digits=12, decimal_places=2, null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    decided_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("grant")
        verbose_name_plural = _("grants")
        ordering = ["-created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["policy", "enterprise"], name="grant_unique")]
        indexes = [models.Index(fields=["status", "policy"], name="grant_status_policy")]

    def __str__(self) -> str:
        return f"{self.policy_id} → {self.enterprise_id} ({self.status})"
