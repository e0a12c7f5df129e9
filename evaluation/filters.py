"""Filters and sorting of the instruction lists (django-filter)."""

import django_filters
from django.db.models import F, Q

from ami.models import Region
from candidatures.models import CandidatureState

from .consolidation import HIDDEN_STATES
from .models import DecisionOutcome, Opinion

NO_OPINION = "aucun"
YES, NO = "oui", "non"


class NullsLastOrderingFilter(django_filters.OrderingFilter):
    """``OrderingFilter`` whose empty values (no review yet, no rank) always come last, with the
    primary key as the last key so that pages are stable."""

    def filter(self, qs, value):
        if not value:
            return qs
        ordering = []
        for param in value:
            if not param:
                continue
            name = self.get_ordering_value(param)
            descending = name.startswith("-")
            expression = F(name.lstrip("-"))
            ordering.append(
                expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
            )
        return qs.order_by(*ordering, "pk") if ordering else qs


# Sort keys of the consolidation list, as they appear in the address (?tri=-moyenne).
CONSOLIDATION_SORTS = (
    ("ptce__name", "nom"),
    ("review_count", "evaluations"),
    ("score_mean", "moyenne"),
    ("score_median", "mediane"),
    ("score_spread", "ecart"),
    ("collegial_rank", "rang"),
)


class ConsolidationFilter(django_filters.FilterSet):
    """Filters of the consolidation list; the queryset must come from
    ``consolidation.with_consolidation`` (statistics and opinion fields annotated)."""

    q = django_filters.CharFilter(
        field_name="ptce__name", lookup_expr="icontains", label="Nom du PTCE"
    )
    state = django_filters.ChoiceFilter(
        field_name="state",
        label="État",
        empty_label="Tous",
        choices=[(v, label) for v, label in CandidatureState.choices if v not in HIDDEN_STATES],
    )
    disagreement = django_filters.ChoiceFilter(
        label="Désaccord entre évaluateurs",
        empty_label="Tous",
        choices=[(YES, "oui"), (NO, "non")],
        method="filter_disagreement",
    )
    opinion = django_filters.ChoiceFilter(
        label="Avis collégial",
        empty_label="Tous",
        choices=[*Opinion.choices, (NO_OPINION, "pas encore d'avis")],
        method="filter_opinion",
    )
    tri = NullsLastOrderingFilter(fields=CONSOLIDATION_SORTS, label="Trier par")

    def filter_disagreement(self, queryset, name, value):
        if value == YES:
            return queryset.filter(disagreement=True)
        # No review yet (no spread) counts as no disagreement.
        return queryset.filter(Q(disagreement=False) | Q(disagreement__isnull=True))

    def filter_opinion(self, queryset, name, value):
        if value == NO_OPINION:
            return queryset.filter(regional_opinion__isnull=True)
        return queryset.filter(regional_opinion__opinion=value)


# Sort keys of the national dashboard (?tri=-normalisee).
NATIONAL_SORTS = (
    ("ptce__name", "nom"),
    ("region__name", "region"),
    ("requested_amount", "montant"),
    ("collegial_score", "note"),
    ("normalised_score", "normalisee"),
    ("score_spread", "ecart"),
    ("national_mean", "cna"),
    ("collegial_rank", "rang"),
)
NO_DECISION = "aucune"


def _yes_no(queryset, field, value):
    if value == YES:
        return queryset.filter(**{field: True})
    if value == NO:
        return queryset.filter(**{field: False})
    return queryset


class NationalFilter(ConsolidationFilter):
    """Filters of the national dashboard; the queryset comes from ``national.with_national``."""

    region = django_filters.ModelChoiceFilter(
        field_name="region",
        label="Région",
        empty_label="Toutes",
        queryset=Region.objects.order_by("name"),
    )
    rural = django_filters.ChoiceFilter(
        label="Territoire rural",
        empty_label="Tous",
        choices=[(YES, "oui"), (NO, "non")],
        method="filter_rural",
    )
    qpv = django_filters.ChoiceFilter(
        label="Quartier prioritaire (QPV)",
        empty_label="Tous",
        choices=[(YES, "oui"), (NO, "non")],
        method="filter_qpv",
    )
    decision = django_filters.ChoiceFilter(
        label="Décision",
        empty_label="Toutes",
        choices=[*DecisionOutcome.choices, (NO_DECISION, "pas encore de décision")],
        method="filter_decision",
    )
    tri = NullsLastOrderingFilter(fields=NATIONAL_SORTS, label="Trier par")

    def filter_rural(self, queryset, name, value):
        return _yes_no(queryset, "is_rural", value)

    def filter_qpv(self, queryset, name, value):
        return _yes_no(queryset, "in_qpv", value)

    def filter_decision(self, queryset, name, value):
        if value == NO_DECISION:
            return queryset.filter(decision__isnull=True)
        return queryset.filter(decision__outcome=value)
