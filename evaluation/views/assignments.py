"""The coordinator's assignment of evaluators to the cell's candidatures, by hand or balanced
(``evaluation.assignment``), with the conflicts to settle."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import (
    RegionalCellMembership,
    User,
)
from ami.formats import plural
from ami.forms import add_errors
from ami.scoping import get_visible_or_404
from candidatures.models import Candidature, CandidatureState

from .. import assignment, conflicts
from ..forms import AssignForm
from ..models import Assignment, ConflictOfInterest, Review, ReviewState
from ..permissions import region_handed_over, regional_phase_refusal
from .errors import flash_errors
from .lookups import coordinated_candidature_or_404, coordinated_cell_or_404, posted_pk

PAGE_SIZE = 50


def _members(cell) -> list:
    """The cell's active members, coordinators first."""
    return list(
        RegionalCellMembership.objects.filter(cell=cell, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__last_name", "user__first_name", "user__email")
    )


def _assignment_post(request, cell):
    """Perform the posted action; an ``AssignForm`` back when the assignment was refused (its
    errors to show in the candidature's row)."""
    action = request.POST.get("action")
    if action == "auto":
        result = assignment.auto_assign(cell, request.user)
        if result.created:
            messages.success(
                request,
                plural(len(result.created), "attribution créée", "attributions créées")
                + " ; chacun est prévenu.",
            )
        else:
            messages.info(request, "Rien à attribuer : chaque candidature est déjà pourvue.")
        if result.understaffed:
            names = [f"{c.ptce.name} (manque {n})" for c, n in result.understaffed[:10]]
            more = len(result.understaffed) - len(names)
            messages.warning(
                request,
                plural(len(result.understaffed), "candidature n'a", "candidatures n'ont")
                + " pas pu être entièrement pourvue"
                + ("s" if len(result.understaffed) > 1 else "")
                + ", faute d'évaluateurs sans conflit d'intérêts : "
                + ", ".join(names)
                + (f" et {plural(more, 'autre')}" if more > 0 else "")
                + ".",
            )
        return
    if action == "assign":
        candidature = coordinated_candidature_or_404(
            request.user, posted_pk(request, "candidature")
        )
        if (candidature.call_id, candidature.region_id) != (cell.call_id, cell.region_id):
            raise Http404
        form = AssignForm(request.POST, candidature=candidature, options=_members(cell))
        if not form.is_valid():
            return form
        evaluator = User.objects.get(pk=form.cleaned_data["evaluator"])
        try:
            assignment.assign(candidature, evaluator, request.user)
        except ValidationError as error:
            add_errors(form, error)
            return form
        messages.success(request, f"« {candidature.ptce.name} » est attribuée à {evaluator}.")
        return
    if action == "unassign":
        row = get_visible_or_404(
            Assignment.objects.select_related("evaluator", "candidature__call"),
            request.user,
            pk=posted_pk(request, "assignment"),
            candidature__call=cell.call_id,
            candidature__region=cell.region_id,
        )
        coordinated_candidature_or_404(request.user, row.candidature_id)
        assignment.unassign(row, request.user)
        messages.success(request, f"L'attribution à {row.evaluator} est retirée.")
        return
    if action in ("confirm_conflict", "dismiss_conflict"):
        conflict = get_visible_or_404(
            ConflictOfInterest.objects.select_related("evaluator", "candidature__ptce"),
            request.user,
            pk=posted_pk(request, "conflict"),
            candidature__call=cell.call_id,
            candidature__region=cell.region_id,
        )
        coordinated_candidature_or_404(request.user, conflict.candidature_id)
        confirm = action == "confirm_conflict"
        conflicts.settle_conflict(conflict, request.user, confirm=confirm)
        messages.success(
            request,
            f"Conflit d'intérêts de {conflict.evaluator} sur « {conflict.candidature.ptce.name} » "
            + ("confirmé : la candidature lui est retirée." if confirm else "écarté."),
        )
        return
    raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def cell_assignments(request, cell_pk):
    cell = coordinated_cell_or_404(request.user, cell_pk)
    refused = None
    if request.method == "POST":
        try:
            refused = _assignment_post(request, cell)
        except ValidationError as error:
            flash_errors(request, error)
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))
        if refused is None:
            return redirect("cell_assignments", cell_pk=cell.pk)

    wanted = cell.call.reviews_per_candidature
    admissible = Candidature.objects.visible_to(request.user).filter(
        call=cell.call_id, region=cell.region_id, state=CandidatureState.ADMISSIBLE
    )
    summary = admissible.order_by().aggregate(
        total=Count("pk"),
        understaffed=Count("pk", filter=Q(pk__in=_understaffed(admissible, wanted))),
    )
    page = Paginator(
        admissible.select_related("ptce")
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.select_related("evaluator").order_by(
                    "evaluator__last_name", "evaluator__first_name", "pk"
                ),
            ),
            Prefetch(
                "conflicts",
                queryset=ConflictOfInterest.objects.select_related("evaluator").order_by("pk"),
            ),
            Prefetch(
                "reviews",
                queryset=Review.objects.filter(state=ReviewState.SUBMITTED).only(
                    "pk", "candidature_id", "evaluator_id"
                ),
                to_attr="submitted_reviews",
            ),
        )
        .order_by("ptce__name", "pk"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    memberships = _members(cell)
    member_ids = [m.user_id for m in memberships]
    load = assignment.loads(cell.call_id, member_ids)
    done = dict(
        Review.objects.filter(
            candidature__call=cell.call_id, evaluator__in=member_ids, state=ReviewState.SUBMITTED
        )
        .values("evaluator")
        .annotate(n=Count("pk"))
        .values_list("evaluator", "n")
    )
    rows = []
    for candidature in page.object_list:
        submitted = {review.evaluator_id for review in candidature.submitted_reviews}
        assigned = list(candidature.assignments.all())
        assigned_ids = {a.evaluator_id for a in assigned}
        conflicts = list(candidature.conflicts.all())
        blocked = {c.evaluator_id for c in conflicts if c.blocks}
        options = [m for m in memberships if m.user_id not in assigned_ids | blocked]
        if refused is not None and refused.candidature.pk == candidature.pk:
            form = refused  # the refused choice, with its error, in its row
        else:
            form = AssignForm(candidature=candidature, options=options)
        rows.append(
            {
                "candidature": candidature,
                "assignments": [(a, a.evaluator_id not in submitted) for a in assigned],
                "conflicts": conflicts,
                "options": options,
                "form": form,
                "missing": max(0, wanted - len(assigned)),
            }
        )
    handed_over = region_handed_over(cell.call_id, cell.region_id)
    phase_refusal = regional_phase_refusal(cell.call)
    return render(
        request,
        "evaluation/coordinator/assignments.html",
        {
            "cell": cell,
            "wanted": wanted,
            "summary": summary,
            "page": page,
            "rows": rows,
            "members": [(m, load[m.user_id], done.get(m.user_id, 0)) for m in memberships],
            "handed_over": handed_over,
            "phase_refusal": phase_refusal,
            "closed": handed_over or bool(phase_refusal),
        },
        status=422 if refused is not None else 200,
    )


def _understaffed(candidatures, wanted):
    return (
        candidatures.order_by().annotate(n=Count("assignments")).filter(n__lt=wanted).values("pk")
    )
