from django.contrib import admin

from .models import SearchItem, SearchSynonym


@admin.register(SearchSynonym)
class SearchSynonymAdmin(admin.ModelAdmin):
    list_display = ("terms", "is_active")
    list_editable = ("is_active",)
    search_fields = ("terms",)


@admin.register(SearchItem)
class SearchItemAdmin(admin.ModelAdmin):
    """Read-only: the index is derived data (rebuild it with `manage.py search_reindex`)."""

    list_display = ("kind", "key", "title", "level", "department_id", "time")
    list_filter = ("kind", "level")
    search_fields = ("=key", "title")
    exclude = ("tsv",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
