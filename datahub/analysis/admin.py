"""Admin for analysis: situations (read mostly), signal weights (tunable), briefings."""

from django.contrib import admin

from datahub.models import Briefing, SignalWeight, Situation


@admin.register(Situation)
class SituationAdmin(admin.ModelAdmin):
    list_display = ("id", "area", "window_start", "window_end", "severity", "score", "status")
    list_filter = ("status", "severity")
    search_fields = ("summary", "summary_en")
    readonly_fields = ("key", "evidence", "kinds", "detected_at", "verdict_by", "verdict_at")
    date_hierarchy = "window_start"


@admin.register(SignalWeight)
class SignalWeightAdmin(admin.ModelAdmin):
    list_display = ("kind", "weight", "confirmed", "dismissed")


@admin.register(Briefing)
class BriefingAdmin(admin.ModelAdmin):
    list_display = ("day", "status", "progress", "generated_at", "emailed_at")
    list_filter = ("status",)
    readonly_fields = ("content", "progress", "generated_at", "emailed_at", "error")
