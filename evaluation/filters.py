"""Filters and sorting of the instruction lists (django-filter)."""

import django_filters
from django import forms
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Concat

from accounts.models import User
from ami.models import Department, Region, SearchName
from candidatures.models import CandidatureState

from .consolidation import HIDDEN_STATES
from .models import DecisionOutcome, Opinion
from .worklists import assigned_to

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


class CriteriaForm(forms.Form):
    """The form of a list's filters: every criterion may be left empty, so no label says
    « (facultatif) » (read by ``ami_forms.is_optional``)."""

    mark_optional = False


class CriteriaFilterSet(django_filters.FilterSet):
    class Meta:
        form = CriteriaForm


SEARCH = forms.TextInput(attrs={"type": "search"})


class ConsolidationFilter(CriteriaFilterSet):
    """Filters of the consolidation list; the queryset must come from
    ``consolidation.with_consolidation`` (statistics and opinion fields annotated)."""

    q = django_filters.CharFilter(
        field_name="ptce__name", lookup_expr="icontains", label="Nom du PTCE", widget=SEARCH
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


class TerritoryFlagsFilterSet(CriteriaFilterSet):
    """The « territoire rural » and « QPV » filters, shared by the national dashboard and the
    cell's home."""

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

    def filter_rural(self, queryset, name, value):
        return _yes_no(queryset, "is_rural", value)

    def filter_qpv(self, queryset, name, value):
        return _yes_no(queryset, "in_qpv", value)


class NationalFilter(ConsolidationFilter, TerritoryFlagsFilterSet):
    """Filters of the national dashboard; the queryset comes from ``national.with_national``."""

    region = django_filters.ModelChoiceFilter(
        field_name="region",
        label="Région",
        empty_label="Toutes",
        queryset=Region.objects.order_by("name"),
    )
    decision = django_filters.ChoiceFilter(
        label="Décision",
        empty_label="Toutes",
        choices=[*DecisionOutcome.choices, (NO_DECISION, "pas encore de décision")],
        method="filter_decision",
    )
    tri = NullsLastOrderingFilter(fields=NATIONAL_SORTS, label="Trier par")

    def filter_decision(self, queryset, name, value):
        if value == NO_DECISION:
            return queryset.filter(decision__isnull=True)
        return queryset.filter(decision__outcome=value)


# Sort keys of the cell's home (?tri=echeance); the queryset comes from
# ``worklists.cell_candidatures``.
CELL_HOME_SORTS = (
    ("sort_name", "nom"),
    ("ptce__seat_commune__department__code", "departement"),
    ("state", "etat"),
    ("reviews_submitted", "evaluations"),
    ("complements_due_at", "complements"),
    ("submitted_at", "depot"),
)


def search_key(*fields):
    """The searched form of ``fields`` put together (``SearchName``: lower case, no accents,
    punctuation as spaces), so that « reunion » finds « Réunion »."""
    parts = []
    for field in fields:
        parts += [Coalesce(field, Value("")), Value(" ")]
    return SearchName(Concat(*parts))


class CellHomeFilter(TerritoryFlagsFilterSet):
    """Search, filters and sort of a regional cell's worklist. ``cell`` gives the choices of
    evaluators (its members) and départements (its region's)."""

    q = django_filters.CharFilter(
        label="Rechercher (PTCE, projet ou numéro de dépôt)",
        help_text="Accents et majuscules indifférents",
        method="filter_search",
        widget=SEARCH,
    )
    etat = django_filters.ChoiceFilter(
        field_name="state",
        label="État",
        empty_label="Tous",
        choices=[
            (v, label) for v, label in CandidatureState.choices if v != CandidatureState.DRAFT
        ],
    )
    evaluateur = django_filters.ModelChoiceFilter(
        label="Évaluateur",
        empty_label="Tous",
        queryset=User.objects.none(),
        method="filter_evaluator",
    )
    departement = django_filters.ModelChoiceFilter(
        field_name="ptce__seat_commune__department",
        label="Département",
        empty_label="Tous",
        queryset=Department.objects.none(),
    )
    tri = NullsLastOrderingFilter(fields=CELL_HOME_SORTS, label="Trier par")

    def __init__(self, data=None, *args, cell, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.filters["evaluateur"].queryset = User.objects.filter(
            regional_memberships__cell=cell
        ).order_by("last_name", "first_name", "email")
        self.filters["evaluateur"].field.label_from_instance = _member_label
        self.filters["departement"].queryset = Department.objects.filter(
            region=cell.region_id
        ).order_by("code")
        self.filters["departement"].field.label_from_instance = _department_label

    def filter_search(self, queryset, name, value):
        if not value.strip():
            return queryset
        return queryset.alias(search=search_key("ptce__name", "title", "receipt_number")).filter(
            search__contains=SearchName(Value(value))
        )

    def filter_evaluator(self, queryset, name, value):
        return assigned_to(queryset, value)


def _member_label(user) -> str:
    return user.get_full_name() or user.email


def _department_label(department) -> str:
    return f"{department.code} – {department.name}"
