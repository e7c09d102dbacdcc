from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.utils.translation import gettext_lazy as _

from .models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "display_name", "role", "department", "is_active", "is_staff"]
    list_filter = ["role", "department", "is_active", "is_staff"]
    search_fields = ["username", "display_name", "first_name", "last_name", "email"]
    autocomplete_fields = ["department"]
    fieldsets = BaseUserAdmin.fieldsets + (
        (_("City role"), {"fields": ("role", "department", "display_name", "phone")}),
    )
    add_fieldsets = BaseUserAdmin.add_fieldsets + ((_("City role"), {"fields": ("role", "department")}),)
