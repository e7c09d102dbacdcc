"""NGSI-LD subscriptions (ETSI GS CIM 009 §5.8): who wants to hear of which entities' changes, and where."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class NgsiSubscription(models.Model):
    # urn:ngsi-ld:Subscription:<uuid>, or the id the client chose.
    sid = models.CharField(_("subscription id"), max_length=255, unique=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    description = models.CharField(_("description"), max_length=500, blank=True)
    # [{"type": "Device", "id": "urn:…" | absent, "idPattern": "regex" | absent}]
    entities = models.JSONField(_("entities"), default=list)
    watched_attributes = models.JSONField(_("watched attributes"), default=list, blank=True)
    q = models.CharField(_("query"), max_length=1000, blank=True)
    # {"attributes": [...], "format": "normalized"|"keyValues", "endpoint": {"uri": "...", "accept": "application/json"}}
    notification = models.JSONField(_("notification"), default=dict)
    is_active = models.BooleanField(_("active"), default=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    throttling = models.PositiveIntegerField(_("throttling (s)"), default=0)
    times_sent = models.PositiveIntegerField(_("notifications sent"), default=0)
    last_notification = models.DateTimeField(_("last notification"), null=True, blank=True)
    last_success = models.DateTimeField(_("last success"), null=True, blank=True)
    last_failure = models.DateTimeField(_("last failure"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("NGSI-LD subscription")
        verbose_name_plural = _("NGSI-LD subscriptions")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.sid
