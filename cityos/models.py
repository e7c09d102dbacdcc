from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from .roles import CITY_WIDE_ROLES, Role


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
    def is_city_wide(self) -> bool:
        return self.is_superuser or self.role in CITY_WIDE_ROLES
