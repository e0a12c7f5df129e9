"""Domain functions on calls: phase changes (logged) and cloning an edition for next year."""

from collections.abc import Callable
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from ami.audit import audited

from .models import Call, CallPhaseChange, Phase

# The one table of allowed phase moves (DESIGN §4), forward along the lifecycle and back only
# where the platform supports undoing: the CNA reopens its list (deliberated → national review)
# or a region's review (national → regional review). Once open, a call never goes back to draft
# (its questionnaire, grid and documents are frozen), and nothing leaves « archived ».
PHASE_MOVES = {
    Phase.DRAFT: {Phase.OPEN},
    Phase.OPEN: {Phase.REGIONAL_REVIEW},
    Phase.REGIONAL_REVIEW: {Phase.NATIONAL_REVIEW},
    Phase.NATIONAL_REVIEW: {Phase.REGIONAL_REVIEW, Phase.DELIBERATED},
    Phase.DELIBERATED: {Phase.NATIONAL_REVIEW, Phase.PUBLISHED},
    Phase.PUBLISHED: {Phase.ARCHIVED},
    Phase.ARCHIVED: set(),
}


# Who may move a call's phase by hand: predicates ``(actor, call) -> bool`` registered by the app
# that knows the roles (accounts, in its ``AppConfig.ready()``): this app imports no higher one.
_PHASE_MOVERS: list[Callable] = []


def register_phase_mover(predicate: Callable) -> None:
    if predicate not in _PHASE_MOVERS:
        _PHASE_MOVERS.append(predicate)


def may_move_phase(actor, call: Call) -> bool:
    return any(predicate(actor, call) for predicate in _PHASE_MOVERS)


@audited
def set_phase(call: Call, to_phase: str, actor, comment: str = "") -> CallPhaseChange | None:
    """Move a call to another phase (staff or CNA administrator by hand; the calendar-driven
    moves pass ``actor=None``), on the locked row, logged with who and when. A move to the phase
    the call is already in changes and logs nothing (returns None), so that concurrent requests
    doing the same move log it once; a move the table does not allow is refused."""
    if to_phase not in Phase.values:
        raise ValidationError(f"Phase inconnue : {to_phase}")
    if actor is not None and not may_move_phase(actor, call):
        raise PermissionDenied(
            "Seuls l'équipe Coorace et les administrateurs de la CNA "
            "peuvent changer la phase d'un appel."
        )
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        if locked.phase == to_phase:
            call.phase = to_phase
            return None
        if to_phase not in PHASE_MOVES[locked.phase]:
            raise ValidationError(
                f"Impossible de passer l'appel de la phase « {locked.get_phase_display()} » à la "
                f"phase « {Phase(to_phase).label} »."
            )
        change = CallPhaseChange.objects.create(
            call=locked, from_phase=locked.phase, to_phase=to_phase, actor=actor, comment=comment
        )
        locked.phase = to_phase
        locked.save(update_fields=["phase", "updated_at"])
    call.phase = to_phase
    return change


def _shift_year(value, years: int):
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value + timedelta(days=365 * years)


@audited
def clone_call(call: Call, actor, *, year: int | None = None) -> Call:
    """Copy an edition (settings, grid, required documents) as a draft for ``year``
    (next year by default), with every date moved by the same number of years."""
    year = year or call.year + 1
    shift = year - call.year
    base_name = call.name.replace(str(call.year), str(year))
    if base_name == call.name:
        base_name = f"{call.name} {year}"
    slug = slugify(base_name)[:70] or f"appel-{year}"
    candidate, n = slug, 2
    while Call.objects.filter(slug=candidate).exists():
        candidate, n = f"{slug}-{n}", n + 1
    with transaction.atomic():
        clone = Call.objects.get(pk=call.pk)
        clone.pk = None
        clone.name = base_name
        clone.slug = candidate
        clone.year = year
        clone.phase = Phase.DRAFT
        for field in (
            "opens_at",
            "closes_at",
            "regional_review_deadline",
            "national_review_deadline",
        ):
            setattr(clone, field, _shift_year(getattr(call, field), shift))
        for field in ("subsidy_payment_start", "subsidy_payment_end"):
            value = getattr(call, field)
            setattr(clone, field, _shift_year(value, shift) if value else None)
        clone.save()
        for criterion in call.criteria.all():
            criterion.pk = None
            criterion.call = clone
            criterion.save()
        for document_type in call.document_types.all():
            document_type.pk = None
            document_type.call = clone
            document_type.save()
        CallPhaseChange.objects.create(
            call=clone,
            from_phase=Phase.DRAFT,
            to_phase=Phase.DRAFT,
            actor=actor,
            comment=f"Créé par copie de « {call.name} ».",
        )
    return clone
