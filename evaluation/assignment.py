"""Assignments of evaluators to admissible candidatures, by the cell's coordinator: by hand, or
all at once with ``auto_assign``, which balances the load across the cell's evaluators and never
gives a candidature to someone with a conflict of interest on it (declared, or detected and not
dismissed)."""

import logging
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count

from accounts.models import RegionalCell, RegionalCellMembership, RegionalRole, User
from ami.audit import audited
from ami.outbox import queue_templated_email
from candidatures.models import Candidature, CandidatureState

from .cells import worklist_url
from .conflicts import detect_conflicts, detect_conflicts_for_call
from .models import BLOCKING_CONFLICT, Assignment, ConflictOfInterest, Review, ReviewState
from .permissions import (
    can_coordinate,
    check_regional_phase,
    is_cell_coordinator,
    region_handed_over,
)

logger = logging.getLogger(__name__)


def loads(call, user_ids) -> Counter:
    """Number of assignments of each user on the call's candidatures (all regions)."""
    rows = (
        Assignment.objects.filter(candidature__call=call, evaluator__in=user_ids)
        .values("evaluator")
        .annotate(n=Count("pk"))
        .values_list("evaluator", "n")
    )
    return Counter(dict(rows))


def _check_open(call, region):
    check_regional_phase(call)
    if region_handed_over(call, region):
        raise ValidationError(
            "La région a été transmise à la CNA : les attributions ne peuvent plus changer."
        )


def _notify(evaluator, candidatures, actor, call, template, event):
    queue_templated_email(
        to=evaluator.email,
        template=template,
        context={
            "evaluator": evaluator,
            "candidatures": candidatures,
            "actor": actor,
            "worklist_url": worklist_url(),
        },
        event=event,
        related=candidatures[0] if len(candidatures) == 1 else None,
        call=call,
    )


@audited
def assign(candidature, evaluator, actor) -> Assignment:
    """Give the candidature to a member of its cell (evaluator or coordinator) for review."""
    if not can_coordinate(actor, candidature):
        raise PermissionDenied(
            "Seul un coordinateur de la cellule régionale attribue les dossiers."
        )
    _check_open(candidature.call, candidature.region)
    detect_conflicts(candidature)  # a likely conflict blocks until the coordinator settles it
    with transaction.atomic():
        cell = RegionalCell.objects.select_for_update().get(
            call=candidature.call_id, region=candidature.region_id
        )
        locked = Candidature.objects.select_related("ptce", "call").get(pk=candidature.pk)
        if locked.state != CandidatureState.ADMISSIBLE:
            raise ValidationError(
                f"La candidature est « {locked.get_state_display()} » : seules les candidatures "
                "recevables sont attribuées."
            )
        if not RegionalCellMembership.objects.filter(cell=cell, user=evaluator).exists():
            raise ValidationError(f"{evaluator} ne fait pas partie de la cellule {cell.region}.")
        if ConflictOfInterest.objects.filter(
            BLOCKING_CONFLICT, candidature=locked, evaluator=evaluator
        ).exists():
            raise ValidationError(
                f"{evaluator} a un conflit d'intérêts sur cette candidature (déclaré, ou détecté "
                "et non écarté) : elle ne peut pas lui être attribuée."
            )
        if Assignment.objects.filter(candidature=locked, evaluator=evaluator).exists():
            raise ValidationError(f"La candidature est déjà attribuée à {evaluator}.")
        assignment = Assignment.objects.create(
            candidature=locked, evaluator=evaluator, assigned_by=actor
        )
        _notify(
            evaluator, [locked], actor, locked.call, "assignment_created", "evaluation.assigned"
        )
    logger.info("%s assigned candidature %s to %s", actor, locked.pk, evaluator)
    return assignment


@audited
def unassign(assignment, actor) -> None:
    """Take the candidature back from the evaluator, unless their review is submitted."""
    candidature = assignment.candidature
    if not can_coordinate(actor, candidature):
        raise PermissionDenied(
            "Seul un coordinateur de la cellule régionale attribue les dossiers."
        )
    _check_open(candidature.call, candidature.region)
    with transaction.atomic():
        list(  # serialise with the other changes of the cell's assignments
            RegionalCell.objects.select_for_update().filter(
                call=candidature.call_id, region=candidature.region_id
            )
        )
        if Review.objects.filter(
            candidature=candidature, evaluator=assignment.evaluator_id, state=ReviewState.SUBMITTED
        ).exists():
            raise ValidationError(
                f"{assignment.evaluator} a déjà rendu son évaluation : l'attribution est gardée."
            )
        deleted, _ = Assignment.objects.filter(pk=assignment.pk).delete()
        if deleted:
            _notify(
                assignment.evaluator,
                [candidature],
                actor,
                candidature.call,
                "assignment_removed",
                "evaluation.unassigned",
            )
    logger.info("%s took candidature %s back from %s", actor, candidature.pk, assignment.evaluator)


@dataclass
class AutoAssignResult:
    created: list = field(default_factory=list)  # new Assignment rows
    understaffed: list = field(default_factory=list)  # (candidature, missing reviews)
    evaluators: int = 0  # size of the pool
    candidatures: int = 0  # admissible candidatures looked at

    @property
    def changed(self) -> bool:
        return bool(self.created)


@audited
def auto_assign(cell: RegionalCell, actor) -> AutoAssignResult:
    """Top every admissible candidature of the cell up to ``call.reviews_per_candidature``
    assignments, in one transaction.

    - The pool is the cell's active members with the *evaluator* role: coordinators animate the
      cell, decide admissibility and write the collegial opinion, so they are never picked
      automatically (they can still assign themselves by hand). When the pool is too small for a
      candidature, it is reported in ``understaffed``.
    - Nobody with a blocking conflict on a candidature (declared, or detected and not dismissed)
      nor already assigned to it is picked.
    - Each pick goes to the least loaded evaluator (assignments on the call), ties broken by
      user id; the most constrained candidatures are served first. A rebalancing pass then moves
      the assignments created by this run along chains of allowed swaps until no evaluator has
      two more than another one it could hand work to: loads stay within one of each other
      whenever conflicts allow.
    - Existing assignments are never moved nor removed: running it again changes nothing.
    """
    if not is_cell_coordinator(actor, cell):
        raise PermissionDenied(
            "Seul un coordinateur de la cellule régionale attribue les dossiers."
        )
    call = cell.call
    _check_open(call, cell.region)
    detect_conflicts_for_call(call)  # flag likely conflicts before anyone is picked
    result = AutoAssignResult()
    with transaction.atomic():
        RegionalCell.objects.select_for_update().get(pk=cell.pk)
        # The actor's own conflicts hide candidatures from them: leave those alone.
        candidatures = list(
            Candidature.objects.visible_to(actor)
            .filter(call=call, region=cell.region_id, state=CandidatureState.ADMISSIBLE)
            .select_related("ptce")
            .order_by("pk")
        )
        result.candidatures = len(candidatures)
        evaluators = list(
            User.objects.filter(
                regional_memberships__cell=cell,
                regional_memberships__role=RegionalRole.EVALUATOR,
                is_active=True,
            ).order_by("pk")
        )
        result.evaluators = len(evaluators)
        by_id = {candidature.pk: candidature for candidature in candidatures}
        scope = {"candidature__in": [c.pk for c in candidatures]}
        assigned = defaultdict(set)
        for candidature_id, evaluator_id in Assignment.objects.filter(**scope).values_list(
            "candidature", "evaluator"
        ):
            assigned[candidature_id].add(evaluator_id)
        blocked = defaultdict(set)
        for candidature_id, evaluator_id in ConflictOfInterest.objects.filter(
            BLOCKING_CONFLICT, **scope
        ).values_list("candidature", "evaluator"):
            blocked[candidature_id].add(evaluator_id)
        pool = [evaluator.pk for evaluator in evaluators]
        new, missing = plan(
            list(by_id),
            pool,
            call.reviews_per_candidature,
            assigned,
            blocked,
            loads(call, pool),
        )
        result.understaffed = [(by_id[c], n) for c, n in sorted(missing.items())]

        users = {evaluator.pk: evaluator for evaluator in evaluators}
        rows = [
            Assignment(candidature=by_id[c], evaluator=users[e], assigned_by=actor)
            for e in pool
            for c in sorted(new[e])
        ]
        result.created = Assignment.objects.bulk_create(rows)
        for evaluator_id in pool:
            if new[evaluator_id]:
                given = [by_id[c] for c in sorted(new[evaluator_id])]
                _notify(
                    users[evaluator_id],
                    given,
                    actor,
                    call,
                    "assignment_created",
                    "evaluation.assigned",
                )
    logger.info(
        "%s auto-assigned %s: %s new assignments, %s candidatures understaffed",
        actor,
        cell,
        len(result.created),
        len(result.understaffed),
    )
    return result


def plan(candidature_ids, pool, wanted, assigned, blocked, load):
    """The assignments to add, without touching the database: ``assigned`` and ``blocked`` map
    a candidature id to the evaluator ids already on it / in conflict with it, ``load`` counts
    each evaluator's assignments. Returns ``(new, missing)``: evaluator id → candidature ids
    to give them, and candidature id → reviews still missing. See ``auto_assign``."""
    assigned = {c: set(assigned.get(c, ())) for c in candidature_ids}
    load = Counter({e: load.get(e, 0) for e in pool})

    def allowed(candidature_id, evaluator_id):
        excluded = blocked.get(candidature_id, ())
        return evaluator_id not in assigned[candidature_id] and evaluator_id not in excluded

    def options(candidature_id):
        return [e for e in pool if allowed(candidature_id, e)]

    new = {e: set() for e in pool}
    missing = {}
    for candidature_id in sorted(candidature_ids, key=lambda pk: (len(options(pk)), pk)):
        wanted_here = wanted - len(assigned[candidature_id])
        if wanted_here <= 0:
            continue
        picks = sorted(options(candidature_id), key=lambda e: (load[e], e))[:wanted_here]
        for evaluator_id in picks:
            assigned[candidature_id].add(evaluator_id)
            new[evaluator_id].add(candidature_id)
            load[evaluator_id] += 1
        if len(picks) < wanted_here:
            missing[candidature_id] = wanted_here - len(picks)
    _rebalance(pool, new, assigned, load, allowed)
    return new, missing


def _rebalance(pool, new, assigned, load, allowed):
    """Move assignments made by this run along chains e₀ →c₁→ e₁ →c₂→ … → eₖ (eᵢ hands cᵢ₊₁
    to eᵢ₊₁, who is allowed to take it) whenever the chain's end has at least two fewer than
    its start. Each move lowers the sum of squared loads, so this ends; when it does, no
    evaluator could give work to a less loaded one by any chain of allowed swaps."""
    while True:
        path = None
        for source in sorted(pool, key=lambda e: (-load[e], e)):
            path = _chain_from(source, pool, new, load, allowed)
            if path:
                break
        if not path:
            return
        for giver, candidature_id, taker in path:
            new[giver].discard(candidature_id)
            assigned[candidature_id].discard(giver)
            new[taker].add(candidature_id)
            assigned[candidature_id].add(taker)
        load[path[0][0]] -= 1
        load[path[-1][2]] += 1


def _chain_from(source, pool, new, load, allowed):
    """Breadth-first search of a chain from ``source`` to an evaluator with at most
    ``load[source] - 2``; returns its steps (giver, candidature id, taker) or None."""
    previous = {source: None}
    queue = deque([source])
    while queue:
        giver = queue.popleft()
        for candidature_id in sorted(new[giver]):
            for taker in pool:
                if taker in previous or not allowed(candidature_id, taker):
                    continue
                previous[taker] = (giver, candidature_id)
                if load[taker] <= load[source] - 2:
                    steps = []
                    node = taker
                    while previous[node] is not None:
                        step_giver, step_candidature = previous[node]
                        steps.append((step_giver, step_candidature, node))
                        node = step_giver
                    return list(reversed(steps))
                queue.append(taker)
    return None
