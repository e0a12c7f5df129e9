"""The national dashboard keeps the regions' normalisation, its charts' figures and the order of
its rows in the cache (``evaluation.national_cache``): the second request reads them from there,
and whatever changes them — an opinion, a hand-over, a region move, a withdrawal, a review
submitted or reopened, a conflict, a ranking, a decision — shows on the very next request."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import NationalRole, RegionalRole
from ami.models import Phase
from candidatures import workflow
from candidatures.models import CandidatureState as S
from evaluation import admission, consolidation, national, national_cache, reviews
from evaluation.models import (
    Assignment,
    ConflictOfInterest,
    Opinion,
    RegionalOpinion,
    Review,
    ReviewState,
)
from tests import factories as f

from .national_helpers import fix_list, national_edition

pytestmark = pytest.mark.django_db


class Edition:
    """A call in regional review: region 11 (three admissible candidatures with their collegial
    opinions at 60, 70 and 80, ranked) and region 53 (one at 50), neither handed over yet; a
    submitted candidature of region 11 without opinion; a CNA member and administrator."""

    def __init__(self):
        now = timezone.now()
        self.call = f.CallFactory(
            phase=Phase.REGIONAL_REVIEW,
            opens_at=now - timedelta(days=40),
            closes_at=now - timedelta(days=1),
            questionnaire=False,
        )
        cna = f.NationalCellFactory(call=self.call)
        self.member = f.NationalMembershipFactory(cell=cna, role=NationalRole.MEMBER).user
        self.admin = f.NationalMembershipFactory(cell=cna, role=NationalRole.ADMINISTRATOR).user
        self.cells, self.coordinators = {}, {}
        for code in ("11", "53"):
            cell = f.RegionalCellFactory(call=self.call, region=f.region(code))
            self.cells[code] = cell
            self.coordinators[code] = f.RegionalMembershipFactory(
                cell=cell, role=RegionalRole.COORDINATOR
            ).user
        self.low, self.mid, self.high = (self.candidature("11", s) for s in (60, 70, 80))
        self.alone = self.candidature("53", 50)
        self.submitted = self.candidature("11", None, state=S.SUBMITTED)
        self.applicant = f.PtceMembershipFactory(ptce=self.submitted.ptce).user
        consolidation.set_ranking(
            self.cells["11"], self.coordinators["11"], [self.high.pk, self.mid.pk, self.low.pk]
        )
        consolidation.set_ranking(self.cells["53"], self.coordinators["53"], [self.alone.pk])

    def candidature(self, code, score, state=S.ADMISSIBLE):
        made = f.CandidatureFactory(
            ptce=f.PtceFactory(region=f.region(code)),
            call=self.call,
            state=state,
            submitted_at=timezone.now(),
        )
        if score is not None:
            self.opinion(made, score)
        return made

    def opinion(self, candidature, score):
        region = candidature.region_id
        consolidation.save_opinion(
            candidature,
            self.coordinators[region],
            str(score),
            "Examen collégial en séance.",
            Opinion.FAVORABLE,
            "Motivation de la cellule.",
        )


@pytest.fixture
def edition():
    return Edition()


def dashboard(client, edition, user=None, **params):
    client.force_login(user or edition.member)
    response = client.get(reverse("national_dashboard", args=[edition.call.pk]), params)
    assert response.status_code == 200
    return response.context


def normalised(context):
    return {row.pk: row.normalised_score for row in context["rows"]}


def figures(context):
    return {f.region.code: f for f in context["figures"]}


def order(context):
    return [row.pk for row in context["rows"]]


# --- The cache is used ---------------------------------------------------------------------------


def test_the_second_request_reads_the_figures_and_the_order_from_the_cache(client, edition):
    url = reverse("national_dashboard", args=[edition.call.pk])
    client.force_login(edition.member)
    with CaptureQueriesContext(connection) as first:
        client.get(url)
    with CaptureQueriesContext(connection) as again:
        response = client.get(url)
    # The regions' means and deviations, the figures (and their regions) and the keys in order.
    assert len(again) == len(first) - 4
    text = " ".join(q["sql"] for q in again.captured_queries)
    assert "STDDEV_POP" not in text and "PERCENTILE_CONT(0.25)" not in text
    # Same page as computed.
    assert normalised(response.context) == normalised(dashboard(client, edition))


def test_figures_and_order_are_kept_per_user(client, edition):
    """A member's conflicts hide candidatures from their figures: another member's cached
    figures are never served to them."""
    other = f.NationalMembershipFactory(
        cell=edition.member.national_memberships.get().cell, role=NationalRole.MEMBER
    ).user
    ConflictOfInterest.objects.create(
        candidature=edition.high, evaluator=other, source="declared", reason="Associé."
    )
    mine = dashboard(client, edition)
    theirs = dashboard(client, edition, other)
    assert figures(mine)["11"].candidatures == 4
    assert figures(theirs)["11"].candidatures == 3
    assert edition.high.pk in order(mine) and edition.high.pk not in order(theirs)


def test_a_lost_version_is_never_an_old_one(client, edition):
    before = dashboard(client, edition)
    cache.delete(national_cache._version_key(edition.call.pk))
    RegionalOpinion.objects.filter(candidature=edition.high).update(consolidated_score=90)
    after = dashboard(client, edition)
    assert figures(after)["11"].maximum == Decimal("90.00") != figures(before)["11"].maximum


# --- What changes them shows at once ------------------------------------------------------------


def test_an_opinion_changed_shows_at_once(client, edition):
    before = dashboard(client, edition)
    assert normalised(before)[edition.high.pk] == Decimal("62.25")
    assert figures(before)["11"].maximum == Decimal("80.00")
    edition.opinion(edition.low, 75)  # 70, 75, 80: the lowest is now in the middle
    after = dashboard(client, edition)
    assert normalised(after)[edition.high.pk] == Decimal("62.25")
    assert normalised(after)[edition.low.pk] == Decimal("50.00")
    assert normalised(after)[edition.mid.pk] == Decimal("37.75")
    assert figures(after)["11"].minimum == Decimal("70.00")
    assert figures(after)["11"].mean == Decimal("75.00")
    assert order(after).index(edition.low.pk) < order(after).index(edition.mid.pk)
    # The export and the assistant read the same normalisation.
    row = national.national_rows(edition.call, edition.member).get(pk=edition.low.pk)
    assert row.normalised_score == Decimal("50.00")


def test_a_new_opinion_shows_at_once(client, edition):
    assert dashboard(client, edition, opinion="aucun")["page"].paginator.count == 1
    admission_ready = edition.submitted
    admission_ready.state = S.ADMISSIBLE
    admission_ready.save(update_fields=["state"])
    edition.opinion(admission_ready, 90)
    after = dashboard(client, edition)
    assert figures(after)["11"].scored == 4
    assert order(after)[0] == admission_ready.pk
    assert dashboard(client, edition, opinion="aucun")["page"].paginator.count == 0


def test_a_hand_over_shows_at_once(client, edition):
    done = {"state": S.REGIONAL_REVIEW_DONE}
    assert dashboard(client, edition, **done)["page"].paginator.count == 0
    consolidation.hand_over(edition.cells["53"], edition.coordinators["53"])
    assert order(dashboard(client, edition, **done)) == [edition.alone.pk]


def test_a_region_move_shows_at_once(client, edition):
    before = dashboard(client, edition)
    assert (figures(before)["11"].candidatures, figures(before)["53"].candidatures) == (4, 1)
    assert dashboard(client, edition, region="53")["page"].paginator.count == 1
    admission.move_region(edition.mid, f.region("53"), edition.admin, "Siège en Bretagne.")
    after = dashboard(client, edition)
    assert (figures(after)["11"].candidatures, figures(after)["53"].candidatures) == (3, 2)
    # 60 and 80 left in region 11; 50 and 70 in region 53.
    assert normalised(after)[edition.high.pk] == Decimal("60.00")
    assert normalised(after)[edition.mid.pk] == Decimal("60.00")
    assert set(order(dashboard(client, edition, region="53"))) == {
        edition.alone.pk,
        edition.mid.pk,
    }


def test_a_withdrawal_shows_at_once(client, edition):
    before = dashboard(client, edition)
    assert edition.submitted.pk in order(before)
    assert figures(before)["11"].candidatures == 4
    workflow.transition(edition.submitted, S.WITHDRAWN, edition.applicant)
    after = dashboard(client, edition)
    assert edition.submitted.pk not in order(after)
    assert figures(after)["11"].candidatures == 3


def test_a_review_submitted_then_reopened_shows_at_once(client, edition):
    spread = {"tri": "-ecart"}
    assert {row.score_spread for row in dashboard(client, edition, **spread)["rows"]} == {None}
    evaluators = [
        f.RegionalMembershipFactory(cell=edition.cells["11"], role=RegionalRole.EVALUATOR).user
        for _ in (1, 2)
    ]
    made = []
    for evaluator, total in zip(evaluators, ("40", "90"), strict=True):
        Assignment.objects.create(
            candidature=edition.low, evaluator=evaluator, assigned_by=edition.coordinators["11"]
        )
        made.append(
            Review.objects.create(
                candidature=edition.low,
                evaluator=evaluator,
                state=ReviewState.SUBMITTED,
                total=Decimal(total),
                submitted_at=timezone.now(),
            )
        )
    rows = dashboard(client, edition, **spread)["rows"]
    assert (rows[0].pk, rows[0].score_spread) == (edition.low.pk, Decimal("50.00"))
    assert order(dashboard(client, edition, disagreement="oui")) == [edition.low.pk]
    reviews.reopen_review(made[0], edition.coordinators["11"], "Revoyez le critère 2.")
    rows = dashboard(client, edition, **spread)["rows"]
    assert (rows[0].pk, rows[0].score_spread) == (edition.low.pk, Decimal("0.00"))
    assert dashboard(client, edition, disagreement="oui")["page"].paginator.count == 0


def test_a_conflict_declared_hides_at_once(client, edition):
    before = dashboard(client, edition)
    assert figures(before)["53"].candidatures == 1
    ConflictOfInterest.objects.create(
        candidature=edition.alone, evaluator=edition.member, source="declared", reason="Associé."
    )
    after = dashboard(client, edition)
    assert edition.alone.pk not in order(after)
    assert "53" not in figures(after)


def test_a_conflict_deleted_shows_at_once(client, edition):
    conflict = ConflictOfInterest.objects.create(
        candidature=edition.alone, evaluator=edition.member, source="declared", reason="Associé."
    )
    assert edition.alone.pk not in order(dashboard(client, edition))
    conflict.delete()  # e.g. from the admin
    after = dashboard(client, edition)
    assert edition.alone.pk in order(after)
    assert figures(after)["53"].candidatures == 1


def test_a_ranking_shows_at_once(client, edition):
    by_rank = {"tri": "rang"}
    assert order(dashboard(client, edition, **by_rank))[:1] == [edition.high.pk]
    consolidation.set_ranking(
        edition.cells["11"],
        edition.coordinators["11"],
        [edition.low.pk, edition.mid.pk, edition.high.pk],
    )
    ranked = [row for row in dashboard(client, edition, **by_rank)["rows"] if row.region_id == "11"]
    assert [row.pk for row in ranked][:3] == [edition.low.pk, edition.mid.pk, edition.high.pk]


def test_a_ptce_renamed_shows_at_once(client, edition):
    by_name = {"tri": "nom"}
    dashboard(client, edition, **by_name)
    edition.high.ptce.name = "AAA premier par le nom"
    edition.high.ptce.save()
    assert order(dashboard(client, edition, **by_name))[0] == edition.high.pk
    assert dashboard(client, edition, q="AAA premier")["page"].paginator.count == 1


def test_the_fixed_list_shows_at_once(client):
    """Decisions are written in bulk when the list is fixed (no signal)."""
    built = national_edition({"11": [60, 70], "53": [55]})
    laureate = built.candidatures[1]
    assert dashboard(client, built, decision="laureate")["page"].paginator.count == 0
    fix_list(built, {laureate: 50000})
    assert order(dashboard(client, built, decision="laureate")) == [laureate.pk]
    assert dashboard(client, built, decision="aucune")["page"].paginator.count == 0


def test_a_change_gives_a_new_version_at_once_and_again_after_the_commit(
    edition, django_capture_on_commit_callbacks
):
    """A request that read the version set inside the transaction computed from the data before
    the commit: what it kept must not be read once the change is committed."""
    first = national_cache._versions(edition.call.pk)
    with django_capture_on_commit_callbacks(execute=True):
        national_cache.changed(edition.call.pk)
        inside = national_cache._versions(edition.call.pk)
    after = national_cache._versions(edition.call.pk)
    assert len({first, inside, after}) == 3
    # Other calls keep theirs.
    other = f.CallFactory(questionnaire=False)
    kept = national_cache._versions(other.pk)
    national_cache.changed(edition.call.pk)
    assert national_cache._versions(other.pk) == kept
