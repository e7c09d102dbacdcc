"""Who handles what: dispatch centres and rules (category x area -> department)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DispatchCentre(models.Model):
    """A department that receives and dispatches cases (the 12345 hotline centre): its members dispatch,
    verify, close and supervise."""

    department = models.OneToOneField("datahub.Department", on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = _("dispatch centre")
        verbose_name_plural = _("dispatch centres")
        ordering = ["department"]

    def __str__(self) -> str:
        return str(self.department)


class DispatchRule(models.Model):
    """Cases of `category` (or any of its sub-categories) in `area` (or inside it) go to `department`.

    Empty category or area means "any"; the most specific match wins (category depth first, then area
    depth), then the lower `order`.
    """

    category = models.ForeignKey(
        "governance.Category", verbose_name=_("category"), null=True, blank=True, on_delete=models.CASCADE
    )
    area = models.ForeignKey(
        "datahub.Area", verbose_name=_("area"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    department = models.ForeignKey(
        "datahub.Department", verbose_name=_("department"), on_delete=models.CASCADE, related_name="+"
    )
    order = models.PositiveIntegerField(_("order"), default=100)
    note = models.CharField(_("note"), max_length=200, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("dispatch rule")
        verbose_name_plural = _("dispatch rules")
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.category or '*'} × {self.area or '*'} → {self.department}"
