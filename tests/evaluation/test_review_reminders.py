"""Review reminders before the end of the regional review (J-7, J-2): idempotent, one email per
evaluator listing their pending reviews, only to people who accept reminders, with the link to
turn them off."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.preferences import REMINDER
from ami.formats import paris_datetime
from ami.models import OutboxMessage, Phase, ReminderKind, ReminderSent
from candidatures.models import CandidatureState
from evaluation.models import (
    Assignment,
    ConflictOfInterest,
    ConflictSource,
    RegionHandover,
    Review,
    ReviewState,
)
from evaluation.reminders import send_review_reminders
from evaluation.tasks import send_review_reminders as send_review_reminders_task
from tests import factories as f
from tests.emails import assert_unsubscribe_link

pytestmark = pytest.mark.django_db

EVENT = "evaluation.review_reminder"


def reminders():
    return OutboxMessage.objects.filter(event=EVENT).order_by("pk")


def review_call(now, deadline_in=timedelta(days=5), phase=Phase.REGIONAL_REVIEW):
    return f.CallFactory(
        phase=phase,
        opens_at=now - timedelta(days=40),
        closes_at=now - timedelta(days=10),
        regional_review_deadline=now + deadline_in,
    )


def admissible(call, name):
    return f.CandidatureFactory(
        call=call, state=CandidatureState.ADMISSIBLE, ptce=f.PtceFactory(name=name)
    )


def assign(candidature, evaluator, review_state=None):
    Assignment.objects.create(candidature=candidature, evaluator=evaluator, assigned_by=evaluator)
    if review_state:
        Review.objects.create(
            candidature=candidature,
            evaluator=evaluator,
            state=review_state,
            submitted_at=timezone.now() if review_state == ReviewState.SUBMITTED else None,
        )


@pytest.fixture
def case():
    now = timezone.now()
    call = review_call(now)
    done = admissible(call, "PTCE Déjà évalué")
    started = admissible(call, "PTCE Évaluation en cours")
    untouched = admissible(call, "PTCE Pas commencé")
    evaluator = f.UserFactory()
    assign(done, evaluator, ReviewState.SUBMITTED)
    assign(started, evaluator, ReviewState.DRAFT)
    assign(untouched, evaluator)
    # Someone who handed in everything gets nothing.
    finished = f.UserFactory()
    assign(done, finished, ReviewState.SUBMITTED)
    return {"now": now, "call": call, "evaluator": evaluator, "finished": finished}


def test_run_twice_sends_once_then_once_more_at_the_next_milestone(case):
    out = StringIO()
    call_command("send_review_reminders", stdout=out)
    call_command("send_review_reminders", stdout=out)
    assert out.getvalue().splitlines() == [
        "1 rappel d'évaluation envoyé.",
        "0 rappel d'évaluation envoyé.",
    ]
    assert [m.recipient for m in reminders()] == [case["evaluator"].email]
    two_days_before = case["call"].regional_review_deadline - timedelta(days=1, hours=12)
    assert send_review_reminders(now=two_days_before) == 1
    assert send_review_reminders(now=two_days_before) == 0
    assert reminders().count() == 2
    assert sorted(ReminderSent.objects.values_list("kind", "milestone")) == [
        (ReminderKind.REVIEW, "J-2"),
        (ReminderKind.REVIEW, "J-7"),
    ]
    assert send_review_reminders_task.delay().get() == 0


def test_one_email_lists_the_pending_reviews_with_the_links(case):
    send_review_reminders(now=case["now"])
    message = reminders().get()
    call, evaluator = case["call"], case["evaluator"]
    assert message.call == call and message.related == call
    assert "2 évaluations" in message.subject
    deadline = paris_datetime(call.regional_review_deadline)
    for body in (message.body_text, message.body_html):
        assert "PTCE Évaluation en cours" in body and "PTCE Pas commencé" in body
        assert "PTCE Déjà évalué" not in body
        assert deadline in body and "5 jours" in body
        assert settings.SITE_URL + reverse("evaluator_worklist") in body
        assert_unsubscribe_link(body, evaluator, REMINDER)
        assert settings.SITE_URL + reverse("email_preferences") in body


def test_preferences_are_respected(case):
    case["evaluator"].wants_reminders = False
    case["evaluator"].save()
    assert send_review_reminders(now=case["now"]) == 0
    assert not reminders().exists() and not ReminderSent.objects.exists()


def test_nothing_outside_the_regional_review_or_its_last_week(case):
    now = case["now"]
    for call in (
        review_call(now, phase=Phase.OPEN),
        review_call(now, phase=Phase.NATIONAL_REVIEW),
        review_call(now, deadline_in=timedelta(days=20)),
        review_call(now, deadline_in=-timedelta(hours=1)),
    ):
        assign(admissible(call, f"PTCE de {call.name}"), f.UserFactory())
    assert send_review_reminders(now=now) == 1
    assert [m.recipient for m in reminders()] == [case["evaluator"].email]


def test_no_reminder_for_a_conflict_a_withdrawal_or_a_region_handed_over(case):
    now = case["now"]
    call = case["call"]
    conflicted, withdrawn = f.UserFactory(), f.UserFactory()
    candidature = admissible(call, "PTCE En conflit")
    assign(candidature, conflicted)
    ConflictOfInterest.objects.create(
        candidature=candidature,
        evaluator=conflicted,
        source=ConflictSource.DECLARED,
        reason="Administrateur du PTCE.",
    )
    gone = f.CandidatureFactory(call=call, state=CandidatureState.WITHDRAWN)
    assign(gone, withdrawn)
    assert send_review_reminders(now=now) == 1
    assert [m.recipient for m in reminders()] == [case["evaluator"].email]
    # Once the region is handed over to the CNA the reviews are locked: no J-2 reminder.
    cell = f.RegionalCellFactory(call=call, region=f.region())
    RegionHandover.objects.create(cell=cell, handed_over_by=case["finished"])
    assert send_review_reminders(now=call.regional_review_deadline - timedelta(days=1)) == 0


def test_review_reminders_are_scheduled_daily_at_nine_paris_time():
    entry = settings.CELERY_BEAT_SCHEDULE["send-review-reminders"]
    assert entry["task"] == "evaluation.send_review_reminders"
    assert entry["schedule"].hour == {9} and entry["schedule"].minute == {0}
