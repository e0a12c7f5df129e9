"""Staff acting as a user to help them (« agir en tant que », django-hijack).

Who may: ``accounts.permissions.can_act_as`` (django-hijack's permission check): staff holding
« accounts.can_act_as_user », never on staff or superusers. How: only through the admin's form on
the user's page, which asks for a reason (``accounts.admin.UserAdmin.act_as_view``). Every
session is an ``ImpersonationLog`` row, opened when hijack logs the staff member in as the user
and closed when they come back (or log out); the user sees them on « Mon espace » and the staff
in the admin. Writes made meanwhile record the user as actor and the staff member as
« impersonator » in the audit trail (``ami.audit``).
"""

import logging
from datetime import timedelta

from django.contrib.auth.signals import user_logged_out
from django.utils import timezone
from hijack.signals import hijack_ended, hijack_started

from .models import ImpersonationLog

logger = logging.getLogger(__name__)

REASON_FIELD = "reason"
MAX_REASON_LENGTH = 500
# How far back « Mon espace » lists the sessions on one's account.
SHOWN_FOR = timedelta(days=365)
SHOWN_AT_MOST = 20


def start(hijacker, hijacked, reason: str) -> ImpersonationLog:
    log = ImpersonationLog.objects.create(
        hijacker=hijacker, hijacked=hijacked, reason=(reason or "").strip()[:MAX_REASON_LENGTH]
    )
    logger.warning(
        "Staff user %s started acting as user %s: %s", hijacker.pk, hijacked.pk, log.reason
    )
    return log


def end(hijacker, hijacked) -> int:
    """Close the open session(s) of ``hijacker`` on ``hijacked``; returns how many."""
    closed = ImpersonationLog.objects.filter(
        hijacker=hijacker, hijacked=hijacked, ended_at__isnull=True
    ).update(ended_at=timezone.now())
    logger.warning("Staff user %s stopped acting as user %s", hijacker.pk, hijacked.pk)
    return closed


def sessions_on(user, *, now=None):
    """The sessions of staff on ``user``'s account over the last year, newest first."""
    since = (now or timezone.now()) - SHOWN_FOR
    return ImpersonationLog.objects.filter(hijacked=user, started_at__gte=since).order_by(
        "-started_at", "-pk"
    )[:SHOWN_AT_MOST]


def _on_started(sender, request, hijacker, hijacked, **kwargs):
    start(hijacker, hijacked, request.POST.get(REASON_FIELD, ""))


def _on_ended(sender, request, hijacker, hijacked, **kwargs):
    end(hijacker, hijacked)


def _on_logged_out(sender, request, user, **kwargs):
    """Logging out while acting as a user ends the session too."""
    session = getattr(request, "session", None)
    history = session.get("hijack_history") if session is not None else None
    if user is not None and history:
        from django.contrib.auth import get_user_model

        hijacker = get_user_model().objects.filter(pk=history[-1]).first()
        if hijacker is not None:
            end(hijacker, user)


def connect_signals() -> None:
    hijack_started.connect(_on_started, dispatch_uid="accounts.impersonation.started")
    hijack_ended.connect(_on_ended, dispatch_uid="accounts.impersonation.ended")
    user_logged_out.connect(_on_logged_out, dispatch_uid="accounts.impersonation.logged_out")
