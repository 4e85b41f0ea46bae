from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class MemberAdmin(UserAdmin):
    list_display = ["email", "display_name", "discord_handle", "is_staff", "date_joined"]
    search_fields = ["email", "display_name", "discord_handle", "username"]
    fieldsets = [
        *UserAdmin.fieldsets,
        ("Profile", {"fields": ["display_name", "discord_handle", "timezone", "credit_me"]}),
    ]
