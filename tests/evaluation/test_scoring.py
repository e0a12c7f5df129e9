"""Scores (DESIGN §5) with hand-computed expectations: a review's total over 100 with weights,
scales 0–5 and 0–10 and « not applicable » left out of both sums; per-candidature statistics
computed in SQL by ``with_review_stats`` on real rows (median of an even count, spread,
disagreement against the call's threshold)."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from candidatures.models import Candidature, CandidatureState
from evaluation.models import Review, ReviewScore, ReviewState
from evaluation.scoring import compute_total, review_total, with_review_stats
from tests import factories as f

NA = "n/a"


def make_review(candidature, scores, *, evaluator=None, state=ReviewState.SUBMITTED, **fields):
    """A review with one ``ReviewScore`` per criterion (``scores``: {criterion: score or NA,
    with an optional comment as ``(score, comment)``}) and its total computed by the real
    ``review_total``."""
    review = Review.objects.create(
        candidature=candidature,
        evaluator=evaluator or f.UserFactory(),
        state=state,
        submitted_at=timezone.now() if state == ReviewState.SUBMITTED else None,
        **fields,
    )
    for criterion, value in scores.items():
        value, comment = value if isinstance(value, tuple) else (value, "")
        ReviewScore.objects.create(
            review=review,
            criterion=criterion,
            score=None if value == NA else value,
            not_applicable=value == NA,
            comment=comment,
        )
    review.total = review_total(review)
    review.save(update_fields=["total"])
    return review


def make_grid(call):
    """C1: weight 2 on 0–5; C2: weight 1 on 0–10; C3: weight 1 on 0–5, may be not applicable."""
    return (
        f.CriterionFactory(call=call, label="Gouvernance", weight=Decimal("2"), scale_max=5),
        f.CriterionFactory(call=call, label="Viabilité", weight=Decimal("1"), scale_max=10),
        f.CriterionFactory(
            call=call,
            label="Recherche",
            weight=Decimal("1"),
            scale_max=5,
            allows_not_applicable=True,
        ),
    )


def submitted_candidature(call, name=None, state=CandidatureState.ADMISSIBLE, **fields):
    ptce = f.PtceFactory(**({"name": name} if name else {}))
    return f.CandidatureFactory(
        ptce=ptce, call=call, state=state, submitted_at=timezone.now(), **fields
    )


@pytest.fixture
def call(db):
    return f.CallFactory(disagreement_threshold=Decimal("20"))


@pytest.fixture
def grid(call):
    return make_grid(call)


def stats(candidature):
    return with_review_stats(Candidature.objects.filter(pk=candidature.pk)).get()


def two(value):
    """Compare SQL results to two decimals (``percentile_cont`` works in floating point)."""
    return None if value is None else Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)


# --- A review's total ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        # 100 × (2·4/5 + 1·7/10) / (2 + 1) = 100 × 2.3 / 3 = 76.666… (C3 not applicable)
        ((4, 7, NA), Decimal("76.67")),
        # 100 × (2·5/5 + 10/10 + 5/5) / 4
        ((5, 10, 5), Decimal("100.00")),
        # 100 × (2·1/5 + 2/10 + 0/5) / 4 = 100 × 0.6 / 4: a 0 counts, unlike n/a
        ((1, 2, 0), Decimal("15.00")),
        # 100 × (2·3/5 + 5/10 + 3/5) / 4 = 100 × 2.3 / 4
        ((3, 5, 3), Decimal("57.50")),
        # 100 × (2·0/5 + 10/10) / 3: the 0–10 scale is brought to the same footing
        ((0, 10, NA), Decimal("33.33")),
    ],
)
def test_review_total_by_hand(grid, call, scores, expected):
    candidature = submitted_candidature(call)
    review = make_review(candidature, dict(zip(grid, scores, strict=True)))
    assert review.total == expected


def test_not_applicable_is_not_zero(grid, call):
    candidature = submitted_candidature(call)
    with_na = make_review(candidature, dict(zip(grid, (4, 7, NA), strict=True)))
    with_zero = make_review(candidature, dict(zip(grid, (4, 7, 0), strict=True)))
    assert with_na.total == Decimal("76.67")  # 2.3 / 3
    assert with_zero.total == Decimal("57.50")  # 2.3 / 4


def test_total_is_none_until_complete(grid):
    c1, c2, c3 = grid
    criteria = list(grid)
    assert compute_total(criteria, {c1.pk: (4, False), c2.pk: (7, False)}) is None
    # « not applicable » only counts on a criterion that allows it
    assert (
        compute_total(criteria, {c1.pk: (None, True), c2.pk: (7, False), c3.pk: (1, False)}) is None
    )


def test_total_is_none_when_everything_is_not_applicable(call):
    criterion = f.CriterionFactory(call=call, allows_not_applicable=True)
    assert compute_total([criterion], {criterion.pk: (None, True)}) is None


# --- Statistics in SQL --------------------------------------------------------------------------


def test_stats_of_an_even_count(grid, call):
    candidature = submitted_candidature(call)
    for scores in [(4, 7, NA), (5, 10, 5), (1, 2, 0), (3, 5, 3)]:
        make_review(candidature, dict(zip(grid, scores, strict=True)))
    # A draft review never counts, whatever its total.
    make_review(candidature, dict(zip(grid, (0, 0, 0), strict=True)), state=ReviewState.DRAFT)

    row = stats(candidature)
    # Totals: 76.67, 100.00, 15.00, 57.50
    assert row.review_count == 4
    assert two(row.score_mean) == Decimal("62.29")  # 249.17 / 4 = 62.2925
    assert row.score_mean == Decimal("62.2925")
    assert two(row.score_median) == Decimal("67.09")  # (57.50 + 76.67) / 2 = 67.085
    assert abs(Decimal(row.score_median) - Decimal("67.085")) < Decimal("0.000001")
    assert row.score_min == Decimal("15.00")
    assert row.score_max == Decimal("100.00")
    assert row.score_spread == Decimal("85.00")
    assert row.disagreement is True  # 85 > 20


def test_stats_of_an_odd_count(grid, call):
    candidature = submitted_candidature(call)
    for scores in [(4, 7, NA), (1, 2, 0), (3, 5, 3)]:  # 76.67, 15.00, 57.50
        make_review(candidature, dict(zip(grid, scores, strict=True)))
    row = stats(candidature)
    assert row.review_count == 3
    assert two(row.score_median) == Decimal("57.50")  # the middle value
    assert two(row.score_mean) == Decimal("49.72")  # 149.17 / 3 = 49.7233…


@pytest.mark.parametrize(
    ("totals", "spread", "disagreement"),
    [
        ((Decimal("60.00"), Decimal("70.00")), Decimal("10.00"), False),
        ((Decimal("50.00"), Decimal("70.00")), Decimal("20.00"), False),  # at the threshold
        ((Decimal("50.00"), Decimal("70.01")), Decimal("20.01"), True),  # just above
        ((Decimal("65.00"),), Decimal("0.00"), False),
    ],
)
def test_disagreement_against_the_call_threshold(call, totals, spread, disagreement):
    candidature = submitted_candidature(call)
    for total in totals:
        Review.objects.create(
            candidature=candidature,
            evaluator=f.UserFactory(),
            state=ReviewState.SUBMITTED,
            total=total,
        )
    row = stats(candidature)
    assert row.score_spread == spread
    assert row.disagreement is disagreement
    if len(totals) == 2:
        assert two(row.score_median) == two((totals[0] + totals[1]) / 2)


def test_threshold_is_the_call_s_own(db):
    strict = f.CallFactory(disagreement_threshold=Decimal("5"))
    lenient = f.CallFactory(disagreement_threshold=Decimal("30"))
    rows = []
    for call in (strict, lenient):
        candidature = submitted_candidature(call)
        for total in (Decimal("60"), Decimal("70")):
            Review.objects.create(
                candidature=candidature,
                evaluator=f.UserFactory(),
                state=ReviewState.SUBMITTED,
                total=total,
            )
        rows.append(stats(candidature))
    assert [row.disagreement for row in rows] == [True, False]


def test_no_review_gives_empty_statistics(call):
    candidature = submitted_candidature(call)
    row = stats(candidature)
    assert row.review_count == 0
    assert row.score_mean is None
    assert row.score_median is None
    assert row.score_spread is None
    assert not row.disagreement


def test_stats_of_many_candidatures_in_one_query(grid, call, django_assert_num_queries):
    expected = {}
    for index in range(3):
        candidature = submitted_candidature(call)
        for total in (Decimal(40 + index), Decimal(60 + 3 * index)):
            Review.objects.create(
                candidature=candidature,
                evaluator=f.UserFactory(),
                state=ReviewState.SUBMITTED,
                total=total,
            )
        expected[candidature.pk] = Decimal(50 + 2 * index)  # (40+i + 60+3i) / 2
    with django_assert_num_queries(1):
        rows = list(with_review_stats(Candidature.objects.filter(call=call)))
    assert {row.pk: two(row.score_mean) for row in rows} == expected
    assert {row.pk: two(row.score_median) for row in rows} == expected
