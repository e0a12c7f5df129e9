"""The evaluator's review: grid, totals, autosave, submission, reopening, visibility of the
other reviews, worklist."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalRole
from ami.formats import paris_datetime
from ami.models import OutboxMessage
from candidatures.models import CandidatureState
from evaluation import reviews
from evaluation.models import Assignment, RegionHandover, Review, ReviewState
from evaluation.permissions import can_see_reviews
from evaluation.scoring import compute_total
from tests import factories as f
from tests.form_errors import assert_field_error

pytestmark = pytest.mark.django_db


# --- Helpers ----------------------------------------------------------------------------------


def make_grid(call):
    """The grid of the hand-computed example: weights 25/25/15/20/15, scales 0–5 and 0–10,
    the third criterion may be « non applicable »."""
    specs = [
        ("Ancrage territorial", 25, 5, False),
        ("Coopération entre les membres", 25, 10, False),
        ("Recherche et innovation", 15, 5, True),
        ("Viabilité économique", 20, 10, False),
        ("Impact social et écologique", 15, 5, False),
    ]
    return [
        f.CriterionFactory(
            call=call,
            label=label,
            weight=Decimal(weight),
            scale_min=0,
            scale_max=scale_max,
            allows_not_applicable=allows,
            order=index,
        )
        for index, (label, weight, scale_max, allows) in enumerate(specs)
    ]


def assign(candidature, evaluator, by=None):
    return Assignment.objects.create(
        candidature=candidature, evaluator=evaluator, assigned_by=by or evaluator
    )


def complete_data(criteria, scores=(4, 7, None, 5, 3), opinion="favorable"):
    """Form data for the whole grid; None means « non applicable »."""
    data = {reviews.GRID_MARKER: "1", reviews.OPINION: opinion, reviews.GENERAL_COMMENT: "Bien."}
    for criterion, score in zip(criteria, scores, strict=True):
        if score is None:
            data[reviews.not_applicable_field(criterion)] = "1"
        else:
            data[reviews.score_field(criterion)] = str(score)
        data[reviews.comment_field(criterion)] = f"Sur {criterion.label}"
    return data


# Scores 4/5, 7/10, n/a, 5/10, 3/5 with weights 25, 25, (15), 20, 15:
#   Σ wᵢ·sᵢ/maxᵢ = 25×0,8 + 25×0,7 + 20×0,5 + 15×0,6 = 20 + 17,5 + 10 + 9 = 56,5
#   Σ wᵢ (the n/a criterion left out) = 25 + 25 + 20 + 15 = 85
#   total = 100 × 56,5 / 85 = 66,470588… → 66,47 (and not 56,50, as if n/a counted as 0)
EXPECTED_TOTAL = Decimal("66.47")


@pytest.fixture
def setup(world):
    criteria = make_grid(world.call)
    evaluator = world.user("cra_evaluator")
    assign(world.candidature_a, evaluator, world.user("cra_coordinator"))
    return world, criteria, evaluator


def started(world, evaluator):
    return reviews.get_or_start_review(world.candidature_a, evaluator)


def second_evaluator(world):
    cell = world.user("cra_evaluator").regional_memberships.get().cell
    user = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.EVALUATOR).user
    assign(world.candidature_a, user, world.user("cra_coordinator"))
    return user


def submitted_review(world, criteria, evaluator, **kwargs):
    review = reviews.get_or_start_review(world.candidature_a, evaluator)
    result = reviews.save_review(review, evaluator, complete_data(criteria, **kwargs))
    assert result.ok, result.errors
    return reviews.submit_review(review, evaluator)


# --- Totals -----------------------------------------------------------------------------------


def test_total_leaves_not_applicable_out_of_both_sums(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    result = reviews.save_review(review, evaluator, complete_data(criteria))
    assert result.ok
    assert result.total == EXPECTED_TOTAL
    review.refresh_from_db()
    assert review.total == EXPECTED_TOTAL
    # The same through the scoring function directly.
    scores = {c.pk: (s, s is None) for c, s in zip(criteria, (4, 7, None, 5, 3), strict=True)}
    assert compute_total(criteria, scores) == EXPECTED_TOTAL


def test_full_marks_and_zero(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    reviews.save_review(review, evaluator, complete_data(criteria, scores=(5, 10, 5, 10, 5)))
    assert review.total == Decimal("100.00")
    reviews.save_review(review, evaluator, complete_data(criteria, scores=(0, 0, 0, 0, 0)))
    assert review.total == Decimal("0.00")


def test_incomplete_grid_has_no_total(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    data = complete_data(criteria)
    del data[reviews.score_field(criteria[1])]
    result = reviews.save_review(review, evaluator, data)
    assert result.ok and result.total is None
    review.refresh_from_db()
    assert review.total is None


# --- Validation and partial save --------------------------------------------------------------


def test_score_out_of_scale_is_refused_and_the_rest_saved(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    data = {
        reviews.score_field(criteria[0]): "6",  # scale 0–5
        reviews.score_field(criteria[1]): "9",
        reviews.comment_field(criteria[0]): "Ancrage fort",
    }
    result = reviews.save_review(review, evaluator, data)
    assert result.errors == {
        reviews.score_field(criteria[0]): ["La note doit être un nombre entier entre 0 et 5."]
    }
    scores = {s.criterion_id: s for s in review.scores.all()}
    assert scores[criteria[0].pk].score is None
    assert scores[criteria[0].pk].comment == "Ancrage fort"
    assert scores[criteria[1].pk].score == 9


@pytest.mark.parametrize("raw", ["2.5", "abc", "-1", "11"])
def test_score_must_be_an_integer_of_the_scale(setup, raw):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    result = reviews.save_review(review, evaluator, {reviews.score_field(criteria[1]): raw})
    assert result.errors[reviews.score_field(criteria[1])] == [
        "La note doit être un nombre entier entre 0 et 10."
    ]
    assert not review.scores.filter(score__isnull=False).exists()


def test_not_applicable_only_where_allowed(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    result = reviews.save_review(
        review,
        evaluator,
        {
            reviews.not_applicable_field(criteria[0]): "1",  # not allowed
            reviews.not_applicable_field(criteria[2]): "1",  # allowed
        },
    )
    assert result.errors == {
        reviews.not_applicable_field(criteria[0]): [
            "Ce critère ne peut pas être déclaré « non applicable »."
        ]
    }
    scores = {s.criterion_id: s for s in review.scores.all()}
    assert not scores.get(criteria[0].pk) or not scores[criteria[0].pk].not_applicable
    assert scores[criteria[2].pk].not_applicable


def test_not_applicable_wins_over_a_score_and_unchecking_it_works(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    data = complete_data(criteria)
    data[reviews.score_field(criteria[2])] = "4"
    reviews.save_review(review, evaluator, data)
    score = review.scores.get(criterion=criteria[2])
    assert score.not_applicable and score.score is None
    # The whole grid sent without the checkbox: « non applicable » is unchecked.
    del data[reviews.not_applicable_field(criteria[2])]
    reviews.save_review(review, evaluator, data)
    score.refresh_from_db()
    assert not score.not_applicable and score.score == 4
    # 25×0,8 + 25×0,7 + 15×0,8 + 20×0,5 + 15×0,6 = 68,5 over 100
    assert review.total == Decimal("68.50")


def test_invalid_opinion_is_refused(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    result = reviews.save_review(review, evaluator, {"opinion": "enthousiaste", "comment": "Ok"})
    assert "opinion" in result.errors
    review.refresh_from_db()
    assert review.opinion == "" and review.comment == "Ok"


def test_autosave_view_saves_valid_fields_and_reports_the_others(client, setup):
    world, criteria, evaluator = setup
    client.force_login(evaluator)
    url = reverse("review_autosave", args=[world.candidature_a.pk])
    response = client.post(
        url,
        {
            reviews.score_field(criteria[0]): "4",
            reviews.score_field(criteria[1]): "12",
            "opinion": "reserved",
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enregistré à" in html and "sauf 1 champ à corriger" in html
    assert "« Coopération entre les membres » (note)" in html
    assert 'id="total-evaluation"' in html and 'hx-swap-oob="true"' in html
    review = Review.objects.get(candidature=world.candidature_a, evaluator=evaluator)
    assert review.opinion == "reserved"
    assert review.scores.get(criterion=criteria[0]).score == 4
    assert review.total is None
    # Completing the grid: the total comes back with the status.
    response = client.post(url, complete_data(criteria), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "Enregistré à" in html and "66,47 / 100" in html


def test_autosave_when_logged_out_says_so(client, setup):
    world, _criteria, _evaluator = setup
    response = client.post(reverse("review_autosave", args=[world.candidature_a.pk]), {})
    assert response.status_code == 401
    assert "session a expiré" in response.content.decode()


def test_review_page_without_javascript_saves_the_grid(client, setup):
    world, criteria, evaluator = setup
    client.force_login(evaluator)
    url = reverse("review_edit", args=[world.candidature_a.pk])
    response = client.post(url, complete_data(criteria))
    assert response.status_code == 302
    review = Review.objects.get(candidature=world.candidature_a, evaluator=evaluator)
    assert review.total == EXPECTED_TOTAL and review.state == ReviewState.DRAFT
    data = complete_data(criteria)
    data[reviews.score_field(criteria[0])] = "8"
    response = client.post(url, data)
    assert response.status_code == 422
    html = response.content.decode()
    assert "La note doit être un nombre entier entre 0 et 5." in html


def test_opening_the_page_does_not_start_a_review(client, setup):
    world, _criteria, evaluator = setup
    client.force_login(evaluator)
    response = client.get(reverse("review_edit", args=[world.candidature_a.pk]))
    assert response.status_code == 200
    assert not Review.objects.exists()


# --- Submission, lock, reopening --------------------------------------------------------------


def test_submit_requires_every_criterion_and_an_opinion(setup):
    world, criteria, evaluator = setup
    review = started(world, evaluator)
    data = complete_data(criteria, opinion="")
    del data[reviews.score_field(criteria[3])]
    reviews.save_review(review, evaluator, data)
    with pytest.raises(ValidationError) as refusal:
        reviews.submit_review(review, evaluator)
    assert refusal.value.messages == [
        "Critère « Viabilité économique » : donnez une note.",
        "Choisissez un avis global : favorable, réservé ou défavorable.",
    ]
    review.refresh_from_db()
    assert review.state == ReviewState.DRAFT and review.submitted_at is None


def test_submit_locks_the_review(client, setup):
    world, criteria, evaluator = setup
    review = submitted_review(world, criteria, evaluator)
    review.refresh_from_db()
    assert review.state == ReviewState.SUBMITTED and review.submitted_at is not None
    assert review.total == EXPECTED_TOTAL
    with pytest.raises(PermissionDenied, match="rendue"):
        reviews.save_review(review, evaluator, {"comment": "Changement"})
    with pytest.raises(PermissionDenied):
        reviews.submit_review(review, evaluator)
    client.force_login(evaluator)
    response = client.post(
        reverse("review_autosave", args=[world.candidature_a.pk]), {"comment": "Changement"}
    )
    assert response.status_code == 403
    review.refresh_from_db()
    assert review.comment == "Bien."
    # The page shows it read-only.
    html = client.get(reverse("review_edit", args=[world.candidature_a.pk])).content.decode()
    assert "Évaluation rendue le" in html and "hx-post" not in html
    assert "66,47" in html and "4 / 5" in html and "non applicable" in html


def test_submit_view_saves_then_submits(client, setup):
    world, criteria, evaluator = setup
    client.force_login(evaluator)
    url = reverse("review_submit", args=[world.candidature_a.pk])
    response = client.post(url, complete_data(criteria, opinion=""))
    assert response.status_code == 422
    assert "Choisissez un avis global" in response.content.decode()
    response = client.post(url, complete_data(criteria))
    assert response.status_code == 302
    review = Review.objects.get(candidature=world.candidature_a, evaluator=evaluator)
    assert review.state == ReviewState.SUBMITTED


def test_reopen_by_the_coordinator_only(client, setup):
    world, criteria, evaluator = setup
    review = submitted_review(world, criteria, evaluator)
    for role in ("cra_evaluator", "other_region_evaluator", "cna_admin", "applicant"):
        with pytest.raises(PermissionDenied):
            reviews.reopen_review(review, world.user(role))
    coordinator = world.user("cra_coordinator")
    reviews.reopen_review(review, coordinator, "Merci de détailler le critère 2.")
    review.refresh_from_db()
    assert review.state == ReviewState.DRAFT and review.submitted_at is None
    message = OutboxMessage.objects.get(event="review.reopened")
    assert message.recipient == evaluator.email
    assert "Merci de détailler le critère 2." in message.body_text
    # Editable again, then submitted anew.
    reviews.save_review(review, evaluator, {"comment": "Détaillé."})
    reviews.submit_review(review, evaluator)
    with pytest.raises(PermissionDenied, match="déjà modifiable"):
        reviews.reopen_review(reviews.reopen_review(review, coordinator), coordinator)


def test_reopen_view(client, setup):
    world, criteria, evaluator = setup
    review = submitted_review(world, criteria, evaluator)
    url = reverse("review_reopen", args=[review.pk])
    expected = {
        "applicant": 404,
        "other_applicant": 404,
        "other_region_evaluator": 404,
        "cna_member": 404,
        "cra_evaluator": 403,
    }
    for role, status in expected.items():
        client.force_login(world.user(role))
        assert client.post(url).status_code == status, role
    review.refresh_from_db()
    assert review.state == ReviewState.SUBMITTED
    client.force_login(world.user("cra_coordinator"))
    next_url = reverse("evaluator_worklist")
    response = client.post(url, {"next": next_url, "message": ""})
    assert response.status_code == 302 and response["Location"] == next_url
    review.refresh_from_db()
    assert review.state == ReviewState.DRAFT
    response = client.post(url, {"next": "https://ailleurs.example/"})
    assert response["Location"] == reverse("candidature_detail", args=[world.candidature_a.pk])


def test_handed_over_region_changes_nothing(setup):
    world, criteria, evaluator = setup
    review = submitted_review(world, criteria, evaluator)
    other = second_evaluator(world)
    draft = reviews.get_or_start_review(world.candidature_a, other)
    cell = evaluator.regional_memberships.get().cell
    RegionHandover.objects.create(cell=cell, handed_over_by=world.user("cra_coordinator"))
    with pytest.raises(PermissionDenied, match="transmise"):
        reviews.save_review(draft, other, {"comment": "Trop tard"})
    with pytest.raises(PermissionDenied, match="transmise"):
        reviews.submit_review(draft, other)
    with pytest.raises(PermissionDenied, match="transmise"):
        reviews.reopen_review(review, world.user("cra_coordinator"))
    with pytest.raises(PermissionDenied):
        reviews.get_or_start_review(world.candidature_b, world.user("other_region_evaluator"))


# --- The other reviews ------------------------------------------------------------------------


def test_other_reviews_hidden_until_own_submission(client, setup):
    world, criteria, evaluator = setup
    other = second_evaluator(world)
    submitted_review(world, criteria, other, scores=(1, 2, 3, 4, 5), opinion="unfavorable")
    Review.objects.filter(evaluator=other).update(comment="Avis du second évaluateur")
    client.force_login(evaluator)
    url = reverse("review_edit", args=[world.candidature_a.pk])
    html = client.get(url).content.decode()
    assert not can_see_reviews(evaluator, world.candidature_a)
    assert "Avis du second évaluateur" not in html
    assert "après avoir rendu la vôtre" in html
    submitted_review(world, criteria, evaluator)
    html = client.get(url).content.decode()
    assert "Avis du second évaluateur" in html and "Défavorable" in html


def test_other_reviews_visible_at_once_when_the_call_allows_it(client, setup):
    world, criteria, evaluator = setup
    world.call.reviews_visible_before_submit = True
    world.call.save()
    other = second_evaluator(world)
    submitted_review(world, criteria, other)
    Review.objects.filter(evaluator=other).update(comment="Avis du second évaluateur")
    client.force_login(evaluator)
    html = client.get(reverse("review_edit", args=[world.candidature_a.pk])).content.decode()
    assert "Avis du second évaluateur" in html
    assert Review.objects.filter(evaluator=evaluator).count() == 0


def test_drafts_of_others_are_never_shown(client, setup):
    world, criteria, evaluator = setup
    world.call.reviews_visible_before_submit = True
    world.call.save()
    other = second_evaluator(world)
    draft = reviews.get_or_start_review(world.candidature_a, other)
    reviews.save_review(draft, other, {"comment": "Brouillon du second"})
    client.force_login(evaluator)
    html = client.get(reverse("review_edit", args=[world.candidature_a.pk])).content.decode()
    assert "Brouillon du second" not in html


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["applicant", "other_applicant", "other_region_evaluator", "cna_member", "cna_admin"]
)
def test_review_pages_are_404_outside_the_cell(client, setup, role):
    world, _criteria, _evaluator = setup
    client.force_login(world.user(role))
    pk = world.candidature_a.pk
    assert client.get(reverse("review_edit", args=[pk])).status_code == 404
    assert client.post(reverse("review_autosave", args=[pk]), {}).status_code == 404
    assert client.post(reverse("review_submit", args=[pk]), {}).status_code == 404


def test_review_page_needs_login(client, setup):
    world, _criteria, _evaluator = setup
    response = client.get(reverse("review_edit", args=[world.candidature_a.pk]))
    assert response.status_code == 302 and response["Location"].startswith("/compte/login/")


def test_unassigned_cell_member_is_sent_back_to_the_worklist(client, setup):
    world, _criteria, _evaluator = setup
    client.force_login(world.user("cra_coordinator"))
    response = client.get(reverse("review_edit", args=[world.candidature_a.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("evaluator_worklist")
    response = client.post(reverse("review_autosave", args=[world.candidature_a.pk]), {})
    assert response.status_code == 403
    assert "pas attribuée" in response.content.decode()
    assert not Review.objects.exists()


def test_review_page_shows_the_frozen_candidature(client, setup):
    world, criteria, evaluator = setup
    from tests.candidatures.helpers import add_document

    document_type = f.DocumentTypeFactory(call=world.call, label="Statuts")
    document = add_document(world.candidature_a, document_type)
    snapshot = world.candidature_a.snapshot
    snapshot["answers"]["title"] = "Projet gelé au dépôt"
    snapshot["members"] = [{"name": "Coopérative A", "siret": "", "category": "ess_enterprise"}]
    world.candidature_a.snapshot = snapshot
    world.candidature_a.title = "Changé depuis"
    world.candidature_a.save()
    client.force_login(evaluator)
    html = client.get(reverse("review_edit", args=[world.candidature_a.pk])).content.decode()
    assert "Projet gelé au dépôt" in html and "Changé depuis" not in html
    assert "Coopérative A — entreprise de l&#x27;économie sociale et solidaire" in html
    assert reverse("document_download", args=[world.candidature_a.pk, document.pk]) in html
    for criterion in criteria:
        assert f'<label class="fr-label" for="score-{criterion.pk}">' in html
        assert f'<label class="fr-label" for="comment-{criterion.pk}">' in html
    # « Non applicable » is offered only where allowed.
    assert html.count('type="checkbox"') == 1
    assert f'id="na-{criteria[2].pk}"' in html
    assert 'hx-post="' + reverse("review_autosave", args=[world.candidature_a.pk]) in html
    assert reverse("conflict_declare", args=[world.candidature_a.pk]) in html


# --- Worklist ---------------------------------------------------------------------------------


def test_worklist_lists_assignments_with_review_state_and_deadline(client, setup):
    world, criteria, evaluator = setup
    second = f.CandidatureFactory(
        ptce=f.PtceFactory(region=world.region_a, name="PTCE Second"),
        call=world.call,
        state=CandidatureState.ADMISSIBLE,
        submitted_at=timezone.now(),
    )
    third = f.CandidatureFactory(
        ptce=f.PtceFactory(region=world.region_a, name="PTCE Troisième"),
        call=world.call,
        state=CandidatureState.ADMISSIBLE,
        submitted_at=timezone.now(),
    )
    assign(second, evaluator)
    assign(third, evaluator)
    submitted_review(world, criteria, evaluator)
    draft = reviews.get_or_start_review(second, evaluator)
    reviews.save_review(draft, evaluator, {"comment": "En cours"})
    client.force_login(evaluator)
    response = client.get(reverse("evaluator_worklist"))
    assert response.status_code == 200
    html = response.content.decode()
    assert world.call.name in html and world.region_a.name in html
    assert paris_datetime(world.call.regional_review_deadline) in html
    assert "dans 59 jours" in html or "dans 60 jours" in html
    assert "Reste 2 évaluations à rendre." in html
    for label in ("rendue", "en cours", "à faire"):
        assert f">{label}</p>" in html
    assert reverse("review_edit", args=[third.pk]) in html
    assert reverse("conflict_declare", args=[third.pk]) in html
    # Not assigned: not listed.
    assert world.candidature_b.ptce.name not in html


def test_worklist_query_count_does_not_grow(client, world):
    evaluator = world.user("cra_evaluator")
    client.force_login(evaluator)

    def add(n):
        for _ in range(n):
            candidature = f.CandidatureFactory(
                ptce=f.PtceFactory(region=world.region_a),
                call=world.call,
                state=CandidatureState.ADMISSIBLE,
                submitted_at=timezone.now(),
            )
            assign(candidature, evaluator)
            Review.objects.create(candidature=candidature, evaluator=evaluator)

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("evaluator_worklist"))
        assert response.status_code == 200
        return len(queries)

    add(2)
    few = count()
    add(18)
    many = count()
    assert few == many
    assert response_rows(client) == 20


def response_rows(client):
    html = client.get(reverse("evaluator_worklist")).content.decode()
    return html.count(">en cours</p>")


def test_worklist_is_in_the_navigation_of_cell_members_only(client, world):
    client.force_login(world.user("cra_evaluator"))
    assert "Mes évaluations" in client.get("/").content.decode()
    client.force_login(world.user("applicant"))
    assert "Mes évaluations" not in client.get("/").content.decode()


def test_a_refused_score_is_shown_at_its_field_and_in_the_summary(client, setup):
    world, criteria, evaluator = setup
    client.force_login(evaluator)
    data = complete_data(criteria)
    data[reviews.score_field(criteria[0])] = "8"
    data[reviews.comment_field(criteria[1])] = "x" * (reviews.MAX_COMMENT + 1)
    response = client.post(reverse("review_edit", args=[world.candidature_a.pk]), data)
    assert response.status_code == 422
    html = response.content.decode()
    score = reviews.score_field(criteria[0])
    assert_field_error(html, score, "La note doit être un nombre entier entre 0 et 5.")
    comment = reviews.comment_field(criteria[1])
    assert_field_error(html, comment, "Le commentaire ne doit pas dépasser")
    assert "Le formulaire contient 2 erreurs" in html  # once each, the form's and the rule's
    # What was valid is kept.
    review = Review.objects.get(candidature=world.candidature_a, evaluator=evaluator)
    assert review.opinion == "favorable"
