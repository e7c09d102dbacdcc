"""The hotline's knowledge base: answers to common questions, so a call can be answered on the spot."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class KnowledgeArticle(models.Model):
    """A common question and its answer (办事指南, 政策问答). Hotline staff and admins edit them; the
    intake desk suggests them from the caller's words and counts each direct answer (直接答复)."""

    question = models.CharField(_("question"), max_length=300)
    question_en = models.CharField(_("question (English)"), max_length=300, blank=True)
    answer = models.TextField(_("answer"))
    answer_en = models.TextField(_("answer (English)"), blank=True)
    keywords = models.CharField(
        _("keywords"), max_length=500, blank=True, help_text=_("Comma-separated words callers use")
    )
    category = models.ForeignKey(
        "governance.Category", verbose_name=_("category"), null=True, blank=True, on_delete=models.SET_NULL
    )
    is_active = models.BooleanField(_("active"), default=True)
    times_used = models.PositiveIntegerField(_("times used"), default=0, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("knowledge base article")
        verbose_name_plural = _("knowledge base articles")
        ordering = ["-times_used", "id"]

    def __str__(self) -> str:
        return self.question

    def keyword_list(self) -> list[str]:
        return [k.strip() for k in self.keywords.replace("，", ",").split(",") if k.strip()]
