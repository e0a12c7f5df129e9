"""Predicates of the regional and national review. Seeing a candidature is always
``Candidature.objects.visible_to`` (which already hides conflicted ones); these add the role
and the state of the review."""

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef

from accounts.models import RegionalCell, RegionalCellMembership, RegionalRole
from accounts.permissions import (
    is_national_administrator,
    is_national_member,
    is_regional_coordinator,
    is_regional_member,
    national_calls_seen_by,
)
from ami.models import Phase
from candidatures.models import CandidatureState

from .models import (
    BLOCKING_CONFLICT,
    Assignment,
    ConflictOfInterest,
    RegionHandover,
    Review,
    ReviewState,
)


def conflicted_for(user):
    """The candidatures ``user`` has a blocking conflict of interest on (an expression for
    ``Candidature.objects.visible_to``, registered in ``EvaluationConfig.ready()``)."""
    return Exists(
        ConflictOfInterest.objects.filter(
            BLOCKING_CONFLICT, candidature=OuterRef("pk"), evaluator=user
        )
    )


def has_blocking_conflict(user, candidature) -> bool:
    return ConflictOfInterest.objects.filter(
        BLOCKING_CONFLICT, candidature=candidature, evaluator=user
    ).exists()


# The call's phases in which a regional cell decides (admissibility, complements, assignments,
# conflicts, collegial opinion, ranking, hand-over): from the opening of the call (candidatures
# are checked as they arrive) to the end of the regional review. The CNA reopens a region's
# review by moving the call back to « instruction régionale ».
REGIONAL_PHASES = (Phase.OPEN, Phase.REGIONAL_REVIEW)


def regional_phase_refusal(call) -> str:
    """Why the call's phase refuses the regional cell's decisions ("" when it allows them)."""
    if call.phase in REGIONAL_PHASES:
        return ""
    return (
        f"L'appel est en phase « {call.get_phase_display()} » : la cellule régionale ne décide "
        "(recevabilité, compléments, attributions, avis collégial, classement, transmission) "
        "qu'en phase « candidatures ouvertes » ou « instruction régionale »."
    )


def review_phase_refusal(call) -> str:
    """Why the call's phase refuses the evaluators' scoring (saving, submitting) ("" when it
    allows it): the same phases as the regional cell's decisions."""
    if call.phase in REGIONAL_PHASES:
        return ""
    return (
        f"L'appel est en phase « {call.get_phase_display()} » : les évaluations ne se saisissent "
        "et ne se rendent qu'en phase « candidatures ouvertes » ou « instruction régionale »."
    )


def check_regional_phase(call) -> None:
    """Refuse a regional cell's decision outside ``REGIONAL_PHASES``, with the French reason."""
    refusal = regional_phase_refusal(call)
    if refusal:
        raise ValidationError(refusal, code="phase")


def region_handed_over(call, region) -> bool:
    return RegionHandover.objects.filter(cell__call=call, cell__region=region).exists()


HANDED_OVER_GROUP = "Régions transmises à la CNA"


def handed_over_cells(cell_ids) -> dict[int, str]:
    """The cells among ``cell_ids`` whose region is handed over to the CNA, labelled for the
    CNA's « Mon espace » (``accounts.navigation.register_cell_stage``), in one query."""
    handed = RegionHandover.objects.filter(cell_id__in=cell_ids).values_list("cell_id", flat=True)
    return dict.fromkeys(handed, HANDED_OVER_GROUP)


def cell_of(candidature) -> RegionalCell | None:
    """The regional cell that instructs the candidature (its call and current region)."""
    return (
        RegionalCell.objects.select_related("call", "region")
        .filter(call_id=candidature.call_id, region_id=candidature.region_id)
        .first()
    )


def can_view_cell(user, cell: RegionalCell) -> bool:
    """The cell's consolidation: its coordinators, the CNA of the call and the staff (the last
    two read-only)."""
    if not (user.is_authenticated and user.is_active):
        return False
    return user.is_staff or is_cell_coordinator(user, cell) or is_national_member(user, cell.call)


def can_edit_cell(user, cell: RegionalCell) -> bool:
    """Opinions and ranking are written by a coordinator until the region is handed over, while
    the call's phase allows the regional review."""
    return (
        is_cell_coordinator(user, cell)
        and not regional_phase_refusal(cell.call)
        and not region_handed_over(cell.call_id, cell.region_id)
    )


def is_cell_coordinator(user, cell: RegionalCell) -> bool:
    return (
        user.is_authenticated
        and RegionalCellMembership.objects.filter(
            cell=cell, user=user, role=RegionalRole.COORDINATOR
        ).exists()
    )


def can_coordinate(user, candidature) -> bool:
    """Coordinator of the candidature's cell, without a conflict on it."""
    return is_regional_coordinator(
        user, candidature.call, candidature.region
    ) and not has_blocking_conflict(user, candidature)


def can_review(user, candidature) -> bool:
    """Assigned to it, still a member of the cell, no conflict, region not handed over."""
    return (
        Assignment.objects.filter(candidature=candidature, evaluator=user).exists()
        and is_regional_member(user, candidature.call, candidature.region)
        and not has_blocking_conflict(user, candidature)
        and not region_handed_over(candidature.call, candidature.region)
    )


def can_see_reviews(user, candidature) -> bool:
    """Other people's reviews: coordinators and the CNA always (unless conflicted); an
    evaluator once their own review is submitted, or at once if the call allows it."""
    if has_blocking_conflict(user, candidature):
        return False
    if is_regional_coordinator(user, candidature.call, candidature.region):
        return True
    if is_national_member(user, candidature.call):
        return True
    if not is_regional_member(user, candidature.call, candidature.region):
        return False
    if candidature.call.reviews_visible_before_submit:
        return True
    return Review.objects.filter(
        candidature=candidature, evaluator=user, state=ReviewState.SUBMITTED
    ).exists()


# --- National review (CNA) -----------------------------------------------------------------------


def can_view_national(user, call) -> bool:
    """The national screens of a call: its CNA (members and administrators) and the staff
    (read-only)."""
    return national_calls_seen_by(user).filter(pk=call.pk).exists()


def can_review_nationally(user, candidature) -> bool:
    """A CNA member writes their analysis of a candidature handed over by its region, until the
    results are published. Seeing it is ``visible_to`` (which hides conflicted ones)."""
    return (
        is_national_member(user, candidature.call)
        and candidature.state == CandidatureState.REGIONAL_REVIEW_DONE
        and not has_blocking_conflict(user, candidature)
    )


def can_deliberate(user, call) -> bool:
    """Any CNA member records the session and its lines while the list is not fixed."""
    return is_national_member(user, call) and call.phase == Phase.NATIONAL_REVIEW


def can_administer_national(user, call) -> bool:
    """Fix or reopen the list, edit pending decisions, publish: CNA administrators."""
    return is_national_administrator(user, call)


def can_manage_batch(user, batch) -> bool:
    """Preview, edit, discard and send a held bulk send of a call: its CNA administrators."""
    return batch.call_id is not None and is_national_administrator(user, batch.call)
