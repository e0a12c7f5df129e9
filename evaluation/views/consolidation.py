"""Regional consolidation screens: the region's list, the reviews side by side with the collegial
opinion, the ranking, the hand-over to the CNA and the exports. Thin views over
``evaluation.consolidation`` and ``evaluation.exports``; anything out of the user's scope is a
404 (never a 403 that would confirm it exists)."""

import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from accounts.models import RegionalCell
from accounts.permissions import is_national_member, is_regional_member
from ami.forms import add_errors
from ami.spreadsheets import XLSX_CONTENT_TYPE
from candidatures import messaging
from candidatures.models import Candidature, CandidatureState

from .. import consolidation, exports
from ..filters import ConsolidationFilter
from ..forms import HandoverForm, OpinionForm, RankingForm
from ..permissions import (
    can_coordinate,
    can_view_cell,
    cell_of,
    is_cell_coordinator,
    regional_phase_refusal,
)
from . import listing

PAGE_SIZE = 50

# Columns of the consolidation list: label, sort key of ``ConsolidationFilter.tri`` (or None),
# and whether the first click sorts from the highest value.
COLUMNS = (
    ("PTCE", "nom", False),
    ("État", None, False),
    ("Montant demandé", None, False),
    ("Évaluations", "evaluations", True),
    ("Moyenne", "moyenne", True),
    ("Médiane", "mediane", True),
    ("Min.", None, False),
    ("Max.", None, False),
    ("Écart", "ecart", True),
    ("Désaccord", None, False),
    ("Avis collégial", None, False),
    ("Note consolidée", None, False),
    ("Rang", "rang", False),
)


def _no_store(response):
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _cell_or_404(user, cell_pk) -> RegionalCell:
    cell = get_object_or_404(RegionalCell.objects.select_related("call", "region"), pk=cell_pk)
    if not can_view_cell(user, cell):
        raise Http404
    return cell


def _region_candidature_or_404(user, pk):
    """A candidature of the consolidation (past submission, visible to the user) and its cell."""
    candidature = get_object_or_404(
        Candidature.objects.visible_to(user)
        .exclude(state__in=consolidation.HIDDEN_STATES)
        .select_related("call", "ptce", "region"),
        pk=pk,
    )
    cell = cell_of(candidature)
    if cell is None or not can_view_cell(user, cell):
        raise Http404
    return candidature, cell


def _with_labels(rows):
    for row in rows:
        row.collegial_opinion_label = consolidation.opinion_label(row.collegial_opinion)
    return rows


@login_required
@require_GET
def consolidation_list(request, cell_pk):
    cell = _cell_or_404(request.user, cell_pk)
    rows = consolidation.consolidation_rows(cell, request.user).only(*consolidation.LIST_FIELDS)
    filterset = ConsolidationFilter(request.GET, queryset=rows)
    page = listing.paginate(filterset.qs, request.GET.get("page"), PAGE_SIZE)
    params = request.GET.copy()
    coordinator = is_cell_coordinator(request.user, cell)
    handover = consolidation.handover_of(cell)
    phase_refusal = regional_phase_refusal(cell.call)
    return render(
        request,
        "evaluation/consolidation/list.html",
        {
            "cell": cell,
            "filterset": filterset,
            "form": filterset.form,
            "page": page,
            "rows": _with_labels(list(page.object_list)),
            "headers": listing.headers(params, COLUMNS),
            "current_sort": params.get("tri", ""),
            "export_query": listing.query(params, page=None),
            "handover": handover,
            "phase_refusal": phase_refusal,
            "is_coordinator": coordinator,
            "can_edit": coordinator and not phase_refusal and handover is None,
        },
    )


# --- The reviews side by side and the collegial opinion ---------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def regional_opinion(request, pk):
    candidature, cell = _region_candidature_or_404(request.user, pk)
    handover = consolidation.handover_of(cell)
    phase_refusal = regional_phase_refusal(cell.call)
    coordinator = can_coordinate(request.user, candidature)
    can_edit = (
        handover is None
        and not phase_refusal
        and candidature.state == CandidatureState.ADMISSIBLE
        and coordinator
    )
    context = consolidation.side_by_side(candidature)
    existing = context["opinion"]
    proposed_score_fr = consolidation.score_fr(context["proposed_score"])
    if request.method == "POST":
        if phase_refusal and coordinator:
            messages.error(request, phase_refusal)
            return redirect("regional_opinion", pk=candidature.pk)
        if not can_edit:
            raise PermissionDenied("L'avis collégial ne peut pas être modifié.")
        form = OpinionForm(request.POST, proposed_score_fr=proposed_score_fr)
        if form.is_valid():
            data = form.cleaned_data
            try:
                consolidation.save_opinion(
                    candidature,
                    request.user,
                    data["score"],
                    data["justification"],
                    data["opinion"],
                    data["motivation"],
                    data["internal_note"],
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request, f"L'avis collégial sur « {candidature.ptce.name} » est enregistré."
                )
                return redirect("regional_opinion", pk=candidature.pk)
    elif existing is not None:
        form = OpinionForm(
            proposed_score_fr=proposed_score_fr,
            initial={
                "score": existing.consolidated_score,
                "justification": existing.score_justification,
                "opinion": existing.opinion,
                "motivation": existing.motivation,
                "internal_note": existing.internal_note,
            },
        )
    else:
        form = OpinionForm(
            initial={"score": context["proposed_score"]}, proposed_score_fr=proposed_score_fr
        )
    return render(
        request,
        "evaluation/consolidation/opinion.html",
        {
            **context,
            "candidature": candidature,
            "cell": cell,
            "handover": handover,
            "can_edit": can_edit,
            "phase_refusal": phase_refusal,
            "is_coordinator": coordinator,
            "form": form,
            "non_field_errors": form.errors.get(NON_FIELD_ERRORS, []),
            "opinion_label": consolidation.opinion_label(existing.opinion) if existing else "",
            "can_read_notes": messaging.can_read_notes(request.user, candidature),
        },
    )


# --- Ranking ----------------------------------------------------------------------------------


def _ranking_rows(cell, user):
    rows = consolidation.with_consolidation(
        consolidation.region_candidatures(cell, user).filter(
            state=CandidatureState.ADMISSIBLE, regional_opinion__isnull=False
        )
    ).order_by(
        "collegial_rank",  # ascending puts unranked rows (NULL) last in PostgreSQL
        "-collegial_score",
        "-score_mean",
        "ptce__name",
        "pk",
    )
    return _with_labels(list(rows))


@login_required
@require_http_methods(["GET", "POST"])
def regional_ranking(request, cell_pk):
    cell = _cell_or_404(request.user, cell_pk)
    rows = _ranking_rows(cell, request.user)
    coordinator = is_cell_coordinator(request.user, cell)
    handover = consolidation.handover_of(cell)
    phase_refusal = regional_phase_refusal(cell.call)
    can_edit = coordinator and not phase_refusal and handover is None
    if request.method == "POST":
        if phase_refusal and coordinator:
            messages.error(request, phase_refusal)
            return redirect("regional_ranking", cell_pk=cell.pk)
        if not can_edit:
            raise PermissionDenied("Le classement ne peut pas être modifié.")
        try:
            if request.POST.get("action") == "par-note":
                consolidation.rank_by_score(cell, request.user)
                messages.success(request, "Les candidatures sont classées par note consolidée.")
            else:
                form = RankingForm(request.POST, rows=rows)
                if not form.is_valid():  # shown as messages, like the refusals of the rules
                    raise ValidationError([e for errors in form.errors.values() for e in errors])
                order = consolidation.ranking_from_inputs([row.pk for row in rows], form.entered())
                consolidation.set_ranking(cell, request.user, order)
                messages.success(request, "Le classement est enregistré.")
        except (ValidationError, PermissionDenied) as error:
            for message in getattr(error, "messages", None) or [str(error)]:
                messages.error(request, message)
        return redirect("regional_ranking", cell_pk=cell.pk)
    unranked_count = sum(1 for row in rows if row.collegial_rank is None)
    if can_edit:
        for row, field in RankingForm(rows=rows).row_fields():
            row.rank_field = field  # « rang-<pk> », drawn in the row
    without_opinion = list(
        consolidation.region_candidatures(cell, request.user)
        .filter(state=CandidatureState.ADMISSIBLE, regional_opinion__isnull=True)
        .select_related("ptce")
        .order_by("ptce__name", "pk")
    )
    return render(
        request,
        "evaluation/consolidation/ranking.html",
        {
            "cell": cell,
            "rows": rows,
            "can_edit": can_edit,
            "unranked_count": unranked_count,
            "without_opinion": without_opinion,
            "handover": handover,
            "phase_refusal": phase_refusal,
            "is_coordinator": coordinator,
        },
    )


# --- Hand-over --------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def region_handover(request, cell_pk):
    cell = _cell_or_404(request.user, cell_pk)
    handover = consolidation.handover_of(cell)
    phase_refusal = regional_phase_refusal(cell.call)
    coordinator = is_cell_coordinator(request.user, cell)
    can_edit = handover is None and not phase_refusal and coordinator
    form = HandoverForm(request.POST if request.method == "POST" else None)
    if request.method == "POST":
        if not coordinator:
            raise PermissionDenied("Seul un coordinateur de la cellule transmet la région.")
        form.is_valid()  # a free comment: always valid
        try:
            consolidation.hand_over(cell, request.user, form.cleaned_data["comment"])
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect("region_handover", cell_pk=cell.pk)
        messages.success(
            request,
            f"La région {cell.region.name} est transmise à la CNA ; la cellule nationale est "
            "prévenue.",
        )
        return redirect("consolidation_list", cell_pk=cell.pk)
    problems = consolidation.handover_problems(cell) if handover is None else []
    return render(
        request,
        "evaluation/consolidation/handover.html",
        {
            "cell": cell,
            "handover": handover,
            "can_edit": can_edit,
            "problems": problems,
            "phase_refusal": phase_refusal,
            "is_coordinator": coordinator,
            "ready_count": consolidation.rankable(cell).count() if handover is None else 0,
            "form": form,
        },
    )


# --- Exports ----------------------------------------------------------------------------------


@login_required
@require_GET
def consolidation_export(request, cell_pk):
    cell = _cell_or_404(request.user, cell_pk)
    filterset = ConsolidationFilter(
        request.GET, queryset=consolidation.consolidation_rows(cell, request.user, texts=True)
    )
    rows = list(exports.export_rows(filterset.qs))
    output = io.BytesIO()
    exports.write_workbook(cell, rows, output)
    response = HttpResponse(output.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{exports.export_filename(cell)}"'
    return _no_store(response)


def _instructing(user, candidature) -> bool:
    """People instructing the candidature (not its applicants): the region's cell, the CNA,
    the staff."""
    return (
        user.is_staff
        or is_regional_member(user, candidature.call, candidature.region)
        or is_national_member(user, candidature.call)
    )


@login_required
@require_GET
def documents_zip(request, pk):
    candidature = get_object_or_404(
        Candidature.objects.visible_to(request.user).select_related("call", "region"), pk=pk
    )
    if not _instructing(request.user, candidature):
        raise Http404
    try:
        archive = exports.documents_zip(candidature, request.user)
    except PermissionDenied:
        raise Http404 from None
    response = FileResponse(
        archive,
        as_attachment=True,
        filename=exports.zip_filename(candidature),
        content_type="application/zip",
    )
    response["Content-Security-Policy"] = "default-src 'none'"
    return _no_store(response)
