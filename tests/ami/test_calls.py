from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from accounts.models import NationalRole
from ami.calls import clone_call, set_phase
from ami.models import Call, CallPhaseChange, Phase
from tests.factories import (
    CallFactory,
    CriterionFactory,
    DocumentTypeFactory,
    NationalMembershipFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
PARIS = ZoneInfo("Europe/Paris")


def test_clone_copies_grid_and_documents_as_a_draft_one_year_later():
    call = CallFactory(
        name="AMI PTCE 2025",
        year=2025,
        phase=Phase.PUBLISHED,
        opens_at=datetime(2025, 4, 14, 9, tzinfo=PARIS),
        closes_at=datetime(2025, 6, 13, 12, tzinfo=PARIS),
    )
    CriterionFactory(call=call, label="Gouvernance", weight=Decimal("25"), order=1)
    CriterionFactory(
        call=call, label="Viabilité", weight=Decimal("20"), order=2, allows_not_applicable=True
    )
    DocumentTypeFactory(call=call, label="Statuts", allowed_formats=["pdf", "odt"])
    staff = UserFactory(is_staff=True)

    clone = clone_call(call, staff)

    assert clone.pk != call.pk
    assert clone.name == "AMI PTCE 2026"
    assert clone.year == 2026
    assert clone.phase == Phase.DRAFT
    assert clone.closes_at == datetime(2026, 6, 13, 12, tzinfo=PARIS)
    assert clone.envelope == call.envelope
    assert [(c.label, c.weight, c.allows_not_applicable) for c in clone.criteria.all()] == [
        ("Gouvernance", Decimal("25"), False),
        ("Viabilité", Decimal("20"), True),
    ]
    assert [(d.label, d.allowed_formats) for d in clone.document_types.all()] == [
        ("Statuts", ["pdf", "odt"])
    ]
    # The original is untouched.
    assert call.criteria.count() == 2 and call.document_types.count() == 1
    assert CallPhaseChange.objects.get(call=clone).actor == staff


def test_clone_twice_finds_the_edition_made_the_first_time():
    call = CallFactory(name="AMI PTCE 2025", year=2025)
    CriterionFactory(call=call)
    first = clone_call(call, None)
    second = clone_call(call, None)
    assert first.pk == second.pk
    assert Call.objects.filter(year=2026).count() == 1
    assert first.criteria.count() == 1


def test_clone_gets_a_unique_slug_when_another_call_has_it():
    CallFactory(name="Autre", slug="ami-ptce-2026", year=2030)
    call = CallFactory(name="AMI PTCE 2025", year=2025)
    assert clone_call(call, None).slug == "ami-ptce-2026-2"


def test_admin_clone_action(client):
    call = CallFactory(name="AMI PTCE 2025", year=2025)
    CriterionFactory(call=call)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.post(
        reverse("admin:ami_call_changelist"),
        {"action": "clone_for_next_year", "_selected_action": [call.pk]},
    )
    assert response.status_code == 200  # the confirmation page, nothing created yet
    assert "Préparer l'édition suivante" in response.content.decode()
    assert not Call.objects.filter(year=2026).exists()
    response = client.post(
        reverse("admin:ami_call_changelist"),
        {"action": "clone_for_next_year", "_selected_action": [call.pk], "confirm": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    clone = Call.objects.get(year=2026)
    assert clone.criteria.count() == 1
    assert "AMI PTCE 2026" in response.content.decode()


def test_phase_change_is_logged_with_actor_and_restricted():
    call = CallFactory(phase=Phase.OPEN)
    admin = NationalMembershipFactory(cell__call=call, role=NationalRole.ADMINISTRATOR).user
    member = NationalMembershipFactory(cell__call=call, role=NationalRole.MEMBER).user
    with pytest.raises(PermissionDenied):
        set_phase(call, Phase.REGIONAL_REVIEW, member)
    change = set_phase(call, Phase.REGIONAL_REVIEW, admin, "Clôture anticipée")
    call.refresh_from_db()
    assert call.phase == Phase.REGIONAL_REVIEW
    assert (change.from_phase, change.to_phase, change.actor) == (
        Phase.OPEN,
        Phase.REGIONAL_REVIEW,
        admin,
    )


def test_deadline_is_enforced_at_the_exact_instant():
    closes = timezone.now() + timedelta(hours=1)
    call = CallFactory(phase=Phase.OPEN, closes_at=closes)
    assert call.accepts_submissions(closes - timedelta(seconds=1))
    assert not call.accepts_submissions(closes)
    call.phase = Phase.REGIONAL_REVIEW
    assert not call.accepts_submissions(closes - timedelta(minutes=1))


def test_home_shows_the_current_call_with_calendar_grid_and_documents(client):
    call = CallFactory(
        name="AMI PTCE 2026",
        envelope=Decimal("500000"),
        min_amount=Decimal("30000"),
        max_amount=Decimal("80000"),
        eligibility_rules="Au moins trois personnes morales membres.",
        closes_at=timezone.now() + timedelta(days=12, hours=5, minutes=10),
    )
    CriterionFactory(call=call, label="Gouvernance partagée")
    DocumentTypeFactory(call=call, label="Statuts de la structure")
    CallFactory(name="Brouillon caché", phase=Phase.DRAFT, year=2099)
    html = client.get("/").content.decode()
    assert "AMI PTCE 2026" in html
    assert "Brouillon caché" not in html
    assert "500\u202f000\u00a0€" in html
    assert "de 30\u202f000\u00a0€ à 80\u202f000\u00a0€" in html
    assert "Clôture dans 12 jours et 5 heures" in html
    assert "Gouvernance partagée" in html
    assert "Statuts de la structure" in html
    assert "Au moins trois personnes morales membres." in html


def test_home_without_call(client):
    assert "Aucun appel" in client.get("/").content.decode()


def test_draft_call_page_is_hidden_from_the_public(client):
    call = CallFactory(phase=Phase.DRAFT)
    assert client.get(reverse("call_detail", args=[call.slug])).status_code == 404
    client.force_login(UserFactory(is_staff=True))
    assert client.get(reverse("call_detail", args=[call.slug])).status_code == 200


# --- One table of allowed phase moves (issue 12, defect 6) --------------------------------------


@pytest.mark.parametrize(
    ("from_phase", "to_phase"),
    [
        (Phase.OPEN, Phase.DRAFT),
        (Phase.DRAFT, Phase.PUBLISHED),
        (Phase.OPEN, Phase.NATIONAL_REVIEW),
        (Phase.PUBLISHED, Phase.NATIONAL_REVIEW),
        (Phase.ARCHIVED, Phase.OPEN),
    ],
)
def test_moves_outside_the_table_are_refused_and_log_nothing(from_phase, to_phase):
    from django.core.exceptions import ValidationError

    call = CallFactory(phase=from_phase)
    admin = NationalMembershipFactory(cell__call=call, role=NationalRole.ADMINISTRATOR).user
    with pytest.raises(ValidationError) as refusal:
        set_phase(call, to_phase, admin)
    assert "Impossible de passer l'appel" in str(refusal.value)
    call.refresh_from_db()
    assert call.phase == from_phase
    assert not CallPhaseChange.objects.filter(call=call).exists()


def test_a_move_to_the_current_phase_changes_and_logs_nothing():
    call = CallFactory(phase=Phase.PUBLISHED)
    assert set_phase(call, Phase.PUBLISHED, None) is None
    assert not CallPhaseChange.objects.filter(call=call).exists()


def test_every_phase_is_in_the_table():
    from ami.calls import PHASE_MOVES

    assert set(PHASE_MOVES) == set(Phase.values)
    for targets in PHASE_MOVES.values():
        assert targets <= set(Phase.values)


@pytest.mark.django_db(transaction=True)
def test_parallel_publications_log_the_phase_change_once():
    import threading

    from django.db import close_old_connections

    from evaluation import publication
    from tests.evaluation.national_helpers import fix_list, national_edition

    edition = national_edition({"11": [70, 60]})
    first, second = edition.candidatures
    fix_list(edition, {first: "40000"})
    barrier = threading.Barrier(4)
    published = []

    def publish():
        close_old_connections()
        try:
            call = Call.objects.get(pk=edition.call.pk)
            barrier.wait()
            published.append(publication.publish(call, edition.admin))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=publish) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(published) == [0, 0, 0, 2]
    changes = CallPhaseChange.objects.filter(call=edition.call, to_phase=Phase.PUBLISHED)
    assert [(c.from_phase, c.to_phase) for c in changes] == [(Phase.DELIBERATED, Phase.PUBLISHED)]
