from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from .models import (
    NationalCell,
    NationalCellMembership,
    RegionalCell,
    RegionalCellMembership,
    User,
)


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "first_name", "last_name", "is_staff", "is_active", "date_joined"]
    list_filter = ["is_staff", "is_active", "is_superuser"]
    search_fields = ["email", "first_name", "last_name", "organisation", "organisation_siren"]
    readonly_fields = ["date_joined", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Identité", {"fields": ["first_name", "last_name"]}),
        ("Organisation", {"fields": ["organisation", "organisation_siren"]}),
        (
            "Droits",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Suivi", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "first_name", "last_name", "password1", "password2"],
            },
        ),
    ]


class RegionalCellMembershipInline(admin.TabularInline):
    model = RegionalCellMembership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "added_at"]
    readonly_fields = ["added_at"]


@admin.register(RegionalCell)
class RegionalCellAdmin(admin.ModelAdmin):
    list_display = ["region", "call"]
    list_filter = ["call", "region"]
    search_fields = ["region__name", "call__name", "memberships__user__email"]
    list_select_related = ["region", "call"]
    inlines = [RegionalCellMembershipInline]


class NationalCellMembershipInline(admin.TabularInline):
    model = NationalCellMembership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "added_at"]
    readonly_fields = ["added_at"]


@admin.register(NationalCell)
class NationalCellAdmin(admin.ModelAdmin):
    list_display = ["call"]
    search_fields = ["call__name", "memberships__user__email"]
    list_select_related = ["call"]
    inlines = [NationalCellMembershipInline]
