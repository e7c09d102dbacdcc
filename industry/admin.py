from django.contrib.gis import admin

from industry.models import (
    Appeal,
    AppealHistory,
    ChainLink,
    Criterion,
    Enterprise,
    EnterpriseHistory,
    EnterpriseMember,
    Grant,
    ImportJob,
    Indicator,
    IndustryCode,
    Licence,
    Match,
    Notice,
    Park,
    Policy,
    RiskSignal,
    Tag,
)


@admin.register(IndustryCode)
class IndustryCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "level", "name", "name_en", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]


class LicenceInline(admin.TabularInline):
    model = Licence
    extra = 0


class MemberInline(admin.TabularInline):
    model = EnterpriseMember
    extra = 0
    raw_id_fields = ["user"]


@admin.register(Enterprise)
class EnterpriseAdmin(admin.GISModelAdmin):
    list_display = ["name", "uscc", "status", "industry_code", "size", "park", "risk_level", "department"]
    list_filter = ["status", "size", "risk_level", "located", "park"]
    search_fields = ["name", "name_en", "uscc", "address"]
    raw_id_fields = ["entity", "area", "industry"]
    filter_horizontal = ["tags"]
    readonly_fields = ["risk_score", "risk_level", "risk_computed_at", "created_at", "updated_at"]
    inlines = [LicenceInline, MemberInline]
    list_select_related = ["park", "department"]


@admin.register(Licence)
class LicenceAdmin(admin.ModelAdmin):
    list_display = ["enterprise", "type", "number", "valid_from", "valid_to"]
    search_fields = ["type", "number", "enterprise__name"]
    raw_id_fields = ["enterprise"]


@admin.register(EnterpriseMember)
class EnterpriseMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "enterprise", "created_at"]
    raw_id_fields = ["user", "enterprise"]


@admin.register(EnterpriseHistory)
class EnterpriseHistoryAdmin(admin.ModelAdmin):
    list_display = ["enterprise", "action", "actor", "created_at"]
    raw_id_fields = ["enterprise"]


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["enterprise", "title", "created_at", "read_at"]
    raw_id_fields = ["enterprise"]


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["kind", "name", "status", "created_at"]
    list_filter = ["kind", "status"]


@admin.register(Park)
class ParkAdmin(admin.GISModelAdmin):
    list_display = ["code", "name", "department", "land_mu", "capacity"]
    search_fields = ["code", "name", "name_en"]


@admin.register(Indicator)
class IndicatorAdmin(admin.ModelAdmin):
    list_display = ["enterprise", "metric", "period", "period_start", "value"]
    list_filter = ["metric", "period"]
    raw_id_fields = ["enterprise"]


@admin.register(ChainLink)
class ChainLinkAdmin(admin.ModelAdmin):
    list_display = ["chain", "upstream", "downstream"]
    list_filter = ["chain"]


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0
    raw_id_fields = ["area", "park"]


@admin.register(Policy)
class PolicyAdmin(admin.ModelAdmin):
    list_display = ["code", "title", "status", "automatic", "valid_from", "valid_to", "department"]
    list_filter = ["status", "automatic"]
    search_fields = ["code", "title", "title_en"]
    inlines = [CriterionInline]


@admin.register(Criterion)
class CriterionAdmin(admin.ModelAdmin):
    list_display = ["policy", "kind", "metric", "op", "number"]
    list_filter = ["kind"]


@admin.register(Match)
class MatchAdmin(admin.ModelAdmin):
    list_display = ["policy", "enterprise", "status", "computed_at"]
    list_filter = ["status"]
    raw_id_fields = ["policy", "enterprise"]


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["policy", "enterprise", "status", "origin", "amount", "decided_at"]
    list_filter = ["status", "origin"]
    raw_id_fields = ["policy", "enterprise", "decided_by"]


class AppealHistoryInline(admin.TabularInline):
    model = AppealHistory
    extra = 0
    readonly_fields = ["from_status", "to_status", "note", "actor", "created_at"]


@admin.register(Appeal)
class AppealAdmin(admin.ModelAdmin):
    list_display = ["title", "enterprise", "status", "tracking_number", "rating", "created_at"]
    list_filter = ["status"]
    search_fields = ["title", "tracking_number", "enterprise__name"]
    raw_id_fields = ["enterprise", "submitted_by"]
    inlines = [AppealHistoryInline]


@admin.register(AppealHistory)
class AppealHistoryAdmin(admin.ModelAdmin):
    list_display = ["appeal", "from_status", "to_status", "created_at"]
    raw_id_fields = ["appeal"]


@admin.register(RiskSignal)
class RiskSignalAdmin(admin.ModelAdmin):
    list_display = ["enterprise", "code", "weight", "computed_at"]
    list_filter = ["code"]
    raw_id_fields = ["enterprise"]
