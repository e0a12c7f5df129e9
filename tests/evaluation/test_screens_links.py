"""The coordinator settles detected conflicts from the assignments page; the screens link up."""

import pytest
from django.urls import reverse

from accounts.models import NationalRole
from evaluation.models import ConflictSource, ConflictStatus
from tests import factories as f

from .test_assignment import admissible, conflict, make_cell

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("confirm_conflict", ConflictStatus.CONFIRMED),
        ("dismiss_conflict", ConflictStatus.DISMISSED),
    ],
)
def test_coordinator_settles_a_detected_conflict_on_the_assignments_page(client, action, status):
    cell, coordinator, people = make_cell()
    (candidature,) = admissible(cell)
    detected = conflict(
        candidature, people[0], source=ConflictSource.DETECTED, status=ConflictStatus.PENDING
    )
    client.force_login(coordinator)
    url = reverse("cell_assignments", args=[cell.pk])
    page = client.get(url).content.decode()
    assert "Confirmer" in page and "Écarter" in page
    client.post(url, {"action": action, "conflict": detected.pk})
    detected.refresh_from_db()
    assert detected.status == status
    assert detected.settled_by == coordinator


def test_an_evaluator_cannot_settle_conflicts(client):
    cell, _coordinator, people = make_cell()
    (candidature,) = admissible(cell)
    detected = conflict(
        candidature, people[0], source=ConflictSource.DETECTED, status=ConflictStatus.PENDING
    )
    client.force_login(people[1])
    response = client.post(
        reverse("cell_assignments", args=[cell.pk]),
        {"action": "dismiss_conflict", "conflict": detected.pk},
    )
    assert response.status_code == 404
    detected.refresh_from_db()
    assert detected.status == ConflictStatus.PENDING


def test_candidature_page_links_to_the_review_screens_by_role(client):
    cell, coordinator, _people = make_cell()
    (candidature,) = admissible(cell)
    client.force_login(coordinator)
    html = client.get(reverse("candidature_detail", args=[candidature.pk])).content.decode()
    assert reverse("admissibility", args=[candidature.pk]) in html
    assert reverse("region_move", args=[candidature.pk]) not in html
    admin = f.NationalMembershipFactory(
        cell=f.NationalCellFactory(call=cell.call), role=NationalRole.ADMINISTRATOR
    ).user
    client.force_login(admin)
    html = client.get(reverse("candidature_detail", args=[candidature.pk])).content.decode()
    assert reverse("region_move", args=[candidature.pk]) in html
    assert reverse("admissibility", args=[candidature.pk]) not in html
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert reverse("consolidation_list", args=[cell.pk]) in dashboard


def test_auto_assignment_flags_and_skips_an_evaluator_whose_organisation_is_a_member():
    from candidatures.models import MemberCategory, PtceMember
    from evaluation import assignment
    from evaluation.models import Assignment, ConflictOfInterest

    cell, coordinator, people = make_cell(evaluators=3, reviews=2)
    (candidature,) = admissible(cell)
    PtceMember.objects.create(
        ptce=candidature.ptce,
        name="Entreprise de l'évaluateur",
        siret="73282932000074",
        category=MemberCategory.NON_ESS_ENTERPRISE,
    )
    people[0].organisation_siren = "732829320"
    people[0].save()
    assignment.auto_assign(cell, coordinator)
    flagged = ConflictOfInterest.objects.get(candidature=candidature, evaluator=people[0])
    assert (flagged.source, flagged.status) == (ConflictSource.DETECTED, ConflictStatus.PENDING)
    assigned = set(
        Assignment.objects.filter(candidature=candidature).values_list("evaluator", flat=True)
    )
    assert assigned == {people[1].pk, people[2].pk}
