"""The enterprise registry: industry codes (GB/T 4754-2017), tags, enterprises, licences, parks,
and the people who act for an enterprise."""

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class IndustryCode(models.Model):
    """National economic industry classification, GB/T 4754-2017: sections (A–T) and divisions (01–97).
    Shipped as data (industry/data/gbt4754_2017.csv, loaded by a migration)."""

    class Level(models.TextChoices):
        SECTION = "section", _("Section")
        DIVISION = "division", _("Division")

    code = models.CharField(_("code"), max_length=8, unique=True)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=150, blank=True)

    class Meta:
        verbose_name = _("industry code")
        verbose_name_plural = _("industry codes")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Tag(models.Model):
    """高新技术, 专精特新, 规上, 外资…: admin-editable labels policies can require."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=60)
    name_en = models.CharField(_("English name"), max_length=80, blank=True)

    class Meta:
        verbose_name = _("enterprise tag")
        verbose_name_plural = _("enterprise tags")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Park(models.Model):
    """An industrial park (产业园区): a polygon (or the boundary of a datahub area) with its managers."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    area = models.ForeignKey(
        "datahub.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    boundary = models.MultiPolygonField(_("boundary"), srid=4326, null=True, blank=True)
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("managing department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    land_mu = models.DecimalField(_("land (mu)"), max_digits=12, decimal_places=2, default=0)
    capacity = models.PositiveIntegerField(_("capacity (enterprises)"), default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("industrial park")
        verbose_name_plural = _("industrial parks")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Enterprise(models.Model):
    """The industry wing's record of a datahub entity of type `enterprise`."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        SUSPENDED = "suspended", _("Suspended")
        DEREGISTERED = "deregistered", _("Deregistered")

    class Size(models.TextChoices):
        MICRO = "micro", _("Micro")
        SMALL = "small", _("Small")
        MEDIUM = "medium", _("Medium")
        LARGE = "large", _("Large")

    class Located(models.TextChoices):
        POINT = "point", _("Located by coordinates")
        ADDRESS = "address", _("Located by address")
        NONE = "none", _("Not located")

    class RiskLevel(models.TextChoices):
        LOW = "low", _("Low")
        MEDIUM = "medium", _("Medium")
        HIGH = "high", _("High")

    entity = models.OneToOneField("datahub.Entity", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=300)
    name_en = models.CharField(_("English name"), max_length=300, blank=True)
    name_norm = models.CharField(max_length=300, db_index=True, editable=False)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True, null=True, blank=True)
    legal_representative = models.CharField(_("legal representative"), max_length=100, blank=True)
    registered_capital = models.DecimalField(
        _("registered capital (10k CNY)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    founded_on = models.DateField(_("founded on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ACTIVE)
    industry = models.ForeignKey(
        IndustryCode, verbose_name=_("industry"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The division code, copied for the matching engine's prefix tests ("36" under section C).
    industry_code = models.CharField(max_length=8, blank=True, editable=False, db_index=True)
    section_code = models.CharField(max_length=2, blank=True, editable=False)
    size = models.CharField(_("size"), max_length=8, choices=Size.choices, blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="enterprises")
    address = models.CharField(_("address"), max_length=300, blank=True)
    address_norm = models.CharField(max_length=300, blank=True, editable=False)
    location = models.PointField(_("location"), srid=4326, null=True, blank=True)
    area = models.ForeignKey(
        "datahub.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    park = models.ForeignKey(
        Park, verbose_name=_("park"), null=True, blank=True, on_delete=models.SET_NULL, related_name="enterprises"
    )
    located = models.CharField(_("located"), max_length=8, choices=Located.choices, default=Located.NONE)
    locate_reason = models.CharField(_("why not located"), max_length=200, blank=True)
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("owner department"), null=True, blank=True, on_delete=models.SET_NULL
    )
    land_mu = models.DecimalField(_("land (mu)"), max_digits=10, decimal_places=2, null=True, blank=True)
    risk_score = models.FloatField(_("risk score"), default=0)
    risk_level = models.CharField(_("risk level"), max_length=8, choices=RiskLevel.choices, default=RiskLevel.LOW)
    risk_computed_at = models.DateTimeField(_("risk computed"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=64, blank=True, help_text=_("import the record came from"))
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("enterprise")
        verbose_name_plural = _("enterprises")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["name_norm", "address_norm"], name="ent_name_addr"),
            models.Index(fields=["department", "status"], name="ent_dept_status"),
            models.Index(fields=["risk_level", "risk_score"], name="ent_risk"),
        ]

    def __str__(self) -> str:
        return self.name


class Licence(models.Model):
    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="licences")
    type = models.CharField(_("type"), max_length=100)
    number = models.CharField(_("number"), max_length=100, blank=True)
    valid_from = models.DateField(_("valid from"), null=True, blank=True)
    valid_to = models.DateField(_("valid to"), null=True, blank=True)

    class Meta:
        verbose_name = _("licence")
        verbose_name_plural = _("licences")
        ordering = ["enterprise", "type"]
        indexes = [models.Index(fields=["type", "valid_to"], name="licence_type_valid")]

    def __str__(self) -> str:
        return f"{self.type} {self.number}".strip()


class EnterpriseMember(models.Model):
    """A user acting for an enterprise (role enterprise_user); an enterprise may have several."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="enterprise_links")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("enterprise user")
        verbose_name_plural = _("enterprise users")
        constraints = [models.UniqueConstraint(fields=["enterprise", "user"], name="enterprise_member_unique")]

    def __str__(self) -> str:
        return f"{self.user} → {self.enterprise}"


class EnterpriseHistory(models.Model):
    """What happened to an enterprise record (registration, changes, import), newest last."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="history")
    action = models.CharField(_("action"), max_length=32)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("enterprise history")
        verbose_name_plural = _("enterprise history")
        ordering = ["created_at", "id"]


class Notice(models.Model):
    """A message to an enterprise's users (a grant confirmed, an appeal answered)."""

    enterprise = models.ForeignKey(Enterprise, on_delete=models.CASCADE, related_name="notices")
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("English title"), max_length=200, blank=True)
    body = models.TextField(_("body"), blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("enterprise notice")
        verbose_name_plural = _("enterprise notices")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class ImportJob(models.Model):
    """One import (CSV upload, Little Rock file, datahub dataset): counts and the row report."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    kind = models.CharField(_("kind"), max_length=32)
    name = models.CharField(_("name"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    counts = models.JSONField(_("counts"), default=dict)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    unlocated = models.JSONField(_("not located"), default=list, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("enterprise import")
        verbose_name_plural = _("enterprise imports")
        ordering = ["-created_at"]
