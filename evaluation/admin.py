"""Admin of the regional and national review. What the cells write (reviews, opinions, analyses,
deliberation, decisions) is read here, with its history, and changed only by the cells' screens
or by an action that calls the same domain function (reopen a review); the records kept as
written (overrides, decisions, hand-overs) cannot be deleted."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.response import TemplateResponse

from ami.admin import AuditHistoryMixin, ReadOnlyAdminMixin
from ami.formats import plural
from ami.identifiers import normalize_siret, validate_siret
from ami.models import Region
from candidatures.models import Candidature

from .admission import move_region
from .models import (
    AdmissibilityCheck,
    Assignment,
    ConflictOfInterest,
    Decision,
    Deliberation,
    DeliberationLine,
    DeliberationOverride,
    NationalReview,
    RegionalOpinion,
    RegionExport,
    RegionHandover,
    Review,
    ReviewScore,
    ReviewState,
    ScenarioLine,
    SelectionScenario,
)
from .reviews import reopen_review

CANDIDATURE = ["candidature__ptce", "candidature__call"]
CANDIDATURE_SEARCH = ["candidature__ptce__name", "candidature__receipt_number"]


# --- Regional review --------------------------------------------------------------------------


@admin.register(AdmissibilityCheck)
class AdmissibilityCheckAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["candidature", "checked_by", "checked_at"]
    list_filter = ["candidature__call", "candidature__region"]
    search_fields = CANDIDATURE_SEARCH
    list_select_related = [*CANDIDATURE, "checked_by"]
    date_hierarchy = "checked_at"


@admin.register(ConflictOfInterest)
class ConflictOfInterestAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["evaluator", "candidature", "source", "status", "declared_at", "settled_by"]
    list_filter = ["status", "source", "candidature__call", "candidature__region"]
    search_fields = [*CANDIDATURE_SEARCH, "evaluator__email", "reason"]
    list_select_related = [*CANDIDATURE, "evaluator", "settled_by"]
    autocomplete_fields = ["candidature", "evaluator", "settled_by"]
    readonly_fields = ["source", "declared_at", "settled_by", "settled_at"]


@admin.register(Assignment)
class AssignmentAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["evaluator", "candidature", "assigned_by", "assigned_at"]
    list_filter = ["candidature__call", "candidature__region"]
    search_fields = [*CANDIDATURE_SEARCH, "evaluator__email"]
    list_select_related = [*CANDIDATURE, "evaluator", "assigned_by"]
    autocomplete_fields = ["candidature", "evaluator"]
    readonly_fields = ["assigned_by", "assigned_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.assigned_by = request.user
        super().save_model(request, obj, form, change)


class ReviewScoreInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ReviewScore
    extra = 0
    fields = readonly_fields = ["criterion", "score", "not_applicable", "comment"]


class ReopenForm(forms.Form):
    message = forms.CharField(
        label="Message à l'évaluateur",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Joint au courriel qui prévient l'évaluateur (facultatif).",
    )


@admin.register(Review)
class ReviewAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["evaluator", "candidature", "state", "opinion", "total", "submitted_at"]
    list_filter = ["state", "opinion", "candidature__call", "candidature__region"]
    search_fields = [*CANDIDATURE_SEARCH, "evaluator__email"]
    list_select_related = [*CANDIDATURE, "evaluator"]
    date_hierarchy = "submitted_at"
    inlines = [ReviewScoreInline]
    actions = ["reopen"]

    def has_reopen_permission(self, request):
        return request.user.has_perm("evaluation.change_review")

    @admin.action(description="Rouvrir les évaluations rendues", permissions=["reopen"])
    def reopen(self, request, queryset):
        """Send submitted reviews back to their evaluator, as a coordinator of the cell would
        (``evaluation.reviews.reopen_review``: same checks, same email)."""
        form = ReopenForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            reopened = 0
            for review in queryset.select_related("candidature__call", "evaluator"):
                if review.state != ReviewState.SUBMITTED:
                    self.message_user(
                        request, f"{review} : elle n'est pas rendue.", messages.WARNING
                    )
                    continue
                try:
                    reopen_review(review, request.user, form.cleaned_data["message"])
                except (PermissionDenied, ValidationError) as error:
                    text = " ".join(getattr(error, "messages", None) or [str(error)])
                    self.message_user(request, f"{review} : {text}", messages.ERROR)
                else:
                    reopened += 1
            if reopened:
                self.message_user(
                    request,
                    plural(reopened, "évaluation rouverte", "évaluations rouvertes") + ".",
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Rouvrir des évaluations",
            "subtitle": None,
            "opts": self.opts,
            "queryset": queryset.select_related("candidature__ptce", "evaluator"),
            "form": form,
            "action": "reopen",
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/evaluation/review/reopen.html", context)


@admin.register(ReviewScore)
class ReviewScoreAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["review", "criterion", "score", "not_applicable"]
    list_filter = ["not_applicable", "review__candidature__call"]
    search_fields = ["review__candidature__ptce__name", "review__evaluator__email"]
    list_select_related = [
        "review__candidature__ptce",
        "review__candidature__call",
        "review__evaluator",
        "criterion",
    ]


@admin.register(RegionalOpinion)
class RegionalOpinionAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["candidature", "opinion", "consolidated_score", "rank", "written_by"]
    list_filter = ["opinion", "candidature__call", "candidature__region"]
    search_fields = [*CANDIDATURE_SEARCH, "motivation"]
    list_select_related = [*CANDIDATURE, "written_by"]


@admin.register(RegionHandover)
class RegionHandoverAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["cell", "handed_over_by", "handed_over_at"]
    list_filter = ["cell__call", "cell__region"]
    search_fields = ["cell__region__name", "cell__call__name"]
    list_select_related = ["cell__region", "cell__call", "handed_over_by"]
    date_hierarchy = "handed_over_at"


@admin.register(RegionExport)
class RegionExportAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """The regions' ZIP exports, for support: who asked, when, how far; the file itself is the
    coordinators' (downloaded from their export page only)."""

    list_display = ["cell", "created_by", "created_at", "status", "done", "total", "expires_at"]
    list_filter = ["status", "cell__call", "cell__region"]
    search_fields = ["cell__region__name", "cell__call__name", "created_by__email"]
    list_select_related = ["cell__region", "cell__call", "created_by"]
    exclude = ["file"]
    date_hierarchy = "created_at"


# --- National review, selection, deliberation, decisions -------------------------------------


@admin.register(NationalReview)
class NationalReviewAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["reviewer", "candidature", "opinion", "score", "updated_at"]
    list_filter = ["opinion", "candidature__call"]
    search_fields = [*CANDIDATURE_SEARCH, "reviewer__email", "comment"]
    list_select_related = [*CANDIDATURE, "reviewer"]


class ScenarioLineInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ScenarioLine
    extra = 0
    fields = readonly_fields = ["rank", "candidature", "selected", "amount", "score"]


@admin.register(SelectionScenario)
class SelectionScenarioAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["name", "call", "feasible", "total_score", "total_granted", "created_by"]
    list_filter = ["call", "feasible"]
    search_fields = ["name", "call__name"]
    list_select_related = ["call", "created_by"]
    inlines = [ScenarioLineInline]


@admin.register(ScenarioLine)
class ScenarioLineAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["scenario", "rank", "candidature", "selected", "amount", "score"]
    list_filter = ["selected", "scenario__call"]
    search_fields = ["scenario__name", *CANDIDATURE_SEARCH]
    list_select_related = ["scenario", *CANDIDATURE]


@admin.register(Deliberation)
class DeliberationAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["call", "held_on", "created_by", "fixed_at", "fixed_by"]
    list_filter = ["call"]
    search_fields = ["call__name", "notes"]
    list_select_related = ["call", "created_by", "fixed_by"]


@admin.register(DeliberationLine)
class DeliberationLineAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "candidature",
        "deliberation",
        "proposed_selected",
        "selected",
        "amount",
        "updated_by",
    ]
    list_filter = ["selected", "proposed_selected", "deliberation__call"]
    search_fields = [*CANDIDATURE_SEARCH, "justification"]
    list_select_related = [*CANDIDATURE, "deliberation__call", "updated_by"]


@admin.register(DeliberationOverride)
class DeliberationOverrideAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "line", "actor", "selected", "amount", "justification"]
    list_filter = ["selected", "line__deliberation__call"]
    search_fields = ["line__candidature__ptce__name", "actor__email", "justification"]
    list_select_related = [
        "line__deliberation__call",
        "line__candidature__ptce",
        "line__candidature__call",
        "actor",
    ]
    date_hierarchy = "at"


class DecisionBeneficiaryForm(forms.ModelForm):
    def clean_beneficiary_siret(self):
        siret = normalize_siret(self.cleaned_data.get("beneficiary_siret", ""))
        if siret:
            validate_siret(siret)
        return siret


@admin.register(Decision)
class DecisionAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Decisions are written by the CNA (deliberation, publication) and never deleted."""

    list_display = [
        "candidature",
        "outcome",
        "granted_amount",
        "published_at",
        "updated_by",
        "published_by",
    ]
    list_filter = ["outcome", "deliberation__call", "candidature__region"]
    search_fields = [*CANDIDATURE_SEARCH, "motivation"]
    list_select_related = [*CANDIDATURE, "updated_by", "published_by"]
    date_hierarchy = "published_at"
    # The one correction staff may make: the published beneficiary of a grant (the public record
    # of the laureates page and the SCDL file), e.g. a SIRET that was wrong. Logged by the audit.
    form = DecisionBeneficiaryForm
    correctable_fields = ("beneficiary_name", "beneficiary_siret")

    def has_change_permission(self, request, obj=None):
        return (
            obj is not None
            and obj.is_published
            and request.user.has_perm("evaluation.change_decision")
        )

    def get_readonly_fields(self, request, obj=None):
        return [
            f.name
            for f in self.model._meta.fields
            if f.name not in self.correctable_fields or not self.has_change_permission(request, obj)
        ]


# --- The candidature's admin, from the review app -------------------------------------------------


class MoveRegionForm(forms.Form):
    region = forms.ModelChoiceField(
        label="Nouvelle région d'instruction",
        queryset=Region.objects.order_by("name"),
        error_messages={"required": "Choisissez la région de destination."},
    )
    reason = forms.CharField(
        label="Motif",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Gardé avec le changement et envoyé aux coordinateurs des deux régions.",
        error_messages={"required": "Indiquez le motif du changement de région."},
    )


@admin.action(description="Changer de région d'instruction (avec un motif)", permissions=["change"])
def move_to_region(modeladmin, request, queryset):
    """Ask for the region and the reason, then move each selected candidature as a CNA
    administrator would (``evaluation.admission.move_region``: same checks, same log, same
    emails to the coordinators)."""
    form = MoveRegionForm(request.POST if "apply" in request.POST else None)
    if form.is_valid():
        moved = 0
        for candidature in queryset.select_related("ptce", "call", "region"):
            try:
                move_region(
                    candidature,
                    form.cleaned_data["region"],
                    request.user,
                    form.cleaned_data["reason"],
                )
            except (ValidationError, PermissionDenied) as error:
                text = " ".join(getattr(error, "messages", None) or [str(error)])
                modeladmin.message_user(request, f"{candidature} : {text}", messages.ERROR)
            else:
                moved += 1
        if moved:
            modeladmin.message_user(
                request,
                plural(moved, "candidature déplacée", "candidatures déplacées")
                + f" vers {form.cleaned_data['region'].name}.",
                messages.SUCCESS,
            )
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": "Changer de région d'instruction",
        "subtitle": None,
        "opts": modeladmin.opts,
        "queryset": queryset.select_related("ptce", "call", "region"),
        "form": form,
        "action": "move_to_region",
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/candidatures/candidature/move_region.html", context)


# The candidature's admin (a lower app) gets its « changer de région » action from here.
_candidature_admin = admin.site.get_model_admin(Candidature)
_candidature_admin.actions = [*_candidature_admin.actions, move_to_region]
