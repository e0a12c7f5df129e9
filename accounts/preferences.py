"""Email preferences: reminders and digests can be turned off; decisions, receipts and account
emails never can (they are not « non-essential »)."""

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse

from ami.models import ReminderSent
from ami.outbox import queue_templated_email

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


def preference_links(user, kind: str) -> dict:
    """The links every non-essential email carries: one-click unsubscribe and the preferences."""
    return {
        "unsubscribe_url": settings.SITE_URL
        + reverse("unsubscribe", args=[unsubscribe_token(user, kind)]),
        "preferences_url": settings.SITE_URL + reverse("email_preferences"),
    }


def send_once(
    user, *, preference, kind, milestone, related, now, template, event, context, call
) -> bool:
    """Queue an optional email (a reminder, a digest) to ``user`` once per ``(kind, milestone,
    related)``: not when the user turned ``preference`` (``REMINDER``/``DIGEST``) off, nor when
    the milestone is already claimed (``ReminderSent``'s unique constraint, claimed in the same
    transaction as the outbox row). The links to unsubscribe and to the preferences are added.
    Returns whether the email was queued."""
    if not allows(user, preference):
        return False
    with transaction.atomic():
        if not ReminderSent.claim(
            kind=kind, milestone=milestone, recipient=user, related=related, now=now
        ):
            return False
        queue_templated_email(
            to=user.email,
            template=template,
            context={**context, **preference_links(user, preference)},
            event=event,
            related=related,
            call=call,
        )
    return True
