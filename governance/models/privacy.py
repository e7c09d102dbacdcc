from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class PersonalDataAccess(models.Model):
    """An audit row: who unmasked a case's reporter (name, phone, e-mail), when and why.

    Written by governance.services.privacy.case_reporter_unmask, never edited; administrators read
    the log in Django admin and at GET /api/v1/governance/personal-data-access/.
    """

    case = models.ForeignKey("governance.Case", verbose_name=_("case"), on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    fields = models.JSONField(_("fields"), default=list)
    reason = models.CharField(_("reason"), max_length=300)
    channel = models.CharField(_("channel"), max_length=16, default="api", help_text=_("api or page"))
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("personal data access")
        verbose_name_plural = _("personal data accesses")
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["case", "at"], name="gov_pda_case_at")]

    def __str__(self) -> str:
        return f"{self.user} → {self.case_id} @ {self.at:%Y-%m-%d %H:%M}"
