"""Filters of the API lists: those of the dashboards (call, region, state, collegial opinion,
disagreement, rural / QPV priorities, PTCE name). An unknown value answers 400 naming the
field. Filtering on what the user may not read (an opinion, the reviewers' disagreement) keeps
only the rows where they may read it, so a filter never reveals it."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from ami.models import Call, Region
from candidatures.models import CandidatureState
from evaluation.models import DecisionOutcome, Opinion

NO_OPINION = "aucun"
BOOLEAN_CHOICES = [("true", "oui"), ("false", "non")]
BOOLEAN_SCHEMA = {"type": "string", "enum": ["true", "false"]}


def _boolean(value) -> bool:
    return value == "true"


class CandidatureFilter(django_filters.FilterSet):
    call = django_filters.ModelChoiceFilter(
        queryset=Call.objects.all(), to_field_name="slug", help_text="Identifiant de l'appel."
    )
    region = django_filters.ModelChoiceFilter(
        queryset=Region.objects.all(), help_text="Code INSEE de la région d'instruction."
    )
    state = django_filters.ChoiceFilter(choices=CandidatureState.choices, help_text="État.")
    opinion = django_filters.ChoiceFilter(
        choices=[*Opinion.choices, (NO_OPINION, "pas encore d'avis")],
        method="filter_opinion",
        help_text="Avis collégial régional (« aucun » : pas encore d'avis).",
    )
    disagreement = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES,
        method="filter_disagreement",
        help_text="Désaccord entre évaluateurs (écart au-delà du seuil de l'appel).",
    )
    rural = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_rural", help_text="Territoire rural."
    )
    qpv = django_filters.ChoiceFilter(
        choices=BOOLEAN_CHOICES, method="filter_qpv", help_text="Quartier prioritaire."
    )
    q = django_filters.CharFilter(
        field_name="ptce__name", lookup_expr="icontains", help_text="Nom du PTCE (contient)."
    )

    def filter_opinion(self, queryset, name, value):
        queryset = queryset.filter(sees_opinion=True)
        if value == NO_OPINION:
            return queryset.filter(regional_opinion__isnull=True)
        return queryset.filter(regional_opinion__opinion=value)

    @extend_schema_field(BOOLEAN_SCHEMA)
    def filter_disagreement(self, queryset, name, value):
        queryset = queryset.filter(sees_reviews=True)
        if _boolean(value):
            return queryset.filter(disagreement=True)
        return queryset.filter(Q(disagreement=False) | Q(disagreement__isnull=True))

    def filter_rural(self, queryset, name, value):
        return queryset.filter(is_rural=_boolean(value))

    def filter_qpv(self, queryset, name, value):
        return queryset.filter(in_qpv=_boolean(value))


class _ByCandidature(django_filters.FilterSet):
    call = django_filters.ModelChoiceFilter(
        field_name="candidature__call",
        queryset=Call.objects.all(),
        to_field_name="slug",
        help_text="Identifiant de l'appel.",
    )
    region = django_filters.ModelChoiceFilter(
        field_name="candidature__region",
        queryset=Region.objects.all(),
        help_text="Code INSEE de la région d'instruction.",
    )


class OpinionFilter(_ByCandidature):
    opinion = django_filters.ChoiceFilter(choices=Opinion.choices, help_text="Avis.")


class DecisionFilter(_ByCandidature):
    outcome = django_filters.ChoiceFilter(choices=DecisionOutcome.choices, help_text="Décision.")
