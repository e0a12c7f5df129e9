"""National review screens (CNA): the dashboard of every candidature of a call, a candidature's
second-level analysis, the selection assistant and its scenarios. Thin views over
``evaluation.national`` and ``evaluation.scenarios``; what is out of the user's scope is a 404."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import is_national_member
from ami import audit
from ami.forms import add_errors
from ami.models import Call
from ami.scoping import get_visible_or_404
from candidatures import messaging
from candidatures.messaging import unread_count
from candidatures.models import Candidature

from .. import consolidation, national, national_cache, scenarios
from ..deliberation import deliberation_of, handed_over
from ..filters import NationalFilter
from ..forms import AnalysisForm, AssistantForm, CompareScenariosForm
from ..models import ScenarioLine, SelectionScenario
from ..permissions import can_deliberate, can_review_nationally, can_view_national
from . import listing

PAGE_SIZE = 50
# What the scenario's page reads of a line and its candidature.
SCENARIO_LINE_FIELDS = (
    "candidature_id",
    "selected",
    "amount",
    "score",
    "rank",
    "explanation",
    "candidature__ptce__name",
    "candidature__region__name",
)
HISTORY_LIMIT = 100  # latest changes shown on a candidature's page

COLUMNS = (
    ("PTCE", "nom", False),
    ("Région", "region", False),
    ("Priorités", None, False),
    ("Montant demandé", "montant", True),
    ("Avis régional", None, False),
    ("Note consolidée", "note", True),
    ("Note normalisée", "normalisee", True),
    ("Rang régional", "rang", False),
    ("Écart des évaluations", "ecart", True),
    ("Analyses CNA", "cna", True),
    ("Décision", None, False),
)


def call_or_404(user, call_pk) -> Call:
    call = get_object_or_404(Call, pk=call_pk)
    if not can_view_national(user, call):
        raise Http404
    return call


def _labels(rows):
    for row in rows:
        row.collegial_opinion_label = consolidation.opinion_label(row.collegial_opinion)
    return rows


# --- Dashboard ----------------------------------------------------------------------------------


def _bars(figures, attribute) -> list[dict]:
    """Horizontal bars of a chart: one per region (its name and value drawn beside it), width as
    a share of the largest."""
    largest = max((getattr(f, attribute) or 0 for f in figures), default=0) or 1
    return [
        {
            "label": f.region.name,
            "value": getattr(f, attribute),
            "width": round(float((getattr(f, attribute) or 0) / largest) * 100, 2),
        }
        for f in figures
    ]


def _boxes(figures) -> list[dict]:
    """Box plots of the consolidated scores per region, on a 0–100 axis (percent of width)."""
    boxes = []
    for f in figures:
        box = {"figure": f, "scored": f.scored > 0}
        if f.scored:
            box.update(
                {
                    "min": float(f.minimum),
                    "q1": float(f.q1),
                    "median": float(f.median),
                    "q3": float(f.q3),
                    "max": float(f.maximum),
                    "box_width": float(f.q3 - f.q1),
                }
            )
        boxes.append(box)
    return boxes


def _charts(call, user, figures) -> str:
    """The charts per region and their data table, rendered once per version of the call and
    user (``national_cache``): 18 regions × 13 figures formatted took tens of milliseconds."""

    def render_charts():
        return render_to_string(
            "evaluation/national/_charts.html",
            {
                "figures": figures,
                "count_bars": _bars(figures, "candidatures"),
                "amount_bars": _bars(figures, "requested"),
                "boxes": _boxes(figures),
            },
        )

    return national_cache.remember(
        call.pk, f"charts:{national_cache.user_scope(user)}", render_charts
    )


@login_required
@require_GET
def national_dashboard(request, call_pk):
    call = call_or_404(request.user, call_pk)
    rows = (
        national.national_rows(call, request.user)
        .only(*national.LIST_FIELDS)
        .annotate(unread_messages=unread_count(request.user))
    )
    filterset = NationalFilter(request.GET, queryset=rows)
    keys = national.ordered_keys(call, request.user, request.GET, filterset.qs)
    page = listing.paginate_keys(keys, filterset.qs, request.GET.get("page"), PAGE_SIZE)
    params = request.GET.copy()
    figures = national.region_figures(call, request.user)
    return render(
        request,
        "evaluation/national/dashboard.html",
        {
            "call": call,
            "form": filterset.form,
            "page": page,
            "rows": _labels(list(page.object_list)),
            "headers": listing.headers(params, COLUMNS),
            "current_sort": params.get("tri", ""),
            "export_query": listing.query(params, page=None),
            "figures": figures,
            "charts": _charts(call, request.user, figures),
            "is_member": is_national_member(request.user, call),
            "deliberation": deliberation_of(call),
        },
    )


# --- A candidature: regional file and the CNA's analyses ----------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def national_candidature(request, pk):
    candidature = get_object_or_404(
        national.national_candidatures_of(request.user).select_related("call", "ptce", "region"),
        pk=pk,
    )
    call = candidature.call
    if not can_view_national(request.user, call):
        raise Http404
    can_write = can_review_nationally(request.user, candidature)
    own = next(
        (a for a in national.analyses_of(candidature) if a.reviewer_id == request.user.pk), None
    )
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied("Vous ne pouvez pas analyser cette candidature.")
        form = AnalysisForm(request.POST)
        if form.is_valid():
            try:
                national.save_analysis(candidature, request.user, **form.cleaned_data)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, "Votre analyse est enregistrée.")
                return redirect("national_candidature", pk=candidature.pk)
    elif own is not None:
        form = AnalysisForm(
            initial={
                "score": own.score,
                "opinion": own.opinion,
                "comment": own.comment,
                "motivation": own.motivation,
            }
        )
    else:
        form = AnalysisForm()
    row = national.with_national(
        Candidature.objects.filter(pk=candidature.pk), call, texts=True
    ).get()
    return render(
        request,
        "evaluation/national/candidature.html",
        {
            "call": call,
            "candidature": candidature,
            "row": row,
            "opinion_label": consolidation.opinion_label(row.collegial_opinion),
            "analyses": list(national.analyses_of(candidature)),
            "form": form,
            "can_write": can_write,
            "own": own,
            "can_read_notes": messaging.can_read_notes(request.user, candidature),
            # Who changed what and when (ami.audit): a fixed number of queries.
            "history": audit.candidature_history(candidature, limit=HISTORY_LIMIT),
        },
    )


# --- Selection assistant and scenarios ----------------------------------------------------------


def _candidate_choices(call, user):
    rows = (
        handed_over(call)
        .filter(pk__in=Candidature.objects.visible_to(user).values("pk"))
        .order_by("region__name", "ptce__name", "pk")
        .values_list("pk", "ptce__name", "region__name")
    )
    return [(str(pk), f"{ptce} ({region})") for pk, ptce, region in rows]


@login_required
@require_http_methods(["GET", "POST"])
def selection_assistant(request, call_pk):
    call = call_or_404(request.user, call_pk)
    if not is_national_member(request.user, call):
        raise Http404
    choices = _candidate_choices(call, request.user)
    if request.method == "POST":
        form = AssistantForm(request.POST, choices=choices)
        if form.is_valid():
            try:
                scenario = scenarios.save(
                    call, request.user, form.cleaned_data["name"], form.parameters()
                )
            except ValidationError as error:
                add_errors(form, error)
            else:
                if scenario.feasible:
                    messages.success(request, f"Le scénario « {scenario.name} » est enregistré.")
                else:
                    messages.warning(request, scenario.message)
                return redirect("scenario_detail", pk=scenario.pk)
    else:
        initial = {"name": f"Scénario {SelectionScenario.objects.filter(call=call).count() + 1}"}
        form = AssistantForm(initial=initial, choices=choices)
    return render(
        request,
        "evaluation/national/assistant.html",
        {"call": call, "form": form, "candidate_count": len(choices)},
    )


@login_required
@require_GET
def scenario_list(request, call_pk):
    call = call_or_404(request.user, call_pk)
    all_scenarios = list(
        SelectionScenario.objects.filter(call=call)
        .select_related("created_by")
        .annotate(laureates=Count("lines", filter=Q(lines__selected=True)))
    )
    form = CompareScenariosForm(request.GET or None, scenarios=all_scenarios)
    chosen_ids = form.chosen_ids()
    chosen = [s for s in all_scenarios if s.pk in chosen_ids]
    return render(
        request,
        "evaluation/national/scenarios.html",
        {
            "call": call,
            "scenarios": all_scenarios,
            "chosen": chosen,
            "form": form,
            "compared": scenarios.compare(chosen) if len(chosen) >= 2 else [],
            "is_member": is_national_member(request.user, call),
        },
    )


@login_required
@require_GET
def scenario_detail(request, pk):
    scenario = get_visible_or_404(
        SelectionScenario.objects.select_related("call", "created_by"), request.user, pk=pk
    )
    call = call_or_404(request.user, scenario.call_id)
    lines = (
        ScenarioLine.objects.visible_to(request.user)
        .filter(scenario=scenario)
        .select_related("candidature__ptce", "candidature__region")
        .only(*SCENARIO_LINE_FIELDS)
        .order_by("-selected", "rank", "pk")
    )
    # One page at a time: a scenario has a line per candidature handed over (10 000 at
    # national scale), each with its explanation.
    page = Paginator(lines, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "evaluation/national/scenario.html",
        {
            "call": call,
            "scenario": scenario,
            "parameters": scenarios.Parameters.from_json(scenario.parameters).summary(),
            "page": page,
            "lines": page.object_list,
            "remaining": (call.envelope - scenario.total_granted)
            if scenario.total_granted is not None
            else None,
            "can_deliberate": can_deliberate(request.user, call),
            "deliberation": deliberation_of(call),
        },
    )
