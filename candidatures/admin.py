from django.contrib import admin
from django.db import models
from django.urls import reverse
from django.utils.html import format_html

from .models import (
    Candidature,
    CandidatureEvent,
    CofinancingLine,
    Document,
    Ptce,
    PtceInvitation,
    PtceMember,
    PtceMembership,
)


class PtceMembershipInline(admin.TabularInline):
    model = PtceMembership
    extra = 0
    autocomplete_fields = ["user"]


class PtceMemberInline(admin.TabularInline):
    model = PtceMember
    extra = 0
    fields = ["name", "siret", "category"]


class PtceInvitationInline(admin.TabularInline):
    model = PtceInvitation
    extra = 0
    fields = ["email", "invited_by", "created_at", "expires_at", "accepted_at", "accepted_by"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Ptce)
class PtceAdmin(admin.ModelAdmin):
    list_display = ["name", "siret", "region", "seat_commune", "created_at"]
    list_filter = ["region"]
    search_fields = ["name", "siret", "members__name", "memberships__user__email"]
    list_select_related = ["region", "seat_commune"]
    autocomplete_fields = ["seat_commune", "territory_communes"]
    readonly_fields = ["region", "created_by", "created_at", "updated_at"]
    inlines = [PtceMemberInline, PtceMembershipInline, PtceInvitationInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class CofinancingLineInline(admin.TabularInline):
    model = CofinancingLine
    extra = 0


class DocumentInline(admin.TabularInline):
    model = Document
    extra = 0
    can_delete = False
    fields = ["document_type", "download", "size", "content_type", "sha256", "uploaded_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="fichier")
    def download(self, document):
        url = reverse("document_download", args=[document.candidature_id, document.pk])
        return format_html('<a href="{}">{}</a>', url, document.original_name)


class CandidatureEventInline(admin.TabularInline):
    model = CandidatureEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "from_state", "to_state", "actor", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Candidature)
class CandidatureAdmin(admin.ModelAdmin):
    list_display = ["ptce", "call", "region", "state", "requested_amount", "submitted_at"]
    list_filter = ["call", "state", "region"]
    search_fields = ["ptce__name", "title", "receipt_number"]
    list_select_related = ["ptce", "call", "region"]
    readonly_fields = [
        "state", "receipt_number", "created_at", "updated_at", "submitted_at", "cloned_from",
        "current_step",
    ]  # fmt: skip
    exclude = ["snapshot"]
    inlines = [CofinancingLineInline, DocumentInline, CandidatureEventInline]


@admin.register(CandidatureEvent)
class CandidatureEventAdmin(admin.ModelAdmin):
    list_display = ["at", "candidature", "from_state", "to_state", "actor"]
    list_filter = ["to_state", "candidature__call"]
    search_fields = ["candidature__ptce__name", "actor__email"]
    list_select_related = ["candidature__ptce", "candidature__call", "actor"]
    readonly_fields = ["candidature", "at", "from_state", "to_state", "actor", "comment"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
