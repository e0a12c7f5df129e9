"""Creating, finding, revoking and logging API tokens (domain functions: no request here)."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from .models import ApiToken, ApiTokenUse

PREFIX = "amiptce_"
# The lifetimes a user may choose, in days (the form's choices); the longest is the default.
LIFETIMES = (30, 90, 365)
MAX_NAME_LENGTH = 100


class TokenError(Exception):
    """Why a presented token is refused; the message is shown to the API client (French)."""


@dataclass(frozen=True)
class NewToken:
    token: ApiToken
    secret: str  # shown once to the user, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user, name: str, days: int, at=None) -> NewToken:
    if days not in LIFETIMES:
        raise ValueError(f"Durée de validité non prévue : {days} jours.")
    at = at or timezone.now()
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name.strip()[:MAX_NAME_LENGTH],
        prefix=secret[: len(PREFIX) + 6],
        key_hash=hash_key(secret),
        created_at=at,
        expires_at=at + timedelta(days=days),
    )
    return NewToken(token, secret)


def revoke_token(user, token_pk: int, at=None) -> bool:
    """Revoke one of ``user``'s own tokens; False if they have no such active token."""
    return bool(
        ApiToken.objects.filter(pk=token_pk, user=user, revoked_at__isnull=True).update(
            revoked_at=at or timezone.now()
        )
    )


def tokens_of(user):
    return ApiToken.objects.filter(user=user).order_by("-created_at")


def find_token(key: str, at=None) -> ApiToken:
    """The active token for ``key``, with its user, or :class:`TokenError`."""
    at = at or timezone.now()
    if not key.startswith(PREFIX) or len(key) > 100:
        raise TokenError("Jeton d'API mal formé.")
    token = ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()
    if token is None:
        raise TokenError("Jeton d'API inconnu.")
    if token.revoked_at is not None:
        raise TokenError("Ce jeton d'API a été révoqué.")
    if token.expires_at <= at:
        raise TokenError("Ce jeton d'API a expiré : créez-en un nouveau dans « Mon espace ».")
    if not token.user.is_active:
        raise TokenError("Le compte de ce jeton d'API est désactivé.")
    return token


def log_use(token: ApiToken, method: str, path: str, status: int, ip_address=None, at=None):
    at = at or timezone.now()
    ApiTokenUse.objects.create(
        token=token,
        at=at,
        method=method[:10],
        path=path[:500],
        status=status,
        ip_address=ip_address,
    )
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=at)
