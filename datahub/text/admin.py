
from django.contrib import admin

from datahub.text.models import Document, DocumentArea, DocumentEntity, FeedState, TextModel, TopicRule


class DocumentAreaInline(admin.TabularInline):
    model = DocumentArea
    extra = 0
    raw_id_fields = ["area"]


class DocumentEntityInline(admin.TabularInline):
    model = DocumentEntity
    extra = 0
    raw_id_fields = ["entity"]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "source", "published_at", "language", "topic", "sentiment", "district", "cluster_id"]
    list_filter = ["language", "topic", "sentiment", "source"]
    search_fields = ["title", "url", "external_id"]
    date_hierarchy = "published_at"
    raw_id_fields = ["source", "run", "area", "district", "flagged_by"]
    readonly_fields = ["dedup_key", "simhash", "cluster_id", "fetched_at"]
    exclude = ["search_vector"]
    inlines = [DocumentAreaInline, DocumentEntityInline]


@admin.register(TopicRule)
class TopicRuleAdmin(admin.ModelAdmin):
    list_display = ["keyword", "topic", "weight", "is_active", "updated_at"]
    list_filter = ["topic", "is_active"]
    list_editable = ["weight", "is_active"]
    search_fields = ["keyword"]


@admin.register(TextModel)
class TextModelAdmin(admin.ModelAdmin):
    list_display = ["kind", "trained_at", "n_samples"]
    list_filter = ["kind"]
    readonly_fields = ["kind", "trained_at", "n_samples", "metrics"]


@admin.register(FeedState)
class FeedStateAdmin(admin.ModelAdmin):
    list_display = ["source", "last_fetched_at", "last_status_code", "consecutive_failures", "etag", "last_modified"]
    readonly_fields = [f.name for f in FeedState._meta.fields]
