from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404
from django.template import TemplateDoesNotExist
from django.template.response import TemplateResponse
from django.urls import path

from . import calls, email_catalogue, outbox
from .models import (
    Call,
    CallPhaseChange,
    Commune,
    Criterion,
    Department,
    DocumentType,
    OutboxMessage,
    OutboxState,
    Qpv,
    Region,
    ReminderSent,
)


class CriterionInline(admin.TabularInline):
    model = Criterion
    extra = 0
    fields = [
        "order",
        "label",
        "guidance",
        "weight",
        "scale_min",
        "scale_max",
        "allows_not_applicable",
    ]


class DocumentTypeInline(admin.TabularInline):
    model = DocumentType
    extra = 0
    fields = ["order", "label", "description", "mandatory", "allowed_formats", "max_size_mb"]


class CallPhaseChangeInline(admin.TabularInline):
    model = CallPhaseChange
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "from_phase", "to_phase", "actor", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(admin.ModelAdmin):
    list_display = ["name", "year", "phase", "opens_at", "closes_at", "envelope"]
    list_filter = ["phase", "year"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["phase", "created_at", "updated_at"]
    inlines = [CriterionInline, DocumentTypeInline, CallPhaseChangeInline]
    actions = ["clone_for_next_year"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "year", "phase", "description", "eligibility_rules"]}),
        (
            "Calendrier (heure de Paris)",
            {
                "fields": [
                    "opens_at",
                    "closes_at",
                    "regional_review_deadline",
                    "national_review_deadline",
                ]
            },
        ),
        (
            "Financement et priorités",
            {
                "fields": [
                    "envelope",
                    "min_amount",
                    "max_amount",
                    "priority_rural",
                    "priority_qpv",
                    "other_priorities",
                ]
            },
        ),
        ("Évaluation", {"fields": ["reviews_per_candidature", "disagreement_threshold"]}),
        (
            "Données ouvertes des subventions (SCDL)",
            {
                "description": "Publiées avec la liste des lauréats, au format du schéma SCDL "
                "« subventions ».",
                "fields": [
                    "granting_body_name",
                    "granting_body_siret",
                    "subsidy_payment_terms",
                    "subsidy_payment_start",
                    "subsidy_payment_end",
                ],
            },
        ),
        ("Suivi", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.action(description="Dupliquer pour l'année suivante (grille et pièces comprises)")
    def clone_for_next_year(self, request, queryset):
        for call in queryset:
            clone = calls.clone_call(call, request.user)
            self.message_user(request, f"« {clone.name} » créé en brouillon.", messages.SUCCESS)


@admin.register(CallPhaseChange)
class CallPhaseChangeAdmin(admin.ModelAdmin):
    list_display = ["call", "from_phase", "to_phase", "actor", "at"]
    list_filter = ["call", "to_phase"]
    readonly_fields = ["call", "from_phase", "to_phase", "actor", "comment", "at"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department_count"]
    search_fields = ["code", "name"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(department_count=Count("departments"))

    @admin.display(description="départements", ordering="department_count")
    def department_count(self, obj):
        return obj.department_count


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "region"]
    list_filter = ["region"]
    search_fields = ["code", "name"]
    list_select_related = ["region"]


@admin.register(Commune)
class CommuneAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "department", "density"]
    list_filter = ["density", "department__region"]
    search_fields = ["code", "name"]
    list_select_related = ["department"]
    autocomplete_fields = ["department"]


@admin.register(Qpv)
class QpvAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name", "communes__name"]
    autocomplete_fields = ["communes"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "recipient",
        "subject",
        "event",
        "state",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "error_summary",
    ]
    list_filter = ["state", "event", "call"]
    search_fields = ["recipient", "subject"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "recipient",
        "subject",
        "body_text",
        "body_html",
        "event",
        "call",
        "related_type",
        "related_id",
        "state",
        "attempts",
        "last_error",
        "created_at",
        "sending_started_at",
        "next_attempt_at",
        "sent_at",
    ]
    actions = ["resend"]

    @admin.display(description="dernière erreur")
    def error_summary(self, obj):
        error = obj.last_error
        return error if len(error) <= 120 else error[:119] + "…"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Renvoyer les courriels en échec")
    def resend(self, request, queryset):
        count = sum(outbox.requeue(message, request.user) for message in queryset)
        skipped = queryset.count() - count
        self.message_user(request, f"{count} courriel(s) remis en file d'envoi.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} courriel(s) ignoré(s) : seuls les courriels en échec sont renvoyés.",
                messages.WARNING,
            )

    def changelist_view(self, request, extra_context=None):
        counts = dict(OutboxMessage.objects.values_list("state").annotate(n=Count("pk")).order_by())
        extra_context = {
            **(extra_context or {}),
            "subtitle": " · ".join(
                f"{label} : {counts.get(value, 0)}" for value, label in OutboxState.choices
            ),
        }
        return super().changelist_view(request, extra_context)

    # --- Catalogue of the platform's emails, with a preview of each (staff) ----------------------

    def get_urls(self):
        catalogue_urls = [
            path(
                "catalogue/",
                self.admin_site.admin_view(self.catalogue_view),
                name="ami_outboxmessage_catalogue",
            ),
            path(
                "catalogue/<str:event>/",
                self.admin_site.admin_view(self.catalogue_preview_view),
                name="ami_outboxmessage_catalogue_preview",
            ),
        ]
        return catalogue_urls + super().get_urls()

    def _catalogue_context(self, request, title):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": title,
        }

    def catalogue_view(self, request):
        context = self._catalogue_context(request, "Catalogue des courriels")
        context["entries"] = email_catalogue.CATALOGUE
        return TemplateResponse(request, "admin/ami/outboxmessage/catalogue.html", context)

    def catalogue_preview_view(self, request, event):
        try:
            entry = email_catalogue.get(event)
        except KeyError:
            raise Http404("Courriel inconnu.") from None
        context = self._catalogue_context(request, f"Aperçu du courriel « {entry.event} »")
        try:
            subject, text, html = email_catalogue.render_sample(entry)
            missing = ""
        except TemplateDoesNotExist as error:
            subject, text, html, missing = "", "", "", str(error)
        context.update(
            entry=entry,
            subject=subject,
            text=text,
            html=html,
            missing=missing,
            templates=email_catalogue.template_names(entry),
        )
        return TemplateResponse(request, "admin/ami/outboxmessage/catalogue_preview.html", context)


@admin.register(ReminderSent)
class ReminderSentAdmin(admin.ModelAdmin):
    list_display = ["sent_at", "kind", "milestone", "recipient", "related_type", "related_id"]
    list_filter = ["kind", "milestone"]
    search_fields = ["recipient__email"]
    list_select_related = ["recipient", "related_type"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
