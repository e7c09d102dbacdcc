"""The category tree of citizen requests, with their Open311 service codes and attributes."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from cityos.i18n import local_name


class Category(models.Model):
    """A kind of request (e.g. 噪音扰民 / noise). Leaves carry an Open311 `service_code`."""

    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    code = models.SlugField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    service_code = models.CharField(
        _("Open311 service code"), max_length=64, unique=True, null=True, blank=True, help_text=_("Empty: not offered")
    )
    keywords = models.CharField(_("keywords"), max_length=500, blank=True, help_text=_("Comma-separated"))
    group = models.CharField(_("group"), max_length=100, blank=True)
    default_department = models.ForeignKey(
        "datahub.Department",
        verbose_name=_("default department"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return local_name(self)  # name_en in English mode, when set


class ServiceAttribute(models.Model):
    """An extra Open311 form field of a service (a service definition's attribute)."""

    class Datatype(models.TextChoices):
        STRING = "string", _("String")
        NUMBER = "number", _("Number")
        DATETIME = "datetime", _("Date and time")
        TEXT = "text", _("Text")
        SINGLE = "singlevaluelist", _("Single choice")
        MULTI = "multivaluelist", _("Multiple choice")

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="attributes")
    code = models.SlugField(_("code"), max_length=64)
    variable = models.BooleanField(_("needs input"), default=True)
    datatype = models.CharField(_("datatype"), max_length=20, choices=Datatype.choices, default=Datatype.STRING)
    required = models.BooleanField(_("required"), default=False)
    datatype_description = models.CharField(_("datatype description"), max_length=200, blank=True)
    order = models.PositiveIntegerField(_("order"), default=1)
    description = models.CharField(_("description"), max_length=300)
    values = models.JSONField(
        _("values"), default=list, blank=True, help_text=_("A list of options, each with a key and a name")
    )

    class Meta:
        verbose_name = _("service attribute")
        verbose_name_plural = _("service attributes")
        ordering = ["category", "order", "code"]
        constraints = [models.UniqueConstraint(fields=["category", "code"], name="service_attribute_unique")]

    def __str__(self) -> str:
        return f"{self.category.service_code}:{self.code}"


class ClassifierRule(models.Model):
    """The rulebook admins edit: any keyword in the text votes for the category with `weight`."""

    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="rules")
    keywords = models.TextField(_("keywords"), help_text=_("One per line or comma-separated; zh or en"))
    weight = models.FloatField(_("weight"), default=1.0)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("classifier rule")
        verbose_name_plural = _("classifier rules")
        ordering = ["category", "id"]

    def __str__(self) -> str:
        return f"{self.category}: {self.keywords[:40]}"

    def keyword_list(self) -> list[str]:
        raw = self.keywords.replace("，", ",").replace("\n", ",")
        return [k.strip().lower() for k in raw.split(",") if k.strip()]


class ClassifierModel(models.Model):
    """A trained text classifier (joblib-serialised scikit-learn pipeline); the newest active one is used."""

    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    trained_on = models.PositiveIntegerField(_("training cases"), default=0)
    accuracy = models.FloatField(_("hold-out accuracy"), null=True, blank=True)
    labels = models.JSONField(_("categories"), default=list)
    blob = models.BinaryField(_("model"))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("classifier model")
        verbose_name_plural = _("classifier models")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"#{self.pk} ({self.trained_on} cases)"
