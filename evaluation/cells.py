"""Members of a regional cell (CRA): its coordinators add people by email (an address without
an account gets an invitation, ``accounts.invitations``), change their role and remove them; staff
do the same in the admin. A cell always keeps at least one coordinator."""

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse

from accounts.cells import notify_member_added
from accounts.invitations import invite
from accounts.models import CellInvitation, RegionalCell, RegionalCellMembership, RegionalRole, User
from accounts.permissions import is_staff
from ami.audit import audited

from .models import Assignment, Review, ReviewState
from .permissions import is_cell_coordinator

logger = logging.getLogger(__name__)


def can_manage_members(user, cell) -> bool:
    return is_staff(user) or is_cell_coordinator(user, cell)


def _check_can_manage(actor, cell):
    if not can_manage_members(actor, cell):
        raise PermissionDenied("Seuls les coordinateurs de la cellule gèrent ses membres.")


def _check_role(role):
    if role not in RegionalRole.values:
        raise ValidationError({"role": "Choisissez le rôle : coordinateur ou évaluateur."})


def worklist_url() -> str:
    """Where a member of a cell starts: the evaluator's worklist."""
    return reverse("evaluator_worklist")


def _lock_coordinators(cell) -> list[int]:
    """Lock the cell's coordinator rows (so two removals cannot leave it without one) and return
    the ids of the memberships."""
    return list(
        RegionalCellMembership.objects.select_for_update()
        .filter(cell=cell, role=RegionalRole.COORDINATOR)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@audited
def add_member(cell: RegionalCell, email: str, role: str, actor) -> RegionalCellMembership:
    """Add the person with this account to the cell and tell them by email. The person must
    already have an account: a cell member sees applicants' data, so nobody gets in on an
    address typed by someone else without having signed up and verified it themselves."""
    _check_can_manage(actor, cell)
    _check_role(role)
    email = (email or "").strip()
    if not email:
        raise ValidationError({"email": "Indiquez l'adresse électronique de la personne."})
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        raise ValidationError(
            {
                "email": f"Aucun compte n'existe avec l'adresse « {email} ». Demandez à la "
                "personne de créer son compte sur la plateforme avec cette adresse, puis "
                "ajoutez-la de nouveau."
            }
        )
    if not user.is_active:
        raise ValidationError(
            {"email": f"Le compte « {user.email} » est désactivé : contactez l'équipe Coorace."}
        )
    with transaction.atomic():
        if RegionalCellMembership.objects.filter(cell=cell, user=user).exists():
            raise ValidationError(
                {"email": f"{user.email} fait déjà partie de la cellule {cell.region.name}."}
            )
        membership = RegionalCellMembership.objects.create(cell=cell, user=user, role=role)
        notify_member_added(membership, actor)
    logger.info("%s added %s to %s as %s", actor, user.email, cell, role)
    return membership


def add_or_invite(
    cell: RegionalCell, email: str, role: str, actor
) -> RegionalCellMembership | CellInvitation:
    """The members screen's « Ajouter »: a person who has an account joins at once
    (``add_member``); an address without an account gets an invitation, which the person
    accepts by creating their account with it and confirming it (``accounts.invitations``)."""
    _check_can_manage(actor, cell)
    _check_role(role)
    address = (email or "").strip()
    if address and not User.objects.filter(email__iexact=address).exists():
        return invite(cell, address, role, actor)
    return add_member(cell, email, role, actor)


@audited
def change_role(membership: RegionalCellMembership, role: str, actor) -> RegionalCellMembership:
    cell = membership.cell
    _check_can_manage(actor, cell)
    _check_role(role)
    with transaction.atomic():
        coordinators = _lock_coordinators(cell)
        membership = RegionalCellMembership.objects.select_for_update().get(pk=membership.pk)
        if membership.role == role:
            return membership
        if (
            membership.role == RegionalRole.COORDINATOR
            and coordinators == [membership.pk]
            and role != RegionalRole.COORDINATOR
        ):
            raise ValidationError(
                "La cellule doit garder au moins un coordinateur : nommez-en un autre d'abord."
            )
        membership.role = role
        membership.save(update_fields=["role"])
    logger.info("%s made %s %s of %s", actor, membership.user, role, cell)
    return membership


@audited
def remove_member(membership: RegionalCellMembership, actor) -> int:
    """Remove the person from the cell. Their assignments in the cell whose review is not
    submitted are withdrawn too (they could no longer review), so that the candidatures can be
    given to someone else; submitted reviews stay. Returns the number of withdrawn assignments."""
    cell = membership.cell
    _check_can_manage(actor, cell)
    with transaction.atomic():
        coordinators = _lock_coordinators(cell)
        membership = (
            RegionalCellMembership.objects.select_for_update()
            .select_related("user")
            .get(pk=membership.pk)
        )
        if coordinators == [membership.pk]:
            raise ValidationError(
                "La cellule doit garder au moins un coordinateur : nommez-en un autre avant de "
                "retirer celui-ci."
            )
        submitted = Review.objects.filter(
            evaluator=membership.user_id, state=ReviewState.SUBMITTED
        ).values("candidature")
        withdrawn, _ = (
            Assignment.objects.filter(
                evaluator=membership.user_id,
                candidature__call=cell.call_id,
                candidature__region=cell.region_id,
            )
            .exclude(candidature__in=submitted)
            .delete()
        )
        membership.delete()
    logger.info(
        "%s removed %s from %s (%s assignments withdrawn)", actor, membership.user, cell, withdrawn
    )
    return withdrawn
