"""The candidature lifecycle (DESIGN §4): one table of allowed transitions and one function that
performs every transition — checks the actor's right, validates, writes the append-only event and
queues the notifications after commit."""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from accounts.permissions import is_national_administrator, is_regional_coordinator
from ami.audit import audited

from . import admissibility, complements, decisions, submission
from .errors import TransitionRefused
from .models import Candidature, CandidatureEvent, lock_for_write
from .models import CandidatureState as S
from .permissions import is_ptce_member


def _applicant(user, candidature):
    return is_ptce_member(user, candidature.ptce)


def _coordinator(user, candidature):
    return is_regional_coordinator(user, candidature.call, candidature.region)


def _national_administrator(user, candidature):
    return is_national_administrator(user, candidature.call)


@dataclass(frozen=True)
class Transition:
    """``check(candidature, actor, comment, at)`` raises TransitionRefused; ``effect`` (same
    arguments) updates fields before saving; ``notify(candidature, actor, event)`` queues emails
    in the same transaction (they leave after commit)."""

    sources: tuple[str, ...]
    target: str
    allowed: Callable
    label: str
    check: Callable | None = None
    effect: Callable | None = None
    notify: Callable | None = None


TRANSITIONS = [
    Transition(
        (S.DRAFT,),
        S.SUBMITTED,
        _applicant,
        "déposer",
        check=submission.check_submission,
        effect=submission.freeze,
        notify=submission.notify_submitted,
    ),
    Transition(
        (S.DRAFT, S.SUBMITTED),
        S.WITHDRAWN,
        _applicant,
        "retirer",
        notify=submission.notify_withdrawn,
    ),
    Transition(
        (S.SUBMITTED,),
        S.ADMISSIBLE,
        _coordinator,
        "déclarer recevable",
        notify=admissibility.notify_admissible,
    ),
    Transition(
        (S.SUBMITTED,),
        S.INADMISSIBLE,
        _coordinator,
        "déclarer irrecevable",
        check=admissibility.check_motivation,
        notify=admissibility.notify_inadmissible,
    ),
    Transition(
        (S.SUBMITTED, S.ADMISSIBLE),
        S.COMPLEMENTS_REQUESTED,
        _coordinator,
        "demander des compléments",
        check=complements.check_requested,
        notify=complements.notify_requested,
    ),
    Transition(
        (S.COMPLEMENTS_REQUESTED,),
        S.SUBMITTED,
        _applicant,
        "redéposer",
        check=complements.check_resubmission,
        effect=complements.apply_resubmission,
        notify=complements.notify_resubmitted,
    ),
    Transition(
        (S.ADMISSIBLE,),
        S.REGIONAL_REVIEW_DONE,
        _coordinator,
        "transmettre à la CNA",
        check=admissibility.check_regional_opinion,
    ),
    # Decisions: made pending by the CNA's deliberation, performed at publication.
    Transition(
        (S.REGIONAL_REVIEW_DONE,),
        S.LAUREATE,
        _national_administrator,
        "retenir",
        check=decisions.check_decision_is(S.LAUREATE),
        notify=decisions.notify_decision,
    ),
    Transition(
        (S.REGIONAL_REVIEW_DONE,),
        S.NOT_SELECTED,
        _national_administrator,
        "ne pas retenir",
        check=decisions.check_decision_is(S.NOT_SELECTED),
        notify=decisions.notify_decision,
    ),
]


def find_transition(from_state: str, to_state: str) -> Transition | None:
    for transition in TRANSITIONS:
        if from_state in transition.sources and transition.target == to_state:
            return transition
    return None


def allowed_targets(candidature, user) -> list[str]:
    return [
        t.target
        for t in TRANSITIONS
        if candidature.state in t.sources and t.allowed(user, candidature)
    ]


@audited
def transition(candidature: Candidature, to_state: str, actor, *, comment: str = "", at=None):
    """Perform one transition, atomically, on a row locked for the time of the change.

    Returns the ``CandidatureEvent``. Raises ``PermissionDenied`` when the actor may not make it,
    ``TransitionRefused`` when the current state or the rules refuse it.
    """
    at = at or timezone.now()
    with transaction.atomic():
        locked = lock_for_write(candidature.pk)
        rule = find_transition(locked.state, to_state)
        if rule is None:
            raise TransitionRefused(
                f"Impossible : la candidature est « {locked.get_state_display()} », elle ne peut "
                f"pas passer à « {S(to_state).label} ».",
                code="state",
            )
        if not rule.allowed(actor, locked):
            raise PermissionDenied(f"Vous n'avez pas le droit de {rule.label} cette candidature.")
        if rule.check:
            rule.check(locked, actor, comment, at)
        from_state = locked.state
        locked.state = to_state
        if rule.effect:
            rule.effect(locked, actor, comment, at)
        locked.save()
        event = CandidatureEvent.objects.create(
            candidature=locked,
            actor=actor,
            at=at,
            from_state=from_state,
            to_state=to_state,
            comment=comment,
        )
        if rule.notify:
            rule.notify(locked, actor, event)
    # Keep the caller's instance in step with the database.
    for field in locked._meta.concrete_fields:
        setattr(candidature, field.attname, getattr(locked, field.attname))
    return event
