"""Draft reminders before the closing date (J-7, J-1): idempotent, only to drafts of an open
call, only to people who accept reminders, with the link to turn them off."""

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.preferences import REMINDER, unsubscribe_token
from ami.formats import paris_datetime
from ami.models import OutboxMessage, Phase, ReminderKind, ReminderSent
from candidatures.models import CandidatureState
from candidatures.reminders import send_draft_reminders, time_left
from candidatures.tasks import send_draft_reminders as send_draft_reminders_task
from tests import factories as f
from tests.emails import assert_unsubscribe_link

pytestmark = pytest.mark.django_db

EVENT = "candidature.draft_reminder"


def draft_with_team(call, *users, state=CandidatureState.DRAFT):
    candidature = f.CandidatureFactory(call=call, state=state)
    for user in users:
        f.PtceMembershipFactory(ptce=candidature.ptce, user=user)
    return candidature


def reminders():
    return OutboxMessage.objects.filter(event=EVENT).order_by("pk")


@pytest.fixture
def case():
    now = timezone.now()
    call = f.CallFactory(phase=Phase.OPEN, closes_at=now + timedelta(days=5))
    applicant = f.UserFactory()
    candidature = draft_with_team(call, applicant)
    return {"now": now, "call": call, "applicant": applicant, "candidature": candidature}


def test_run_twice_sends_once_then_once_more_at_the_next_milestone(case):
    out = StringIO()
    call_command("send_draft_reminders", stdout=out)
    call_command("send_draft_reminders", stdout=out)
    assert out.getvalue().splitlines() == [
        "1 rappel de clôture envoyé.",
        "0 rappel de clôture envoyé.",
    ]
    assert [m.recipient for m in reminders()] == [case["applicant"].email]
    # The day before closing: the J-1 reminder, once.
    the_day_before = case["call"].closes_at - timedelta(hours=20)
    assert send_draft_reminders(now=the_day_before) == 1
    assert send_draft_reminders(now=the_day_before) == 0
    assert reminders().count() == 2
    assert sorted(ReminderSent.objects.values_list("kind", "milestone")) == [
        (ReminderKind.DRAFT, "J-1"),
        (ReminderKind.DRAFT, "J-7"),
    ]
    # The Celery task is the same job.
    assert send_draft_reminders_task.delay().get() == 0


def test_the_email_has_the_deadline_the_link_to_resume_and_the_unsubscribe_link(case):
    send_draft_reminders(now=case["now"])
    message = reminders().get()
    call, candidature, applicant = case["call"], case["candidature"], case["applicant"]
    assert message.call == call and message.related == candidature
    assert call.name in message.subject and "5 jours" in message.subject
    closes = paris_datetime(call.closes_at)
    for body in (message.body_text, message.body_html):
        assert closes in body
        assert settings.SITE_URL + reverse("candidature_detail", args=[candidature.pk]) in body
        assert_unsubscribe_link(body, applicant, REMINDER)
        assert settings.SITE_URL + reverse("email_preferences") in body
    assert "&amp;" not in message.body_text and "&#x27;" not in message.body_text


def test_only_drafts_of_an_open_call_before_its_deadline(case):
    now = case["now"]
    call = case["call"]
    for state in (CandidatureState.SUBMITTED, CandidatureState.WITHDRAWN):
        draft_with_team(call, f.UserFactory(), state=state)
    # A call past its deadline (still marked open), a call not open, a call closing later.
    past = f.CallFactory(phase=Phase.OPEN, closes_at=now - timedelta(hours=1))
    in_review = f.CallFactory(phase=Phase.REGIONAL_REVIEW, closes_at=now + timedelta(days=1))
    later = f.CallFactory(phase=Phase.OPEN, closes_at=now + timedelta(days=20))
    for other in (past, in_review, later):
        draft_with_team(other, f.UserFactory())
    assert send_draft_reminders(now=now) == 1
    assert [m.recipient for m in reminders()] == [case["applicant"].email]
    assert send_draft_reminders(now=now + timedelta(days=6)) == 0  # call closed meanwhile


def test_preferences_are_respected(case):
    # Another member of the team turned reminders off; an inactive member gets nothing either.
    quiet = f.UserFactory(wants_reminders=False)
    gone = f.UserFactory(is_active=False)
    for user in (quiet, gone):
        f.PtceMembershipFactory(ptce=case["candidature"].ptce, user=user)
    # A whole team that turned them off.
    draft_with_team(case["call"], f.UserFactory(wants_reminders=False))
    assert send_draft_reminders(now=case["now"]) == 1
    assert [m.recipient for m in reminders()] == [case["applicant"].email]
    assert not ReminderSent.objects.filter(recipient__in=[quiet, gone]).exists()


def test_every_member_of_the_team_gets_their_own_email(case):
    colleague = f.UserFactory()
    f.PtceMembershipFactory(ptce=case["candidature"].ptce, user=colleague)
    assert send_draft_reminders(now=case["now"]) == 2
    by_recipient = {m.recipient: m.body_text for m in reminders()}
    assert set(by_recipient) == {case["applicant"].email, colleague.email}
    # Each link turns off the reminders of its recipient only.
    token = unsubscribe_token(colleague, REMINDER)
    assert token in by_recipient[colleague.email]
    assert token not in by_recipient[case["applicant"].email]


def test_the_database_refuses_a_second_reminder_of_the_same_milestone(case):
    send_draft_reminders(now=case["now"])
    sent = ReminderSent.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        ReminderSent.objects.create(
            kind=sent.kind,
            milestone=sent.milestone,
            recipient=sent.recipient,
            related_type=sent.related_type,
            related_id=sent.related_id,
        )


def test_a_failure_to_queue_leaves_the_reminder_to_the_next_run(case):
    with (
        mock.patch("accounts.preferences.queue_templated_email", side_effect=RuntimeError),
        pytest.raises(RuntimeError),
    ):
        send_draft_reminders(now=case["now"])
    assert not ReminderSent.objects.exists()
    assert send_draft_reminders(now=case["now"]) == 1


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (timedelta(days=6, hours=3), "6 jours"),
        (timedelta(days=1, minutes=5), "1 jour"),
        (timedelta(hours=5, minutes=59), "5 heures"),
        (timedelta(hours=1), "1 heure"),
        (timedelta(minutes=30), "moins d'une heure"),
    ],
)
def test_time_left(remaining, expected):
    assert time_left(remaining) == expected


def test_draft_reminders_are_scheduled_daily_at_nine_paris_time():
    entry = settings.CELERY_BEAT_SCHEDULE["send-draft-reminders"]
    assert entry["task"] == "candidatures.send_draft_reminders"
    assert entry["schedule"].hour == {9} and entry["schedule"].minute == {0}
    assert settings.CELERY_TIMEZONE == "Europe/Paris"
