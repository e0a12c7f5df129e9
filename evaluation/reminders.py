"""Reminders to evaluators whose reviews are still due as the regional review ends (DESIGN §8:
a scheduled job, idempotent). Milestones J-7 and J-2 before the call's
``regional_review_deadline``, while the call is in regional review: one email per evaluator,
call and milestone listing their pending candidatures, however often the job runs (guaranteed by
``ReminderSent``'s unique constraint, keyed on the call). Only for users who accept reminders;
each email has the link to turn them off."""

import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from accounts.preferences import REMINDER, send_once
from ami.models import Call, Phase, ReminderKind
from candidatures.models import CandidatureState
from candidatures.reminders import milestone_for, time_left

from .models import (
    BLOCKING_CONFLICT,
    Assignment,
    ConflictOfInterest,
    RegionHandover,
    Review,
    ReviewState,
)

logger = logging.getLogger(__name__)

REVIEW_MILESTONES = [("J-2", timedelta(days=2)), ("J-7", timedelta(days=7))]
# Candidatures that left the review: nothing more to evaluate.
CLOSED_STATES = [CandidatureState.WITHDRAWN, CandidatureState.INADMISSIBLE]


def pending_assignments(call):
    """Assignments of ``call`` whose evaluator has not handed in the review: no submitted review,
    no blocking conflict of interest, the region not yet handed over to the CNA (the review is
    then locked), the evaluator still active."""
    submitted = Review.objects.filter(
        candidature=OuterRef("candidature"),
        evaluator=OuterRef("evaluator"),
        state=ReviewState.SUBMITTED,
    )
    conflicted = ConflictOfInterest.objects.filter(
        BLOCKING_CONFLICT, candidature=OuterRef("candidature"), evaluator=OuterRef("evaluator")
    )
    handed_over = RegionHandover.objects.filter(
        cell__call=OuterRef("candidature__call"), cell__region=OuterRef("candidature__region")
    )
    return (
        Assignment.objects.filter(candidature__call=call, evaluator__is_active=True)
        .exclude(candidature__state__in=CLOSED_STATES)
        .exclude(Exists(submitted))
        .exclude(Exists(conflicted))
        .exclude(Exists(handed_over))
        .select_related("evaluator", "candidature__ptce", "candidature__region")
        .order_by("evaluator_id", "candidature__region__name", "candidature__ptce__name", "pk")
    )


def send_review_reminders(now=None) -> int:
    """Remind every evaluator with pending reviews of a call in regional review whose deadline is
    within 7 days. Returns the number of emails queued (0 on a second run at the same
    milestone)."""
    now = now or timezone.now()
    horizon = max(window for _, window in REVIEW_MILESTONES)
    calls = Call.objects.filter(
        phase=Phase.REGIONAL_REVIEW,
        regional_review_deadline__gt=now,
        regional_review_deadline__lte=now + horizon,
    )
    sent = 0
    for call in calls:
        remaining = call.regional_review_deadline - now
        milestone = milestone_for(remaining, REVIEW_MILESTONES)
        by_evaluator = defaultdict(list)
        evaluators = {}
        for assignment in pending_assignments(call):
            evaluators[assignment.evaluator_id] = assignment.evaluator
            by_evaluator[assignment.evaluator_id].append(assignment.candidature)
        for evaluator_id, pending in by_evaluator.items():
            sent += send_once(
                evaluators[evaluator_id],
                preference=REMINDER,
                kind=ReminderKind.REVIEW,
                milestone=milestone,
                related=call,
                now=now,
                template="review_reminder",
                event="evaluation.review_reminder",
                context={
                    "pending": pending,
                    "milestone": milestone,
                    "time_left": time_left(remaining),
                    "worklist_url": settings.SITE_URL + reverse("evaluator_worklist"),
                },
                call=call,
            )
    if sent:
        logger.info("Review reminders: %s email(s) queued", sent)
    return sent
