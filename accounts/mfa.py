"""Two-factor authentication policy: who must have it, which screens wait for it, and the allauth
MFA adapter that keeps it on for them.

Staff and members of any regional or national cell must have an active authenticator app (TOTP)
before they reach **any** screen except an explicit allow-list (``ALLOWED_URL_NAMES``): the
public pages, the login, logout, re-authentication, password and email-confirmation pages, and
the two-factor pages themselves. Everything else — « Mon espace », « Mes données », the review
screens, the candidature files, the admin, and every screen added later — waits for the second
factor: a new route is protected unless someone adds it here on purpose. Applicants may turn it
on; nothing forces them. Switched off as a whole by ``settings.AMI_MFA_REQUIRED = False``
(refused in production by ``check --deploy``).

The secrets allauth keeps in the database (the TOTP key, the recovery codes' seed) are encrypted
with Fernet (AES-128-CBC and HMAC-SHA256, from ``cryptography``) under ``MFA_ENCRYPTION_KEY``
(several comma-separated keys: the first encrypts, all decrypt, to rotate). A database dump alone
no longer gives anyone the second factor of a staff member.
"""

from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from cryptography.fernet import Fernet, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import Resolver404, resolve, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from .permissions import CellRoles, cell_roles, is_cell_member

# The only screens a user who must have the second factor reaches before setting it up (URL
# names; every ``mfa_*`` page of allauth too).
ALLOWED_URL_NAMES = frozenset(
    {
        # Public pages
        "home", "call_detail", "call_laureates", "call_subsidies_csv", "accessibility",
        "legal", "personal_data", "site_map", "unsubscribe", "health",
        # Logging in and out, proving who one is, one's own password and email addresses
        "account_login", "account_logout", "account_inactive", "account_signup",
        "account_reauthenticate", "account_request_reauthentication_code",
        "account_confirm_reauthentication_code", "account_confirm_login_code",
        "account_email", "account_email_verification_sent", "account_confirm_email",
        "account_change_password", "account_set_password", "account_reset_password",
        "account_reset_password_done", "account_reset_password_from_key",
        "account_reset_password_from_key_done",
        # The end of staff's assistance session (django-hijack)
        "hijack:release",
        # Logging in with ProConnect (accounts.proconnect)
        "proconnect_login", "proconnect_callback",
        # The read API: its documentation and schema are public, and its endpoints authenticate
        # each request by its token, never by the session (a token is created in « Mon espace »,
        # behind the second factor).
        "api_docs", "api_schema", "api_not_found",
        "api:call-list", "api:call-detail", "api:candidature-list", "api:candidature-detail",
        "api:regional-opinion-list", "api:regional-opinion-detail",
        "api:national-review-list", "api:national-review-detail",
        "api:decision-list", "api:decision-detail",
    }
)  # fmt: skip

# Set at a ProConnect login that asserted a multi-factor authentication (acr/amr,
# accounts.proconnect.claims.asserted_mfa): that session satisfies the second factor without a
# local authenticator app. Any other login removes it.
ASSERTED_BY_PROVIDER_SESSION_KEY = "ami_mfa_asserted_by_provider"

# Where the user was going when sent to set the second factor up (session key).
NEXT_SESSION_KEY = "ami_mfa_next"

WHY_REQUIRED = (
    "La double authentification est obligatoire pour les membres des cellules régionales et "
    "nationales et pour l'équipe Coorace. Activez-la avec une application d'authentification "
    "pour accéder aux écrans d'instruction."
)


def holds_review_role(user, roles: CellRoles | None = None) -> bool:
    """Staff, or a member of any regional or national cell (whatever the call); ``roles``: the
    user's ``cell_roles`` when the caller read them already."""
    if not (user and user.is_authenticated and user.is_active):
        return False
    return user.is_staff or (roles.cell_member if roles is not None else is_cell_member(user))


def has_totp(user) -> bool:
    return Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def mfa_required(user) -> bool:
    """Must this user have an authenticator app?"""
    return bool(settings.AMI_MFA_REQUIRED) and holds_review_role(user)


def needs_mfa_setup(user, session=None, roles: CellRoles | None = None) -> bool:
    """Must have an authenticator app and has none yet (and this session's login did not come
    with a multi-factor authentication asserted by ProConnect). One query (``cell_roles``), none
    when the caller passes the user's ``roles`` it read already."""
    if not (settings.AMI_MFA_REQUIRED and user and user.is_authenticated and user.is_active):
        return False
    if session is not None and session.get(ASSERTED_BY_PROVIDER_SESSION_KEY):
        return False
    roles = roles or cell_roles(user)
    return not roles.has_totp and holds_review_role(user, roles)


def is_protected_path(path: str) -> bool:
    """Does this path wait for the second factor? Every route does but the allow-list; a path
    that matches no route is left to answer its 404."""
    try:
        match = resolve(path)
    except Resolver404:
        return False
    name = match.view_name
    return not (name in ALLOWED_URL_NAMES or (match.url_name or "").startswith("mfa_"))


def blocks_request(user, path: str, session=None, roles: CellRoles | None = None) -> bool:
    """The one question the middleware asks: send this request to the TOTP setup instead?"""
    return is_protected_path(path) and needs_mfa_setup(user, session, roles)


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


# --- Secrets encrypted at rest ---------------------------------------------------------------

ENCRYPTED_PREFIX = "fernet:"
# Where allauth keeps a secret in ``Authenticator.data``, by authenticator type.
SECRET_FIELDS = {"totp": ("secret",), "recovery_codes": ("seed",)}
SECRET_LISTS = {"recovery_codes": ("migrated_codes",)}


def _fernet() -> MultiFernet:
    keys = [key.strip() for key in (settings.MFA_ENCRYPTION_KEY or "").split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured(
            "MFA_ENCRYPTION_KEY is not set: generate one with "
            '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key()'
            '.decode())"` (docs/operations.md).'
        )
    return MultiFernet([Fernet(key) for key in keys])


def is_encrypted(value) -> bool:
    return isinstance(value, str) and value.startswith(ENCRYPTED_PREFIX)


def encrypt_secret(text: str) -> str:
    return ENCRYPTED_PREFIX + _fernet().encrypt(text.encode()).decode()


def decrypt_secret(value: str) -> str:
    """The clear secret. A value stored in the clear is refused: the data migration
    (accounts 0007) encrypted them all, and nothing writes one since."""
    if not is_encrypted(value):
        raise ValueError("Second-factor secret stored in the clear: run `manage.py migrate`.")
    return _fernet().decrypt(value.removeprefix(ENCRYPTED_PREFIX).encode()).decode()


def encrypt_clear_secrets(authenticators) -> int:
    """Encrypt in place the secrets of these authenticators still stored in the clear (the one
    place that reads a clear secret: the data migration). Returns how many were changed."""
    changed = 0
    for authenticator in authenticators:
        data = dict(authenticator.data or {})
        before = dict(data)
        for field in SECRET_FIELDS.get(authenticator.type, ()):
            if isinstance(data.get(field), str) and not is_encrypted(data[field]):
                data[field] = encrypt_secret(data[field])
        for field in SECRET_LISTS.get(authenticator.type, ()):
            if isinstance(data.get(field), list):
                data[field] = [
                    item if is_encrypted(item) else encrypt_secret(item) for item in data[field]
                ]
        if data != before:
            authenticator.data = data
            authenticator.save(update_fields=["data"])
            changed += 1
    return changed


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

    def encrypt(self, text: str) -> str:
        return encrypt_secret(text)

    def decrypt(self, encrypted_text: str) -> str:
        return decrypt_secret(encrypted_text)

    def can_delete_authenticator(self, authenticator: Authenticator) -> bool:
        """The authenticator app of a user who must have one stays."""
        if authenticator.type == Authenticator.Type.TOTP and mfa_required(authenticator.user):
            return False
        return super().can_delete_authenticator(authenticator)
