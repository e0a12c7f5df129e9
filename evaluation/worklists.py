"""The regional cell's worklist (the coordinator's home of a cell): its candidatures past
submission with what the coordinator needs to act on each — review progress, the due date that
applies, the actions the call's phase and the candidature's state allow — and each member's
progress. Every figure comes from the rows' one query (annotations), whatever their number."""

from dataclasses import dataclass

from django.db.models import Count, Exists, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import RegionalCell, RegionalCellMembership
from ami.models import SearchName
from candidatures.models import Candidature, CandidatureState, ComplementRequest

from .models import Assignment, Review, ReviewState
from .permissions import region_handed_over, regional_phase_refusal

# States in which the regional review of a candidature is still under way: the end of the
# regional review is their due date (complements have their own).
IN_PROGRESS = (CandidatureState.SUBMITTED, CandidatureState.ADMISSIBLE)


def _count(queryset):
    """The number of ``queryset`` rows of the outer candidature, as a subquery (0 when none):
    a join would multiply the assignments by the reviews."""
    return Coalesce(
        Subquery(
            queryset.filter(candidature=OuterRef("pk"))
            .order_by()
            .values("candidature")
            .annotate(n=Count("pk"))
            .values("n"),
            output_field=IntegerField(),
        ),
        Value(0),
    )


def cell_candidatures(cell: RegionalCell, user):
    """The cell's candidatures past submission that ``user`` sees (conflicts hidden), with the
    number of assignments and of submitted reviews, the due date of open complements, the
    PTCE and its département loaded; ``sort_name`` sorts names as a French reader expects
    (« Éclat » between « Atelier » and « Refusée », not after « Zéphyr »)."""
    return (
        Candidature.objects.visible_to(user)
        .filter(call=cell.call_id, region=cell.region_id, submitted_at__isnull=False)
        .select_related("ptce__seat_commune__department")
        .annotate(
            sort_name=SearchName("ptce__name"),
            reviews_assigned=_count(Assignment.objects.all()),
            reviews_submitted=_count(Review.objects.filter(state=ReviewState.SUBMITTED)),
            complements_due_at=Subquery(
                ComplementRequest.objects.filter(
                    candidature=OuterRef("pk"), answered_at__isnull=True
                )
                .order_by("due_at")
                .values("due_at")[:1]
            ),
        )
    )


def assigned_to(queryset, evaluator):
    return queryset.filter(
        Exists(Assignment.objects.filter(candidature=OuterRef("pk"), evaluator=evaluator))
    )


@dataclass(frozen=True)
class Actions:
    """What a coordinator may start on a row of the worklist (each screen checks it again)."""

    admissibility: bool = False
    complements: bool = False
    opinion: bool = False


def actions_for(candidature, regional_open: bool) -> Actions:
    """The actions the phase (``regional_open``: the call's phase allows the regional review
    and the region is not handed over) and the state allow."""
    if not regional_open:
        return Actions()
    state = candidature.state
    return Actions(
        admissibility=state == CandidatureState.SUBMITTED,
        complements=state in IN_PROGRESS,
        opinion=state == CandidatureState.ADMISSIBLE,
    )


def due_date(candidature, call):
    """The date the candidature's next step is due: the applicant's complements, or the end of
    the regional review while the cell still has work on it; None otherwise."""
    if candidature.state == CandidatureState.COMPLEMENTS_REQUESTED:
        return candidature.complements_due_at
    if candidature.state in IN_PROGRESS:
        return call.regional_review_deadline
    return None


def decorate(rows, cell: RegionalCell, at=None):
    """Attach ``actions``, ``due_at`` and ``overdue`` to the rows of a page (no query)."""
    at = at or timezone.now()
    regional_open = is_regional_open(cell)
    for row in rows:
        row.actions = actions_for(row, regional_open)
        row.due_at = due_date(row, cell.call)
        row.overdue = row.due_at is not None and row.due_at < at
    return rows


def is_regional_open(cell: RegionalCell) -> bool:
    return not regional_phase_refusal(cell.call) and not region_handed_over(
        cell.call_id, cell.region_id
    )


def member_progress(cell: RegionalCell) -> list[RegionalCellMembership]:
    """Each active member of the cell with ``assigned`` (their assignments in the cell's
    region and call) and ``submitted`` (their reviews submitted there), in one query."""
    in_cell = Q(candidature__call=cell.call_id, candidature__region=cell.region_id)
    assigned = (
        Assignment.objects.filter(in_cell, evaluator=OuterRef("user"))
        .order_by()
        .values("evaluator")
        .annotate(n=Count("pk"))
        .values("n")
    )
    submitted = (
        Review.objects.filter(in_cell, evaluator=OuterRef("user"), state=ReviewState.SUBMITTED)
        .order_by()
        .values("evaluator")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return list(
        RegionalCellMembership.objects.filter(cell=cell, user__is_active=True)
        .select_related("user")
        .annotate(
            assigned=Coalesce(Subquery(assigned, output_field=IntegerField()), Value(0)),
            submitted=Coalesce(Subquery(submitted, output_field=IntegerField()), Value(0)),
        )
        .order_by("role", "user__last_name", "user__first_name", "user__email")
    )
