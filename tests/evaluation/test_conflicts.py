"""Conflicts of interest: declared by an evaluator, detected by SIREN, settled by the
coordinator; what a blocking conflict hides."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalRole
from ami.models import OutboxMessage
from candidatures.models import Candidature, CandidatureState, PtceMember
from evaluation import conflicts, reviews
from evaluation.models import (
    Assignment,
    ConflictOfInterest,
    ConflictSource,
    ConflictStatus,
    RegionHandover,
    Review,
    ReviewState,
)
from evaluation.permissions import can_review, can_see_reviews
from tests import factories as f
from tests.form_errors import assert_field_error

pytestmark = pytest.mark.django_db

PTCE_SIRET = "73282932000074"  # SIREN 732829320
MEMBER_SIRET = "55208131766522"  # SIREN 552081317


def assign(candidature, evaluator, by=None):
    return Assignment.objects.create(
        candidature=candidature, evaluator=evaluator, assigned_by=by or evaluator
    )


def grid(call):
    return [
        f.CriterionFactory(call=call, weight=Decimal(50), scale_min=0, scale_max=5, order=i)
        for i in range(2)
    ]


def full_data(criteria):
    data = {reviews.GRID_MARKER: "1", reviews.OPINION: "favorable"}
    for criterion in criteria:
        data[reviews.score_field(criterion)] = "3"
    return data


@pytest.fixture
def assigned(world):
    """The region A evaluator, assigned to candidature A, with a draft review."""
    evaluator = world.user("cra_evaluator")
    assign(world.candidature_a, evaluator, world.user("cra_coordinator"))
    criteria = grid(world.call)
    review = reviews.get_or_start_review(world.candidature_a, evaluator)
    reviews.save_review(review, evaluator, {reviews.OPINION: "reserved"})
    return world, evaluator, criteria


def cell_member(world, role=RegionalRole.EVALUATOR, siren=""):
    cell = world.user("cra_evaluator").regional_memberships.get().cell
    user = f.RegionalMembershipFactory(cell=cell, role=role).user
    user.organisation_siren = siren
    user.save()
    return user


# --- Declared conflicts -----------------------------------------------------------------------


def test_declared_conflict_hides_the_candidature_and_takes_the_evaluator_off(client, assigned):
    world, evaluator, _criteria = assigned
    candidature = world.candidature_a
    conflict = conflicts.declare_conflict(candidature, evaluator, "Je siège au bureau du PTCE.")
    assert conflict.source == ConflictSource.DECLARED
    assert conflict.status == ConflictStatus.CONFIRMED
    assert not Assignment.objects.filter(candidature=candidature, evaluator=evaluator).exists()
    assert not Review.objects.filter(candidature=candidature, evaluator=evaluator).exists()
    assert not Candidature.objects.visible_to(evaluator).filter(pk=candidature.pk).exists()
    assert not can_review(evaluator, candidature)
    assert not can_see_reviews(evaluator, candidature)
    client.force_login(evaluator)
    for url in (
        reverse("review_edit", args=[candidature.pk]),
        reverse("conflict_declare", args=[candidature.pk]),
        reverse("candidature_detail", args=[candidature.pk]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("review_autosave", args=[candidature.pk]), {}).status_code == 404
    html = client.get(reverse("evaluator_worklist")).content.decode()
    assert candidature.ptce.name not in html
    # The coordinators are told, with the reason.
    message = OutboxMessage.objects.get(event="conflict.declared")
    assert message.recipient == world.user("cra_coordinator").email
    assert "Je siège au bureau du PTCE." in message.body_text


def test_declared_conflict_keeps_a_submitted_review_but_locks_it(assigned):
    world, evaluator, criteria = assigned
    review = Review.objects.get(evaluator=evaluator)
    reviews.save_review(review, evaluator, full_data(criteria))
    reviews.submit_review(review, evaluator)
    conflicts.declare_conflict(world.candidature_a, evaluator, "Ancien salarié d'un membre.")
    review.refresh_from_db()
    assert review.state == ReviewState.SUBMITTED
    with pytest.raises(PermissionDenied):
        reviews.save_review(review, evaluator, {"comment": "Modifié"})
    # Nor can a coordinator reopen it.
    with pytest.raises(PermissionDenied, match="conflit"):
        reviews.reopen_review(review, world.user("cra_coordinator"))


def test_declaring_is_idempotent(assigned):
    world, evaluator, _criteria = assigned
    first = conflicts.declare_conflict(world.candidature_a, evaluator, "Motif")
    second = conflicts.declare_conflict(world.candidature_a, evaluator, "Motif")
    assert first.pk == second.pk
    assert ConflictOfInterest.objects.count() == 1
    assert OutboxMessage.objects.filter(event="conflict.declared").count() == 1


def test_reason_is_required(client, assigned):
    world, evaluator, _criteria = assigned
    with pytest.raises(ValidationError):
        conflicts.declare_conflict(world.candidature_a, evaluator, "   ")
    client.force_login(evaluator)
    url = reverse("conflict_declare", args=[world.candidature_a.pk])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert '<label class="fr-label" for="motif">' in html
    assert "votre évaluation en cours est supprimée" in html
    response = client.post(url, {"reason": ""})
    assert response.status_code == 422
    assert "Indiquez le motif" in response.content.decode()
    assert not ConflictOfInterest.objects.exists()
    response = client.post(url, {"reason": "Je suis administrateur d'un membre."})
    assert response.status_code == 302 and response["Location"] == reverse("evaluator_worklist")
    assert ConflictOfInterest.objects.get().reason == "Je suis administrateur d'un membre."


def test_unassigned_cell_member_may_declare_too(world):
    coordinator = world.user("cra_coordinator")
    conflict = conflicts.declare_conflict(world.candidature_a, coordinator, "Proche du porteur")
    assert conflict.blocks
    assert (
        not Candidature.objects.visible_to(coordinator).filter(pk=world.candidature_a.pk).exists()
    )


@pytest.mark.parametrize(
    "role", ["other_region_evaluator", "applicant", "other_applicant", "cna_member", "cna_admin"]
)
def test_conflict_page_is_404_outside_the_cell(client, world, role):
    client.force_login(world.user(role))
    url = reverse("conflict_declare", args=[world.candidature_a.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"reason": "x"}).status_code == 404
    assert not ConflictOfInterest.objects.exists()


def test_only_cell_members_declare(world):
    with pytest.raises(PermissionDenied):
        conflicts.declare_conflict(world.candidature_a, world.user("other_region_evaluator"), "x")
    with pytest.raises(PermissionDenied):
        conflicts.declare_conflict(world.candidature_a, world.user("applicant"), "x")


def test_no_declaration_once_the_region_is_handed_over(world):
    cell = world.user("cra_evaluator").regional_memberships.get().cell
    RegionHandover.objects.create(cell=cell, handed_over_by=world.user("cra_coordinator"))
    with pytest.raises(PermissionDenied, match="transmise"):
        conflicts.declare_conflict(world.candidature_a, world.user("cra_evaluator"), "Motif")


# --- Detection --------------------------------------------------------------------------------


@pytest.fixture
def ptce_with_members(world):
    ptce = world.candidature_a.ptce
    ptce.siret = PTCE_SIRET
    ptce.save()
    PtceMember.objects.create(
        ptce=ptce, name="Entreprise membre", siret=MEMBER_SIRET, category="non_ess_enterprise"
    )
    PtceMember.objects.create(ptce=ptce, name="Sans SIRET", siret="", category="other")
    return world


def test_detection_by_member_siren_creates_one_pending_conflict(ptce_with_members):
    world = ptce_with_members
    evaluator = world.user("cra_evaluator")
    evaluator.organisation_siren = MEMBER_SIRET[:9]
    evaluator.save()
    # Same SIREN in another region's cell: not concerned.
    other = world.user("other_region_evaluator")
    other.organisation_siren = MEMBER_SIRET[:9]
    other.save()
    unrelated = cell_member(world, siren="999999999")
    created = conflicts.detect_conflicts(world.candidature_a)
    assert [(c.evaluator, c.source, c.status) for c in created] == [
        (evaluator, ConflictSource.DETECTED, ConflictStatus.PENDING)
    ]
    assert "552081317" in created[0].reason and "Entreprise membre" in created[0].reason
    # Run twice: nothing new, no duplicate.
    assert conflicts.detect_conflicts(world.candidature_a) == []
    assert ConflictOfInterest.objects.count() == 1
    assert not ConflictOfInterest.objects.filter(evaluator__in=[other, unrelated]).exists()
    # A pending conflict already blocks.
    assert not Candidature.objects.visible_to(evaluator).filter(pk=world.candidature_a.pk).exists()


def test_detection_by_the_ptce_own_siren_flags_coordinators_too(ptce_with_members):
    world = ptce_with_members
    coordinator = world.user("cra_coordinator")
    coordinator.organisation_siren = PTCE_SIRET[:9]
    coordinator.save()
    created = conflicts.detect_conflicts(world.candidature_a)
    assert [c.evaluator for c in created] == [coordinator]
    assert "structure porteuse" in created[0].reason


def test_dismissed_conflict_makes_the_candidature_visible_again_and_is_never_reopened(
    client, ptce_with_members
):
    world = ptce_with_members
    evaluator = world.user("cra_evaluator")
    evaluator.organisation_siren = MEMBER_SIRET[:9]
    evaluator.save()
    assign(world.candidature_a, evaluator, world.user("cra_coordinator"))
    [conflict] = conflicts.detect_conflicts(world.candidature_a)
    assert not can_review(evaluator, world.candidature_a)
    client.force_login(evaluator)
    url = reverse("review_edit", args=[world.candidature_a.pk])
    assert client.get(url).status_code == 404
    worklist = client.get(reverse("evaluator_worklist")).content.decode()
    assert "1 candidature attribuée est suspendue" in worklist
    conflicts.settle_conflict(conflict, world.user("cra_coordinator"), confirm=False)
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.DISMISSED
    assert conflict.settled_by == world.user("cra_coordinator") and conflict.settled_at
    assert Candidature.objects.visible_to(evaluator).filter(pk=world.candidature_a.pk).exists()
    assert can_review(evaluator, world.candidature_a)
    assert client.get(url).status_code == 200
    # Detection again: the dismissed conflict stays dismissed, no new row.
    assert conflicts.detect_conflicts(world.candidature_a) == []
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.DISMISSED
    assert ConflictOfInterest.objects.count() == 1


def test_confirmed_conflict_hides_and_removes_the_assignment(client, ptce_with_members):
    world = ptce_with_members
    evaluator = world.user("cra_evaluator")
    evaluator.organisation_siren = MEMBER_SIRET[:9]
    evaluator.save()
    assign(world.candidature_a, evaluator, world.user("cra_coordinator"))
    [conflict] = conflicts.detect_conflicts(world.candidature_a)
    conflicts.settle_conflict(conflict, world.user("cra_coordinator"), confirm=True)
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.CONFIRMED
    assert not Assignment.objects.filter(evaluator=evaluator).exists()
    assert not Candidature.objects.visible_to(evaluator).filter(pk=world.candidature_a.pk).exists()
    client.force_login(evaluator)
    assert client.get(reverse("review_edit", args=[world.candidature_a.pk])).status_code == 404


def test_settling_is_for_the_cell_coordinator_only(ptce_with_members):
    world = ptce_with_members
    evaluator = world.user("cra_evaluator")
    evaluator.organisation_siren = MEMBER_SIRET[:9]
    evaluator.save()
    [conflict] = conflicts.detect_conflicts(world.candidature_a)
    for role in ("cra_evaluator", "other_region_evaluator", "cna_admin", "applicant"):
        with pytest.raises(PermissionDenied):
            conflicts.settle_conflict(conflict, world.user(role), confirm=False)
    # A coordinator never settles their own conflict.
    coordinator = world.user("cra_coordinator")
    coordinator.organisation_siren = PTCE_SIRET[:9]
    coordinator.save()
    [own] = conflicts.detect_conflicts(world.candidature_a)
    other_coordinator = cell_member(world, role=RegionalRole.COORDINATOR)
    with pytest.raises(PermissionDenied):
        conflicts.settle_conflict(own, coordinator, confirm=False)
    conflicts.settle_conflict(own, other_coordinator, confirm=False)
    conflicts.settle_conflict(conflict, other_coordinator, confirm=False)
    with pytest.raises(PermissionDenied, match="ne vous concerne|qui vous concerne"):
        conflicts.settle_conflict(own, coordinator, confirm=True)


def test_a_declared_conflict_cannot_be_dismissed(world):
    evaluator = world.user("cra_evaluator")
    conflict = conflicts.declare_conflict(world.candidature_a, evaluator, "Motif")
    with pytest.raises(PermissionDenied, match="déclaré"):
        conflicts.settle_conflict(conflict, world.user("cra_coordinator"), confirm=False)
    conflict.refresh_from_db()
    assert conflict.status == ConflictStatus.CONFIRMED


def test_declaring_over_a_detected_conflict_turns_it_into_a_declared_one(ptce_with_members):
    world = ptce_with_members
    evaluator = world.user("cra_evaluator")
    evaluator.organisation_siren = MEMBER_SIRET[:9]
    evaluator.save()
    [detected] = conflicts.detect_conflicts(world.candidature_a)
    conflicts.settle_conflict(detected, world.user("cra_coordinator"), confirm=False)
    declared = conflicts.declare_conflict(world.candidature_a, evaluator, "En fait, oui.")
    assert declared.pk == detected.pk
    assert (declared.source, declared.status) == (ConflictSource.DECLARED, ConflictStatus.CONFIRMED)
    assert declared.settled_by is None


def test_detection_for_a_whole_call_in_a_fixed_number_of_queries(ptce_with_members):
    world = ptce_with_members
    evaluator = world.user("cra_evaluator")
    evaluator.organisation_siren = MEMBER_SIRET[:9]
    evaluator.save()
    other = world.user("other_region_evaluator")
    other.organisation_siren = "123456789"
    other.save()

    def candidature_with_member(siret, region):
        ptce = f.PtceFactory(region=region)
        PtceMember.objects.create(ptce=ptce, name="M", siret=siret, category="other")
        return f.CandidatureFactory(
            ptce=ptce,
            call=world.call,
            state=CandidatureState.SUBMITTED,
            submitted_at=timezone.now(),
        )

    for _ in range(3):
        candidature_with_member(MEMBER_SIRET, world.region_a)
    candidature_with_member("12345678900012", world.region_b)
    candidature_with_member(MEMBER_SIRET, world.region_b)  # member SIREN, other region
    # A draft is not visible to the cell: not examined.
    draft = world.draft_a
    PtceMember.objects.create(ptce=draft.ptce, name="M", siret=MEMBER_SIRET, category="other")
    with CaptureQueriesContext(connection) as queries:
        created = conflicts.detect_conflicts_for_call(world.call)
    assert len(queries) <= 6
    assert sorted((c.evaluator.pk, c.candidature.region_id) for c in created) == sorted(
        [(evaluator.pk, "11")] * 4 + [(other.pk, "53")]
    )
    assert draft.pk not in {c.candidature_id for c in created}
    assert conflicts.detect_conflicts_for_call(world.call) == []


def test_a_declaration_made_while_the_coordinator_settles_is_never_dismissed(ptce_with_members):
    """The coordinator's page read the detected conflict; the evaluator declares it before the
    coordinator's « écarter » arrives: the declaration stands (issue 12, defect 8)."""
    world = ptce_with_members
    evaluator = world.user("cra_evaluator")
    evaluator.organisation_siren = MEMBER_SIRET[:9]
    evaluator.save()
    [stale] = conflicts.detect_conflicts(world.candidature_a)
    conflicts.declare_conflict(world.candidature_a, evaluator, "Je suis salariée d'un membre.")
    with pytest.raises(PermissionDenied):
        conflicts.settle_conflict(stale, world.user("cra_coordinator"), confirm=False)
    conflict = ConflictOfInterest.objects.get()
    assert (conflict.source, conflict.status) == (
        ConflictSource.DECLARED,
        ConflictStatus.CONFIRMED,
    )
    assert not Candidature.objects.visible_to(evaluator).filter(pk=world.candidature_a.pk).exists()


def test_a_missing_reason_is_shown_at_the_field_and_in_the_summary(client, assigned):
    world, evaluator, _criteria = assigned
    client.force_login(evaluator)
    url = reverse("conflict_declare", args=[world.candidature_a.pk])
    response = client.post(url, {"reason": "  "})
    assert response.status_code == 422
    assert_field_error(
        response.content.decode(),
        "id_reason",
        "Indiquez le motif du conflit d'intérêts",
        target="motif",
    )
