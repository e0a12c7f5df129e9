"""The PTCE's profile, its members (legal persons) and its team (people), invitations included.

Every function takes model instances and the acting user, checks the actor's right, validates and
writes in one transaction; refusals are ``PermissionDenied`` or ``ValidationError`` with a French
message for the user. Rights: any team member edits the profile and the members; only referents
manage the team (a member may always leave it)."""

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format

from ami.identifiers import normalize_siret
from ami.models import Commune
from ami.outbox import queue_templated_email

from .models import Ptce, PtceInvitation, PtceMember, PtceMembership
from .permissions import is_ptce_member, is_ptce_referent

PROFILE_FIELDS = frozenset(
    {
        "name",
        "siret",
        "legal_form",
        "naf_code",
        "address",
        "postal_code",
        "seat_commune",
        "year_created",
        "website",
        "description",
    }
)
NOT_A_MEMBER = "Vous ne faites pas partie de l'équipe de ce PTCE."
REFERENTS_ONLY = "Seul un référent du PTCE peut gérer son équipe."
LAST_REFERENT = (
    "Le PTCE doit garder au moins un référent : désignez d'abord un autre membre de l'équipe "
    "comme référent."
)


# --- Profile ---------------------------------------------------------------------------------


@transaction.atomic
def create_ptce(user, *, territory_communes=(), **fields) -> Ptce:
    """A new PTCE, its creator being the first referent of its team."""
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Connectez-vous pour déclarer un PTCE.")
    ptce = Ptce(created_by=user)
    _apply_profile(ptce, fields)
    if ptce.seat_commune is None:
        raise ValidationError(
            {"seat_commune": "Indiquez la commune du siège : elle détermine la région du PTCE."}
        )
    ptce.full_clean()
    ptce.save()
    ptce.territory_communes.set(_communes(territory_communes))
    PtceMembership.objects.create(ptce=ptce, user=user, is_referent=True)
    return ptce


@transaction.atomic
def update_ptce(ptce: Ptce, actor, *, territory_communes=None, **fields) -> Ptce:
    """Change the profile; ``territory_communes`` (when given) replaces the territory."""
    _require_member(ptce, actor)
    if "siret" in fields and normalize_siret(fields["siret"]) != ptce.siret:
        refusal = siret_change_refusal(ptce)
        if refusal:
            raise ValidationError({"siret": refusal})
    if "seat_commune" in fields and fields["seat_commune"] in (None, ""):
        raise ValidationError(
            {"seat_commune": "Indiquez la commune du siège : elle détermine la région du PTCE."}
        )
    try:
        _apply_profile(ptce, fields)
        ptce.full_clean()
    except ValidationError:
        ptce.refresh_from_db()  # the caller's instance shows the saved profile, not the refused one
        raise
    ptce.save()
    if territory_communes is not None:
        ptce.territory_communes.set(_communes(territory_communes))
    return ptce


def siret_locked(ptce: Ptce) -> bool:
    """Once a candidature of the PTCE has been submitted, its SIRET identifies the applicant (and,
    for a laureate, the beneficiary of a public grant): only staff may change it (in the admin,
    logged by the audit trail)."""
    return ptce.pk is not None and ptce.candidatures.filter(submitted_at__isnull=False).exists()


def siret_change_refusal(ptce: Ptce) -> str | None:
    if siret_locked(ptce):
        return (
            "Le SIRET ne peut plus être modifié : une candidature de ce PTCE a été déposée. "
            "Pour le corriger, écrivez à l'équipe Coorace."
        )
    return None


def _apply_profile(ptce: Ptce, fields: dict) -> None:
    unknown = set(fields) - PROFILE_FIELDS
    if unknown:
        raise TypeError(f"Champs inconnus du PTCE : {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        if name == "seat_commune":
            value = _commune(value) if value not in (None, "") else None
        elif name == "siret":
            value = normalize_siret(value)
        elif value is None and name != "year_created":
            value = ""
        setattr(ptce, name, value)
    if ptce.seat_commune is not None:
        # Ptce.save() derives it too, but full_clean() needs it first.
        ptce.region_id = ptce.seat_commune.department.region_id


def _commune(value) -> Commune:
    if isinstance(value, Commune):
        return value
    commune = Commune.objects.select_related("department").filter(pk=str(value).strip()).first()
    if commune is None:
        raise ValidationError({"seat_commune": f"Commune inconnue : « {value} »."})
    return commune


def _communes(values) -> list[Commune]:
    values = list(values or [])
    codes = [str(v).strip() for v in values if not isinstance(v, Commune)]
    found = {c.code: c for c in Commune.objects.filter(pk__in=codes)}
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise ValidationError({"territory_communes": f"Communes inconnues : {', '.join(unknown)}."})
    return [v if isinstance(v, Commune) else found[str(v).strip()] for v in values]


# --- Members (legal persons) -----------------------------------------------------------------


@transaction.atomic
def add_member(ptce: Ptce, actor, *, name: str, category: str, siret: str = "") -> PtceMember:
    _require_member(ptce, actor)
    member = PtceMember(
        ptce=ptce, name=(name or "").strip(), category=category, siret=normalize_siret(siret)
    )
    member.full_clean()
    if member.siret and ptce.members.filter(siret=member.siret).exists():
        raise ValidationError({"siret": "Une structure de ce SIRET est déjà membre du PTCE."})
    member.save()
    return member


@transaction.atomic
def remove_member(member: PtceMember, actor) -> None:
    _require_member(member.ptce, actor)
    member.delete()


# --- Team (people) and invitations -----------------------------------------------------------


@transaction.atomic
def invite(ptce: Ptce, email: str, actor) -> PtceInvitation:
    """Invite someone to the team by email (referents only). Inviting again an address that has
    a pending or expired invitation renews it (same link, new expiry date) and sends it again."""
    _require_referent(ptce, actor)
    email = (email or "").strip().lower()
    validate_email_address(email)
    in_team = PtceMembership.objects.filter(ptce=ptce).filter(
        Q(user__email__iexact=email) | Q(user__emailaddress__email__iexact=email)
    )
    if in_team.exists():
        raise ValidationError(
            {"email": "Cette personne fait déjà partie de l'équipe du PTCE."}, code="in_team"
        )
    invitation = (
        PtceInvitation.objects.select_for_update()
        .filter(ptce=ptce, email__iexact=email, accepted_at__isnull=True)
        .order_by("-created_at")
        .first()
    )
    now = timezone.now()
    if invitation is None:
        invitation = PtceInvitation.objects.create(ptce=ptce, email=email, invited_by=actor)
    else:
        invitation.invited_by = actor
        invitation.created_at = now
        invitation.expires_at = PtceInvitation._meta.get_field("expires_at").get_default()
        invitation.save(update_fields=["invited_by", "created_at", "expires_at"])
    queue_templated_email(
        to=email,
        template="ptce_invitation",
        context={
            "ptce": ptce,
            "invited_by": actor,
            "accept_url": invitation_url(invitation),
            "signup_url": settings.SITE_URL + reverse("account_signup"),
            "expires_on": date_format(timezone.localtime(invitation.expires_at), "d/m/Y"),
        },
        event="ptce_invitation",
        related=invitation,
    )
    return invitation


def invitation_url(invitation: PtceInvitation) -> str:
    return settings.SITE_URL + reverse("invitation_accept", args=[invitation.token])


def validate_email_address(email: str) -> None:
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError(
            {"email": "Saisissez une adresse électronique valide, par exemple nom@exemple.fr."},
            code="invalid",
        ) from None


@transaction.atomic
def accept_invitation(invitation: PtceInvitation, user) -> PtceMembership:
    """Join the team. The user must have confirmed, in their account, the address the invitation
    was sent to. Accepting again an invitation one has accepted changes nothing."""
    if not (user.is_authenticated and user.is_active):
        raise PermissionDenied("Connectez-vous pour accepter l'invitation.")
    invitation = PtceInvitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.accepted_at is not None and invitation.accepted_by_id == user.pk:
        membership = PtceMembership.objects.filter(ptce=invitation.ptce_id, user=user).first()
        if membership is not None:
            return membership
    check_invitation(invitation, user)
    membership, _ = PtceMembership.objects.get_or_create(
        ptce_id=invitation.ptce_id, user=user, defaults={"is_referent": False}
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    return membership


def check_invitation(invitation: PtceInvitation, user) -> None:
    """Raise the reason why ``user`` cannot accept ``invitation`` now, if any."""
    if invitation.accepted_at is not None:
        raise ValidationError(
            "Cette invitation a déjà été utilisée. Si vous devez rejoindre l'équipe, demandez "
            "une nouvelle invitation à un référent du PTCE.",
            code="used",
        )
    if invitation.expires_at <= timezone.now():
        expired_on = date_format(timezone.localtime(invitation.expires_at), "d/m/Y")
        raise ValidationError(
            f"Cette invitation a expiré le {expired_on}. Demandez à un référent du PTCE de vous "
            "inviter à nouveau.",
            code="expired",
        )
    if not invitation_matches(invitation, user):
        raise PermissionDenied(
            "Cette invitation a été envoyée à une autre adresse électronique que celles, "
            "confirmées, de votre compte. Connectez-vous avec le compte de l'adresse invitée, ou "
            "ajoutez cette adresse à votre compte et confirmez-la, puis ouvrez de nouveau le lien."
        )


def invitation_refusal(invitation: PtceInvitation, user) -> str:
    """The message telling why ``user`` cannot accept ``invitation``; empty when they can (or
    already did and are in the team)."""
    if invitation.accepted_by_id == user.pk and is_ptce_member(user, invitation.ptce):
        return ""
    try:
        check_invitation(invitation, user)
    except ValidationError as error:
        return " ".join(error.messages)
    except PermissionDenied as error:
        return str(error)
    return ""


def invitation_matches(invitation: PtceInvitation, user) -> bool:
    """Whether the invitation's address is one of the user's verified addresses."""
    from allauth.account.models import EmailAddress

    return EmailAddress.objects.filter(
        user=user, email__iexact=invitation.email, verified=True
    ).exists()


@transaction.atomic
def remove_team_member(membership: PtceMembership, actor) -> None:
    """A referent removes someone from the team, or a member leaves it; the last referent stays."""
    membership = _locked_membership(membership)
    if membership.user_id != actor.pk:
        _require_referent(membership.ptce, actor)
    if membership.is_referent and not _other_referents(membership).exists():
        raise ValidationError(LAST_REFERENT, code="last_referent")
    membership.delete()


@transaction.atomic
def set_referent(membership: PtceMembership, actor, is_referent: bool = True) -> PtceMembership:
    """Make someone a referent of the team, or no longer one (referents only)."""
    membership = _locked_membership(membership)
    _require_referent(membership.ptce, actor)
    if not is_referent and membership.is_referent and not _other_referents(membership).exists():
        raise ValidationError(LAST_REFERENT, code="last_referent")
    if membership.is_referent != is_referent:
        membership.is_referent = is_referent
        membership.save(update_fields=["is_referent"])
    return membership


def _locked_membership(membership: PtceMembership) -> PtceMembership:
    """The membership, with every referent row of its PTCE locked, so that two referents removing
    each other at the same time cannot leave the team without one."""
    list(
        PtceMembership.objects.select_for_update()
        .filter(ptce_id=membership.ptce_id, is_referent=True)
        .values_list("pk", flat=True)
    )
    return PtceMembership.objects.select_related("ptce", "user").get(pk=membership.pk)


def _other_referents(membership: PtceMembership):
    return PtceMembership.objects.filter(ptce_id=membership.ptce_id, is_referent=True).exclude(
        pk=membership.pk
    )


# --- Rights ----------------------------------------------------------------------------------


def _require_member(ptce: Ptce, actor) -> None:
    if not is_ptce_member(actor, ptce):
        raise PermissionDenied(NOT_A_MEMBER)


def _require_referent(ptce: Ptce, actor) -> None:
    if not is_ptce_referent(actor, ptce):
        raise PermissionDenied(REFERENTS_ONLY)
