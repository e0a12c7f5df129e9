"""Two-factor authentication policy: who must have it, which screens wait for it, and the allauth
MFA adapter that keeps it on for them.

Staff and members of any regional or national cell must have an active authenticator app (TOTP)
before they reach a screen that shows other people's candidatures: the review screens
(``/instruction/``, exports included), the candidature files that cells read
(``/candidatures/``) and the Django admin (``/admin/``). Their account pages, the MFA pages,
logout and the public pages stay reachable. Applicants may turn it on; nothing forces them.
Switched off as a whole by ``settings.AMI_MFA_REQUIRED = False``.
"""

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from django.conf import settings
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .models import NationalCellMembership, RegionalCellMembership

# URL spaces (ami/urls.py) closed to a user who must have the second factor and has not yet.
PROTECTED_PREFIXES = ("/instruction/", "/candidatures/", "/admin/")

# Where the user was going when sent to set the second factor up (session key).
NEXT_SESSION_KEY = "ami_mfa_next"

WHY_REQUIRED = (
    "La double authentification est obligatoire pour les membres des cellules régionales et "
    "nationales et pour l'équipe Coorace. Activez-la avec une application d'authentification "
    "pour accéder aux écrans d'instruction."
)


def holds_review_role(user) -> bool:
    """Staff, or a member of any regional or national cell (whatever the call)."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return (
        user.is_staff
        or RegionalCellMembership.objects.filter(user=user).exists()
        or NationalCellMembership.objects.filter(user=user).exists()
    )


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def mfa_required(user) -> bool:
    """Must this user have an authenticator app?"""
    return bool(settings.AMI_MFA_REQUIRED) and holds_review_role(user)


def needs_mfa_setup(user) -> bool:
    """Must have an authenticator app and has none yet."""
    if not (settings.AMI_MFA_REQUIRED and user and user.is_authenticated):
        return False
    return not has_totp(user) and holds_review_role(user)


def is_protected_path(path: str) -> bool:
    return path.startswith(PROTECTED_PREFIXES)


def blocks_request(user, path: str) -> bool:
    """The one question the middleware asks: send this request to the TOTP setup instead?"""
    return is_protected_path(path) and needs_mfa_setup(user)


def remember_destination(session, path: str) -> None:
    session[NEXT_SESSION_KEY] = path


def destination_after_setup(request) -> str:
    """Where the « Continuer » button of the recovery codes leads: the screen the user was sent
    away from, else « Mon espace »."""
    url = request.session.get(NEXT_SESSION_KEY)
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return reverse("dashboard")


class MfaAdapter(DefaultMFAAdapter):
    """allauth's MFA adapter with the platform's rules and French messages."""

    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "cannot_delete_authenticator": (
            "La double authentification est obligatoire pour les membres des cellules et pour "
            "l'équipe Coorace : vous ne pouvez pas la désactiver."
        ),
        "incorrect_code": (
            "Code incorrect : saisissez le code à 6 chiffres que votre application affiche en "
            "ce moment."
        ),
    }

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """The authenticator app of a user who must have one stays."""
        if authenticator.type == Authenticator.Type.TOTP and mfa_required(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)
