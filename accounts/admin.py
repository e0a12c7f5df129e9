from allauth.mfa.models import Authenticator
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from hijack.views import AcquireUserView

from ami.admin import AuditHistoryMixin, ReadOnlyAdminMixin
from ami.formats import plural
from ami.models import Call

from . import invitations
from .cells import notify_member_added
from .impersonation import MAX_REASON_LENGTH, REASON_FIELD
from .models import (
    AccountDeletion,
    CellInvitation,
    ImpersonationLog,
    NationalCell,
    NationalCellMembership,
    RegionalCell,
    RegionalCellMembership,
    SecondFactor,
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


# allauth registers its model with English labels; staff read it under French ones.
admin.site.unregister(Authenticator)


@admin.register(SecondFactor)
class SecondFactorAdmin(admin.ModelAdmin):
    """Read-only: a second factor is set up by its owner, on their own account pages."""

    list_display = ("person", "kind", "created", "last_used")
    list_filter = ("type",)
    search_fields = ("user__email",)
    fields = ("person", "kind", "created", "last_used")
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="personne", ordering="user__email")
    def person(self, authenticator):
        return authenticator.user.email

    @admin.display(description="type", ordering="type")
    def kind(self, authenticator):
        return authenticator.get_type_display()

    @admin.display(description="créé le", ordering="created_at")
    def created(self, authenticator):
        return authenticator.created_at

    @admin.display(description="dernière utilisation", ordering="last_used_at")
    def last_used(self, authenticator):
        return authenticator.last_used_at


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


class OpenInvitationInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The cell's invitations neither accepted nor revoked (re-send or revoke them from
    « Invitations dans les cellules »)."""

    model = CellInvitation
    extra = 0
    fields = readonly_fields = ["email", "role", "sent_at", "expires_at", "sent_count"]
    verbose_name_plural = "invitations en attente ou expirées"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(accepted_at=None, revoked_at=None)


class RegionalOpenInvitationInline(OpenInvitationInline):
    fk_name = "regional_cell"


class NationalOpenInvitationInline(OpenInvitationInline):
    fk_name = "national_cell"


@admin.register(RegionalCell)
class RegionalCellAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["region", "call"]
    list_filter = ["call", "region"]
    search_fields = ["region__name", "call__name", "memberships__user__email"]
    list_select_related = ["region", "call"]
    autocomplete_fields = ["call", "region"]
    inlines = [RegionalCellMembershipInline, RegionalOpenInvitationInline]

    def save_formset(self, request, form, formset, change):
        """A member added here gets the same email as from the cell's members screen."""
        super().save_formset(request, form, formset, change)
        for obj in getattr(formset, "new_objects", []):
            if isinstance(obj, RegionalCellMembership):
                notify_member_added(obj, request.user)


@admin.register(RegionalCellMembership)
class RegionalCellMembershipAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["user", "role", "cell", "added_at"]
    list_filter = ["role", "cell__call", "cell__region"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "cell__region__name"]
    list_select_related = ["user", "cell__region", "cell__call"]
    autocomplete_fields = ["cell", "user"]
    readonly_fields = ["added_at"]

    def save_model(self, request, obj, form, change):
        """A member added here gets the same email as from the cell's members screen."""
        super().save_model(request, obj, form, change)
        if not change:
            notify_member_added(obj, request.user)


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
    inlines = [NationalCellMembershipInline, NationalOpenInvitationInline]


@admin.register(NationalCellMembership)
class NationalCellMembershipAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["user", "role", "cell", "added_at"]
    list_filter = ["role", "cell__call"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "cell__call__name"]
    list_select_related = ["user", "cell__call"]
    autocomplete_fields = ["cell", "user"]
    readonly_fields = ["added_at"]


@admin.register(AccountDeletion)
class AccountDeletionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The log of account deletions (« Mes données »): read only."""

    list_display = ["account_id", "at", "self_service", "actor"]
    list_filter = ["self_service"]
    list_select_related = ["actor"]
    fields = ["account", "at", "self_service", "actor", "summary"]
    readonly_fields = fields


# --- Invitations in the cells (accounts.invitations) ------------------------------------------


class CellInvitationForm(forms.ModelForm):
    """One invitation, into a regional cell or the national cell: sent on saving."""

    class Meta:
        model = CellInvitation
        fields = ["regional_cell", "national_cell", "email", "role"]

    def clean(self):
        data = super().clean()
        regional, national = data.get("regional_cell"), data.get("national_cell")
        if bool(regional) == bool(national):
            raise ValidationError(
                "Choisissez soit une cellule régionale, soit une cellule nationale."
            )
        cell = regional or national
        role = data.get("role")
        if role and role not in invitations.roles_of(cell).values:
            labels = " ou ".join(str(label) for label in invitations.roles_of(cell).labels)
            self.add_error("role", f"Pour cette cellule, le rôle est : {labels}.")
        email = data.get("email")
        if email and invitations.is_member(cell, email.strip().lower()):
            self.add_error("email", f"{email} fait déjà partie de cette cellule.")
        return data


class InvitationCallFilter(admin.SimpleListFilter):
    title = "appel"
    parameter_name = "appel"

    def lookups(self, request, model_admin):
        return [(call.pk, call.name) for call in Call.objects.order_by("-year", "name")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(
                Q(regional_cell__call=self.value()) | Q(national_cell__call=self.value())
            )
        return queryset


class InvitationStateFilter(admin.SimpleListFilter):
    title = "état"
    parameter_name = "etat"

    def lookups(self, request, model_admin):
        return [
            ("pending", "en attente"),
            ("expired", "expirée"),
            ("accepted", "acceptée"),
            ("revoked", "révoquée"),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        open_ = Q(accepted_at=None, revoked_at=None)
        return {
            "pending": queryset.filter(open_, expires_at__gt=now),
            "expired": queryset.filter(open_, expires_at__lte=now),
            "accepted": queryset.filter(accepted_at__isnull=False, revoked_at=None),
            "revoked": queryset.filter(revoked_at__isnull=False),
        }.get(self.value(), queryset)


class BulkInvitationForm(forms.Form):
    call = forms.ModelChoiceField(
        label="Appel", queryset=Call.objects.order_by("-year", "name"), empty_label=None
    )
    text = forms.CharField(
        label="Liste collée",
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "cols": 80}),
        help_text="Une ligne par personne : région ; rôle ; email. Région : code INSEE ou nom, "
        "vide pour la cellule nationale. Rôle : coordinateur, évaluateur (cellules "
        "régionales), membre, administrateur (cellule nationale).",
    )
    file = forms.FileField(
        label="ou fichier CSV",
        required=False,
        help_text="Colonnes région, rôle, email (séparateur virgule ou point-virgule), avec ou "
        "sans ligne d'en-tête ; UTF-8 ou Windows-1252.",
    )

    MAX_BYTES = 1_000_000

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise ValidationError("Le fichier dépasse 1 Mo.")
            raw = upload.read()
            try:
                data["text"] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                data["text"] = raw.decode("cp1252", errors="replace")
        if not (data.get("text") or "").strip():
            raise ValidationError("Collez une liste ou choisissez un fichier CSV.")
        return data


@admin.register(CellInvitation)
class CellInvitationAdmin(AuditHistoryMixin, admin.ModelAdmin):
    form = CellInvitationForm
    list_display = ["email", "cell_label", "role", "state_label", "sent_at", "expires_at"]
    list_filter = [InvitationCallFilter, InvitationStateFilter, "role"]
    search_fields = ["email"]
    list_select_related = [
        "regional_cell__region",
        "regional_cell__call",
        "national_cell__call",
    ]
    autocomplete_fields = ["regional_cell", "national_cell"]
    actions = ["resend_invitations", "revoke_invitations"]
    readonly_fields = [
        "invited_by",
        "sent_at",
        "sent_count",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
        "revoked_by",
    ]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:  # sent: re-send or revoke it, never edit it
            return ["regional_cell", "national_cell", "email", "role", *self.readonly_fields]
        return []

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["regional_cell", "national_cell", "email", "role"]
        return super().get_fields(request, obj)

    @admin.display(description="cellule")
    def cell_label(self, invitation):
        if invitation.regional_cell_id:
            cell = invitation.regional_cell
            return f"CRA {cell.region.name} – {cell.call.name}"
        return f"CNA – {invitation.national_cell.call.name}"

    @admin.display(description="état")
    def state_label(self, invitation):
        return invitation.get_state_display()

    def save_model(self, request, obj, form, change):
        """Adding sends the invitation (``accounts.invitations.invite``)."""
        if change:
            return
        invitation = invitations.invite(obj.cell, obj.email, obj.role, request.user)
        obj.pk = invitation.pk
        obj._state.adding = False
        obj.refresh_from_db()

    def _each(self, request, queryset, function, done: str):
        count = 0
        for invitation in queryset:
            try:
                function(invitation, request.user)
                count += 1
            except (ValidationError, PermissionDenied) as error:
                text = " ".join(getattr(error, "messages", [str(error)]))
                self.message_user(request, text, messages.WARNING)
        if count:
            self.message_user(request, f"{plural(count, *done)}.", messages.SUCCESS)

    @admin.action(description="Renvoyer les invitations (nouvelle date d'expiration)")
    def resend_invitations(self, request, queryset):
        done = ("invitation renvoyée", "invitations renvoyées")
        self._each(request, queryset, invitations.resend, done)

    @admin.action(description="Révoquer les invitations")
    def revoke_invitations(self, request, queryset):
        done = ("invitation révoquée", "invitations révoquées")
        self._each(request, queryset, invitations.revoke, done)

    # --- Bulk: paste a list or upload a CSV, check the report, confirm ------------------------

    def get_urls(self):
        return [
            path(
                "en-nombre/",
                self.admin_site.admin_view(self.bulk_view),
                name="accounts_cellinvitation_bulk",
            ),
            *super().get_urls(),
        ]

    def bulk_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        plan = None
        form = BulkInvitationForm(
            request.POST if request.method == "POST" else None,
            request.FILES if request.method == "POST" else None,
        )
        if request.method == "POST" and form.is_valid():
            call, text = form.cleaned_data["call"], form.cleaned_data["text"]
            plan = invitations.plan_bulk(call, text, request.user)
            if request.POST.get("confirm") == "yes":
                with transaction.atomic():
                    sent = invitations.apply_bulk(plan, request.user)
                self.message_user(
                    request,
                    f"{plural(len(sent), 'invitation envoyée', 'invitations envoyées')} "
                    f"pour « {call.name} » ; "
                    f"{plural(len(plan.refused), 'ligne écartée', 'lignes écartées')}.",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:accounts_cellinvitation_changelist") + f"?appel={call.pk}"
                )
            form = BulkInvitationForm(initial={"call": call, "text": text})
        context = {
            **self.admin_site.each_context(request),
            "title": "Inviter en nombre dans les cellules d'un appel",
            "opts": self.opts,
            "form": form,
            "plan": plan,
        }
        return TemplateResponse(request, "admin/accounts/cellinvitation/bulk.html", context)
