"""``manage.py seed_bench`` with a small N: the bench data written with ``bulk_create`` holds the
invariants the domain functions guarantee (submission, reviews, opinions and ranking, hand-over),
and the command is deterministic, idempotent and resettable."""

import copy
from collections import Counter
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, F

from accounts.mfa import has_totp
from accounts.models import NationalCellMembership, RegionalCellMembership, RegionalRole
from ami.models import Phase, Region
from candidatures.models import Candidature, CandidatureState
from candidatures.submission import build_snapshot, completeness_problems, territory_flags
from evaluation.consolidation import rounded
from evaluation.models import (
    BLOCKING_CONFLICT,
    Assignment,
    ConflictOfInterest,
    RegionHandover,
    Review,
    ReviewState,
)
from evaluation.scoring import recompute_call_totals, with_review_stats
from tests.shared import built_once
from wiring.demo.bench import bench_users, region_counts, seed_bench

N = 60


@pytest.fixture(scope="module")
def _module_bench(django_db_setup, django_db_blocker, tmp_path_factory):
    """The bench seeded once for the module (tests/shared.py)."""
    files = tmp_path_factory.mktemp("bench") / "private"
    yield from built_once(django_db_blocker, lambda: seed_bench(N), files)


@pytest.fixture
def bench(_module_bench, db):
    return copy.deepcopy(_module_bench)


def test_candidatures_are_spread_over_every_region_by_weight(bench):
    call = bench.call
    assert bench.created and call.phase == Phase.NATIONAL_REVIEW
    per_region = dict(
        Candidature.objects.filter(call=call).values_list("region").annotate(n=Count("pk"))
    )
    codes = set(Region.objects.values_list("code", flat=True))
    assert per_region == region_counts(N, codes)
    assert sum(per_region.values()) == N and set(per_region) == codes
    assert per_region["11"] > per_region["94"]  # weighted: Île-de-France above Corse


def test_every_candidature_is_submitted_as_the_domain_would_have_it(bench):
    call = bench.call
    candidatures = Candidature.objects.filter(call=call).select_related(
        "call", "ptce__seat_commune", "region"
    )
    for candidature in candidatures:
        assert candidature.state == CandidatureState.REGIONAL_REVIEW_DONE
        assert candidature.receipt_number == f"PTCE-{call.year}-{candidature.pk:06d}"
        assert candidature.submitted_at is not None
        assert completeness_problems(candidature) == []
        assert candidature.snapshot == build_snapshot(candidature)
        assert (candidature.is_rural, candidature.in_qpv) == territory_flags(candidature.ptce)
        assert candidature.region_id == candidature.ptce.region_id
        assert [(e.from_state, e.to_state) for e in candidature.events.all()] == [
            ("draft", "submitted"),
            ("submitted", "admissible"),
            ("admissible", "regional_review_done"),
        ]
        assert candidature.admissibility_check.answers
        assert all(item["ok"] for item in candidature.admissibility_check.answers.values())
    flags = Counter(candidatures.values_list("is_rural", flat=True))
    assert flags[True] and flags[False]


def test_reviews_are_assigned_balanced_scored_and_totalled(bench):
    call = bench.call
    assert recompute_call_totals(call) == 0  # every stored total is compute_total's
    assignments = Assignment.objects.filter(candidature__call=call).select_related("candidature")
    assert assignments.count() == N * call.reviews_per_candidature
    evaluators = set(
        RegionalCellMembership.objects.filter(
            cell__call=call, role=RegionalRole.EVALUATOR
        ).values_list("cell__region", "user")
    )
    conflicted = set(
        ConflictOfInterest.objects.filter(BLOCKING_CONFLICT, candidature__call=call).values_list(
            "candidature", "evaluator"
        )
    )
    for assignment in assignments:
        assert (assignment.candidature.region_id, assignment.evaluator_id) in evaluators
        assert (assignment.candidature_id, assignment.evaluator_id) not in conflicted
    reviews = Review.objects.filter(candidature__call=call)
    assert set(reviews.values_list("candidature", "evaluator")) == set(
        assignments.values_list("candidature", "evaluator")
    )
    assert set(reviews.values_list("state", flat=True)) == {ReviewState.SUBMITTED}
    assert not reviews.filter(total__isnull=True).exists()
    criteria = call.criteria.count()
    assert not reviews.annotate(n=Count("scores")).exclude(n=criteria).exists()


def test_every_candidature_handed_over_has_an_opinion_at_the_mean_and_its_rank(bench):
    call = bench.call
    assert RegionHandover.objects.filter(cell__call=call).count() == Region.objects.count()
    for code in Region.objects.values_list("code", flat=True):
        rows = list(
            with_review_stats(Candidature.objects.filter(call=call, region=code))
            .select_related("regional_opinion")
            .order_by(
                F("regional_opinion__consolidated_score").desc(),
                F("score_mean").desc(nulls_last=True),
                "ptce__name",
                "pk",
            )
        )
        # The default ranking of the region (``consolidation.default_ranking``): 1…n.
        assert [row.regional_opinion.rank for row in rows] == list(range(1, len(rows) + 1))
        for row in rows:
            assert row.regional_opinion.consolidated_score == rounded(row.score_mean)
            assert row.review_count == call.reviews_per_candidature


def test_cell_members_have_their_second_factor(bench):
    members = RegionalCellMembership.objects.filter(cell__call=bench.call).select_related("user")
    national = NationalCellMembership.objects.filter(cell__call=bench.call).select_related("user")
    assert members.exists() and national.exists()
    assert all(has_totp(m.user) for m in [*members, *national])


def test_seeding_again_changes_nothing_and_reset_gives_the_same_data(bench):
    def snapshot():
        return list(
            Candidature.objects.filter(call__slug=bench.call.slug)
            .order_by("ptce__name")
            .values_list("ptce__name", "region", "regional_opinion__consolidated_score")
        )

    before, users = snapshot(), bench_users().count()
    again = seed_bench(N)
    assert not again.created and again.call.pk == bench.call.pk
    assert snapshot() == before and bench_users().count() == users
    reset = seed_bench(N, reset=True)
    assert reset.created and reset.call.pk != bench.call.pk
    assert snapshot() == before and bench_users().count() == users


def test_command_prints_the_time_and_the_accounts(db):
    out = StringIO()
    call_command("seed_bench", "--candidatures", "20", "--call-slug", "banc-test", stdout=out)
    text = out.getvalue()
    assert "20 candidatures créées en" in text
    assert "banc-test.cna-membre-1@" in text
    out = StringIO()
    call_command("seed_bench", "--candidatures", "20", "--call-slug", "banc-test", stdout=out)
    assert "existe déjà avec 20 candidatures" in out.getvalue()
