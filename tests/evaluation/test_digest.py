"""Coordinators' daily digest (evaluation.digest): what changed the day before (Paris time) in
their region, once a day, nothing when nothing changed, only to people who accept digests, never
about a candidature they have a conflict of interest on, with the link to turn it off."""

import html
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import RegionalRole
from accounts.preferences import DIGEST
from ami.models import OutboxMessage, ReminderKind, ReminderSent
from candidatures.models import CandidatureEvent, CandidatureState
from evaluation.digest import covered_day, send_coordinator_digests
from evaluation.models import (
    ConflictOfInterest,
    ConflictSource,
    ConflictStatus,
    Review,
    ReviewState,
)
from evaluation.tasks import send_coordinator_digests as send_task
from tests import factories as f
from tests.emails import assert_unsubscribe_link

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
EVENT = "evaluation.coordinator_digest"
S = CandidatureState


def paris(day, hour=0, minute=0):
    return datetime(2026, 3, day, hour, minute, tzinfo=PARIS)


def digests():
    return OutboxMessage.objects.filter(event=EVENT).order_by("pk")


def event(candidature, to_state, at, from_state=S.DRAFT):
    return CandidatureEvent.objects.create(
        candidature=candidature, at=at, from_state=from_state, to_state=to_state
    )


@pytest.fixture
def case():
    call = f.CallFactory()
    ptce = f.PtceFactory(name="PTCE Vallée solidaire")
    cell = f.RegionalCellFactory(call=call, region=ptce.region)
    coordinator = f.UserFactory()
    f.RegionalMembershipFactory(cell=cell, user=coordinator, role=RegionalRole.COORDINATOR)
    # An evaluator of the cell gets no digest.
    f.RegionalMembershipFactory(cell=cell, user=f.UserFactory(), role=RegionalRole.EVALUATOR)
    candidature = f.CandidatureFactory(call=call, ptce=ptce, state=S.SUBMITTED)
    event(candidature, S.SUBMITTED, paris(12, 10, 5))
    return {"call": call, "cell": cell, "coordinator": coordinator, "candidature": candidature}


def test_covered_day_is_the_paris_day_before():
    start, end = covered_day(paris(13, 0, 30))  # 23:30 UTC on the 12th
    assert (start, end) == (paris(12), paris(13))


def test_run_twice_the_same_day_sends_once(case):
    out = StringIO()
    now = paris(13, 7)
    assert send_coordinator_digests(now=now) == 1
    assert send_coordinator_digests(now=now + timedelta(hours=5)) == 0
    assert [m.recipient for m in digests()] == [case["coordinator"].email]
    reminder = ReminderSent.objects.get()
    assert (reminder.kind, reminder.milestone, reminder.related) == (
        ReminderKind.DIGEST,
        "2026-03-12",
        case["cell"],
    )
    # The command and the task go through the same code (real now: nothing new to send).
    call_command("send_coordinator_digests", stdout=out)
    assert out.getvalue().strip().endswith("0 récapitulatif envoyé.")
    send_task()
    assert digests().count() == 1


def test_content_counts_links_and_unsubscribe(case):
    candidature = case["candidature"]
    other = f.CandidatureFactory(
        call=case["call"], ptce=f.PtceFactory(region=candidature.region, name="PTCE Bocage")
    )
    event(other, S.SUBMITTED, paris(12, 11), from_state=S.COMPLEMENTS_REQUESTED)
    event(other, S.WITHDRAWN, paris(12, 18), from_state=S.SUBMITTED)
    evaluator = f.UserFactory(first_name="Alex", last_name="Durand")
    Review.objects.create(
        candidature=candidature,
        evaluator=evaluator,
        state=ReviewState.SUBMITTED,
        submitted_at=paris(12, 15),
    )
    ConflictOfInterest.objects.create(
        candidature=other,
        evaluator=evaluator,
        source=ConflictSource.DECLARED,
        reason="membre du CA",
        declared_at=paris(12, 16),
    )
    send_coordinator_digests(now=paris(13, 7))
    message = digests().get()
    coordinator, cell = case["coordinator"], case["cell"]
    assert "5 changements" in message.subject
    assert message.call == case["call"]
    for text in (message.body_text, html.unescape(message.body_html)):
        assert "candidature déposée" in text
        assert "candidature redéposée après compléments" in text
        assert "candidature retirée" in text
        assert "évaluation rendue" in text
        assert "conflit d'intérêts" in text
        assert "PTCE Vallée solidaire" in text and "PTCE Bocage" in text
        assert settings.SITE_URL + reverse("cell_home", args=[cell.pk]) in text
        assert settings.SITE_URL + reverse("consolidation_list", args=[cell.pk]) in text
        assert settings.SITE_URL + reverse("email_preferences") in text
    assert_unsubscribe_link(message.body_text, coordinator, DIGEST)
    assert_unsubscribe_link(html.unescape(message.body_html), coordinator, DIGEST)


def test_nothing_changed_sends_nothing(case):
    # The event of the 12th is outside the 13th's window (covered by the digest of the 14th).
    assert send_coordinator_digests(now=paris(12, 7)) == 0
    assert send_coordinator_digests(now=paris(15, 7)) == 0
    # Another region's changes do not concern this cell.
    elsewhere = f.CandidatureFactory(call=case["call"], ptce=f.PtceFactory(region=f.region("53")))
    event(elsewhere, S.SUBMITTED, paris(14, 10))
    # Transitions that are not in the digest (the coordinator's own decisions).
    event(case["candidature"], S.ADMISSIBLE, paris(14, 11), from_state=S.SUBMITTED)
    assert send_coordinator_digests(now=paris(15, 7)) == 0
    assert not digests().exists()


def test_the_next_day_with_new_events_sends_one_more(case):
    assert send_coordinator_digests(now=paris(13, 7)) == 1
    assert send_coordinator_digests(now=paris(14, 7)) == 0  # nothing on the 13th
    event(case["candidature"], S.WITHDRAWN, paris(14, 9), from_state=S.SUBMITTED)
    assert send_coordinator_digests(now=paris(15, 7)) == 1
    assert send_coordinator_digests(now=paris(15, 8)) == 0
    assert digests().count() == 2
    assert sorted(ReminderSent.objects.values_list("milestone", flat=True)) == [
        "2026-03-12",
        "2026-03-14",
    ]


def test_preference_off_sends_nothing(case):
    coordinator = case["coordinator"]
    coordinator.wants_digests = False
    coordinator.save()
    assert send_coordinator_digests(now=paris(13, 7)) == 0
    assert not ReminderSent.objects.exists()


def test_inactive_coordinator_gets_nothing(case):
    case["coordinator"].is_active = False
    case["coordinator"].save()
    assert send_coordinator_digests(now=paris(13, 7)) == 0


def test_conflicted_candidature_is_left_out(case):
    coordinator, candidature = case["coordinator"], case["candidature"]
    other = f.CandidatureFactory(
        call=case["call"], ptce=f.PtceFactory(region=candidature.region, name="PTCE Bocage")
    )
    event(other, S.SUBMITTED, paris(12, 11))
    ConflictOfInterest.objects.create(
        candidature=candidature,
        evaluator=coordinator,
        source=ConflictSource.DECLARED,
        reason="je préside un membre",
        declared_at=paris(1),
    )
    send_coordinator_digests(now=paris(13, 7))
    message = digests().get()
    assert "PTCE Bocage" in message.body_text
    assert "PTCE Vallée solidaire" not in message.body_text
    assert "PTCE Vallée solidaire" not in message.body_html
    assert "1 changement " in message.subject


def test_conflict_only_on_the_changed_candidature_sends_nothing(case):
    ConflictOfInterest.objects.create(
        candidature=case["candidature"],
        evaluator=case["coordinator"],
        source=ConflictSource.DETECTED,
        status=ConflictStatus.PENDING,  # a pending detected conflict blocks too
        reason="même SIRET",
        declared_at=paris(1),
    )
    assert send_coordinator_digests(now=paris(13, 7)) == 0


def test_dismissed_conflict_does_not_hide(case):
    ConflictOfInterest.objects.create(
        candidature=case["candidature"],
        evaluator=case["coordinator"],
        source=ConflictSource.DETECTED,
        status=ConflictStatus.DISMISSED,
        reason="homonyme",
        declared_at=paris(1),
    )
    assert send_coordinator_digests(now=paris(13, 7)) == 1


def test_bounded_number_of_queries(case):
    def run(now):
        with CaptureQueriesContext(connection) as queries:
            send_coordinator_digests(now=now)
        return len(queries)

    small = run(paris(13, 7))
    for hour in range(8, 14):
        other = f.CandidatureFactory(
            call=case["call"], ptce=f.PtceFactory(region=case["candidature"].region)
        )
        event(other, S.SUBMITTED, paris(13, hour))
        Review.objects.create(
            candidature=other,
            evaluator=f.UserFactory(),
            state=ReviewState.SUBMITTED,
            submitted_at=paris(13, hour, 30),
        )
    assert run(paris(14, 7)) == small
