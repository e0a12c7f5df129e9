"""Email preferences: reminders and digests can be turned off; decisions, receipts and account
emails never can (they are not « non-essential »)."""

from django.core import signing

from .models import User

REMINDER = "reminder"
DIGEST = "digest"
OPTIONAL_KINDS = {REMINDER: "wants_reminders", DIGEST: "wants_digests"}
_SALT = "accounts.preferences.unsubscribe"
TOKEN_MAX_AGE = 60 * 60 * 24 * 365  # a year: reminders come back with each edition


def allows(user, kind: str) -> bool:
    """Whether ``user`` accepts a non-essential email of ``kind`` (``reminder``/``digest``)."""
    return getattr(user, OPTIONAL_KINDS[kind])


def unsubscribe_token(user, kind: str) -> str:
    """A signed token for the one-click link in every non-essential email."""
    return signing.dumps({"user": user.pk, "kind": kind}, salt=_SALT)


def read_token(token: str) -> tuple[User, str]:
    """(user, kind) of a valid unsubscribe token, changing nothing. Raises
    ``signing.BadSignature`` (bad, expired, unknown kind) or ``User.DoesNotExist``."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=TOKEN_MAX_AGE)
        kind, user_pk = data["kind"], data["user"]
    except (KeyError, TypeError) as error:
        raise signing.BadSignature("malformed token") from error
    if kind not in OPTIONAL_KINDS:
        raise signing.BadSignature("unknown kind")
    return User.objects.get(pk=user_pk, is_active=True), kind


def unsubscribe(token: str) -> tuple[User, str]:
    """Turn off the kind of email the token was made for. Raises ``signing.BadSignature``."""
    user, kind = read_token(token)
    setattr(user, OPTIONAL_KINDS[kind], False)
    user.save(update_fields=[OPTIONAL_KINDS[kind]])
    return user, kind
