"""Deliberation, decisions and publication screens (CNA). Thin views over
``evaluation.deliberation`` and ``evaluation.publication``."""

from urllib.parse import urlsplit

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.permissions import is_national_member
from ami import batches
from ami.formats import plural
from ami.forms import add_errors
from ami.models import OutboxBatch, OutboxMessage, OutboxState
from candidatures.models import Candidature

from .. import deliberation as domain
from .. import publication
from ..forms import (
    ApplyScenarioForm,
    BatchMessageForm,
    BulkParagraphForm,
    DecisionFilterForm,
    DecisionForm,
    DecisionRowForm,
    LineForm,
    ListReopenForm,
    PublicationForm,
    SessionForm,
)
from ..models import Decision, DecisionOutcome, DeliberationLine, SelectionScenario
from ..permissions import can_administer_national, can_deliberate
from .national import call_or_404

PREVIEW_PAGE_SIZE = 20


def _messages_from(request, error):
    for message in getattr(error, "messages", None) or [str(error)]:
        messages.error(request, message)


# --- The session --------------------------------------------------------------------------------


def _line_rows(deliberation, user):
    return (
        DeliberationLine.objects.visible_to(user)
        .filter(deliberation=deliberation)
        .select_related("candidature__ptce", "candidature__region", "candidature__regional_opinion")
        .order_by("-selected", "-candidature__regional_opinion__consolidated_score", "pk")
    )


@login_required
@require_http_methods(["GET", "POST"])
def deliberation_view(request, call_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = domain.deliberation_of(call)
    can_edit = can_deliberate(request.user, call) and not (deliberation and deliberation.is_fixed)
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Vous ne pouvez pas modifier cette délibération.")
        form = SessionForm(request.POST, call=call, with_scenario=deliberation is None)
        if form.is_valid():
            data = form.cleaned_data
            try:
                if deliberation is None:
                    domain.open_deliberation(
                        call,
                        request.user,
                        held_on=data["held_on"],
                        members_present=data["members_present"],
                        scenario=data.get("scenario"),
                        notes=data["notes"],
                    )
                    messages.success(request, "La séance est ouverte.")
                else:
                    domain.update_session(
                        deliberation,
                        request.user,
                        held_on=data["held_on"],
                        members_present=data["members_present"],
                        notes=data["notes"],
                    )
                    messages.success(request, "La séance est mise à jour.")
            except ValidationError as error:
                add_errors(form, error)
            else:
                return redirect("deliberation", call_pk=call.pk)
    elif deliberation is None:
        form = SessionForm(
            call=call,
            initial={"held_on": timezone.localdate(), "scenario": request.GET.get("scenario")},
        )
    else:
        form = None  # the session as it is (_render_deliberation)
    return _render_deliberation(request, call, deliberation, form, can_edit=can_edit)


def _render_deliberation(
    request, call, deliberation, form=None, *, can_edit=None, reopen_form=None, status=200
):
    """The deliberation page; a form posted to another route and refused is shown bound."""
    if can_edit is None:
        can_edit = can_deliberate(request.user, call) and not (
            deliberation and deliberation.is_fixed
        )
    if form is None:
        form = SessionForm(
            call=call,
            with_scenario=False,
            initial={
                "held_on": deliberation.held_on,
                "members_present": list(deliberation.members_present.all()),
                "notes": deliberation.notes,
            },
        )
    context = {
        "call": call,
        "deliberation": deliberation,
        "form": form,
        "can_edit": can_edit,
        "can_administer": can_administer_national(request.user, call),
        "is_member": is_national_member(request.user, call),
    }
    if deliberation is not None:
        if can_edit:
            domain.sync_lines(deliberation)
        context.update(
            {
                "lines": list(_line_rows(deliberation, request.user)),
                "totals": domain.totals(deliberation),
                "members": list(deliberation.members_present.order_by("last_name")),
                "scenarios": SelectionScenario.objects.filter(call=call, feasible=True),
                "scenario_form": ApplyScenarioForm(call=call),
                "reopen_form": reopen_form or ListReopenForm(),
                "list_errors": domain.list_errors(deliberation)
                if not deliberation.is_fixed
                else [],
            }
        )
    return render(request, "evaluation/national/deliberation.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def deliberation_line(request, call_pk, line_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = domain.deliberation_of(call)
    if deliberation is None:
        raise Http404
    line = get_object_or_404(_line_rows(deliberation, request.user), pk=line_pk)
    can_edit = can_deliberate(request.user, call) and not deliberation.is_fixed
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("La liste est arrêtée ou vous ne délibérez pas.")
        form = LineForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                domain.set_line(
                    line,
                    request.user,
                    selected=data["selected"],
                    amount=data["amount"],
                    justification=data["justification"],
                    motivation=data["motivation"],
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request, f"La ligne « {line.candidature.ptce.name} » est modifiée."
                )
                return redirect("deliberation", call_pk=call.pk)
    else:
        form = LineForm(
            initial={
                "selected": "1" if line.selected else "0",
                "amount": line.amount
                if line.selected
                else min(line.candidature.requested_amount or call.max_amount, call.max_amount),
                "justification": line.justification,
                "motivation": line.motivation,
            }
        )
    return render(
        request,
        "evaluation/national/line.html",
        {
            "call": call,
            "deliberation": deliberation,
            "line": line,
            "form": form,
            "can_edit": can_edit,
            "overrides": line.overrides.select_related("actor"),
            "totals": domain.totals(deliberation),
        },
    )


@login_required
@require_POST
def deliberation_apply_scenario(request, call_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = domain.deliberation_of(call)
    if deliberation is None:
        raise Http404
    form = ApplyScenarioForm(request.POST, call=call)
    if not form.is_valid():
        raise Http404  # not a feasible scenario of this call
    scenario = form.cleaned_data["scenario"]
    try:
        domain.apply_scenario(deliberation, request.user, scenario)
    except ValidationError as error:
        _messages_from(request, error)
    else:
        messages.success(request, f"Les lignes reprennent le scénario « {scenario.name} ».")
    return redirect("deliberation", call_pk=call.pk)


@login_required
@require_POST
def deliberation_fix(request, call_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = domain.deliberation_of(call)
    if deliberation is None:
        raise Http404
    try:
        count = domain.fix_list(deliberation, request.user)
    except ValidationError as error:
        _messages_from(request, error)
        return redirect("deliberation", call_pk=call.pk)
    messages.success(
        request,
        f"La liste est arrêtée : {count} décisions en attente de publication. Relisez les "
        "motivations avant de publier.",
    )
    return redirect("decision_list", call_pk=call.pk)


@login_required
@require_POST
def deliberation_reopen(request, call_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = domain.deliberation_of(call)
    if deliberation is None:
        raise Http404
    if not can_administer_national(request.user, call):
        raise PermissionDenied("Seul un administrateur de la CNA rouvre la liste.")
    form = ListReopenForm(request.POST)
    if form.is_valid():
        try:
            domain.reopen(deliberation, request.user, reason=form.cleaned_data["reason"])
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request, "La liste est rouverte ; les décisions en attente sont retirées."
            )
            return redirect("deliberation", call_pk=call.pk)
    return _render_deliberation(request, call, deliberation, reopen_form=form, status=422)


# --- Decisions ----------------------------------------------------------------------------------


def _decisions(call, user):
    return (
        Decision.objects.visible_to(user)
        .filter(deliberation__call=call)
        .select_related("candidature__ptce", "candidature__region")
        .order_by("outcome", "candidature__region__name", "candidature__ptce__name")
    )


@login_required
@require_GET
def decision_list(request, call_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = domain.deliberation_of(call)
    if deliberation is None or not deliberation.is_fixed:
        raise Http404
    decisions = list(_decisions(call, request.user))
    laureates = [d for d in decisions if d.outcome == DecisionOutcome.LAUREATE]
    return render(
        request,
        "evaluation/national/decisions.html",
        {
            "call": call,
            "deliberation": deliberation,
            "laureates": laureates,
            "not_selected": [d for d in decisions if d.outcome == DecisionOutcome.NOT_SELECTED],
            "granted": sum((d.granted_amount for d in laureates), start=0),
            "can_administer": can_administer_national(request.user, call),
            "published": any(d.is_published for d in decisions),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def decision_edit(request, call_pk, pk):
    call = call_or_404(request.user, call_pk)
    decision = get_object_or_404(
        _decisions(call, request.user).select_related("deliberation"), pk=pk
    )
    laureate = decision.outcome == DecisionOutcome.LAUREATE
    can_edit = can_administer_national(request.user, call) and not decision.is_published
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Cette décision ne peut pas être modifiée.")
        form = DecisionForm(request.POST, laureate=laureate)
        if form.is_valid():
            try:
                domain.update_decision(
                    decision,
                    request.user,
                    motivation=form.cleaned_data["motivation"],
                    internal_note=form.cleaned_data["internal_note"],
                    granted_amount=form.cleaned_data.get("granted_amount"),
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, "La décision est modifiée.")
                return redirect("decision_list", call_pk=call.pk)
    else:
        form = DecisionForm(
            laureate=laureate,
            initial={
                "granted_amount": decision.granted_amount,
                "motivation": decision.motivation,
                "internal_note": decision.internal_note,
            },
        )
    return render(
        request,
        "evaluation/national/decision.html",
        {"call": call, "decision": decision, "form": form, "can_edit": can_edit},
    )


# --- Publication --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def publication_view(request, call_pk):
    """The permission first (404 for anyone else), then the password again."""
    call = call_or_404(request.user, call_pk)
    if not can_administer_national(request.user, call):
        raise Http404
    return _publication(request, call)


@reauthentication_required(allow_get=True)  # publishing asks for the password again
def _publication(request, call):
    form = PublicationForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            count = publication.publish(call, request.user)
        except ValidationError as error:
            _messages_from(request, error)
            return redirect("publication", call_pk=call.pk)
        if count:
            messages.success(
                request,
                f"Les résultats sont publiés : {count} décisions. Les lettres aux porteurs et "
                "les résultats des régions attendent dans l'envoi groupé : relisez-les, puis "
                "envoyez-les.",
            )
            batch = publication.publication_batch(call)
            if batch is not None:
                return redirect("batch_detail", call_pk=call.pk, batch_pk=batch.pk)
        else:
            messages.info(request, "Les résultats étaient déjà publiés : rien n'a été envoyé.")
        return redirect("decision_list", call_pk=call.pk)
    try:
        deliberation = publication.check_can_publish(call, request.user)
    except ValidationError as error:
        _messages_from(request, error)
        fixed = domain.deliberation_of(call)
        if fixed is not None and fixed.is_fixed:
            return redirect("decision_list", call_pk=call.pk)
        return redirect("deliberation", call_pk=call.pk)
    pending = publication.pending_decisions(call)
    # The letters previewed are those of the candidatures the administrator may see (not one
    # they declared a conflict on); every pending decision is published all the same.
    previewed = pending.visible_to(request.user)  # Decision.objects.visible_to
    page = Paginator(previewed, PREVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    emails = [publication.decision_email(decision) for decision in page.object_list]
    if page.number == 1:
        emails += publication.region_emails(call, list(pending))
    return render(
        request,
        "evaluation/national/publication.html",
        {
            "call": call,
            "deliberation": deliberation,
            "emails": emails,
            "page": page,
            "form": form,
        },
        status=422 if form.errors else 200,
    )


# --- Pending decisions in one table -------------------------------------------------------------

TABLE_PAGE_SIZE = 50
OUTCOME_FILTERS = {
    "laureate": DecisionOutcome.LAUREATE,
    "not_selected": DecisionOutcome.NOT_SELECTED,
}


def _fixed_deliberation(call):
    deliberation = domain.deliberation_of(call)
    if deliberation is None or not deliberation.is_fixed:
        raise Http404
    return deliberation


def _filtered(call, user, params):
    """``params``: the cleaned data of ``DecisionFilterForm``."""
    decisions = _decisions(call, user)
    outcome = OUTCOME_FILTERS.get(params.get("decision", ""))
    if outcome:
        decisions = decisions.filter(outcome=outcome)
    if params.get("region"):
        decisions = decisions.filter(candidature__region_id=params["region"])
    if params.get("vide"):
        decisions = decisions.filter(motivation__regex=r"^\s*$")
    if (params.get("q") or "").strip():
        decisions = decisions.filter(candidature__ptce__name__icontains=params["q"].strip())
    return decisions


@login_required
@require_GET
def decision_table(request, call_pk):
    """Every decision of the call in one table: filters, inline edit of the motivation and the
    amount (htmx autosave, a « Enregistrer » button per line without JavaScript), a paragraph
    applied to the checked lines, the running total against the envelope."""
    call = call_or_404(request.user, call_pk)
    return _render_table(request, call, _fixed_deliberation(call), request.GET)


def _render_table(request, call, deliberation, query, bulk_form=None, *, back="", status=200):
    """The decision table for the filters of ``query``; the paragraph form, refused, is shown
    bound (``decision_bulk``)."""
    regions = (
        Candidature.objects.filter(decision__deliberation=deliberation)
        .values_list("region_id", "region__name")
        .distinct()
        .order_by("region__name")
    )
    filters = DecisionFilterForm(query, regions=list(regions))
    page = Paginator(_filtered(call, request.user, filters.params()), TABLE_PAGE_SIZE).get_page(
        query.get("page")
    )
    can_edit = can_administer_national(request.user, call)
    rows = [
        (
            decision,
            DecisionRowForm(
                decision=decision,
                autosave_url=reverse("decision_autosave", args=[call.pk, decision.pk]),
            )
            if can_edit
            else None,
        )
        for decision in page.object_list
    ]
    return render(
        request,
        "evaluation/national/decision_table.html",
        {
            "call": call,
            "deliberation": deliberation,
            "page": page,
            "rows": rows,
            "filters": filters,
            "bulk_form": bulk_form or BulkParagraphForm(),
            "totals": domain.decision_totals(call),
            "can_edit": can_edit,
            "back": back or request.get_full_path(),
        },
        status=status,
    )


def _safe_back(request) -> str:
    back = request.POST.get("back", "")
    return back if back.startswith("/") and not back.startswith("//") else ""


def _back_to_table(request, call):
    return redirect(_safe_back(request) or reverse("decision_table", args=[call.pk]))


@login_required
@require_POST
def decision_autosave(request, call_pk, pk):
    """Save one line of the table. htmx: the line's status and the total (out of band);
    otherwise back to the table with a message."""
    call = call_or_404(request.user, call_pk)
    decision = get_object_or_404(
        _decisions(call, request.user).select_related("deliberation"), pk=pk
    )
    if not can_administer_national(request.user, call):
        raise PermissionDenied("Seul un administrateur de la CNA modifie les décisions.")
    form = DecisionRowForm(request.POST, decision=decision)
    errors = []
    if form.is_valid():
        try:
            domain.update_decision(
                decision,
                request.user,
                motivation=form.cleaned_data["motivation"],
                granted_amount=form.cleaned_data.get("granted_amount"),
            )
        except ValidationError as error:
            errors += error.messages
    else:
        errors = [message for messages_ in form.errors.values() for message in messages_]
    if request.htmx:
        return render(
            request,
            "evaluation/national/_decision_saved.html",
            {
                "decision": decision,
                "errors": errors,
                "saved_at": timezone.localtime(),
                "totals": domain.decision_totals(call),
                "oob": True,
            },
            status=422 if errors else 200,
        )
    for error in errors:
        messages.error(request, f"{decision.candidature.ptce.name} : {error}")
    if not errors:
        messages.success(request, f"« {decision.candidature.ptce.name} » est enregistrée.")
    return _back_to_table(request, call)


@login_required
@require_POST
def decision_bulk(request, call_pk):
    """Apply a paragraph to the checked lines, or prefill the empty motivations."""
    call = call_or_404(request.user, call_pk)
    deliberation = _fixed_deliberation(call)
    if not can_administer_national(request.user, call):
        raise PermissionDenied("Seul un administrateur de la CNA modifie les décisions.")
    form = BulkParagraphForm(request.POST)
    if request.POST.get("action") == "prefill":
        try:
            count = domain.prefill_motivations(deliberation, request.user)
        except ValidationError as error:
            _messages_from(request, error)
        else:
            done = plural(count, "motivation vide préremplie", "motivations vides préremplies")
            messages.success(request, done + ".")
        return _back_to_table(request, call)
    if form.is_valid():
        ids = [pk for pk in request.POST.getlist("selection") if pk.isdigit()]
        chosen = list(_decisions(call, request.user).filter(pk__in=ids))
        try:
            count = domain.apply_paragraph(
                call,
                request.user,
                chosen,
                form.cleaned_data["paragraph"],
                replace=form.cleaned_data["mode"] == "replace",
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"Paragraphe appliqué à {plural(count, 'décision')}.")
            return _back_to_table(request, call)
    back = _safe_back(request)
    query = QueryDict(urlsplit(back).query) if back else QueryDict()
    return _render_table(request, call, deliberation, query, form, back=back, status=422)


# --- Held bulk sends of the call (ami.batches) ----------------------------------------------------

BATCH_PAGE_SIZE = 50


def _batches(call, user):
    """The call's bulk sends, for its CNA administrators (staff manage them in the admin)."""
    if not can_administer_national(user, call):
        raise Http404
    return OutboxBatch.objects.filter(call=call)


@login_required
@require_GET
def batch_list(request, call_pk):
    """The call's bulk sends (held, sent, abandoned) and, for the record, the automatic emails
    of the call that went out on their own (reminders, digests)."""
    call = call_or_404(request.user, call_pk)
    listed = _batches(call, request.user).annotate(
        held=Count("messages", filter=Q(messages__state=OutboxState.HELD)),
        total=Count("messages"),
    )
    automatic = (
        OutboxMessage.objects.filter(call=call, batch__isnull=True)
        .values("event")
        .annotate(n=Count("pk"))
        .order_by("event")
    )
    return render(
        request,
        "evaluation/national/batches.html",
        {"call": call, "batches": listed, "automatic": automatic},
    )


@login_required
@require_http_methods(["GET", "POST"])
def batch_detail(request, call_pk, batch_pk):
    """Preview every email of a batch; edit one, discard one, send the kept ones, or abandon."""
    call = call_or_404(request.user, call_pk)
    batch = get_object_or_404(_batches(call, request.user), pk=batch_pk)
    edited = None  # an email's form refused, shown bound
    if request.method == "POST":
        action = request.POST.get("action", "")
        message = None
        if request.POST.get("message", "").isdigit():
            message = get_object_or_404(batch.messages.all(), pk=request.POST["message"])
        try:
            if action == "send":
                count = batches.send(batch, request.user)
                messages.success(request, f"Envoi lancé : {plural(count, 'courriel')}.")
            elif action == "abandon":
                count = batches.abandon(batch, request.user)
                dropped = plural(count, "courriel écarté", "courriels écartés")
                messages.success(request, f"Envoi abandonné : {dropped}.")
            elif action == "edit" and message is not None:
                edited = BatchMessageForm(request.POST, message=message)
                if edited.is_valid():
                    batches.edit(message, request.user, **edited.cleaned_data)
                    messages.success(request, f"Le courriel à {message.recipient} est modifié.")
                    edited = None
            elif action == "discard" and message is not None:
                batches.discard(message, request.user)
                messages.success(request, f"Le courriel à {message.recipient} est écarté.")
            else:
                messages.error(request, "Action inconnue.")
        except ValidationError as error:
            if edited is None:
                _messages_from(request, error)
            else:
                add_errors(edited, error)
        if edited is None:
            return redirect("batch_detail", call_pk=call.pk, batch_pk=batch.pk)
    page = Paginator(batch.messages.order_by("recipient", "pk"), BATCH_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    rows = [
        (
            message,
            edited
            if edited is not None and edited.message.pk == message.pk
            else BatchMessageForm(message=message),
        )
        for message in page.object_list
    ]
    return render(
        request,
        "evaluation/national/batch.html",
        {
            "call": call,
            "batch": batch,
            "page": page,
            "rows": rows,
            "kept": batch.messages.filter(state=OutboxState.HELD).count(),
        },
        status=422 if edited is not None else 200,
    )
