"""Phase gating of the regional cell's decisions (issue 16, item 6; issue 17, item 3): outside
« candidatures ouvertes » and « instruction régionale », each coordinator screen hides its action
and the server refuses it with the French reason, whatever the request."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalCell
from ami.models import Call, Phase
from candidatures.models import Candidature, CandidatureState
from evaluation import admission, assignment, conflicts, consolidation, reviews
from evaluation.models import (
    Assignment,
    ConflictOfInterest,
    ConflictSource,
    ConflictStatus,
    Opinion,
    RegionalOpinion,
    RegionHandover,
    Review,
    ReviewState,
)
from evaluation.permissions import REGIONAL_PHASES, regional_phase_refusal
from tests import factories as f

pytestmark = pytest.mark.django_db

REASON = "la cellule régionale ne décide"  # part of the refusal, free of escaped characters
CLOSED_PHASES = [p for p in Phase.values if p not in REGIONAL_PHASES and p != Phase.DRAFT]


def move_call(call, phase):
    """Put the call in ``phase`` with its submissions closed (the calendar of a real edition)."""
    Call.objects.filter(pk=call.pk).update(
        phase=phase,
        opens_at=timezone.now() - timedelta(days=40),
        closes_at=timezone.now() - timedelta(days=1),
    )
    call.refresh_from_db()


def admissible(world, name):
    ptce = f.PtceFactory(name=name, region=world.region_a)
    return f.CandidatureFactory(
        ptce=ptce,
        call=world.call,
        state=CandidatureState.ADMISSIBLE,
        submitted_at=timezone.now(),
    )


@pytest.fixture
def cell(world):
    return RegionalCell.objects.get(call=world.call, region=world.region_a)


@pytest.fixture
def coordinator(world, client):
    user = world.user("cra_coordinator")
    client.force_login(user)
    return user


def state_of(candidature):
    return Candidature.objects.values_list("state", flat=True).get(pk=candidature.pk)


# --- The rule -------------------------------------------------------------------------------


@pytest.mark.parametrize("phase", Phase.values)
def test_regional_decisions_follow_the_phase_table(world, phase):
    world.call.phase = phase
    refusal = regional_phase_refusal(world.call)
    if phase in (Phase.OPEN, Phase.REGIONAL_REVIEW):
        assert refusal == ""
    else:
        assert f"L'appel est en phase « {Phase(phase).label} »" in refusal
        assert "« candidatures ouvertes » ou « instruction régionale »" in refusal


@pytest.mark.parametrize("phase", CLOSED_PHASES)
def test_every_domain_function_refuses_outside_the_regional_phases(world, cell, phase):
    coordinator = world.user("cra_coordinator")
    evaluator = world.user("cra_evaluator")
    ready = admissible(world, "Prête")
    RegionalOpinion.objects.create(
        candidature=ready,
        consolidated_score=70,
        opinion=Opinion.FAVORABLE,
        motivation="Motivation.",
        rank=1,
        written_by=coordinator,
    )
    other = admissible(world, "Autre")
    detected = ConflictOfInterest.objects.create(
        candidature=other,
        evaluator=evaluator,
        source=ConflictSource.DETECTED,
        status=ConflictStatus.PENDING,
        reason="Même SIREN.",
    )
    move_call(world.call, phase)
    submitted = Candidature.objects.select_related("call", "region").get(pk=world.candidature_a.pk)
    ready = Candidature.objects.select_related("call", "region").get(pk=ready.pk)
    cell = RegionalCell.objects.select_related("call", "region").get(pk=cell.pk)
    refused = [
        lambda: admission.decide_admissibility(
            submitted, coordinator, admissible=False, answers={}, motivation="Non."
        ),
        lambda: admission.ask_complements(
            submitted,
            coordinator,
            message="Les statuts.",
            fields=["title"],
            document_types=[],
            due_at=timezone.now() + timedelta(days=10),
        ),
        lambda: assignment.assign(ready, evaluator, coordinator),
        lambda: assignment.auto_assign(cell, coordinator),
        lambda: consolidation.save_opinion(
            ready, coordinator, "70", "", Opinion.FAVORABLE, "Motivation."
        ),
        lambda: consolidation.set_ranking(cell, coordinator, [ready.pk]),
        lambda: consolidation.hand_over(cell, coordinator),
    ]
    for action in refused:
        with pytest.raises(ValidationError) as error:
            action()
        assert REASON in " ".join(error.value.messages)
    with pytest.raises(PermissionDenied, match=REASON):
        conflicts.settle_conflict(
            ConflictOfInterest.objects.select_related("candidature__call").get(pk=detected.pk),
            coordinator,
            confirm=False,
        )
    assert state_of(submitted) == CandidatureState.SUBMITTED
    assert not Assignment.objects.filter(candidature=ready).exists()
    assert not RegionHandover.objects.exists()


# --- Each screen: the action hidden, the server refusing ----------------------------------------


def test_admissibility_screen(client, world, coordinator):
    url = reverse("admissibility", args=[world.candidature_a.pk])
    move_call(world.call, Phase.REGIONAL_REVIEW)
    assert "Enregistrer la décision" in client.get(url).content.decode()
    move_call(world.call, Phase.NATIONAL_REVIEW)
    page = client.get(url).content.decode()
    assert "Enregistrer la décision" not in page
    assert REASON in page
    response = client.post(url, {"decision": "inadmissible", "motivation": "Hors sujet."})
    assert response.status_code == 422
    assert REASON in response.content.decode()
    assert state_of(world.candidature_a) == CandidatureState.SUBMITTED


def test_complements_screen(client, world, coordinator):
    url = reverse("complements_request", args=[world.candidature_a.pk])
    assert "Envoyer la demande" in client.get(url).content.decode()
    move_call(world.call, Phase.DELIBERATED)
    page = client.get(url).content.decode()
    assert "Envoyer la demande" not in page
    assert REASON in page
    due = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = client.post(
        url, {"message": "Les statuts.", "fields": ["title"], "due_date": due, "due_time": "12:00"}
    )
    assert response.status_code == 422
    assert REASON in response.content.decode()
    assert not world.candidature_a.complement_requests.exists()


def test_assignments_screen(client, world, cell, coordinator):
    candidature = admissible(world, "À attribuer")
    url = reverse("cell_assignments", args=[cell.pk])
    assert "Répartir automatiquement" in client.get(url).content.decode()
    move_call(world.call, Phase.NATIONAL_REVIEW)
    page = client.get(url).content.decode()
    assert "Répartir automatiquement" not in page
    assert ">Attribuer<" not in page
    assert REASON in page
    for data in (
        {"action": "auto"},
        {
            "action": "assign",
            "candidature": candidature.pk,
            "evaluator": world.user("cra_evaluator").pk,
        },
    ):
        response = client.post(url, data, follow=True)
        assert REASON in response.content.decode()
    assert not Assignment.objects.filter(candidature=candidature).exists()


def test_opinion_screen(client, world, coordinator):
    candidature = admissible(world, "À avis")
    url = reverse("regional_opinion", args=[candidature.pk])
    assert "Enregistrer l'avis collégial" in client.get(url).content.decode()
    move_call(world.call, Phase.NATIONAL_REVIEW)
    page = client.get(url).content.decode()
    assert "Enregistrer l&#x27;avis collégial" not in page
    assert "Enregistrer l'avis collégial" not in page
    assert REASON in page
    response = client.post(
        url,
        {"score": "70", "opinion": Opinion.FAVORABLE, "motivation": "Bien."},
        follow=True,
    )
    assert REASON in response.content.decode()
    assert not RegionalOpinion.objects.filter(candidature=candidature).exists()


def test_ranking_screen(client, world, cell, coordinator):
    candidature = admissible(world, "À classer")
    RegionalOpinion.objects.create(
        candidature=candidature,
        consolidated_score=70,
        opinion=Opinion.FAVORABLE,
        motivation="Motivation.",
        written_by=coordinator,
    )
    url = reverse("regional_ranking", args=[cell.pk])
    assert "Enregistrer le classement" in client.get(url).content.decode()
    move_call(world.call, Phase.NATIONAL_REVIEW)
    page = client.get(url).content.decode()
    assert "Enregistrer le classement" not in page
    assert REASON in page
    response = client.post(url, {"action": "par-note"}, follow=True)
    assert REASON in response.content.decode()
    assert RegionalOpinion.objects.get(candidature=candidature).rank is None


def test_handover_screen(client, world, cell, coordinator):
    Candidature.objects.filter(pk=world.candidature_a.pk).update(
        state=CandidatureState.INADMISSIBLE
    )
    url = reverse("region_handover", args=[cell.pk])
    move_call(world.call, Phase.REGIONAL_REVIEW)
    assert "Transmettre la région à la CNA</button>" in client.get(url).content.decode()
    move_call(world.call, Phase.NATIONAL_REVIEW)
    page = client.get(url).content.decode()
    assert "Transmettre la région à la CNA</button>" not in page
    assert REASON in page
    response = client.post(url, {"comment": ""}, follow=True)
    assert REASON in response.content.decode()
    assert not RegionHandover.objects.exists()


def test_consolidation_pages_keep_the_coordinator_s_way_home_when_the_phase_is_over(
    client, world, cell, coordinator
):
    home = reverse("cell_home", args=[cell.pk])
    move_call(world.call, Phase.NATIONAL_REVIEW)
    for name in ("consolidation_list", "regional_ranking", "region_handover"):
        page = client.get(reverse(name, args=[cell.pk])).content.decode()
        assert f'href="{home}"' in page, name
        assert REASON in page, name
    client.force_login(world.user("cna_member"))
    page = client.get(reverse("consolidation_list", args=[cell.pk])).content.decode()
    assert f'href="{home}"' not in page


def test_reopening_a_review_follows_the_phase(client, world, coordinator):
    candidature = admissible(world, "Évaluée")
    evaluator = world.user("cra_evaluator")
    Assignment.objects.create(candidature=candidature, evaluator=evaluator, assigned_by=coordinator)
    review = Review.objects.create(
        candidature=candidature,
        evaluator=evaluator,
        state=ReviewState.SUBMITTED,
        submitted_at=timezone.now(),
    )
    opinion_url = reverse("regional_opinion", args=[candidature.pk])
    reopen_url = reverse("review_reopen", args=[review.pk])
    assert f'action="{reopen_url}"' in client.get(opinion_url).content.decode()
    move_call(world.call, Phase.NATIONAL_REVIEW)
    assert f'action="{reopen_url}"' not in client.get(opinion_url).content.decode()
    response = client.post(reopen_url, {"next": opinion_url}, follow=True)
    assert REASON in response.content.decode()
    review.refresh_from_db()
    assert review.state == ReviewState.SUBMITTED


# --- The evaluator's own scoring ------------------------------------------------------------

REVIEW_REASON = "les évaluations ne se saisissent"


@pytest.fixture
def scoring(world, cell):
    """An evaluator with one assigned admissible candidature and a draft review of it."""
    coordinator = world.user("cra_coordinator")
    evaluator = world.user("cra_evaluator")
    candidature = admissible(world, "Notée")
    Assignment.objects.create(candidature=candidature, evaluator=evaluator, assigned_by=coordinator)
    review = Review.objects.create(candidature=candidature, evaluator=evaluator)
    return evaluator, candidature, review


@pytest.mark.parametrize("phase", CLOSED_PHASES)
def test_the_evaluator_scores_only_in_the_regional_phases(world, scoring, phase):
    evaluator, candidature, review = scoring
    assert reviews.review_refusal(candidature, evaluator, review) is None
    reviews.save_review(review, evaluator, {reviews.OPINION: Opinion.FAVORABLE})
    move_call(world.call, phase)
    candidature.refresh_from_db()
    review = Review.objects.get(pk=review.pk)
    assert REVIEW_REASON in reviews.review_refusal(candidature, evaluator, review)
    for action in (
        lambda: reviews.get_or_start_review(candidature, evaluator),
        lambda: reviews.save_review(review, evaluator, {reviews.OPINION: Opinion.RESERVED}),
        lambda: reviews.submit_review(review, evaluator),
    ):
        with pytest.raises(PermissionDenied, match=REVIEW_REASON):
            action()
    review.refresh_from_db()
    assert (review.opinion, review.state) == (Opinion.FAVORABLE, ReviewState.DRAFT)


def test_the_evaluator_screens_hide_the_scoring_when_the_phase_is_over(client, world, scoring):
    evaluator, candidature, review = scoring
    client.force_login(evaluator)
    worklist = reverse("evaluator_worklist")
    edit_url = reverse("review_edit", args=[candidature.pk])
    submit_url = reverse("review_submit", args=[candidature.pk])
    assert ">Reprendre<" in client.get(worklist).content.decode()
    page = client.get(edit_url).content.decode()
    assert f'formaction="{submit_url}"' in page and "Enregistrer" in page
    assert "Évaluations à rendre avant le" in page

    move_call(world.call, Phase.NATIONAL_REVIEW)
    page = client.get(worklist).content.decode()
    assert ">Reprendre<" not in page and ">Consulter<" in page
    assert REVIEW_REASON in page
    page = client.get(edit_url).content.decode()
    assert f'formaction="{submit_url}"' not in page
    assert REVIEW_REASON in page and "Évaluations à rendre avant le" not in page
    # The server refuses whatever is posted.
    for url in (edit_url, submit_url):
        response = client.post(url, {reviews.OPINION: Opinion.RESERVED}, follow=True)
        assert REVIEW_REASON in response.content.decode()
    response = client.post(reverse("review_autosave", args=[candidature.pk]), {"opinion": "x"})
    assert response.status_code == 403
    review.refresh_from_db()
    assert (review.opinion, review.state) == ("", ReviewState.DRAFT)
