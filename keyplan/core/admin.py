from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from keyplan.core.models import ApiToken, User


@admin.register(User)
class KeyplanUserAdmin(UserAdmin):
    list_display = ["username", "first_name", "last_name", "role", "kam_capacity", "is_active"]
    list_filter = ["role", "is_active"]
    fieldsets = UserAdmin.fieldsets + (("Keyplan", {"fields": ["role", "kam_capacity"]}),)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["hint", "user", "name", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["digest", "hint", "created_at", "last_used_at"]
