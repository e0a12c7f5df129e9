"""National review: normalisation, the dashboard, the CNA's analyses, the assistant's scenarios."""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ami.models import Phase
from evaluation import national, scenarios
from evaluation.models import ConflictOfInterest, NationalReview, Opinion, SelectionScenario
from tests import factories as f

from .national_helpers import handed_over_candidature, national_edition

pytestmark = pytest.mark.django_db


def _rows(edition, user=None):
    return {row.pk: row for row in national.national_rows(edition.call, user or edition.member)}


# --- Normalisation ---------------------------------------------------------------------------


def test_normalised_score_hand_computed():
    # Region 11: 60, 70, 80 → mean 70, population deviation √(200/3) = 8.1650.
    # (80 − 70) / 8.1650 = 1.2247 → 50 + 12.247 = 62.25; 60 → 37.75; 70 → 50.
    edition = national_edition({"11": [60, 70, 80], "53": [55]})
    rows = _rows(edition)
    low, mid, high, alone = edition.candidatures
    assert rows[high.pk].normalised_score == Decimal("62.25")
    assert rows[mid.pk].normalised_score == Decimal("50.00")
    assert rows[low.pk].normalised_score == Decimal("37.75")
    # A region with one candidature (no spread) sits at the mean.
    assert rows[alone.pk].normalised_score == Decimal("50.00")
    # The assistant's normalised scores are the dashboard's.
    from evaluation import scenarios

    assistant = {c.key: c.score for c in scenarios.candidates(edition.call, "normalised")}
    assert assistant[high.pk] == Decimal("62.25") and assistant[alone.pk] == Decimal("50.00")


def test_severe_region_gets_the_same_normalised_ranking():
    """Evaluators of region 53 score every candidature 2 points lower than those of region 11
    score identical ones: the normalised scores, hence the ranking, are the same."""
    scores = [52.5, 61, 64.25, 70, 78.5, 83]
    edition = national_edition({"11": scores, "53": [s - 2 for s in scores]})
    rows = _rows(edition)
    lenient = edition.candidatures[: len(scores)]
    severe = edition.candidatures[len(scores) :]
    for a, b in zip(lenient, severe, strict=True):
        assert rows[a.pk].normalised_score == rows[b.pk].normalised_score
        assert rows[a.pk].collegial_score - rows[b.pk].collegial_score == Decimal("2")
    ordered = list(
        national.national_rows(edition.call, edition.member).order_by("-normalised_score", "pk")
    )
    # Pairs (lenient, severe) come out side by side, in the order of the scores.
    by_pair = [
        (scores.index(float(row.collegial_score) + (2 if row.pk in {c.pk for c in severe} else 0)))
        for row in ordered
    ]
    assert by_pair == sorted(by_pair, reverse=True)


def test_no_normalised_score_without_an_opinion():
    """Even in a region without spread, where every opinion sits at 50."""
    edition = national_edition({"11": [60, 70], "53": [55]})
    for code in ("11", "53"):
        waiting = f.CandidatureFactory(
            ptce=f.PtceFactory(region=f.region(code)),
            call=edition.call,
            state="admissible",
            submitted_at=edition.call.closes_at,
        )
        rows = _rows(edition)
        assert rows[waiting.pk].normalised_score is None
    assert rows[edition.candidatures[2].pk].normalised_score == Decimal("50.00")


def test_normalisation_ignores_filters():
    """The normalised score is computed against the whole region, not the filtered rows."""
    edition = national_edition({"11": [60, 70, 80]})
    high = edition.candidatures[2]
    filtered = national.national_rows(edition.call, edition.member).filter(pk=high.pk).get()
    assert filtered.normalised_score == Decimal("62.25")


# --- Dashboard ---------------------------------------------------------------------------------


def test_dashboard_lists_filters_and_sorts(client):
    edition = national_edition({"11": [60, 70, 80], "53": [55]})
    rural = edition.candidatures[0]
    rural.is_rural = True
    rural.save(update_fields=["is_rural"])
    client.force_login(edition.member)
    url = reverse("national_dashboard", args=[edition.call.pk])
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    for candidature in edition.candidatures:
        assert candidature.ptce.name in page
    # Charts come with their data table.
    assert "Données des graphiques par région" in page
    assert "Bretagne" in page and "Île-de-France" in page
    # Each chart draws every region's name beside its bar, and its value.
    charts = re.findall(r'<figure class="fr-m-0 ami-chart".*?</figure>', page, re.S)
    assert len(charts) == 3
    rows = [
        re.findall(
            r'ami-chart__label">([^<]+)</span><svg.*?</svg><span class="ami-chart__value">([^<]+)<',
            chart,
        )
        for chart in charts
    ]
    regions = {"Bretagne", "Île-de-France"}
    assert all({name for name, _ in chart_rows} == regions for chart_rows in rows), rows
    counts, amounts, medians = (dict(chart_rows) for chart_rows in rows)
    assert counts == {"Île-de-France": "3", "Bretagne": "1"}
    assert medians["Île-de-France"] == "70,0" and medians["Bretagne"] == "55,0"
    assert all(amount.endswith("€") for amount in amounts.values())

    rows = client.get(url, {"rural": "oui"}).context["rows"]
    assert [row.pk for row in rows] == [rural.pk]
    rows = client.get(url, {"region": "53"}).context["rows"]
    assert [row.pk for row in rows] == [edition.candidatures[3].pk]
    rows = client.get(url, {"tri": "-note"}).context["rows"]
    assert [row.collegial_score for row in rows] == [80, 70, 60, 55]
    rows = client.get(url, {"tri": "normalisee"}).context["rows"]
    assert rows[0].pk == edition.candidatures[0].pk


def test_dashboard_query_count_does_not_grow():
    def count(n):
        edition = national_edition({"11": [50 + i for i in range(n)]})
        from django.test import Client

        client = Client()
        client.force_login(edition.member)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(reverse("national_dashboard", args=[edition.call.pk]))
        assert response.status_code == 200
        return len(queries)

    assert count(2) == count(50)


def test_dashboard_hides_conflicted_candidatures(client):
    edition = national_edition({"11": [60, 70]})
    conflicted = edition.candidatures[0]
    ConflictOfInterest.objects.create(
        candidature=conflicted, evaluator=edition.member, source="declared", reason="Associé."
    )
    client.force_login(edition.member)
    response = client.get(reverse("national_dashboard", args=[edition.call.pk]))
    assert conflicted.ptce.name not in response.content.decode()
    response = client.get(reverse("national_candidature", args=[conflicted.pk]))
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["anonymous", "applicant", "coordinator", "member", "staff"])
def test_dashboard_access(client, role):
    edition = national_edition({"11": [60]})
    users = {
        "anonymous": None,
        "applicant": edition.applicants[edition.candidatures[0].pk],
        "coordinator": edition.coordinators["11"],
        "member": edition.member,
        "staff": f.UserFactory(is_staff=True),
    }
    if users[role]:
        client.force_login(users[role])
    response = client.get(reverse("national_dashboard", args=[edition.call.pk]))
    expected = {"anonymous": 302, "applicant": 404, "coordinator": 404}.get(role, 200)
    assert response.status_code == expected


# --- The CNA's analyses ---------------------------------------------------------------------


def test_member_writes_an_analysis_visible_to_the_whole_cna(client):
    edition = national_edition({"11": [60]})
    candidature = edition.candidatures[0]
    url = reverse("national_candidature", args=[candidature.pk])
    client.force_login(edition.member)
    response = client.post(
        url, {"score": "72,5", "opinion": Opinion.FAVORABLE, "comment": "Projet structurant."}
    )
    assert response.status_code == 302
    analysis = NationalReview.objects.get()
    assert analysis.score == Decimal("72.5") and analysis.reviewer == edition.member
    # Rewriting keeps one analysis per member.
    client.post(url, {"score": "70", "opinion": Opinion.RESERVED, "comment": "Réserve."})
    assert NationalReview.objects.get().opinion == Opinion.RESERVED

    client.force_login(edition.admin)
    page = client.get(url).content.decode()
    assert "Réserve." in page and str(edition.member) in page
    row = national.national_rows(edition.call, edition.admin).get()
    assert row.national_count == 1 and row.national_mean == Decimal("70")


def test_analysis_errors_are_french(client):
    edition = national_edition({"11": [60]})
    client.force_login(edition.member)
    response = client.post(
        reverse("national_candidature", args=[edition.candidatures[0].pk]),
        {"score": "140", "opinion": "", "comment": ""},
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "opinion" in errors and "comment" in errors and "score" in errors
    assert NationalReview.objects.count() == 0


def test_staff_reads_but_does_not_write_analyses(client):
    edition = national_edition({"11": [60]})
    client.force_login(f.UserFactory(is_staff=True))
    url = reverse("national_candidature", args=[edition.candidatures[0].pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"score": "70", "opinion": "favorable", "comment": "x"})
    assert response.status_code == 403
    assert NationalReview.objects.count() == 0


# --- Assistant and scenarios ----------------------------------------------------------------


def test_assistant_saves_a_scenario_with_explanations(client):
    edition = national_edition(
        {"11": [80, 70, 60], "53": [75]}, envelope=Decimal("100000"), max_amount=Decimal("50000")
    )
    client.force_login(edition.member)
    response = client.post(
        reverse("selection_assistant", args=[edition.call.pk]),
        {"name": "Enveloppe seule", "basis": "raw", "funding_floor": "100"},
    )
    scenario = SelectionScenario.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("scenario_detail", args=[scenario.pk])
    assert scenario.feasible and scenario.total_granted == Decimal("100000")
    selected = {line.candidature_id for line in scenario.lines.filter(selected=True)}
    best, _, _, second = edition.candidatures
    assert selected == {best.pk, second.pk}
    assert all(line.explanation for line in scenario.lines.all())
    page = client.get(response["Location"]).content.decode()
    assert "Enveloppe seule" in page and best.ptce.name in page

    # Same name twice: a French error, not a crash.
    response = client.post(
        reverse("selection_assistant", args=[edition.call.pk]),
        {"name": "Enveloppe seule", "basis": "raw", "funding_floor": "100"},
    )
    assert response.status_code == 200
    assert "existe" in str(response.context["form"].errors) or "déjà" in str(
        response.context["form"].errors
    )


def test_infeasible_constraints_give_a_message(client):
    edition = national_edition({"11": [80, 70]}, envelope=Decimal("60000"))
    client.force_login(edition.member)
    response = client.post(
        reverse("selection_assistant", args=[edition.call.pk]),
        {
            "name": "Trop",
            "basis": "raw",
            "funding_floor": "100",
            "forced_in": [str(c.pk) for c in edition.candidatures],
        },
        follow=True,
    )
    scenario = SelectionScenario.objects.get()
    assert not scenario.feasible and scenario.message
    assert "contraintes ne peuvent pas toutes être tenues" in response.content.decode()


def test_normalised_basis_favours_the_best_of_a_severe_region():
    # Region 53 scores severely: its best (62) is far above its mean; region 11's 70 is average.
    edition = national_edition(
        {"11": [70, 72, 68], "53": [62, 40, 42]},
        envelope=Decimal("50000"),
        max_amount=Decimal("50000"),
    )
    params = scenarios.Parameters(basis="normalised")
    proposal = scenarios.run(edition.call, edition.member, params)
    chosen = [line.key for line in proposal.lines if line.selected]
    assert chosen == [edition.candidatures[3].pk]
    raw = scenarios.run(edition.call, edition.member, scenarios.Parameters(basis="raw"))
    assert [line.key for line in raw.lines if line.selected] == [edition.candidatures[1].pk]


def test_compare_scenarios_side_by_side(client):
    edition = national_edition({"11": [80, 70, 60]}, envelope=Decimal("100000"))
    one = scenarios.save(edition.call, edition.member, "A", scenarios.Parameters(basis="raw"))
    other = scenarios.save(
        edition.call,
        edition.member,
        "B",
        scenarios.Parameters(basis="raw", forced_out=[edition.candidatures[0].pk]),
    )
    client.force_login(edition.admin)
    response = client.get(
        reverse("scenario_list", args=[edition.call.pk]), {"comparer": [one.pk, other.pk]}
    )
    compared = response.context["compared"]
    names = [row.candidature.ptce.name for row in compared]
    assert edition.candidatures[0].ptce.name in names
    first = next(r for r in compared if r.candidature.pk == edition.candidatures[0].pk)
    assert first.differs
    assert first.lines[0].selected and not first.lines[1].selected
    page = response.content.decode()  # the boxes: a fieldset drawn by the one field template
    assert '<fieldset class="fr-fieldset" id="id_comparer"' in page
    assert f'name="comparer" value="{one.pk}" id="id_comparer_0" checked' in page


def test_scenarios_are_for_cna_members_only(client):
    edition = national_edition({"11": [80]})
    coordinator = edition.coordinators["11"]
    client.force_login(coordinator)
    assert client.get(reverse("selection_assistant", args=[edition.call.pk])).status_code == 404
    staff = f.UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("selection_assistant", args=[edition.call.pk])).status_code == 404
    assert client.get(reverse("scenario_list", args=[edition.call.pk])).status_code == 200


def test_territory_flags_frozen_at_submission():
    from candidatures.submission import territory_flags

    from ..candidatures.helpers import commune

    region = f.region("11")
    ptce = f.PtceFactory(region=region)
    rural_a = commune("01001", "Village A", "01", "84", density=4)
    rural_b = commune("01002", "Village B", "01", "84", density=3)
    city = commune("75056", "Paris", "75", "11", density=1)
    ptce.territory_communes.set([rural_a, rural_b, city])
    assert territory_flags(ptce) == (True, False)
    from ami.models import Qpv

    qpv = Qpv.objects.create(code="QN07501M", name="Quartier")
    qpv.communes.add(city)
    assert territory_flags(ptce) == (True, True)
    ptce.territory_communes.set([city])
    assert territory_flags(ptce) == (False, True)


def test_deliberation_requires_national_review_phase(client):
    edition = national_edition({"11": [80]})
    edition.call.phase = Phase.REGIONAL_REVIEW
    edition.call.save()
    client.force_login(edition.member)
    response = client.get(reverse("deliberation", args=[edition.call.pk]))
    assert response.status_code == 200
    assert "phase d'instruction nationale" in response.content.decode()


def test_new_handed_over_candidature_joins_an_open_deliberation():
    from evaluation import deliberation

    edition = national_edition({"11": [80]})
    session = deliberation.open_deliberation(
        edition.call,
        edition.admin,
        held_on="2026-11-20",
        members_present=[edition.admin],
    )
    late = handed_over_candidature(edition.call, f.region("11"), score=65)
    assert deliberation.sync_lines(session) == 1
    assert session.lines.filter(candidature=late).exists()


def test_dashboard_before_any_regional_opinion(client):
    """No region has scored yet: the normalised score is empty, and sorting on it works."""
    call = f.CallFactory(phase=Phase.NATIONAL_REVIEW)
    member = f.NationalMembershipFactory(cell=f.NationalCellFactory(call=call)).user
    f.CandidatureFactory(call=call, state="submitted", submitted_at=call.opens_at)
    client.force_login(member)
    url = reverse("national_dashboard", args=[call.pk])
    for params in ({}, {"tri": "-normalisee"}):
        response = client.get(url, params)
        assert response.status_code == 200
        assert [row.normalised_score for row in response.context["rows"]] == [None]
