"""Admin of the call, the territory and the outbox, and what every admin of the platform shares
(the « Historique » of audited models, the read-only event tables, the XLSX/CSV export of a
selection)."""

import csv
import logging
import re
from datetime import date, datetime
from decimal import Decimal
from io import BytesIO

import pghistory.models
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import label_for_field, lookup_field, unquote
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.db import models
from django.db.models import Count
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import format_html, strip_tags
from django.utils.text import capfirst

from ami.formats import plural

from . import audit, batches, calls, outbox
from .models import (
    Call,
    CallPhaseChange,
    Commune,
    Criterion,
    Department,
    DocumentType,
    OutboxBatch,
    OutboxMessage,
    OutboxState,
    Phase,
    Qpv,
    Question,
    Region,
    ReminderSent,
    Section,
)
from .spreadsheets import XLSX_CONTENT_TYPE, Sheet, safe_cell, write_xlsx

logger = logging.getLogger(__name__)


# --- Shared by every admin of the platform --------------------------------------------------------


class AuditHistoryMixin:
    """« Historique » of an audited model (``ami.audit``): who changed what and when, whatever
    made the change (screens, admin, commands, tasks), instead of the admin's own log."""

    audit_history_limit = 200

    def audit_history(self, obj) -> audit.History:
        return audit.history_of(obj, limit=self.audit_history_limit)

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": f"Historique : {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "module_name": str(capfirst(self.opts.verbose_name_plural)),
            "history": self.audit_history(obj),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/audit_history.html", context)


class ReadOnlyAdminMixin:
    """Records kept as they were written (logs, decisions, events): staff read them, filter,
    search and export them, never add, change or delete them here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class EventChangeList(ChangeList):
    """Names the actor of each event of the page in one query."""

    def get_results(self, request):
        super().get_results(request)
        ids = set()
        for event in self.result_list:
            context = event.pgh_context or {}
            ids.update(i for i in (context.get("user"), context.get("impersonator")) if i)
        user_model = apps.get_model(settings.AUTH_USER_MODEL)
        users = user_model.objects.in_bulk(ids) if ids else {}
        for event in self.result_list:
            context = event.pgh_context or {}
            event.audit_actor = users.get(context.get("user"))
            event.audit_impersonator = users.get(context.get("impersonator"))


class EventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only event table of an audited model (``<Model>History``)."""

    list_display = ["pgh_created_at", "action", "tracked_object", "actor"]
    list_filter = ["pgh_label"]
    search_fields = ["pgh_obj__exact"]
    search_help_text = "Numéro de l'objet suivi."
    date_hierarchy = "pgh_created_at"
    ordering = ["-pgh_id"]

    def get_changelist(self, request, **kwargs):
        return EventChangeList

    def get_fields(self, request, obj=None):
        # A stored file is reached only through its permission-checked view, never by its path.
        return [f.name for f in self.model._meta.fields if not isinstance(f, models.FileField)]

    @admin.display(description="action", ordering="pgh_label")
    def action(self, event):
        return audit.ACTION_LABELS.get(event.pgh_label, event.pgh_label)

    @admin.display(description="objet", ordering="pgh_obj_id")
    def tracked_object(self, event):
        tracked = event.pgh_tracked_model._meta
        try:
            url = reverse(
                f"admin:{tracked.app_label}_{tracked.model_name}_change", args=[event.pgh_obj_id]
            )
        except NoReverseMatch:
            return f"n° {event.pgh_obj_id}"
        return format_html('<a href="{}">{} n° {}</a>', url, tracked.verbose_name, event.pgh_obj_id)

    @admin.display(description="auteur")
    def actor(self, event):
        actor = getattr(event, "audit_actor", None)
        if actor is None:
            user_id = (event.pgh_context or {}).get("user")
            return f"utilisateur n° {user_id}" if user_id else "la plateforme"
        impersonator = getattr(event, "audit_impersonator", None)
        if impersonator is not None:
            return f"{actor.email} (par {impersonator.email}, équipe Coorace)"
        return actor.email


def _event_str(event) -> str:
    """An event's name in the admin (titles, breadcrumbs, checkboxes), in French rather than
    Django's « NationalCellHistory object (15) »: « historique : cellule nationale (CNA) n° 15 »."""
    return f"{event._meta.verbose_name} n° {event.pk}"


# Every audited model's event table, read-only (the one registration for all apps: found by
# reflection, so that no app imports a higher one).
for _model in apps.get_models():
    if issubclass(_model, pghistory.models.Event) and _model._meta.app_label in {
        "ami",
        "accounts",
        "candidatures",
        "evaluation",
    }:
        if _model.__str__ is models.Model.__str__:
            _model.__str__ = _event_str
        admin.site.register(_model, EventAdmin)


# Export of a selection (every changelist): the columns of the list, formulas neutralised.

_SHEET_TITLE_FORBIDDEN = re.compile(r"[\\/*?:\[\]]")


def _export_columns(modeladmin, request) -> list[str]:
    return [name for name in modeladmin.get_list_display(request) if name != "action_checkbox"]


def export_table(modeladmin, request, queryset) -> tuple[list[str], list[list]]:
    """The selected rows with the columns of the changelist, as raw values (text, numbers,
    dates, booleans): the admin's own way of reading each column (``lookup_field``)."""
    names = _export_columns(modeladmin, request)
    header = [strip_tags(str(label_for_field(n, modeladmin.model, modeladmin))) for n in names]
    rows = []
    for obj in queryset:
        row = []
        for name in names:
            try:
                field, _attr, value = lookup_field(name, obj, modeladmin)
            except ObjectDoesNotExist:
                field, value = None, None
            row.append(_raw(field, value))
        rows.append(row)
    return header, rows


def _raw(field, value):
    if value is not None and getattr(field, "flatchoices", None):
        return str(dict(field.flatchoices).get(value, value))
    if value is None or isinstance(value, bool | int | float | Decimal | date | datetime):
        return value
    return strip_tags(str(value))


def _export_name(modeladmin, extension: str) -> str:
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    return f"{modeladmin.opts.model_name}-{stamp}.{extension}"


def _log_export(request, modeladmin, count: int, kind: str) -> None:
    logger.info(
        "Staff user %s exported %s %s row(s) as %s",
        request.user.pk,
        count,
        modeladmin.opts.label,
        kind,
    )


@admin.action(description="Exporter la sélection (XLSX)")
def export_xlsx(modeladmin, request, queryset):
    # The one writer of workbooks is ami.spreadsheets (formulas neutralised by safe_cell).
    header, rows = export_table(modeladmin, request, queryset)
    title = _SHEET_TITLE_FORBIDDEN.sub(" ", str(capfirst(modeladmin.opts.verbose_name_plural)))
    output = BytesIO()
    write_xlsx(output, [Sheet(title[:31], header, rows)])
    _log_export(request, modeladmin, len(rows), "XLSX")
    response = HttpResponse(output.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{_export_name(modeladmin, "xlsx")}"'
    return response


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%d/%m/%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, Decimal | float):
        return str(value).replace(".", ",")
    return str(safe_cell(value))


@admin.action(description="Exporter la sélection (CSV)")
def export_csv(modeladmin, request, queryset):
    header, rows = export_table(modeladmin, request, queryset)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_export_name(modeladmin, "csv")}"'
    response.write("\ufeff")  # so that spreadsheets read UTF-8
    writer = csv.writer(response, delimiter=";")
    writer.writerow([_csv_value(label) for label in header])
    for row in rows:
        writer.writerow([_csv_value(value) for value in row])
    _log_export(request, modeladmin, len(rows), "CSV")
    return response


admin.site.add_action(export_xlsx)
admin.site.add_action(export_csv)


# --- The call ---------------------------------------------------------------------------------


def _is_frozen(call) -> bool:
    """Questionnaire, grid and documents are frozen once the call is past draft (DESIGN §4)."""
    return call is not None and call.phase != Phase.DRAFT


class FrozenInlineMixin:
    """An inline of the call's configuration: editable in draft, read-only afterwards (the
    database refuses the change anyway, ``ami.models.frozen_once_open``)."""

    def _call_of(self, obj):
        return getattr(obj, "call", obj)

    def has_add_permission(self, request, obj=None):
        return not _is_frozen(self._call_of(obj)) and super().has_add_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        return not _is_frozen(self._call_of(obj)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _is_frozen(self._call_of(obj)) and super().has_delete_permission(request, obj)


class FrozenAdminMixin:
    """The admin of one piece of a call's configuration: read-only once its call is open; the
    model's ``clean()`` refuses adding one to an open call with the reason."""

    def has_change_permission(self, request, obj=None):
        return not (obj and _is_frozen(obj.call)) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not (obj and _is_frozen(obj.call)) and super().has_delete_permission(request, obj)


def preview_link(call):
    if call is None or call.pk is None:
        return "—"
    return format_html(
        '<a href="{}" target="_blank" rel="noopener">Aperçu du formulaire tel que le porteur le '
        "verra</a>",
        reverse("questionnaire_preview", args=[call.pk]),
    )


class CriterionInline(FrozenInlineMixin, admin.TabularInline):
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


class DocumentTypeInline(FrozenInlineMixin, admin.TabularInline):
    model = DocumentType
    extra = 0
    fields = ["order", "label", "description", "mandatory", "allowed_formats", "max_size_mb"]


class SectionInline(FrozenInlineMixin, admin.TabularInline):
    model = Section
    extra = 0
    fields = ["order", "title", "slug", "kind", "question_count"]
    readonly_fields = ["question_count"]
    show_change_link = True
    verbose_name_plural = (
        "questionnaire : rubriques (les étapes du porteur ; les questions se saisissent sur la "
        "page de chaque rubrique, lien « Modifier »)"
    )

    @admin.display(description="questions")
    def question_count(self, section):
        return section.questions.count() if section.pk else 0


class CallPhaseChangeInline(admin.TabularInline):
    model = CallPhaseChange
    extra = 0
    can_delete = False
    fields = readonly_fields = ["at", "from_phase", "to_phase", "actor", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["name", "year", "phase", "opens_at", "closes_at", "envelope"]
    list_filter = ["phase", "year"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["phase", "created_at", "updated_at", "questionnaire_preview"]
    inlines = [SectionInline, CriterionInline, DocumentTypeInline, CallPhaseChangeInline]
    actions = ["clone_for_next_year"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "slug",
                    "year",
                    "phase",
                    "description",
                    "text_url",
                    "eligibility_rules",
                ]
            },
        ),
        (
            "Questionnaire, grille et pièces",
            {
                "description": "Modifiables tant que l'appel est en préparation ; figés dès "
                "son ouverture.",
                "fields": ["questionnaire_preview"],
            },
        ),
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
        (
            "Lettres de décision et notification d'attribution",
            {
                "description": "Repris dans les lettres (modèles par type de décision : "
                "« Modèles de lettres ») et dans la notification d'attribution des lauréats.",
                "fields": [
                    "grant_conditions",
                    "decision_contact",
                    "signatory_name",
                    "signatory_title",
                ],
            },
        ),
        ("Suivi", {"fields": ["created_at", "updated_at"]}),
    ]

    @admin.display(description="aperçu du questionnaire")
    def questionnaire_preview(self, call):
        return preview_link(call)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        call = self.get_object(request, unquote(object_id))
        if call is not None and _is_frozen(call) and request.method == "GET":
            self.message_user(
                request,
                f"L'appel est « {call.get_phase_display()} » : son questionnaire, sa grille "
                "d'évaluation et ses pièces demandées sont figés et ne peuvent plus être "
                "modifiés.",
                messages.WARNING,
            )
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(
        description="Dupliquer pour l'année suivante (grille, pièces, cellules et membres)",
        permissions=["add"],
    )
    def clone_for_next_year(self, request, queryset):
        """First an intermediate page: per edition, the members of its cells (every one kept
        by default) and what exists already; then, confirmed, one clone per edition."""
        queryset = queryset.order_by("-year", "name")
        if request.POST.get("confirm") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": "Préparer l'édition suivante",
                "editions": [
                    {
                        "call": call,
                        "next_name": calls.next_edition_name(call, call.year + 1),
                        "existing": calls.existing_next_edition(call),
                        "parts": [
                            {"part": part, "groups": _grouped(part.options(call))}
                            for part in calls.clone_parts()
                        ],
                    }
                    for call in queryset
                ],
                "action": "clone_for_next_year",
                "selected": [str(call.pk) for call in queryset],
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/ami/call/clone_confirm.html", context)
        for call in queryset:
            keep = {
                part.name: set(request.POST.getlist(f"keep-{call.pk}-{part.name}"))
                for part in calls.clone_parts()
            }
            try:
                result = calls.prepare_next_edition(call, request.user, keep=keep)
            except ValidationError as error:
                for text in error.messages:
                    self.message_user(request, text, messages.ERROR)
                continue
            done = ", ".join(f"{label} : {n}" for label, n in result.copied.items())
            verb = "créé en brouillon" if result.created else "existait déjà, complété"
            self.message_user(
                request,
                f"« {result.call.name} » {verb}" + (f" ({done})." if done else "."),
                messages.SUCCESS,
            )
        return None


def _grouped(options) -> list[tuple[str, list]]:
    groups: dict[str, list] = {}
    for option in options:
        groups.setdefault(option.group, []).append(option)
    return list(groups.items())


class QuestionInline(FrozenInlineMixin, admin.StackedInline):
    model = Question
    extra = 0
    fields = [
        ("order", "slug", "kind", "required"),
        "label",
        "help_text",
        ("max_length", "choices"),
    ]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.clean = _questions_clean
        return formset


def _questions_clean(formset):
    """Two questions of one slug in the same submission: refused, in French."""
    seen = {}
    for form in formset.forms:
        if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
            continue
        slug = form.cleaned_data.get("slug")
        if not slug:
            continue
        if slug in seen:
            form.add_error("slug", f"Deux questions du questionnaire ont l'identifiant « {slug} ».")
        seen[slug] = form


@admin.register(Section)
class SectionAdmin(FrozenAdminMixin, admin.ModelAdmin):
    list_display = ["title", "call", "slug", "kind", "order"]
    list_filter = ["call"]
    list_select_related = ["call"]
    autocomplete_fields = ["call"]
    fields = ["call", "title", "slug", "kind", "order", "questionnaire_preview"]
    readonly_fields = ["questionnaire_preview"]
    inlines = [QuestionInline]

    @admin.display(description="aperçu du questionnaire")
    def questionnaire_preview(self, section):
        return preview_link(section.call if section.pk else None)


@admin.register(Question)
class QuestionAdmin(FrozenAdminMixin, admin.ModelAdmin):
    list_display = ["label", "slug", "kind", "required", "section", "call"]
    list_filter = ["call", "kind"]
    search_fields = ["label", "slug", "call__name"]
    list_select_related = ["call", "section"]
    fields = [
        "section",
        ("order", "slug", "kind", "required"),
        "label",
        "help_text",
        ("max_length", "choices"),
    ]

    def get_readonly_fields(self, request, obj=None):
        return ["section"] if obj else []


@admin.register(Criterion)
class CriterionAdmin(FrozenAdminMixin, AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["label", "call", "weight", "scale_min", "scale_max", "order"]
    list_filter = ["call"]
    search_fields = ["label", "call__name"]
    list_select_related = ["call"]
    autocomplete_fields = ["call"]


@admin.register(DocumentType)
class DocumentTypeAdmin(FrozenAdminMixin, AuditHistoryMixin, admin.ModelAdmin):
    list_display = ["label", "call", "mandatory", "max_size_mb", "order"]
    list_filter = ["call", "mandatory"]
    search_fields = ["label", "call__name"]
    list_select_related = ["call"]
    autocomplete_fields = ["call"]


@admin.register(CallPhaseChange)
class CallPhaseChangeAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["call", "from_phase", "to_phase", "actor", "at"]
    list_filter = ["call", "to_phase"]
    readonly_fields = ["call", "from_phase", "to_phase", "actor", "comment", "at"]


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


class BatchMessageInline(admin.TabularInline):
    model = OutboxMessage
    extra = 0
    can_delete = False
    fields = readonly_fields = ["recipient", "subject", "state", "edited_by", "sent_at"]
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(OutboxBatch)
class OutboxBatchAdmin(admin.ModelAdmin):
    """Held bulk sends (ami.batches): preview each email (« courriels » below, each editable
    while the send is held), then send the kept ones or abandon the send."""

    list_display = ["label", "call", "state", "created_by", "created_at", "closed_at"]
    list_filter = ["state", "call"]
    search_fields = ["label"]
    readonly_fields = [
        "label",
        "event",
        "call",
        "state",
        "created_by",
        "created_at",
        "closed_by",
        "closed_at",
    ]
    inlines = [BatchMessageInline]
    actions = ["send_batches", "abandon_batches"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _each(self, request, queryset, operation, done):
        for batch in queryset:
            try:
                count = operation(batch, request.user)
            except (ValidationError, PermissionDenied) as error:
                for text in getattr(error, "messages", [str(error)]):
                    self.message_user(request, f"{batch} : {text}", messages.ERROR)
            else:
                self.message_user(request, f"{batch} : {plural(count, *done)}.", messages.SUCCESS)

    @admin.action(description="Envoyer les courriels retenus")
    def send_batches(self, request, queryset):
        self._each(request, queryset, batches.send, ("courriel envoyé", "courriels envoyés"))

    @admin.action(description="Abandonner l'envoi (écarter tous ses courriels)")
    def abandon_batches(self, request, queryset):
        self._each(request, queryset, batches.abandon, ("courriel écarté", "courriels écartés"))


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

    def get_readonly_fields(self, request, obj=None):
        """A held email of a bulk send can be rewritten (subject, text) until the send goes."""
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and obj.state == OutboxState.HELD:
            fields = [name for name in fields if name not in ("subject", "body_text")]
        return fields

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed if obj is None else allowed and obj.state == OutboxState.HELD

    def save_model(self, request, obj, form, change):
        try:
            batches.edit(obj, request.user, subject=obj.subject, text=obj.body_text)
        except ValidationError as error:
            self.message_user(request, " ".join(error.messages), messages.ERROR)

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
        requeued = plural(count, "courriel remis", "courriels remis")
        self.message_user(request, f"{requeued} en file d'envoi.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{plural(skipped, 'courriel ignoré', 'courriels ignorés')} : "
                "seuls les courriels en échec sont renvoyés.",
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
