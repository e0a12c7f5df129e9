"""Every list endpoint of the API makes the same number of queries for 2 and for 50 rows, for
a role that reads everything of them (staff: team, review statistics) and for a cell member
(scoping expressions)."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import RegionalRole
from api.tokens import create_token
from candidatures.models import CandidatureState, PtceMembership
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

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/appels/",
    "/api/v1/candidatures/",
    "/api/v1/avis-regionaux/",
    "/api/v1/analyses-nationales/",
    "/api/v1/decisions/",
]


def edition(n):
    call = f.CallFactory()
    region = f.region("11")
    cell = f.RegionalCellFactory(call=call, region=region)
    coordinator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR).user
    member = f.NationalMembershipFactory(cell=f.NationalCellFactory(call=call)).user
    deliberation = Deliberation.objects.create(
        call=call, held_on=timezone.localdate(), created_by=member
    )
    for index in range(n):
        f.CallFactory()  # another call per row: the calls' list grows too
        ptce = f.PtceFactory(region=region)
        for _ in range(2):
            PtceMembership.objects.create(ptce=ptce, user=f.UserFactory())
        candidature = f.CandidatureFactory(
            ptce=ptce,
            call=call,
            state=CandidatureState.REGIONAL_REVIEW_DONE,
            submitted_at=timezone.now(),
        )
        for total in ("60", "80"):
            review = make_review(candidature, {})
            Review.objects.filter(pk=review.pk).update(total=Decimal(total))
        RegionalOpinion.objects.create(
            candidature=candidature,
            consolidated_score=Decimal("70"),
            opinion=Opinion.FAVORABLE,
            motivation="m",
            rank=index + 1,
            written_by=coordinator,
        )
        NationalReview.objects.create(
            candidature=candidature,
            reviewer=member,
            score=Decimal("70"),
            opinion=Opinion.FAVORABLE,
            comment="c",
        )
        Decision.objects.create(
            candidature=candidature,
            deliberation=deliberation,
            outcome=DecisionOutcome.LAUREATE,
            granted_amount=Decimal("40000"),
            motivation="m",
        )
    return {"staff": f.UserFactory(is_staff=True), "cna_member": member, "coordinator": coordinator}


def count(client, user, url):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {create_token(user, 't', 30).secret}"}
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, {"taille": 100}, **headers)
    assert response.status_code == 200, response.content
    return len(queries), len(response.json()["results"])


@pytest.mark.parametrize("role", ["staff", "cna_member", "coordinator"])
def test_list_endpoints_do_not_grow_with_rows(client, role):
    small = edition(2)
    count(client, small[role], "/api/v1/appels/")  # warm the process-wide caches up
    small_counts = {url: count(client, small[role], url) for url in LISTS}
    large = edition(50)
    for url in LISTS:
        queries, rows = count(client, large[role], url)
        assert queries == small_counts[url][0], (url, small_counts[url], (queries, rows))
        assert queries <= 10, url
    # The lists did grow (the counts compare like with like).
    assert count(client, large[role], "/api/v1/candidatures/")[1] >= 50
