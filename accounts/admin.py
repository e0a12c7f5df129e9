from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from hijack.views import AcquireUserView

from ami.admin import AuditHistoryMixin, ReadOnlyAdminMixin

from .impersonation import MAX_REASON_LENGTH, REASON_FIELD
from .models import (
    AccountDeletion,
    ImpersonationLog,
    NationalCell,
    NationalCellMembership,
    RegionalCell,
    RegionalCellMembership,
    User,
)
from .permissions import can_act_as


class ImpersonationLogInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ImpersonationLog
    fk_name = "hijacked"
    extra = 0
    fields = readonly_fields = ["started_at", "ended_at", "hijacker", "reason"]
    verbose_name_plural = "sessions « agir en tant que » sur ce compte"


class ActAsForm(forms.Form):
    reason = forms.CharField(
        label="Motif",
        max_length=MAX_REASON_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Par exemple : « demande d'aide par téléphone pour joindre une pièce ». La "
        "personne verra ce motif dans « Mon espace ».",
        error_messages={"required": "Indiquez pourquoi vous agissez en tant que cette personne."},
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
    inlines = [ImpersonationLogInline]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "first_name", "last_name", "password1", "password2"],
            },
        ),
    ]

    # --- Acting as the user to help them (django-hijack, accounts.impersonation) -------------

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    def get_urls(self):
        return [
            path(
                "<path:object_id>/agir-en-tant-que/",
                self.admin_site.admin_view(self.act_as_view),
                name="accounts_user_act_as",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        target = self.get_object(request, unquote(object_id))
        extra_context = {
            **(extra_context or {}),
            "can_act_as": target is not None and can_act_as(hijacker=request.user, hijacked=target),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def act_as_view(self, request, object_id):
        """Ask for the reason, then log in as the user (hijack's own view, which checks the
        permission again and locks the staff member's row); the session is logged by the
        ``hijack_started`` signal (accounts.impersonation)."""
        target = self.get_object(request, unquote(object_id))
        if target is None:
            raise Http404
        if not can_act_as(hijacker=request.user, hijacked=target):
            raise PermissionDenied
        form = ActAsForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = request.POST.copy()
            data["user_pk"] = str(target.pk)
            data[REASON_FIELD] = form.cleaned_data["reason"]
            data["next"] = reverse("dashboard")
            request.POST = data
            return AcquireUserView.as_view()(request)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Agir en tant que {target.email}",
            "subtitle": None,
            "opts": self.opts,
            "original": target,
            "form": form,
        }
        return TemplateResponse(request, "admin/accounts/user/act_as.html", context)


@admin.register(ImpersonationLog)
class ImpersonationLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every session of a staff member acting as a user: who, for whom, when, why."""

    list_display = ["started_at", "ended_at", "staff_member", "helped_user", "reason"]
    list_select_related = ["hijacker", "hijacked"]
    search_fields = ["hijacker__email", "hijacked__email", "reason"]
    date_hierarchy = "started_at"
    fields = ["hijacker", "hijacked", "reason", "started_at", "ended_at"]

    @admin.display(description="membre de l'équipe Coorace", ordering="hijacker__email")
    def staff_member(self, log):
        return log.hijacker.email

    @admin.display(description="utilisateur aidé", ordering="hijacked__email")
    def helped_user(self, log):
        return log.hijacked.email


class RegionalCellMembershipInline(admin.TabularInline):
    model = RegionalCellMembership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "added_at"]
    readonly_fields = ["added_at"]


@admin.register(RegionalCell)
class RegionalCellAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["region", "call"]
    list_filter = ["call", "region"]
    search_fields = ["region__name", "call__name", "memberships__user__email"]
    list_select_related = ["region", "call"]
    autocomplete_fields = ["call", "region"]
    inlines = [RegionalCellMembershipInline]


@admin.register(RegionalCellMembership)
class RegionalCellMembershipAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["user", "role", "cell", "added_at"]
    list_filter = ["role", "cell__call", "cell__region"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "cell__region__name"]
    list_select_related = ["user", "cell__region", "cell__call"]
    autocomplete_fields = ["cell", "user"]
    readonly_fields = ["added_at"]


class NationalCellMembershipInline(admin.TabularInline):
    model = NationalCellMembership
    extra = 1
    autocomplete_fields = ["user"]
    fields = ["user", "role", "added_at"]
    readonly_fields = ["added_at"]


@admin.register(NationalCell)
class NationalCellAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["call"]
    search_fields = ["call__name", "memberships__user__email"]
    list_select_related = ["call"]
    autocomplete_fields = ["call"]
    inlines = [NationalCellMembershipInline]


@admin.register(NationalCellMembership)
class NationalCellMembershipAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["user", "role", "cell", "added_at"]
    list_filter = ["role", "cell__call"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "cell__call__name"]
    list_select_related = ["user", "cell__call"]
    autocomplete_fields = ["cell", "user"]
    readonly_fields = ["added_at"]


@admin.register(AccountDeletion)
class AccountDeletionAdmin(admin.ModelAdmin):
    """The log of account deletions (« Mes données »): read only."""

    list_display = ["account_id", "at", "self_service", "actor"]
    list_filter = ["self_service"]
    list_select_related = ["actor"]
    fields = ["account", "at", "self_service", "actor", "summary"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
