"""Regional cells: members managed by their coordinators, the cell's home page, navigation,
and the coordinator pages' scoping by role."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import invitations
from accounts.models import CellInvitation, RegionalCell, RegionalCellMembership, RegionalRole
from accounts.navigation import navigation_for
from ami.models import OutboxMessage
from candidatures.models import CandidatureState
from evaluation import cells
from evaluation.models import Assignment, Review, ReviewState
from tests import factories as f
from tests.form_errors import assert_field_error
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, assert_outcome, client_as

pytestmark = pytest.mark.django_db


def cell_a(world) -> RegionalCell:
    return RegionalCell.objects.get(call=world.call, region=world.region_a)


def members_url(cell):
    return reverse("cell_members", args=[cell.pk])


# --- Adding, changing, removing members --------------------------------------------------------


def test_coordinator_adds_an_existing_account_by_email(client, world):
    cell = cell_a(world)
    newcomer = f.UserFactory(email="claire.martin@example.org")
    client.force_login(world.user("cra_coordinator"))
    response = client.post(
        members_url(cell),
        {"action": "add", "email": "  Claire.MARTIN@Example.org ", "role": "evaluator"},
    )
    assert response.status_code == 302
    membership = RegionalCellMembership.objects.get(cell=cell, user=newcomer)
    assert membership.role == RegionalRole.EVALUATOR
    mail = OutboxMessage.objects.get(event="cell.member_added")
    assert mail.recipient == newcomer.email
    assert cells.worklist_url() in mail.body_text
    assert cell.region.name in mail.subject
    page = client.get(members_url(cell))
    assert newcomer.email in page.content.decode()


def test_unknown_email_gets_an_invitation(client, world):
    cell = cell_a(world)
    client.force_login(world.user("cra_coordinator"))
    response = client.post(
        members_url(cell),
        {"action": "add", "email": "Inconnu@example.org", "role": "evaluator"},
        follow=True,
    )
    html = response.content.decode()
    assert "une invitation (évaluateur) lui a été envoyée" in html
    invitation = CellInvitation.objects.get(regional_cell=cell)
    assert (invitation.email, invitation.role) == ("inconnu@example.org", "evaluator")
    assert "Invitations en attente (1)" in html
    mail = OutboxMessage.objects.get(event="cell.invitation")
    assert mail.recipient == "inconnu@example.org"
    assert not RegionalCellMembership.objects.filter(cell=cell, user__email="inconnu@example.org")


def test_invalid_email_is_refused_in_french(client, world):
    cell = cell_a(world)
    client.force_login(world.user("cra_coordinator"))
    response = client.post(
        members_url(cell), {"action": "add", "email": "pas-une-adresse", "role": "evaluator"}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "n&#x27;est pas une adresse électronique valide" in html
    assert 'value="pas-une-adresse"' in html  # what was typed is kept
    assert not OutboxMessage.objects.exists()


def test_coordinator_resends_and_revokes_an_invitation_from_the_members_screen(client, world):
    cell = cell_a(world)
    client.force_login(world.user("cra_coordinator"))
    client.post(members_url(cell), {"action": "add", "email": "x@example.org", "role": "evaluator"})
    invitation = CellInvitation.objects.get(regional_cell=cell)
    first_expiry = invitation.expires_at

    client.post(members_url(cell), {"action": "resend", "invitation": invitation.pk})
    invitation.refresh_from_db()
    assert invitation.sent_count == 2 and invitation.expires_at > first_expiry
    assert OutboxMessage.objects.filter(event="cell.invitation").count() == 2

    client.post(members_url(cell), {"action": "revoke", "invitation": invitation.pk})
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert invitation.revoked_by == world.user("cra_coordinator")
    page = client.get(members_url(cell)).content.decode()
    assert "Aucune invitation en attente." in page
    response = client.post(
        members_url(cell), {"action": "resend", "invitation": invitation.pk}, follow=True
    )
    assert "ne peut plus être renvoyée" in response.content.decode()


def test_invitations_of_another_cell_are_not_found(client, world):
    other = RegionalCell.objects.get(call=world.call, region=world.region_b)
    invitation = invitations.invite(other, "y@example.org", "evaluator", world.user("staff"))
    client.force_login(world.user("cra_coordinator"))
    for action in ("resend", "revoke"):
        response = client.post(
            members_url(cell_a(world)), {"action": action, "invitation": invitation.pk}
        )
        assert response.status_code == 404
    invitation.refresh_from_db()
    assert invitation.revoked_at is None and invitation.sent_count == 1


def test_member_twice_and_bad_role_are_refused(world):
    cell = cell_a(world)
    coordinator = world.user("cra_coordinator")
    with pytest.raises(ValidationError, match="fait déjà partie"):
        cells.add_member(cell, world.user("cra_evaluator").email.upper(), "evaluator", coordinator)
    with pytest.raises(ValidationError, match="Choisissez le rôle"):
        cells.add_member(cell, f.UserFactory().email, "chef", coordinator)


def test_only_coordinators_of_the_cell_and_staff_manage_members(world):
    cell = cell_a(world)
    person = f.UserFactory()
    for role in ("cra_evaluator", "other_region_evaluator", "cna_admin", "applicant"):
        with pytest.raises(PermissionDenied):
            cells.add_member(cell, person.email, "evaluator", world.user(role))
    membership = cells.add_member(cell, person.email, "coordinator", world.user("staff"))
    assert membership.role == RegionalRole.COORDINATOR


def test_the_last_coordinator_is_kept(client, world):
    cell = cell_a(world)
    coordinator = world.user("cra_coordinator")
    own = RegionalCellMembership.objects.get(cell=cell, user=coordinator)
    with pytest.raises(ValidationError, match="au moins un coordinateur"):
        cells.remove_member(own, coordinator)
    with pytest.raises(ValidationError, match="au moins un coordinateur"):
        cells.change_role(own, RegionalRole.EVALUATOR, coordinator)
    # Through the page: the refusal is shown and nothing changes.
    client.force_login(coordinator)
    response = client.post(
        members_url(cell), {"action": "remove", "membership": own.pk}, follow=True
    )
    assert "au moins un coordinateur" in response.content.decode()
    assert RegionalCellMembership.objects.filter(pk=own.pk).exists()
    # With a second coordinator, the first may step down then leave.
    evaluator = RegionalCellMembership.objects.get(cell=cell, user=world.user("cra_evaluator"))
    client.post(members_url(cell), {"action": "role", "membership": evaluator.pk,
                                    "role": "coordinator"})  # fmt: skip
    evaluator.refresh_from_db()
    assert evaluator.role == RegionalRole.COORDINATOR
    # Stepping down through the page leads back to « Mon espace » (the cell is out of reach).
    response = client.post(
        members_url(cell), {"action": "role", "membership": own.pk, "role": "evaluator"}
    )
    assert response["Location"] == reverse("dashboard")
    own.refresh_from_db()
    assert own.role == RegionalRole.EVALUATOR
    cells.remove_member(own, world.user("cra_evaluator"))
    assert not RegionalCellMembership.objects.filter(pk=own.pk).exists()


def test_removing_a_member_withdraws_their_outstanding_assignments(world):
    cell = cell_a(world)
    coordinator, evaluator = world.user("cra_coordinator"), world.user("cra_evaluator")
    done = f.CandidatureFactory(
        call=world.call,
        ptce=f.PtceFactory(region=world.region_a),
        state=CandidatureState.ADMISSIBLE,
        submitted_at=timezone.now(),
    )
    world.candidature_a.state = CandidatureState.ADMISSIBLE
    world.candidature_a.save()
    for candidature in (world.candidature_a, done):
        Assignment.objects.create(
            candidature=candidature, evaluator=evaluator, assigned_by=coordinator
        )
    Review.objects.create(
        candidature=done, evaluator=evaluator, state=ReviewState.SUBMITTED,
        submitted_at=timezone.now(),
    )  # fmt: skip
    membership = RegionalCellMembership.objects.get(cell=cell, user=evaluator)
    assert cells.remove_member(membership, coordinator) == 1
    assert list(Assignment.objects.filter(evaluator=evaluator)) == [
        Assignment.objects.get(candidature=done)
    ]


def test_staff_manage_cells_in_the_admin(client, world):
    client.force_login(world.user("staff"))
    cell = cell_a(world)
    response = client.get(reverse("admin:accounts_regionalcell_change", args=[cell.pk]))
    assert response.status_code == 200
    assert str(world.user("cra_coordinator")) in response.content.decode()


# --- Home page and navigation ------------------------------------------------------------------


def test_cell_home_counts_candidatures_by_state(client, world):
    cell = cell_a(world)
    for state in (CandidatureState.ADMISSIBLE, CandidatureState.ADMISSIBLE):
        f.CandidatureFactory(
            call=world.call,
            ptce=f.PtceFactory(region=world.region_a),
            state=state,
            submitted_at=timezone.now(),
        )
    client.force_login(world.user("cra_coordinator"))
    response = client.get(reverse("cell_home", args=[cell.pk]))
    assert response.status_code == 200
    states = {value: count for value, _label, count in response.context["states"]}
    assert states[CandidatureState.SUBMITTED] == 1
    assert states[CandidatureState.ADMISSIBLE] == 2
    assert response.context["total"] == 3  # drafts and other regions are not counted
    filtered = client.get(reverse("cell_home", args=[cell.pk]), {"etat": "admissible"})
    assert len(filtered.context["page"].object_list) == 2
    assert reverse("admissibility", args=[world.candidature_a.pk]) in response.content.decode()


def test_cell_home_and_members_query_counts_do_not_grow(client, world):
    cell = cell_a(world)
    client.force_login(world.user("cra_coordinator"))
    urls = [reverse("cell_home", args=[cell.pk]), members_url(cell)]

    def counts():
        result = []
        for url in urls:
            with CaptureQueriesContext(connection) as queries:
                assert client.get(url).status_code == 200
            result.append(len(queries))
        return result

    def grow(n):
        for _ in range(n):
            f.CandidatureFactory(
                call=world.call,
                ptce=f.PtceFactory(region=world.region_a),
                state=CandidatureState.ADMISSIBLE,
                submitted_at=timezone.now(),
            )
            f.RegionalMembershipFactory(cell=cell)

    grow(3)
    small = counts()
    grow(20)
    assert counts() == small


def test_navigation_links_coordinators_to_their_cell(world):
    coordinator = world.user("cra_coordinator")
    items = navigation_for(coordinator)
    expected = {"label": "Cellule régionale", "url": reverse("cell_home", args=[cell_a(world).pk])}
    assert expected in items
    for role in ("cra_evaluator", "applicant", "cna_admin"):
        labels = [item["label"] for item in navigation_for(world.user(role))]
        assert "Cellule régionale" not in labels


# --- Every coordinator page, every role -------------------------------------------------------

COORDINATOR_ONLY = {
    role: (LOGIN if role == "anonymous" else OK if role == "cra_coordinator" else NOT_FOUND)
    for role in ROLES
}
CNA_ADMIN_ONLY = {
    role: (LOGIN if role == "anonymous" else OK if role == "cna_admin" else NOT_FOUND)
    for role in ROLES
}
PAGES = [
    ("cell_home", lambda w: reverse("cell_home", args=[cell_a(w).pk]), COORDINATOR_ONLY),
    ("cell_members", lambda w: reverse("cell_members", args=[cell_a(w).pk]), COORDINATOR_ONLY),
    (
        "cell_assignments",
        lambda w: reverse("cell_assignments", args=[cell_a(w).pk]),
        COORDINATOR_ONLY,
    ),
    (
        "admissibility",
        lambda w: reverse("admissibility", args=[w.candidature_a.pk]),
        COORDINATOR_ONLY,
    ),
    (
        "complements_request",
        lambda w: reverse("complements_request", args=[w.candidature_a.pk]),
        COORDINATOR_ONLY,
    ),
    ("region_move", lambda w: reverse("region_move", args=[w.candidature_a.pk]), CNA_ADMIN_ONLY),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("name", "url", "expected"), PAGES, ids=[p[0] for p in PAGES])
def test_coordinator_pages_by_role(client, world, role, name, url, expected):
    target = url(world)
    response = client_as(client, world, role).get(target)
    assert_outcome(response, expected[role], target, role)


@pytest.mark.parametrize(("name", "url", "expected"), PAGES[:5], ids=[p[0] for p in PAGES[:5]])
def test_coordinator_pages_post_is_404_outside_the_cell(client, world, name, url, expected):
    for role in ("cra_evaluator", "other_region_evaluator", "applicant"):
        client.force_login(world.user(role))
        response = client.post(url(world), {"action": "auto"})
        assert response.status_code == 404, (role, name)


def test_coordinator_of_another_region_gets_404(client, world):
    other = f.RegionalMembershipFactory(
        cell=RegionalCell.objects.get(call=world.call, region=world.region_b),
        role=RegionalRole.COORDINATOR,
    ).user
    client.force_login(other)
    for url in (
        reverse("cell_home", args=[cell_a(world).pk]),
        reverse("admissibility", args=[world.candidature_a.pk]),
        reverse("complements_request", args=[world.candidature_a.pk]),
    ):
        assert client.get(url).status_code == 404, url


def test_a_conflicted_coordinator_gets_404_on_that_candidature(client, world):
    from evaluation.models import ConflictOfInterest

    coordinator = world.user("cra_coordinator")
    ConflictOfInterest.objects.create(
        candidature=world.candidature_a, evaluator=coordinator, source="declared", reason="Lien"
    )
    client.force_login(coordinator)
    assert client.get(reverse("admissibility", args=[world.candidature_a.pk])).status_code == 404


def test_member_form_errors_are_shown_at_their_fields_and_in_the_summary(client, world):
    cell = cell_a(world)
    client.force_login(world.user("cra_coordinator"))
    response = client.post(members_url(cell), {"action": "add", "email": "", "role": "chef"})
    assert response.status_code == 422
    html = response.content.decode()
    assert_field_error(html, "id_email", "Indiquez l'adresse électronique de la personne.")
    assert_field_error(html, "id_role", "Choisissez le rôle : coordinateur ou évaluateur.")
    # A row's role: the refusal of the rule in its row, on its select.
    own = RegionalCellMembership.objects.get(cell=cell, user=world.user("cra_coordinator"))
    response = client.post(
        members_url(cell), {"action": "role", "membership": own.pk, "role": "evaluator"}
    )
    assert response.status_code == 422
    assert_field_error(
        response.content.decode(), f"membre-{own.pk}-role", "au moins un coordinateur"
    )
    own.refresh_from_db()
    assert own.role == RegionalRole.COORDINATOR
