"""Scores (DESIGN §5): a review's total over 100, and per-candidature statistics computed in SQL.

A review's total is ``100 × Σ wᵢ·sᵢ/maxᵢ / Σ wᵢ`` over the criteria that were scored; a « not
applicable » answer is left out of both sums, never counted as 0."""

from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Aggregate,
    Avg,
    BooleanField,
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
)
from django.db.models.functions import Cast, Coalesce

from . import national_cache
from .models import Review, ReviewState

CENT = Decimal("0.01")


def compute_total(criteria, scores) -> Decimal | None:
    """``criteria``: the call's criteria; ``scores``: ``{criterion_id: (score, not_applicable)}``.
    None while a criterion is neither scored nor marked not applicable, or when every criterion
    is not applicable."""
    numerator = Decimal("0")
    denominator = Decimal("0")
    for criterion in criteria:
        score, not_applicable = scores.get(criterion.pk, (None, False))
        if not_applicable and criterion.allows_not_applicable:
            continue
        if score is None:
            return None
        numerator += criterion.weight * Decimal(score) / Decimal(criterion.scale_max)
        denominator += criterion.weight
    if not denominator:
        return None
    return (Decimal(100) * numerator / denominator).quantize(CENT, rounding=ROUND_HALF_UP)


def review_total(review: Review) -> Decimal | None:
    criteria = list(review.candidature.call.criteria.all())
    scores = {s.criterion_id: (s.score, s.not_applicable) for s in review.scores.all()}
    return compute_total(criteria, scores)


def recompute_call_totals(call) -> int:
    """Recompute every review of a call (after its grid changed). Returns the number updated."""
    criteria = list(call.criteria.all())
    updated = 0
    reviews = Review.objects.filter(candidature__call=call).prefetch_related("scores")
    for review in reviews:
        scores = {s.criterion_id: (s.score, s.not_applicable) for s in review.scores.all()}
        total = compute_total(criteria, scores)
        if total != review.total:
            Review.objects.filter(pk=review.pk).update(total=total)
            updated += 1
    if updated:
        national_cache.changed(call.pk)  # totals written with update(): no signal
    return updated


class Median(Aggregate):
    """PostgreSQL's ``percentile_cont(0.5) WITHIN GROUP (ORDER BY …)``: the median, with the
    mean of the two middle values for an even count."""

    function = "PERCENTILE_CONT"
    name = "Median"
    template = "%(function)s(0.5) WITHIN GROUP (ORDER BY %(expressions)s)"
    allow_distinct = False

    def __init__(self, expression, **extra):
        super().__init__(
            expression, output_field=DecimalField(max_digits=6, decimal_places=2), **extra
        )


def with_review_stats(queryset):
    """Annotate candidatures with the statistics of their *submitted* reviews: count, mean,
    median, min, max, spread and the disagreement flag (spread above the call's threshold).
    One query, whatever the number of rows.

    Each statistic is a correlated subquery over the candidature's reviews (index
    ``candidature, state``) rather than a join grouped by candidature: the rows are not
    grouped, so a paginated list sorted on another column computes them for its page only
    (PostgreSQL evaluates such subqueries after ORDER BY … LIMIT), and its count is a plain
    count. At 10 000 candidatures the national dashboard went from a second to a few tens of
    milliseconds (docs/performance.md)."""
    submitted = (
        Review.objects.filter(candidature=OuterRef("pk"), state=ReviewState.SUBMITTED)
        .order_by()
        .values("candidature")
    )
    money = DecimalField(max_digits=6, decimal_places=2)

    def stat(aggregate, output_field):
        return Subquery(
            submitted.annotate(value=aggregate).values("value"), output_field=output_field
        )

    return queryset.annotate(
        review_count=Coalesce(stat(Count("pk"), IntegerField()), 0),
        score_mean=stat(Avg("total", output_field=money), money),
        # percentile_cont answers in double precision: back to numeric. Three decimals: the
        # median of an even count is the mean of two totals in cents (e.g. 67.085).
        score_median=Cast(
            stat(Median("total"), FloatField()),
            output_field=DecimalField(max_digits=7, decimal_places=3),
        ),
        score_min=stat(Min("total"), money),
        score_max=stat(Max("total"), money),
    ).annotate(
        score_spread=ExpressionWrapper(F("score_max") - F("score_min"), output_field=money),
        disagreement=ExpressionWrapper(
            Q(score_spread__gt=F("call__disagreement_threshold")),
            output_field=BooleanField(),
        ),
    )
