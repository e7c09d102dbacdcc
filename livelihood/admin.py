from django.contrib import admin
from django.contrib.gis.admin import GISModelAdmin

from . import models as m


class ExceptionInline(admin.TabularInline):
    model = m.FacilityHoursException
    extra = 0


@admin.register(m.Facility)
class FacilityAdmin(GISModelAdmin):
    list_display = ["name", "type", "address", "area", "is_active"]
    list_filter = ["type", "is_active"]
    search_fields = ["name", "name_en", "address", "key"]
    raw_id_fields = ["entity", "area", "department"]
    inlines = [ExceptionInline]


@admin.register(m.FacilityHoursException)
class FacilityHoursExceptionAdmin(admin.ModelAdmin):
    list_display = ["facility", "date", "closed", "opens", "closes", "note"]
    raw_id_fields = ["facility"]


class VersionInline(admin.TabularInline):
    model = m.ServiceVersion
    extra = 0
    readonly_fields = ["version", "note", "created_at", "created_by"]
    exclude = ["data"]


@admin.register(m.Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department", "audience", "mode", "status", "version", "popularity"]
    list_filter = ["status", "audience", "mode", "bookable"]
    search_fields = ["code", "name", "name_en"]
    readonly_fields = ["version", "published_at", "popularity"]
    inlines = [VersionInline]


@admin.register(m.ServiceVersion)
class ServiceVersionAdmin(admin.ModelAdmin):
    list_display = ["service", "version", "created_at", "created_by", "note"]
    raw_id_fields = ["service"]


class LifeEventServiceInline(admin.TabularInline):
    model = m.LifeEventService
    extra = 0
    raw_id_fields = ["service"]


@admin.register(m.LifeEvent)
class LifeEventAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "status", "order"]
    inlines = [LifeEventServiceInline]


@admin.register(m.LifeEventService)
class LifeEventServiceAdmin(admin.ModelAdmin):
    list_display = ["life_event", "service", "order"]


class TemplateInline(admin.TabularInline):
    model = m.SlotTemplate
    extra = 0


@admin.register(m.Office)
class OfficeAdmin(GISModelAdmin):
    list_display = ["code", "name", "department", "is_active"]
    filter_horizontal = ["services"]
    inlines = [TemplateInline]
    raw_id_fields = ["area"]


@admin.register(m.SlotTemplate)
class SlotTemplateAdmin(admin.ModelAdmin):
    list_display = ["office", "service", "weekday", "start", "end", "slot_minutes", "capacity"]


@admin.register(m.Holiday)
class HolidayAdmin(admin.ModelAdmin):
    list_display = ["date", "name", "office", "from_calendar"]
    list_filter = ["from_calendar"]


@admin.register(m.Slot)
class SlotAdmin(admin.ModelAdmin):
    list_display = ["office", "service", "starts_at", "capacity", "booked"]
    list_filter = ["office"]
    date_hierarchy = "starts_at"
    readonly_fields = ["booked"]  # only bookings change it, through the conditional update


@admin.register(m.Appointment)
class AppointmentAdmin(admin.ModelAdmin):
    list_display = ["code", "office", "service", "status", "queue_number", "created_at"]
    list_filter = ["status", "cancel_reason", "office"]
    search_fields = ["code", "name", "phone", "email"]
    raw_id_fields = ["slot", "citizen"]
    readonly_fields = ["token"]


@admin.register(m.Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = ["title", "department", "status", "publish_at", "expires_at", "pinned"]
    list_filter = ["status", "pinned"]
    search_fields = ["title", "title_en"]
    filter_horizontal = ["areas"]


@admin.register(m.NoticeSubscription)
class NoticeSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["email", "area", "last_sent_at", "created_at"]
    search_fields = ["email"]


@admin.register(m.Report)
class ReportAdmin(GISModelAdmin):
    list_display = ["number", "category", "status", "case_number", "area", "created_at"]
    list_filter = ["category", "status"]
    search_fields = ["number", "case_number"]
    readonly_fields = ["token", "history", "case_id", "case_number"]
    raw_id_fields = ["citizen", "area", "department"]


@admin.register(m.Rating)
class RatingAdmin(admin.ModelAdmin):
    list_display = ["target", "score", "department", "service", "created_at", "rectification_number", "replied_at"]
    list_filter = ["target", "score"]
    raw_id_fields = ["service", "appointment", "report", "citizen", "replied_by", "area"]
