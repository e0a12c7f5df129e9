"""Domain functions on calls: phase changes (logged) and cloning an edition for next year.

What belongs to other apps (the cells and their members, kept in ``accounts``) is copied into the
next edition through a registry: an app registers a ``ClonePart`` from its ``AppConfig.ready()``
(``ami`` never imports it); the clone runs every part in its transaction."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from ami.audit import audited

from .models import Call, CallPhaseChange, Phase, Question, Section

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


@dataclass(frozen=True)
class CloneOption:
    """Something staff may choose to carry over into the next edition (checked by default)."""

    key: str  # stable within its part, e.g. « regional-12 » for a membership
    label: str
    group: str  # heading it is listed under (e.g. the cell)


@dataclass(frozen=True)
class ClonePart:
    """What an app copies into the next edition. ``copy(source, target, actor, keep)`` gets the
    keys of the options staff kept (``None``: all of them), must only add what ``target`` lacks
    (running it again adds nothing) and returns counts of what it created, by French label."""

    name: str
    label: str
    options: Callable[[Call], list[CloneOption]]
    copy: Callable[[Call, Call, object, set[str] | None], dict[str, int]]


_clone_parts: dict[str, ClonePart] = {}


def register_clone_part(part: ClonePart) -> None:
    """Called from an app's ``ready()``; registering the same name again replaces it."""
    _clone_parts[part.name] = part


def clone_parts() -> list[ClonePart]:
    return list(_clone_parts.values())


@dataclass
class CloneResult:
    call: Call
    created: bool  # False: the next edition existed and was completed
    copied: dict[str, int] = field(default_factory=dict)  # what the parts added, by label


def _shift_year(value, years: int):
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value + timedelta(days=365 * years)


def next_edition_name(call: Call, year: int) -> str:
    name = call.name.replace(str(call.year), str(year))
    return name if name != call.name else f"{call.name} {year}"


def existing_next_edition(call: Call, year: int | None = None) -> Call | None:
    """The edition a previous clone of ``call`` made for ``year`` (same name, same year)."""
    year = year or call.year + 1
    return (
        Call.objects.filter(year=year, name=next_edition_name(call, year))
        .exclude(pk=call.pk)
        .order_by("pk")
        .first()
    )


@audited
def clone_call(
    call: Call, actor, *, year: int | None = None, keep: dict[str, set[str]] | None = None
) -> Call:
    """Copy an edition (settings, grid, required documents, and what other apps registered:
    the cells and the members kept) as a draft for ``year`` (next year by default), with every
    date moved by the same number of years, in one transaction. ``keep`` maps a part's name to
    the keys of its options staff kept (a part not named keeps everything).

    Running it again does not duplicate anything: it finds the edition made the first time and
    completes it with what the parts still miss (a cell deleted since, a member now kept); the
    grid and documents, which staff edit in the new edition, are left as they are. An edition
    that is no longer a draft is refused."""
    return prepare_next_edition(call, actor, year=year, keep=keep).call


@audited
def prepare_next_edition(
    call: Call, actor, *, year: int | None = None, keep: dict[str, set[str]] | None = None
) -> CloneResult:
    """``clone_call`` with what it did: created or completed, and the counts of each part."""
    year = year or call.year + 1
    with transaction.atomic():
        existing = existing_next_edition(call, year)
        if existing is not None:
            existing = Call.objects.select_for_update().get(pk=existing.pk)
            if existing.phase != Phase.DRAFT:
                raise ValidationError(
                    f"« {existing.name} » existe déjà et n'est plus en brouillon "
                    f"(phase : {existing.get_phase_display()}) : rien n'a été copié. "
                    "Complétez ses cellules depuis l'administration."
                )
            result = CloneResult(existing, created=False)
        else:
            result = CloneResult(_copy_call(call, actor, year), created=True)
        result.copied = _copy_parts(call, result.call, actor, keep)
    return result


def _copy_parts(call: Call, clone: Call, actor, keep: dict[str, set[str]] | None) -> dict:
    """Run every registered part (cells and members …) on the new edition."""
    copied = {}
    for part in clone_parts():
        kept = None if keep is None or part.name not in keep else set(keep[part.name])
        copied.update(part.copy(call, clone, actor, kept))
    return copied


def _copy_call(call: Call, actor, year: int) -> Call:
    shift = year - call.year
    base_name = next_edition_name(call, year)
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
        copy_questionnaire(call, clone)
        CallPhaseChange.objects.create(
            call=clone,
            from_phase=Phase.DRAFT,
            to_phase=Phase.DRAFT,
            actor=actor,
            comment=f"Créé par copie de « {call.name} ».",
        )
    return clone


def copy_questionnaire(source: Call, target: Call) -> None:
    """Copy the sections and questions of ``source`` into ``target`` (a call in draft), same
    slugs: answers are carried over by slug from one edition to the next."""
    sections = list(source.sections.prefetch_related("questions"))
    for section in sections:
        copy = Section.objects.create(
            call=target,
            title=section.title,
            slug=section.slug,
            kind=section.kind,
            order=section.order,
        )
        Question.objects.bulk_create(
            Question(
                call=target,
                section=copy,
                slug=question.slug,
                label=question.label,
                help_text=question.help_text,
                kind=question.kind,
                required=question.required,
                max_length=question.max_length,
                choices=question.choices,
                order=question.order,
            )
            for question in section.questions.all()
        )
