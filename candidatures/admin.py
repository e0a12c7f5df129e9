"""Admin of PTCEs and candidatures: lists, filters and search for support, the audit trail of
candidatures and documents, and the move of a candidature to another region (with a reason)."""

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from ami import audit
from ami.admin import AuditHistoryMixin, ReadOnlyAdminMixin
from ami.formats import plural
from ami.models import Call

from . import bulk_messages, letters
from .models import (
    Candidature,
    CandidatureEvent,
    CofinancingLine,
    ComplementRequest,
    Document,
    InternalNote,
    LetterKind,
    LetterTemplate,
    Message,
    Ptce,
    PtceInvitation,
    PtceMember,
    PtceMembership,
    RegionMove,
    ThreadReadMarker,
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
class CandidatureAdmin(AuditHistoryMixin, admin.ModelAdmin):
    list_display = [
        "ptce", "call", "region", "state", "receipt_number", "requested_amount", "submitted_at",
    ]  # fmt: skip
    list_filter = ["call", "state", "region", "is_rural", "in_qpv"]
    search_fields = ["ptce__name", "ptce__siret", "title", "receipt_number"]
    search_help_text = "Nom ou SIRET du PTCE, intitulé du projet, numéro de dépôt."
    list_select_related = ["ptce", "call", "region"]
    date_hierarchy = "submitted_at"
    autocomplete_fields = ["ptce", "call", "region"]
    readonly_fields = [
        "state", "receipt_number", "created_at", "updated_at", "submitted_at", "cloned_from",
        "current_step", "is_rural", "in_qpv",
    ]  # fmt: skip
    exclude = ["snapshot"]
    inlines = [CofinancingLineInline, DocumentInline, CandidatureEventInline]
    actions = ["write_to_applicants"]

    @admin.action(description="Écrire aux porteurs des candidatures choisies (envoi groupé)")
    def write_to_applicants(self, request, queryset):
        """Filter the list (call, region…), tick the candidatures or « all », write the message:
        it is held in a batch to preview, edit per recipient and send (ami.batches)."""
        subject = request.POST.get("subject", "")
        text = request.POST.get("text", "")
        if request.POST.get("confirm") == "yes":
            try:
                batch = bulk_messages.write_to_applicants(
                    queryset, request.user, subject=subject, text=text
                )
            except ValidationError as error:
                self.message_user(request, " ".join(error.messages), messages.ERROR)
            else:
                self.message_user(
                    request,
                    plural(batch.messages.count(), "courriel retenu", "courriels retenus")
                    + " dans l'envoi groupé : "
                    "relisez-les, puis envoyez-les.",
                    messages.SUCCESS,
                )
                return redirect("admin:ami_outboxbatch_change", batch.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Écrire aux porteurs",
            "count": queryset.count(),
            "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "subject": subject,
            "text": text,
        }
        return TemplateResponse(
            request, "admin/candidatures/candidature/write_to_applicants.html", context
        )

    def get_readonly_fields(self, request, obj=None):
        # Once created, a candidature keeps its PTCE and call; its region changes only through
        # the « changer de région » action (logged, with a reason), which the review app adds
        # (evaluation.admin).
        fields = super().get_readonly_fields(request, obj)
        return [*fields, "ptce", "call", "region"] if obj is not None else fields

    def audit_history(self, obj):
        return audit.candidature_history(obj, limit=self.audit_history_limit)


@admin.register(PtceMember)
class PtceMemberAdmin(admin.ModelAdmin):
    list_display = ["name", "siret", "category", "ptce", "created_at"]
    list_filter = ["category"]
    search_fields = ["name", "siret", "ptce__name"]
    list_select_related = ["ptce"]
    autocomplete_fields = ["ptce"]
    readonly_fields = ["created_at"]


@admin.register(PtceMembership)
class PtceMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "ptce", "is_referent", "joined_at"]
    list_filter = ["is_referent"]
    search_fields = ["user__email", "user__first_name", "user__last_name", "ptce__name"]
    list_select_related = ["user", "ptce"]
    autocomplete_fields = ["user", "ptce"]
    readonly_fields = ["joined_at"]


@admin.register(PtceInvitation)
class PtceInvitationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["email", "ptce", "invited_by", "created_at", "expires_at", "accepted_at"]
    search_fields = ["email", "ptce__name"]
    list_select_related = ["ptce", "invited_by"]
    exclude = ["token"]


@admin.register(Message)
class MessageAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The threads with the applicants, read-only: a message is never changed nor deleted (the
    database refuses it too). The attachment is downloaded from the thread, whose permission
    check it shares. Internal notes are not here: the cells and the CNA only read them."""

    list_display = ["candidature", "side", "author", "created_at", "attachment_name"]
    list_filter = ["side", "candidature__call"]
    search_fields = ["candidature__ptce__name", "author__email"]
    list_select_related = ["candidature__ptce", "candidature__call", "author"]
    exclude = ["attachment"]


@admin.register(InternalNote)
class InternalNoteAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """That a note exists (who, when, on which candidature), never its text: the notes are the
    region's cell's and the CNA's (issue 15), read on the candidature's « Notes internes »."""

    list_display = ["candidature", "side", "author", "created_at"]
    list_filter = ["side", "candidature__call"]
    search_fields = ["candidature__ptce__name", "author__email"]
    list_select_related = ["candidature__ptce", "candidature__call", "author"]
    exclude = ["text"]


@admin.register(ThreadReadMarker)
class ThreadReadMarkerAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["candidature", "user", "last_read_id", "read_at"]
    search_fields = ["candidature__ptce__name", "user__email"]
    list_select_related = ["candidature__ptce", "candidature__call", "user"]


@admin.register(CofinancingLine)
class CofinancingLineAdmin(admin.ModelAdmin):
    list_display = ["funder", "status", "amount", "candidature"]
    list_filter = ["status", "candidature__call"]
    search_fields = ["funder", "candidature__ptce__name"]
    list_select_related = ["candidature__ptce", "candidature__call"]
    autocomplete_fields = ["candidature"]


@admin.register(Document)
class DocumentAdmin(AuditHistoryMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Documents are read (through the permission-checked download) and kept as uploaded."""

    list_display = ["original_name", "document_type", "candidature", "size", "uploaded_at"]
    list_filter = ["candidature__call", "document_type__label"]
    search_fields = ["original_name", "sha256", "candidature__ptce__name"]
    list_select_related = ["document_type", "candidature__ptce", "candidature__call"]
    date_hierarchy = "uploaded_at"
    fields = [
        "candidature", "document_type", "download", "original_name", "size", "content_type",
        "sha256", "uploaded_by", "uploaded_at",
    ]  # fmt: skip
    readonly_fields = fields

    @admin.display(description="fichier")
    def download(self, document):
        url = reverse("document_download", args=[document.candidature_id, document.pk])
        return format_html('<a href="{}">Télécharger</a>', url)


@admin.register(ComplementRequest)
class ComplementRequestAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["candidature", "requested_by", "requested_at", "due_at", "answered_at"]
    list_filter = ["candidature__call", "candidature__region"]
    search_fields = ["candidature__ptce__name", "message"]
    list_select_related = ["candidature__ptce", "candidature__call", "requested_by"]
    date_hierarchy = "requested_at"


@admin.register(RegionMove)
class RegionMoveAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "candidature", "from_region", "to_region", "actor", "reason"]
    list_filter = ["to_region", "candidature__call"]
    search_fields = ["candidature__ptce__name", "reason", "actor__email"]
    list_select_related = [
        "candidature__ptce", "candidature__call", "from_region", "to_region", "actor",
    ]  # fmt: skip
    date_hierarchy = "at"


@admin.register(CandidatureEvent)
class CandidatureEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "candidature", "from_state", "to_state", "actor"]
    list_filter = ["to_state", "candidature__call"]
    search_fields = ["candidature__ptce__name", "actor__email"]
    list_select_related = ["candidature__ptce", "candidature__call", "actor"]
    readonly_fields = ["candidature", "at", "from_state", "to_state", "actor", "comment"]


# --- Decision letters (candidatures.letters) ----------------------------------------------------

PLACEHOLDER_HELP = "Champs possibles : " + " ; ".join(
    "{" + name + "} (" + label + ")" for name, label in letters.PLACEHOLDERS.items()
)


@admin.register(LetterTemplate)
class LetterTemplateAdmin(AuditHistoryMixin, admin.ModelAdmin):
    """Staff write each call's letters; a template with an unknown placeholder or without the
    appeal mention is refused at save (``LetterTemplate.clean``). « Aperçu » renders the saved
    template with a real candidature of the call; « Prévisualiser », on the form, renders the
    text as typed, unsaved (``preview_draft_view``)."""

    list_display = ["call", "kind", "subject", "updated_at", "preview_link"]
    list_filter = ["kind", "call"]
    list_select_related = ["call"]
    search_fields = ["call__name", "subject", "body"]
    autocomplete_fields = ["call"]
    readonly_fields = ["updated_at"]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["help_texts"] = {"body": PLACEHOLDER_HELP, "subject": PLACEHOLDER_HELP}
        return super().get_form(request, obj, **kwargs)

    def get_changeform_initial_data(self, request):
        """A new letter starts from the default text of its kind (``?kind=``)."""
        initial = super().get_changeform_initial_data(request)
        kind = initial.get("kind") if initial.get("kind") in LetterKind.values else None
        subject, body = letters.DEFAULT_LETTERS[LetterKind(kind or LetterKind.LAUREATE)]
        return {"kind": kind or LetterKind.LAUREATE, "subject": subject, "body": body, **initial}

    @admin.display(description="aperçu")
    def preview_link(self, obj):
        url = reverse("admin:candidatures_lettertemplate_preview", args=[obj.pk])
        return format_html('<a href="{}">Aperçu</a>', url)

    def get_urls(self):
        return [
            path(
                "apercu-avant-enregistrement/",
                self.admin_site.admin_view(self.preview_draft_view),
                name="candidatures_lettertemplate_preview_draft",
            ),
            path(
                "<path:object_id>/apercu/",
                self.admin_site.admin_view(self.preview_view),
                name="candidatures_lettertemplate_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request, object_id):
        template = self.get_object(request, unquote(object_id))
        if template is None:
            raise Http404
        if not self.has_view_or_change_permission(request, template):
            raise PermissionDenied
        candidatures = letters.preview_candidatures(template)
        chosen = None
        wanted = request.GET.get("candidature", "")
        if wanted.isdigit():
            chosen = next((c for c in candidatures if c.pk == int(wanted)), None)
        chosen = chosen or (candidatures[0] if candidatures else None)
        letter = letters.preview(template, chosen) if chosen is not None else None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Aperçu : {template}",
            "opts": self.opts,
            "original": template,
            "candidatures": candidatures,
            "chosen": chosen,
            "letter": letter,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/candidatures/lettertemplate/preview.html", context)

    def preview_draft_view(self, request):
        """« Prévisualiser » of the add and change forms: the subject and body as typed (POST),
        rendered with a real candidature of the chosen call, checked by the save rules, never
        saved."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not (self.has_add_permission(request) or self.has_change_permission(request)):
            raise PermissionDenied
        call_pk, kind = request.POST.get("call", ""), request.POST.get("kind", "")
        call = Call.objects.filter(pk=call_pk).first() if call_pk.isdigit() else None
        subject, body = request.POST.get("subject", ""), request.POST.get("body", "")
        context = {
            **self.admin_site.each_context(request),
            "title": "Aperçu de la lettre avant enregistrement",
            "opts": self.opts,
            "subject": subject,
            "body": body,
            "call": call,
            "kind": kind,
            "problems": [],
            "draft": None,
        }
        if call is None:
            context["problems"].append("Choisissez l'appel de la lettre.")
        if kind not in LetterKind.values:
            context["problems"].append("Choisissez le type de décision de la lettre.")
        if not context["problems"]:
            draft = letters.preview_draft(
                call, LetterKind(kind), subject, body, request.POST.get("candidature")
            )
            context["draft"] = draft
            context["kind_label"] = LetterKind(kind).label
            for field, messages_ in draft.errors.items():
                label = "Objet" if field == "subject" else "Texte"
                context["problems"] += [f"{label} : {message}" for message in messages_]
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            "admin/candidatures/lettertemplate/preview_draft.html",
            context,
            status=422 if context["problems"] else 200,
        )
