from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class GridAssignment(models.Model):
    """A grid worker responsible for a grid (a datahub Area of level grid)."""

    grid = models.ForeignKey("datahub.Area", verbose_name=_("grid"), on_delete=models.CASCADE, related_name="+")
    worker = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("grid worker"), on_delete=models.CASCADE, related_name="grids"
    )
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("grid assignment")
        verbose_name_plural = _("grid assignments")
        ordering = ["grid", "worker"]
        constraints = [models.UniqueConstraint(fields=["grid", "worker"], name="grid_assignment_unique")]

    def __str__(self) -> str:
        return f"{self.grid} · {self.worker}"
