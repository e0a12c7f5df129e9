from django.contrib import admin

from .models import Candidature, Ptce, PtceMembership


class PtceMembershipInline(admin.TabularInline):
    model = PtceMembership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Ptce)
class PtceAdmin(admin.ModelAdmin):
    list_display = ["name", "siret", "region", "created_at"]
    list_filter = ["region"]
    search_fields = ["name", "siret"]
    list_select_related = ["region"]
    inlines = [PtceMembershipInline]


@admin.register(Candidature)
class CandidatureAdmin(admin.ModelAdmin):
    list_display = ["ptce", "call", "region", "state", "requested_amount", "submitted_at"]
    list_filter = ["call", "state", "region"]
    search_fields = ["ptce__name", "title"]
    list_select_related = ["ptce", "call", "region"]
    readonly_fields = ["state", "created_at", "submitted_at"]
