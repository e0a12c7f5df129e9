"""Invitations to join a cell by email, for people with or without an account.

A coordinator (their regional cell) or staff (any cell) invites an address with a role; the
person accepts by signing up or logging in with that address once it is verified: the allauth
signals ``email_confirmed`` and ``user_logged_in`` call ``accept_pending`` (connected in
``AccountsConfig.ready()``). Nobody joins a cell on an address typed by someone else without
having verified it themselves. An invitation expires after ``settings.CELL_INVITATION_DAYS``;
it can be re-sent (new expiry, new email) or revoked, and it is used once.

Bulk invitations (staff, all the cells of a call): ``plan_bulk`` reads pasted lines or a CSV
(région, rôle, email) and reports, without writing anything, what each line would do;
``apply_bulk`` creates exactly the lines the plan accepted."""

import csv
import io
import logging
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from ami.audit import audited
from ami.models import Call, Region
from ami.outbox import queue_templated_email

from .models import (
    CellInvitation,
    NationalCell,
    NationalCellMembership,
    NationalRole,
    RegionalCell,
    RegionalCellMembership,
    RegionalRole,
)
from .permissions import is_national_administrator, is_regional_coordinator, is_staff

logger = logging.getLogger(__name__)


# --- Cells and roles ---------------------------------------------------------------------------


def is_regional(cell) -> bool:
    return isinstance(cell, RegionalCell)


def roles_of(cell):
    return RegionalRole if is_regional(cell) else NationalRole


def cell_name(cell) -> str:
    if is_regional(cell):
        return f"cellule régionale d'animation {cell.region.name}"
    return "cellule nationale d'animation"


def can_invite(user, cell) -> bool:
    """Staff for every cell; a regional cell's coordinators for their cell; the national cell's
    administrators for the national cell."""
    if is_staff(user):
        return True
    if is_regional(cell):
        return is_regional_coordinator(user, cell.call_id, cell.region_id)
    return is_national_administrator(user, cell.call_id)


def _check_can_invite(actor, cell):
    if not can_invite(actor, cell):
        raise PermissionDenied("Seuls les coordinateurs de la cellule invitent ses membres.")


def _membership_model(cell):
    return RegionalCellMembership if is_regional(cell) else NationalCellMembership


def _cell_filter(cell) -> dict:
    return {"regional_cell": cell} if is_regional(cell) else {"national_cell": cell}


def normalized_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": f"« {email} » n'est pas une adresse électronique valide."}, code="invalid"
        ) from None
    return email


def is_member(cell, email: str) -> bool:
    """Has the cell a member with this address (their login or any address of their account)?"""
    return (
        _membership_model(cell)
        .objects.filter(cell=cell)
        .filter(Q(user__email__iexact=email) | Q(user__emailaddress__email__iexact=email))
        .exists()
    )


# --- Invite, re-send, revoke -------------------------------------------------------------------


def _send(invitation: CellInvitation, actor) -> None:
    cell = invitation.cell
    queue_templated_email(
        to=invitation.email,
        template="cell_invitation",
        context={
            "invitation": invitation,
            "cell_name": cell_name(cell),
            "role": invitation.get_role_display(),
            "actor": actor,
            "signup_url": reverse("account_signup"),
            "login_url": reverse("account_login"),
            "expires_on": date_format(timezone.localtime(invitation.expires_at), "d/m/Y"),
        },
        event="cell.invitation",
        related=invitation,
        call=cell.call,
    )


def _new_expiry():
    return timezone.now() + timedelta(days=settings.CELL_INVITATION_DAYS)


@audited
def invite(cell, email: str, role: str, actor) -> CellInvitation:
    """Invite ``email`` into ``cell`` with ``role`` and send the email. Inviting again an address
    with an open invitation (pending or expired) re-sends that one, with this role."""
    _check_can_invite(actor, cell)
    if role not in roles_of(cell).values:
        labels = " ou ".join(str(label) for label in roles_of(cell).labels)
        raise ValidationError({"role": f"Choisissez le rôle : {labels}."}, code="role")
    email = normalized_email(email)
    with transaction.atomic():
        if is_member(cell, email):
            raise ValidationError(
                {"email": f"{email} fait déjà partie de la {cell_name(cell)}."}, code="member"
            )
        invitation = (
            CellInvitation.objects.select_for_update()
            .filter(**_cell_filter(cell), email=email, accepted_at=None, revoked_at=None)
            .first()
        )
        if invitation is None:
            invitation = CellInvitation.objects.create(
                **_cell_filter(cell), email=email, role=role, invited_by=actor
            )
        else:
            invitation.role = role
            _renew(invitation, actor)
        _send(invitation, actor)
    logger.info("%s invited %s to %s as %s", actor, email, cell, role)
    return invitation


def _renew(invitation: CellInvitation, actor) -> None:
    invitation.invited_by = actor
    invitation.sent_at = timezone.now()
    invitation.sent_count += 1
    invitation.expires_at = _new_expiry()
    invitation.save(update_fields=["role", "invited_by", "sent_at", "sent_count", "expires_at"])


@audited
def resend(invitation: CellInvitation, actor) -> CellInvitation:
    """Send the invitation again, valid again for ``CELL_INVITATION_DAYS`` days."""
    _check_can_invite(actor, invitation.cell)
    with transaction.atomic():
        invitation = _locked(invitation)
        if not invitation.is_open:
            raise ValidationError(
                f"L'invitation de {invitation.email} a été {invitation.get_state_display()} : "
                "elle ne peut plus être renvoyée. Invitez de nouveau la personne."
            )
        _renew(invitation, actor)
        _send(invitation, actor)
    logger.info("%s re-sent the invitation of %s to %s", actor, invitation.email, invitation.cell)
    return invitation


@audited
def revoke(invitation: CellInvitation, actor) -> CellInvitation:
    _check_can_invite(actor, invitation.cell)
    with transaction.atomic():
        invitation = _locked(invitation)
        if not invitation.is_open:
            raise ValidationError(
                f"L'invitation de {invitation.email} a déjà été {invitation.get_state_display()}."
            )
        invitation.revoked_at = timezone.now()
        invitation.revoked_by = actor
        invitation.save(update_fields=["revoked_at", "revoked_by"])
    logger.info("%s revoked the invitation of %s to %s", actor, invitation.email, invitation.cell)
    return invitation


def _locked(invitation: CellInvitation) -> CellInvitation:
    return (
        CellInvitation.objects.select_for_update(of=("self",))
        .select_related("regional_cell__region", "regional_cell__call", "national_cell__call")
        .get(pk=invitation.pk)
    )


# --- Acceptance --------------------------------------------------------------------------------


def verified_addresses(user) -> set[str]:
    return {
        email.lower()
        for email in EmailAddress.objects.filter(user=user, verified=True).values_list(
            "email", flat=True
        )
    }


@audited(actor="user")
def accept(invitation: CellInvitation, user):
    """Join the cell with the invitation's role. ``user`` must have verified the invited
    address. Accepting again what one has accepted returns the membership and changes
    nothing; a member already in the cell keeps their role."""
    if not (user and user.is_authenticated and user.is_active):
        raise PermissionDenied("Connectez-vous pour accepter l'invitation.")
    with transaction.atomic():
        invitation = _locked(invitation)
        cell = invitation.cell
        model = _membership_model(cell)
        if invitation.accepted_at is not None and invitation.accepted_by_id == user.pk:
            membership = model.objects.filter(cell=cell, user=user).first()
            if membership is not None:
                return membership
        if invitation.revoked_at is not None:
            raise ValidationError("Cette invitation a été révoquée.", code="revoked")
        if invitation.accepted_at is not None:
            raise ValidationError("Cette invitation a déjà été utilisée.", code="used")
        if invitation.expires_at <= timezone.now():
            expired_on = date_format(timezone.localtime(invitation.expires_at), "d/m/Y")
            raise ValidationError(
                f"Cette invitation a expiré le {expired_on} : demandez-en une nouvelle.",
                code="expired",
            )
        if invitation.email not in verified_addresses(user):
            raise PermissionDenied(
                "Cette invitation a été envoyée à une adresse que votre compte n'a pas confirmée."
            )
        membership, created = model.objects.get_or_create(
            cell=cell, user=user, defaults={"role": invitation.role}
        )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    logger.info(
        "%s accepted the invitation to %s as %s (%s)",
        user.email,
        cell,
        invitation.role,
        "new membership" if created else "already a member",
    )
    return membership


def accept_pending(user, emails: set[str] | None = None) -> list:
    """Accept every pending invitation sent to one of ``emails`` (default: every verified
    address of ``user``). Returns the memberships; an invitation that cannot be accepted is
    left as it is."""
    if not (user and user.is_active):
        return []
    emails = verified_addresses(user) if emails is None else {e.lower() for e in emails}
    if not emails:
        return []
    pending = CellInvitation.objects.filter(
        email__in=emails, accepted_at=None, revoked_at=None, expires_at__gt=timezone.now()
    ).order_by("pk")
    memberships = []
    for invitation in pending:
        try:
            memberships.append(accept(invitation, user))
        except (ValidationError, PermissionDenied) as error:
            logger.info("invitation %s not accepted: %s", invitation.pk, error)
    return memberships


def _announce(request, memberships) -> None:
    if request is None or not memberships:
        return
    from django.contrib import messages

    for membership in memberships:
        messages.success(
            request,
            f"Vous faites désormais partie de la {cell_name(membership.cell)} de l'appel "
            f"« {membership.cell.call.name} » ({membership.get_role_display()}).",
        )


def on_login(sender, request, user, **kwargs):
    """allauth's ``user_logged_in`` (login, or sign-up with the address already verified)."""
    _announce(request, accept_pending(user))


def on_email_confirmed(sender, request, email_address, **kwargs):
    """allauth's ``email_confirmed``: the person has just proved they own the address."""
    _announce(request, accept_pending(email_address.user, {email_address.email}))


def connect_signals() -> None:
    from allauth.account.signals import email_confirmed, user_logged_in

    user_logged_in.connect(on_login, dispatch_uid="accounts.invitations.on_login")
    email_confirmed.connect(on_email_confirmed, dispatch_uid="accounts.invitations.on_confirmed")


# --- Bulk invitations (staff) ------------------------------------------------------------------

CREATE = "create"
REFUSE = "refuse"


@dataclass
class BulkLine:
    number: int
    raw: str
    region: str = ""
    role: str = ""
    email: str = ""
    cell: object = None
    role_value: str = ""
    action: str = REFUSE
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.action == CREATE

    @property
    def role_label(self) -> str:
        return dict(CellInvitation._meta.get_field("role").choices).get(self.role_value, "")


@dataclass
class BulkPlan:
    call: Call
    lines: list[BulkLine] = field(default_factory=list)

    @property
    def accepted(self) -> list[BulkLine]:
        return [line for line in self.lines if line.accepted]

    @property
    def refused(self) -> list[BulkLine]:
        return [line for line in self.lines if not line.accepted]


def _plain(text: str) -> str:
    """Lowercase, without accents, dashes or apostrophes: « Île-de-France » = « ile de france »."""
    text = unicodedata.normalize("NFKD", (text or "").strip().lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    for sign in "-'’_":
        text = text.replace(sign, " ")
    return " ".join(text.split())


ROLE_WORDS = {
    **{_plain(label): value for value, label in RegionalRole.choices},
    **{_plain(value): value for value in RegionalRole.values},
    **{_plain(label): value for value, label in NationalRole.choices},
    **{_plain(value): value for value in NationalRole.values},
    "coordinatrice": RegionalRole.COORDINATOR,
    "evaluatrice": RegionalRole.EVALUATOR,
    "administratrice": NationalRole.ADMINISTRATOR,
}
HEADER_WORDS = {"region", "role", "email", "courriel", "adresse electronique", "e mail"}


def read_rows(text: str) -> list[tuple[int, str, list[str]]]:
    """(line number, raw line, cells) of pasted lines or a CSV (comma, semicolon or tab), the
    header line (région, rôle, email) and blank lines left out."""
    lines = text.splitlines()
    sample = "\n".join(lines[:5])
    delimiter = max(";,\t", key=sample.count) if sample else ";"
    rows = []
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        cells = next(csv.reader(io.StringIO(raw), delimiter=delimiter), [])
        cells = [cell.strip() for cell in cells]
        if number == 1 and {_plain(c) for c in cells if c} <= HEADER_WORDS:
            continue
        rows.append((number, raw.strip(), cells))
    return rows


def plan_bulk(call: Call, text: str, actor) -> BulkPlan:
    """What each line would do, without writing anything: create an invitation (or re-send an
    open one), or be refused with the reason (bad email, unknown region, unknown role, already
    a member, line repeated). An empty region means the national cell."""
    if not is_staff(actor):
        raise PermissionDenied("Seule l'équipe Coorace invite en nombre.")
    regions = {}
    for region in Region.objects.all():
        regions[region.code] = region
        regions[_plain(region.name)] = region
    cells = {
        cell.region_id: cell
        for cell in RegionalCell.objects.filter(call=call).select_related("region", "call")
    }
    national = NationalCell.objects.filter(call=call).select_related("call").first()
    members = set(
        RegionalCellMembership.objects.filter(cell__call=call).values_list("cell_id", "user__email")
    ) | {
        (None, email)
        for email in NationalCellMembership.objects.filter(cell__call=call).values_list(
            "user__email", flat=True
        )
    }
    seen = set()
    plan = BulkPlan(call)
    for number, raw, cells_of_line in read_rows(text):
        padded = (cells_of_line + ["", "", ""])[:3]
        line = BulkLine(number, raw, *padded)
        plan.lines.append(line)
        if len(cells_of_line) != 3:
            line.reason = "Trois colonnes attendues : région ; rôle ; email."
            continue
        try:
            line.email = normalized_email(line.email)
        except ValidationError:
            line.reason = f"Adresse électronique invalide : « {line.email} »."
            continue
        if line.region:
            region = regions.get(line.region) or regions.get(_plain(line.region))
            if region is None:
                line.reason = f"Région inconnue : « {line.region} » (code INSEE ou nom)."
                continue
            line.cell = cells.get(region.pk)
            if line.cell is None:
                line.reason = f"L'appel n'a pas de cellule régionale {region.name}."
                continue
        else:
            line.cell = national
            if national is None:
                line.reason = "L'appel n'a pas de cellule nationale."
                continue
        role = ROLE_WORDS.get(_plain(line.role))
        if role not in roles_of(line.cell).values:
            labels = " ou ".join(str(label) for label in roles_of(line.cell).labels)
            line.reason = f"Rôle inconnu pour cette cellule : « {line.role} » ({labels})."
            continue
        line.role_value = role
        key = (line.cell.pk if is_regional(line.cell) else None, line.email)
        if key in seen:
            line.reason = "Ligne en double : cette adresse est déjà invitée plus haut."
            continue
        seen.add(key)
        if key in members or is_member(line.cell, line.email):
            line.reason = f"{line.email} fait déjà partie de la {cell_name(line.cell)}."
            continue
        line.action = CREATE
    return plan


def apply_bulk(plan: BulkPlan, actor) -> list[CellInvitation]:
    """Invite exactly the lines the plan accepted, in one transaction."""
    with transaction.atomic():
        return [invite(line.cell, line.email, line.role_value, actor) for line in plan.accepted]
