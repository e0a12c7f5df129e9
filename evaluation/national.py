"""The national review (DESIGN §4–5): every candidature of a call with its regional opinion,
the statistics of its reviews, its score normalised within its region, the CNA's own analyses
and its decision; the figures per region behind the dashboard's charts.

Normalisation. Regional cells score with different severity: a region whose evaluators all
score two points lower must not lose its laureates for it. The *normalised score* of a
candidature is its regional consolidated score expressed against the other candidatures of the
same region and call (those with a collegial opinion): ``50 + 10 × z`` where
``z = (score − regional mean) / regional standard deviation`` (population). It keeps the 0–100
feel of the raw score (50 = the region's average, 60 = one standard deviation above), is
unchanged when every score of a region moves by the same number of points, and is 50 for a
region with a single candidature or identical scores. Computed in SQL: one query for the
regions' means and deviations, then an expression per row, so that lists sort and filter on it.

The regions' means and deviations, the charts' figures and the dashboard's order of rows are
computed once per version of the call and kept in the cache (``national_cache``: forgotten as
soon as an opinion, a review, a hand-over, a region move… changes them).
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import (
    Avg,
    Count,
    DecimalField,
    Expression,
    F,
    Max,
    Min,
    OuterRef,
    StdDev,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Cast, Coalesce

from ami.audit import audited
from ami.models import Region
from candidatures.models import Candidature

from . import consolidation, national_cache
from .consolidation import HIDDEN_STATES, with_consolidation
from .models import NationalReview, Opinion, RegionalOpinion
from .permissions import can_review_nationally
from .scoring import Median

NORMALISED_MEAN = Decimal("50")
NORMALISED_SPREAD = Decimal("10")
SCORE = DecimalField(max_digits=7, decimal_places=2)
MONEY = DecimalField(max_digits=14, decimal_places=2)


# --- Normalisation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionStats:
    count: int
    mean: Decimal
    deviation: Decimal  # population standard deviation


def region_score_stats(call) -> dict[str, RegionStats]:
    """Mean and standard deviation of the consolidated scores of each region of the call (one
    query, once per version of the call)."""
    return national_cache.remember(call.pk, "stats", lambda: _region_score_stats(call))


def _region_score_stats(call) -> dict[str, RegionStats]:
    rows = (
        RegionalOpinion.objects.filter(candidature__call=call)
        .exclude(candidature__state__in=HIDDEN_STATES)
        .values("candidature__region_id")
        .annotate(
            count=Count("pk"),
            mean=Avg("consolidated_score"),
            deviation=StdDev("consolidated_score", sample=False),
        )
        .order_by()
    )
    return {
        row["candidature__region_id"]: RegionStats(
            row["count"], Decimal(row["mean"]), Decimal(row["deviation"] or 0)
        )
        for row in rows
    }


def normalised_expression(stats: dict[str, RegionStats]):
    """SQL expression of the normalised score of a candidature row (NULL without an opinion):
    the one definition of the formula, used by the dashboard, the exports and the assistant."""
    if not stats:
        # A bare NULL cannot be sorted on in PostgreSQL (« non-integer constant in ORDER BY »).
        return Cast(Value(None), output_field=SCORE)
    return NormalisedScore(stats)


class NormalisedScore(Expression):
    """``ROUND(CASE region WHEN … THEN 50 + 10 × (score − mean) / deviation … END, 2)`` over
    the row's region and consolidated score (NULL without an opinion; 50 in a region without
    spread). One expression with two columns, whatever the number of regions: a ``Case`` of
    one ``When`` per region took milliseconds of Python to build on every request."""

    def __init__(self, stats: dict[str, RegionStats]):
        super().__init__(output_field=SCORE)
        self.stats = stats
        self.region = F("region_id")
        self.score = F("regional_opinion__consolidated_score")

    def get_source_expressions(self):
        return [self.region, self.score]

    def set_source_expressions(self, expressions):
        self.region, self.score = expressions

    def as_sql(self, compiler, connection):
        region_sql, region_params = compiler.compile(self.region)
        score_sql, score_params = compiler.compile(self.score)
        whens, params = [], list(region_params)
        for region_id, region in self.stats.items():
            if region.deviation:
                whens.append(f"WHEN %s THEN %s + %s * ({score_sql} - %s) / %s")
                params += [region_id, NORMALISED_MEAN, NORMALISED_SPREAD, *score_params]
                params += [region.mean, region.deviation]
            else:
                whens.append(f"WHEN %s THEN CASE WHEN {score_sql} IS NULL THEN NULL ELSE %s END")
                params += [region_id, *score_params, NORMALISED_MEAN]
        return f"ROUND(CASE {region_sql} {' '.join(whens)} ELSE NULL END, 2)", params


# --- The national table --------------------------------------------------------------------------


def national_candidatures(call, user):
    """The call's candidatures past submission that ``user`` may see (conflicts hidden)."""
    return (
        Candidature.objects.visible_to(user)
        .filter(call_id=call.pk)
        .exclude(state__in=HIDDEN_STATES)
    )


def national_candidatures_of(user):
    """Every candidature past submission ``user`` may see, whatever the call (a screen then
    checks the user's role on the candidature's call)."""
    return Candidature.objects.visible_to(user).exclude(state__in=HIDDEN_STATES)


def with_national(queryset, call, *, texts=False):
    """The regional consolidation (review statistics, collegial opinion), the normalised score,
    the CNA's analyses (count and mean, as subqueries so as not to multiply the review join) and
    the decision, in the one query of the rows."""
    analyses = NationalReview.objects.filter(candidature=OuterRef("pk")).order_by()
    national_mean = analyses.values("candidature").annotate(mean=Avg("score")).values("mean")
    national_count = analyses.values("candidature").annotate(n=Count("pk")).values("n")
    return (
        with_consolidation(queryset, texts=texts)
        .select_related("region")
        .annotate(
            normalised_score=normalised_expression(region_score_stats(call)),
            national_count=Coalesce(Subquery(national_count), 0),
            national_mean=Subquery(national_mean, output_field=SCORE),
            decision_outcome=F("decision__outcome"),
            decision_amount=F("decision__granted_amount"),
            decision_published_at=F("decision__published_at"),
        )
    )


# The dashboard's columns (see ``consolidation.LIST_FIELDS``), with the region's name.
LIST_FIELDS = (*consolidation.LIST_FIELDS, "region__name")


def default_order(queryset):
    return queryset.order_by(
        F("normalised_score").desc(nulls_last=True), "region__name", "ptce__name", "pk"
    )


def national_rows(call, user, *, texts=False):
    return default_order(with_national(national_candidatures(call, user), call, texts=texts))


def ordered_keys(call, user, params, queryset) -> list[int]:
    """The keys of ``queryset`` (the dashboard's rows, filtered and sorted as ``params`` say),
    in order: one query over every row, once per version of the call, user and query string.
    The page then reads its own rows only (``listing.paginate_keys``)."""
    return national_cache.remember(
        call.pk,
        f"keys:{national_cache.user_scope(user)}:{national_cache.params_digest(params)}",
        lambda: list(queryset.values_list("pk", flat=True)),
    )


# --- The CNA's analyses -----------------------------------------------------------------------


def analyses_of(candidature):
    """Every CNA analysis of the candidature (visible to the whole CNA), oldest first."""
    return (
        NationalReview.objects.filter(candidature=candidature)
        .select_related("reviewer")
        .order_by("created_at", "pk")
    )


@audited(actor="user")
def save_analysis(
    candidature, user, *, score: Decimal, opinion: str, comment: str, motivation: str = ""
) -> NationalReview:
    """Write (or rewrite) ``user``'s analysis of the candidature: ``comment`` is the internal
    note, ``motivation`` what may be communicated to the applicant (DESIGN §3)."""
    if not can_review_nationally(user, candidature):
        raise PermissionDenied(
            "Seuls les membres de la CNA, sans conflit d'intérêts, analysent une candidature "
            "transmise par sa région et pas encore décidée."
        )
    errors = {}
    if score is None or not (Decimal(0) <= score <= Decimal(100)):
        errors["score"] = "La note globale est comprise entre 0 et 100."
    if opinion not in Opinion.values:
        errors["opinion"] = "Choisissez un avis : favorable, réservé ou défavorable."
    if not (comment or "").strip():
        errors["comment"] = "Rédigez votre analyse : elle motive votre note pour toute la CNA."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        analysis, _ = NationalReview.objects.update_or_create(
            candidature=candidature,
            reviewer=user,
            defaults={
                "score": score,
                "opinion": opinion,
                "comment": comment.strip(),
                "motivation": (motivation or "").strip(),
            },
        )
    return analysis


# --- Figures per region (charts) -----------------------------------------------------------------


@dataclass
class RegionFigures:
    region: Region
    candidatures: int
    requested: Decimal
    scored: int
    minimum: Decimal | None
    q1: Decimal | None
    median: Decimal | None
    q3: Decimal | None
    maximum: Decimal | None
    mean: Decimal | None


class Quantile(Median):
    """``percentile_cont(q) WITHIN GROUP (ORDER BY …)``."""

    name = "Quantile"

    def __init__(self, expression, fraction, **extra):
        self.template = f"%(function)s({Decimal(fraction)}) WITHIN GROUP (ORDER BY %(expressions)s)"
        super().__init__(expression, **extra)


def region_figures(call, user) -> list[RegionFigures]:
    """Per region of the call: candidatures and requested amounts, and the distribution of the
    consolidated scores (min, quartiles, max, mean) — which shows the regions' severity. Two
    queries, over what the user may see, once per version of the call and user; regions without
    candidatures are left out."""
    return national_cache.remember(
        call.pk,
        f"figures:{national_cache.user_scope(user)}",
        lambda: _region_figures(call, user),
    )


def _region_figures(call, user) -> list[RegionFigures]:
    score = "regional_opinion__consolidated_score"
    quartile = DecimalField(max_digits=7, decimal_places=3)
    rows = (
        national_candidatures(call, user)
        .values("region_id")
        .annotate(
            n=Count("pk"),
            requested=Coalesce(Sum("requested_amount"), Value(Decimal(0)), output_field=MONEY),
            scored=Count(score),
            minimum=Min(score),
            q1=Cast(Quantile(score, "0.25"), quartile),
            median=Cast(Quantile(score, "0.5"), quartile),
            q3=Cast(Quantile(score, "0.75"), quartile),
            maximum=Max(score),
            mean=Avg(score, output_field=SCORE),
        )
        .order_by()
    )
    regions = Region.objects.in_bulk([row["region_id"] for row in rows])
    figures = [
        RegionFigures(
            region=regions[row["region_id"]],
            candidatures=row["n"],
            requested=row["requested"],
            scored=row["scored"],
            minimum=row["minimum"],
            q1=_cents(row["q1"]),
            median=_cents(row["median"]),
            q3=_cents(row["q3"]),
            maximum=row["maximum"],
            mean=_cents(row["mean"]),
        )
        for row in rows
    ]
    return sorted(figures, key=lambda f: f.region.name)


def _cents(value) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(Decimal("0.01"))
