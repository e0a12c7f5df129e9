"""Conflicts of interest (DESIGN §3): an evaluator declares one on a candidature of their region,
or the platform detects a likely one (the member's organisation is the PTCE or one of its
members, by SIREN) for the coordinator to settle. A blocking conflict hides the candidature and
its reviews from that person; confirming one also takes them off the candidature: their
assignment and draft review go, a submitted review stays (locked: ``can_review`` refuses)."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import RegionalCellMembership, RegionalRole
from accounts.permissions import is_regional_member
from ami.audit import audited
from ami.outbox import queue_templated_email
from candidatures.models import Candidature, CandidatureState

from . import national_cache
from .models import (
    Assignment,
    ConflictOfInterest,
    ConflictSource,
    ConflictStatus,
    Review,
    ReviewState,
)
from .permissions import can_coordinate, region_handed_over, regional_phase_refusal

logger = logging.getLogger(__name__)

HANDED_OVER = (
    "La région a été transmise à la cellule nationale : les conflits d'intérêts ne peuvent plus "
    "être modifiés. Signalez la situation à la cellule nationale."
)


def _withdraw_from_review(candidature, evaluator) -> None:
    """Take the evaluator off the candidature: the assignment and a draft review are deleted;
    a submitted review is kept (it can no longer be edited since the conflict blocks)."""
    Assignment.objects.filter(candidature=candidature, evaluator=evaluator).delete()
    Review.objects.filter(
        candidature=candidature, evaluator=evaluator, state=ReviewState.DRAFT
    ).delete()


@audited(actor="evaluator")
def declare_conflict(candidature, evaluator, reason: str) -> ConflictOfInterest:
    """The evaluator declares a conflict of interest: it blocks at once. Idempotent: declaring
    again keeps one row (with the latest reason)."""
    reason = (reason or "").strip()
    if not is_regional_member(evaluator, candidature.call, candidature.region):
        raise PermissionDenied(
            "Seuls les membres de la cellule régionale de cette candidature peuvent y déclarer un "
            "conflit d'intérêts."
        )
    if candidature.submitted_at is None:
        raise PermissionDenied("Cette candidature n'est pas déposée.")
    if region_handed_over(candidature.call, candidature.region):
        raise PermissionDenied(HANDED_OVER)
    if not reason:
        raise ValidationError(
            "Indiquez le motif du conflit d'intérêts (par exemple : « je suis salarié d'un "
            "membre du PTCE »).",
            code="reason",
        )
    with transaction.atomic():
        conflict, created = ConflictOfInterest.objects.select_for_update().get_or_create(
            candidature=candidature,
            evaluator=evaluator,
            defaults={
                "source": ConflictSource.DECLARED,
                "status": ConflictStatus.CONFIRMED,
                "reason": reason,
            },
        )
        already_declared = (
            not created
            and conflict.source == ConflictSource.DECLARED
            and conflict.status == ConflictStatus.CONFIRMED
        )
        if not created and not (already_declared and conflict.reason == reason):
            if not already_declared:
                logger.info(
                    "Conflict %s (%s, %s) becomes declared by evaluator %s",
                    conflict.pk,
                    conflict.source,
                    conflict.status,
                    evaluator.pk,
                )
            # The evaluator's own declaration replaces a detection, whatever was settled.
            _write_status(
                conflict, ConflictStatus.CONFIRMED, source=ConflictSource.DECLARED, reason=reason
            )
        _withdraw_from_review(candidature, evaluator)
        if not already_declared:
            logger.info(
                "Conflict of interest declared by user %s on candidature %s",
                evaluator.pk,
                candidature.pk,
            )
            _notify_coordinators(conflict)
    return conflict


def _write_status(conflict, status, *, settled_by=None, source=None, reason=None) -> None:
    """The one place a conflict's status changes (on a row the caller has locked): a declaration
    (``source``, ``reason``; nobody settles it) or a coordinator's settling (``settled_by``)."""
    conflict.status = status
    if source is not None:
        conflict.source = source
    if reason is not None:
        conflict.reason = reason
    conflict.settled_by = settled_by
    conflict.settled_at = timezone.now() if settled_by is not None else None
    conflict.save(update_fields=["status", "source", "reason", "settled_by", "settled_at"])


def _notify_coordinators(conflict) -> None:
    """Tell the cell's coordinators, who may have to assign someone else."""
    candidature = conflict.candidature
    recipients = (
        RegionalCellMembership.objects.filter(
            cell__call=candidature.call_id,
            cell__region=candidature.region_id,
            role=RegionalRole.COORDINATOR,
            user__is_active=True,
        )
        .exclude(user=conflict.evaluator)
        .values_list("user__email", flat=True)
    )
    for email in recipients:
        queue_templated_email(
            to=email,
            template="conflict_declared",
            context={"conflict": conflict, "candidature": candidature},
            event="conflict.declared",
            related=conflict,
            call=candidature.call,
        )


def _organisations(candidature) -> dict[str, str]:
    """SIREN → what it is to the PTCE (in French), for the PTCE and each member."""
    found = {}
    for member in candidature.ptce.members.all():
        if member.siren:
            found.setdefault(member.siren, f"membre du PTCE « {member.name} »")
    if candidature.ptce.siren:
        found[candidature.ptce.siren] = f"la structure porteuse du PTCE « {candidature.ptce.name} »"
    return found


def _detect(candidatures) -> list[ConflictOfInterest]:
    """Set-based detection over ``candidatures`` (a queryset): a fixed number of queries."""
    candidatures = list(
        candidatures.filter(submitted_at__isnull=False)
        .exclude(state__in=[CandidatureState.DRAFT, CandidatureState.WITHDRAWN])
        .select_related("ptce")
        .prefetch_related("ptce__members")
    )
    organisations = {c.pk: _organisations(c) for c in candidatures}
    sirens = set().union(*organisations.values()) if organisations else set()
    if not sirens:
        return []
    memberships = (
        RegionalCellMembership.objects.filter(
            cell__call__in={c.call_id for c in candidatures},
            cell__region__in={c.region_id for c in candidatures},
            cell__handover__isnull=True,  # a handed-over region changes no more
            user__organisation_siren__in=sirens,
        )
        .select_related("cell", "user")
        .order_by("pk")
    )
    by_cell = {}
    for membership in memberships:
        key = (membership.cell.call_id, membership.cell.region_id)
        by_cell.setdefault(key, []).append(membership.user)
    existing = set(
        ConflictOfInterest.objects.filter(candidature__in=[c.pk for c in candidatures]).values_list(
            "candidature_id", "evaluator_id"
        )
    )
    now = timezone.now()
    new = []
    for candidature in candidatures:
        for user in by_cell.get((candidature.call_id, candidature.region_id), []):
            what = organisations[candidature.pk].get(user.organisation_siren)
            if what is None or (candidature.pk, user.pk) in existing:
                continue
            new.append(
                ConflictOfInterest(
                    candidature=candidature,
                    evaluator=user,
                    source=ConflictSource.DETECTED,
                    status=ConflictStatus.PENDING,
                    reason=(
                        f"Conflit probable détecté par la plateforme : l'organisation de "
                        f"{user} (SIREN {user.organisation_siren}) est {what}."
                    ),
                    declared_at=now,
                )
            )
            existing.add((candidature.pk, user.pk))
    if not new:
        return []
    # A conflict declared meanwhile wins: skip it rather than fail, then read back exactly the
    # rows this run created (same pairs, same timestamp).
    ConflictOfInterest.objects.bulk_create(new, ignore_conflicts=True)
    for call_id in {c.candidature.call_id for c in new}:
        national_cache.changed(call_id)  # a bulk write: no signal
    created = list(
        ConflictOfInterest.objects.filter(
            candidature__in={c.candidature_id for c in new},
            evaluator__in={c.evaluator_id for c in new},
            source=ConflictSource.DETECTED,
            status=ConflictStatus.PENDING,
            declared_at=now,
        ).select_related("candidature", "evaluator")
    )
    pairs = {(c.candidature_id, c.evaluator_id) for c in new}
    created = [c for c in created if (c.candidature_id, c.evaluator_id) in pairs]
    if created:
        logger.info("%s likely conflict(s) of interest detected", len(created))
    return created


def detect_conflicts(candidature) -> list[ConflictOfInterest]:
    """Flag, as pending, every member of the candidature's regional cell whose organisation
    (SIREN) is the PTCE or one of its members. Idempotent: an existing conflict (pending,
    confirmed or dismissed) is never duplicated nor reopened. Returns the new conflicts."""
    return _detect(Candidature.objects.filter(pk=candidature.pk))


def detect_conflicts_for_call(call) -> list[ConflictOfInterest]:
    """The same for every submitted candidature of a call, in a fixed number of queries."""
    return _detect(Candidature.objects.filter(call=call))


@audited(actor="coordinator")
def settle_conflict(conflict, coordinator, confirm: bool) -> ConflictOfInterest:
    """The coordinator of the cell confirms (blocks; takes the evaluator off the candidature)
    or dismisses (the evaluator may review it again) a detected conflict."""
    candidature = conflict.candidature
    if not can_coordinate(coordinator, candidature):
        raise PermissionDenied(
            "Seuls les coordinateurs de la cellule régionale peuvent trancher un conflit "
            "d'intérêts."
        )
    if conflict.evaluator_id == coordinator.pk:
        raise PermissionDenied(
            "Vous ne pouvez pas trancher un conflit d'intérêts qui vous concerne."
        )
    if region_handed_over(candidature.call, candidature.region):
        raise PermissionDenied(HANDED_OVER)
    if regional_phase_refusal(candidature.call):
        raise PermissionDenied(regional_phase_refusal(candidature.call))
    status = ConflictStatus.CONFIRMED if confirm else ConflictStatus.DISMISSED
    with transaction.atomic():
        # Checked on the locked row: the evaluator may have declared it meanwhile.
        locked = ConflictOfInterest.objects.select_for_update().get(pk=conflict.pk)
        if locked.source == ConflictSource.DECLARED:
            raise PermissionDenied(
                "Ce conflit a été déclaré par l'évaluateur lui-même : il ne peut pas être écarté."
            )
        _write_status(locked, status, settled_by=coordinator)
        if confirm:
            _withdraw_from_review(candidature, locked.evaluator)
    logger.info("Conflict %s %s by coordinator %s", locked.pk, status.label, coordinator.pk)
    for name in ("status", "source", "reason", "settled_by_id", "settled_at"):
        setattr(conflict, name, getattr(locked, name))
    return conflict
