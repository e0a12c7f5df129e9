"""The read API: tokens (401 in French), scoping per role (the permission table), personal
data, internal texts, filters (400 naming the field), rate limit (429 + Retry-After), token use
log, read-only methods, and the tokens' page in « Mon espace »."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from api.models import ApiToken, ApiTokenUse
from api.tokens import create_token, hash_key
from evaluation.models import (
    Decision,
    DecisionOutcome,
    Deliberation,
    NationalReview,
    Opinion,
    RegionalOpinion,
    Review,
)
from tests import factories as f
from tests.evaluation.test_scoring import make_review
from tests.roles import ROLES

pytestmark = pytest.mark.django_db

CANDIDATURES = "/api/v1/candidatures/"


def bearer(user, days=30):
    return {"HTTP_AUTHORIZATION": f"Bearer {create_token(user, 'test', days).secret}"}


def get(client, url, user=None, **params):
    headers = bearer(user) if user else {}
    return client.get(url, params, **headers)


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


# --- Tokens ---------------------------------------------------------------------------------


def test_a_token_is_stored_hashed_and_shown_once(world):
    user = world.user("cna_member")
    new = create_token(user, "Suivi", 90)
    token = ApiToken.objects.get()
    assert token.key_hash == hash_key(new.secret) and new.secret not in token.key_hash
    assert new.secret.startswith(token.prefix)
    assert token.expires_at - token.created_at == timedelta(days=90)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("Bearer amiptce_inconnu", "Jeton d'API inconnu."),
        ("Bearer pas-un-jeton", "Jeton d'API mal formé."),
        ("Basic dXNlcjpwYXNz", "En-tête Authorization mal formé"),
        ("Bearer", "En-tête Authorization mal formé"),
    ],
)
def test_malformed_or_unknown_tokens_get_401_in_french(client, world, header, message):
    response = client.get(CANDIDATURES, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"].startswith(message)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_no_token_gets_401_in_french(client, world):
    response = client.get(CANDIDATURES)
    assert response.status_code == 401
    assert "authentification" in response.json()["detail"].lower()


def test_expired_and_revoked_tokens_get_401(client, world):
    user = world.user("cna_member")
    expired = create_token(user, "vieux", 30, at=timezone.now() - timedelta(days=31))
    response = client.get(CANDIDATURES, HTTP_AUTHORIZATION=f"Bearer {expired.secret}")
    assert response.status_code == 401
    assert "expiré" in response.json()["detail"]
    revoked = create_token(user, "révoqué", 30)
    client.force_login(user)
    client.post(reverse("api_token_revoke", args=[revoked.token.pk]))
    client.logout()
    response = client.get(CANDIDATURES, HTTP_AUTHORIZATION=f"Bearer {revoked.secret}")
    assert response.status_code == 401
    assert "révoqué" in response.json()["detail"]


def test_a_deactivated_account_token_gets_401(client, world):
    user = world.user("cna_member")
    headers = bearer(user)
    user.is_active = False
    user.save()
    assert client.get(CANDIDATURES, **headers).status_code == 401


def test_every_use_is_logged(client, world):
    user = world.user("cna_member")
    headers = bearer(user)
    client.get(CANDIDATURES, **headers)
    client.get(f"{CANDIDATURES}999999/", **headers)
    uses = list(ApiTokenUse.objects.order_by("at"))
    assert [(use.method, use.path, use.status) for use in uses] == [
        ("GET", CANDIDATURES, 200),
        ("GET", f"{CANDIDATURES}999999/", 404),
    ]
    assert ApiToken.objects.get().last_used_at is not None


@pytest.mark.parametrize("identifier", ["²", "٣", "9" * 30, "-1"])
def test_an_identifier_that_is_not_a_number_gets_a_404(client, world, identifier):
    """Digits that are not ASCII pass ``str.isdigit()`` but not ``int()``."""
    response = get(client, f"{CANDIDATURES}{identifier}/", world.user("staff"))
    assert response.status_code == 404


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(client, world, method):
    headers = bearer(world.user("staff"))
    url = f"{CANDIDATURES}{world.candidature_a.pk}/"
    assert getattr(client, method)(CANDIDATURES, **headers).status_code == 405
    assert getattr(client, method)(url, **headers).status_code == 405


def test_over_the_rate_limit_429_with_retry_after(client, world, settings):
    settings.API_RATE_LIMIT = "3/min"
    headers = bearer(world.user("cna_member"))
    statuses = [client.get(CANDIDATURES, **headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get(CANDIDATURES, **headers)
    assert int(response["Retry-After"]) > 0
    assert "ralentie" in response.json()["detail"].lower()
    # Another token of the same user has its own counter.
    assert client.get(CANDIDATURES, **bearer(world.user("cna_member"))).status_code == 200


# --- The permission table ---------------------------------------------------------------------

# Which candidatures of the world each role's token lists (A: region A submitted, B: region B
# submitted, D: region A draft of a third PTCE).
LISTS = {
    "applicant": {"A"},
    "other_applicant": {"B"},
    "cra_evaluator": {"A"},
    "cra_coordinator": {"A"},
    "other_region_evaluator": {"B"},
    "cna_member": {"A", "B"},
    "cna_admin": {"A", "B"},
    "staff": {"A", "B", "D"},
}


def _labels(world):
    return {world.candidature_a.pk: "A", world.candidature_b.pk: "B", world.draft_a.pk: "D"}


@pytest.mark.parametrize("role", [role for role in ROLES if role != "anonymous"])
def test_each_role_lists_and_reads_what_it_sees_on_screen(client, world, role):
    user = world.user(role)
    labels = _labels(world)
    seen = {labels[pk] for pk in ids(get(client, CANDIDATURES, user))}
    assert seen == LISTS[role]
    for pk, label in labels.items():
        response = get(client, f"{CANDIDATURES}{pk}/", user)
        assert response.status_code == (200 if label in LISTS[role] else 404), (role, label)


def test_a_conflicted_evaluator_sees_nothing_of_it(client, world):
    from tests.roles import add_conflicted_evaluator

    evaluator = add_conflicted_evaluator(world)
    assert ids(get(client, CANDIDATURES, evaluator)) == set()
    assert get(client, f"{CANDIDATURES}{world.candidature_a.pk}/", evaluator).status_code == 404


def _review(candidature, total, evaluator=None):
    review = make_review(candidature, {}, evaluator=evaluator)
    Review.objects.filter(pk=review.pk).update(total=Decimal(total))


def _judged(world):
    """Region A's candidature with two submitted reviews, a collegial opinion, a CNA analysis
    and a pending decision; region B's with a published decision."""
    candidature = world.candidature_a
    _review(candidature, "60")
    _review(candidature, "80")
    RegionalOpinion.objects.create(
        candidature=candidature,
        consolidated_score=Decimal("70"),
        opinion=Opinion.FAVORABLE,
        motivation="Motivation interne de la cellule",
        rank=1,
        written_by=world.user("cra_coordinator"),
    )
    NationalReview.objects.create(
        candidature=candidature,
        reviewer=world.user("cna_member"),
        score=Decimal("72"),
        opinion=Opinion.FAVORABLE,
        comment="Analyse interne de la CNA",
    )
    deliberation = Deliberation.objects.create(
        call=world.call, held_on=timezone.localdate(), created_by=world.user("cna_admin")
    )
    pending = Decision.objects.create(
        candidature=candidature,
        deliberation=deliberation,
        outcome=DecisionOutcome.LAUREATE,
        granted_amount=Decimal("50000"),
        motivation="Projet solide",
    )
    published = Decision.objects.create(
        candidature=world.candidature_b,
        deliberation=deliberation,
        outcome=DecisionOutcome.NOT_SELECTED,
        motivation="Budget incomplet",
        published_at=timezone.now(),
    )
    return pending, published


# role -> (sees A's review statistics, regional opinions, national analyses, decisions listed)
JUDGED = {
    "applicant": (False, 0, 0, set()),  # A's decision is pending
    "other_applicant": (None, 0, 0, {"B"}),  # published
    "cra_evaluator": (False, 0, 0, set()),  # has not submitted a review of their own
    "cra_coordinator": (True, 1, 0, set()),
    "other_region_evaluator": (None, 0, 0, {"B"}),
    "cna_member": (True, 1, 1, {"A", "B"}),
    "cna_admin": (True, 1, 1, {"A", "B"}),
    "staff": (True, 1, 1, {"A", "B"}),
}


@pytest.mark.parametrize("role", list(JUDGED))
def test_evaluations_opinions_and_decisions_by_role(client, world, role):
    _judged(world)
    user = world.user(role)
    stats, opinions, analyses, decisions = JUDGED[role]
    rows = {row["id"]: row for row in get(client, CANDIDATURES, user).json()["results"]}
    if stats is not None:
        reviews = rows[world.candidature_a.pk]["reviews"]
        if stats:
            assert reviews["count"] == 2 and reviews["mean"] == "70.00"
            assert reviews["spread"] == "20.00"
        else:
            assert reviews is None
    assert get(client, "/api/v1/avis-regionaux/", user).json()["results"].__len__() == opinions
    assert len(get(client, "/api/v1/analyses-nationales/", user).json()["results"]) == analyses
    labels = _labels(world)
    listed = get(client, "/api/v1/decisions/", user).json()["results"]
    assert {labels[row["candidature"]] for row in listed} == decisions


def test_an_evaluator_sees_statistics_once_their_review_is_submitted(client, world):
    _judged(world)
    evaluator = world.user("cra_evaluator")
    _review(world.candidature_a, "90", evaluator)
    row = get(client, f"{CANDIDATURES}{world.candidature_a.pk}/", evaluator).json()
    assert row["reviews"]["count"] == 3


def test_an_applicant_never_reads_internal_texts(client, world):
    _judged(world)
    user = world.user("applicant")
    text = get(client, f"{CANDIDATURES}{world.candidature_a.pk}/", user).content.decode()
    for path in ("/api/v1/avis-regionaux/", "/api/v1/analyses-nationales/", "/api/v1/decisions/"):
        text += get(client, path, user).content.decode()
    assert "interne" not in text and "Projet solide" not in text


def test_personal_data_only_for_the_team_and_staff(client, world):
    from tests.candidatures.helpers import add_document

    document_type = f.DocumentTypeFactory(call=world.call, label="Statuts")
    add_document(world.candidature_a, document_type)
    url = f"{CANDIDATURES}{world.candidature_a.pk}/"
    applicant = world.user("applicant")
    for role in ("applicant", "staff"):
        data = get(client, url, world.user(role)).json()
        assert applicant.email in {person["email"] for person in data["team"]}
    for role in ("cra_evaluator", "cra_coordinator", "cna_member", "cna_admin"):
        data = get(client, url, world.user(role)).json()
        assert data["team"] is None
        assert all(document["uploaded_by"] is None for document in data["documents"])
        assert applicant.email not in str(data)


def test_the_file_has_the_snapshot_answers_and_documents_metadata(client, world):
    from tests.candidatures.helpers import add_document

    document_type = f.DocumentTypeFactory(call=world.call, label="Statuts")
    document = add_document(world.candidature_a, document_type)
    candidature = world.candidature_a
    candidature.refresh_from_db()
    data = get(client, f"{CANDIDATURES}{candidature.pk}/", world.user("cna_member")).json()
    assert data["answers"] == candidature.snapshot["answers"]
    assert data["documents"] == [
        {
            "id": document.pk,
            "type": "Statuts",
            "original_name": document.original_name,
            "size": document.size,
            "content_type": document.content_type,
            "sha256": document.sha256,
            "uploaded_at": data["documents"][0]["uploaded_at"],
            "uploaded_by": None,
        }
    ]
    # A draft (its own team only) reads its current answers.
    draft = get(client, f"{CANDIDATURES}{world.draft_a.pk}/", world.user("staff")).json()
    assert draft["answers"]["title"] == world.draft_a.title


# --- Filters ----------------------------------------------------------------------------------


def test_filters_of_the_dashboards(client, world):
    _judged(world)
    user = world.user("cna_member")
    a, b = world.candidature_a.pk, world.candidature_b.pk
    assert ids(get(client, CANDIDATURES, user, region="11")) == {a}
    assert ids(get(client, CANDIDATURES, user, call=world.call.slug)) == {a, b}
    assert ids(get(client, CANDIDATURES, user, opinion="favorable")) == {a}
    assert ids(get(client, CANDIDATURES, user, opinion="aucun")) == {b}
    assert ids(get(client, CANDIDATURES, user, state="submitted")) == {a, b}
    assert ids(get(client, CANDIDATURES, user, q=world.ptce_b.name[:6])) >= {b}
    assert ids(get(client, CANDIDATURES, user, rural="true")) == set()
    assert ids(get(client, "/api/v1/decisions/", user, outcome="laureate")) == set() | {
        row["id"] for row in get(client, "/api/v1/decisions/", user).json()["results"]
    } - {Decision.objects.get(candidature=world.candidature_b).pk}


def test_a_filter_never_reveals_what_the_user_may_not_read(client, world):
    _judged(world)
    applicant = world.user("applicant")
    assert ids(get(client, CANDIDATURES, applicant, opinion="favorable")) == set()
    assert ids(get(client, CANDIDATURES, applicant, disagreement="false")) == set()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("state", "inconnu"),
        ("region", "99"),
        ("call", "pas-un-appel"),
        ("opinion", "peut-etre"),
        ("rural", "peut-etre"),
        ("disagreement", "2"),
    ],
)
def test_unknown_filter_values_get_400_naming_the_field(client, world, field, value):
    response = get(client, CANDIDATURES, world.user("cna_member"), **{field: value})
    assert response.status_code == 400
    assert list(response.json()) == [field]
    assert "valide" in response.json()[field][0]


def test_cursor_pagination(client, world):
    user = world.user("staff")
    response = get(client, CANDIDATURES, user, taille=2)
    first = response.json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"], **bearer(user)).json()
    assert len(second["results"]) == 1 and second["next"] is None
    assert get(client, CANDIDATURES, user, cursor="n'importe").status_code == 404


# --- Public endpoints, schema and documentation ---------------------------------------------------


def test_calls_are_public(client, world):
    response = client.get("/api/v1/appels/")
    assert response.status_code == 200
    assert world.call.slug in {row["slug"] for row in response.json()["results"]}
    assert client.get(f"/api/v1/appels/{world.call.slug}/").status_code == 200
    assert client.get("/api/v1/appels/inconnu/").status_code == 404


def test_schema_and_documentation_are_public(client, world):
    schema = client.get("/api/schema/?format=json").json()
    assert schema["openapi"].startswith("3.1")
    assert "/api/v1/candidatures/{id}/" in schema["paths"]
    page = client.get(reverse("api_docs"))
    assert page.status_code == 200
    assert "/api/v1/candidatures/" in page.content.decode()


# --- Tokens' page in « Mon espace » ---------------------------------------------------------------


def test_tokens_page_creates_lists_and_revokes(client, world):
    user = world.user("applicant")
    client.force_login(user)
    response = client.post(reverse("api_tokens"), {"name": "Mon tableau", "days": "30"})
    assert response.status_code == 200
    secret = response.context["new"].secret
    assert secret in response.content.decode()
    # Shown once: the list shows the prefix only.
    page = client.get(reverse("api_tokens")).content.decode()
    assert secret not in page and "Mon tableau" in page
    token = ApiToken.objects.get(user=user)
    assert client.get(CANDIDATURES, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 200
    # Someone else cannot revoke it.
    client.force_login(world.user("other_applicant"))
    assert client.post(reverse("api_token_revoke", args=[token.pk])).status_code == 404
    client.force_login(user)
    response = client.post(reverse("api_token_revoke", args=[token.pk]))
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert client.get(CANDIDATURES, HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_tokens_page_refuses_an_unplanned_lifetime(client, world):
    client.force_login(world.user("applicant"))
    response = client.post(reverse("api_tokens"), {"name": "x", "days": "10000"})
    assert response.status_code == 200 and not ApiToken.objects.exists()
    assert "fr-error-text" in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["inconnu=1", "state=submitted&state=draft", "opinion=", "taille=0", "taille=101"],
)
def test_unknown_repeated_or_empty_parameters_get_400(client, world, query):
    response = client.get(f"{CANDIDATURES}?{query}", **bearer(world.user("cna_member")))
    assert response.status_code == 400
    assert list(response.json()) == [query.split("=")[0]]


def test_unknown_addresses_under_the_api_get_a_json_404(client, world):
    response = client.get("/api/v1/candidatures/0.5/", **bearer(world.user("staff")))
    assert response.status_code == 404 and "detail" in response.json()
    response = client.get("/api/v1/nimporte/quoi/")
    assert response.status_code == 404 and "detail" in response.json()
