"""Reminders to applicants whose candidature is still a draft as the call closes (DESIGN §8:
a scheduled job, idempotent). Milestones J-7 and J-1: one email per candidature, team member
and milestone, however often the job runs, guaranteed by ``ReminderSent``'s unique constraint.
Only for users who accept reminders; each email has the link to turn them off."""

import logging
from datetime import timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.preferences import REMINDER, send_once
from ami.models import Call, Phase, ReminderKind

from .models import Candidature, CandidatureState

logger = logging.getLogger(__name__)

# (milestone, how long before the deadline it starts), the nearest first. A call closing in
# 3 days is in the J-7 window; in 20 hours, in the J-1 window.
DRAFT_MILESTONES = [("J-1", timedelta(days=1)), ("J-7", timedelta(days=7))]


def milestone_for(remaining: timedelta, milestones) -> str | None:
    """The milestone whose window holds ``remaining`` (the nearest one), or None."""
    if remaining <= timedelta(0):
        return None
    for label, window in milestones:
        if remaining <= window:
            return label
    return None


def time_left(remaining: timedelta) -> str:
    """« 6 jours », « 1 jour », « 5 heures », « moins d'une heure » (rounded down)."""
    days = remaining.days
    if days >= 1:
        return f"{days} jour{'s' if days > 1 else ''}"
    hours = remaining.seconds // 3600
    if hours >= 1:
        return f"{hours} heure{'s' if hours > 1 else ''}"
    return "moins d'une heure"


def send_draft_reminders(now=None) -> int:
    """Remind the team of every draft candidature of an open call closing within 7 days.
    Returns the number of emails queued (0 on a second run at the same milestone)."""
    now = now or timezone.now()
    horizon = max(window for _, window in DRAFT_MILESTONES)
    calls = Call.objects.filter(phase=Phase.OPEN, closes_at__gt=now, closes_at__lte=now + horizon)
    sent = 0
    for call in calls:
        remaining = call.closes_at - now
        milestone = milestone_for(remaining, DRAFT_MILESTONES)
        drafts = (
            Candidature.objects.filter(call=call, state=CandidatureState.DRAFT)
            .select_related("ptce")
            .order_by("pk")
        )
        for candidature in drafts:
            team = User.objects.filter(
                ptce_memberships__ptce=candidature.ptce_id, is_active=True
            ).order_by("pk")
            for user in team:
                sent += send_once(
                    user,
                    preference=REMINDER,
                    kind=ReminderKind.DRAFT,
                    milestone=milestone,
                    related=candidature,
                    now=now,
                    template="draft_reminder",
                    event="candidature.draft_reminder",
                    context={
                        "candidature": candidature,
                        "milestone": milestone,
                        "time_left": time_left(remaining),
                        "candidature_url": settings.SITE_URL
                        + reverse("candidature_detail", args=[candidature.pk]),
                    },
                    call=call,
                )
    if sent:
        logger.info("Draft reminders: %s email(s) queued", sent)
    return sent
