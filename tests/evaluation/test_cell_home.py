"""The regional cell's home as a worklist (issue 17, item 3): accent-insensitive search,
filters (state, evaluator, département, rural, QPV), sort, due dates, each member's progress,
actions offered only when the phase allows them, and a query count that does not grow."""

import copy
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalCell, RegionalRole
from ami.models import Call, Commune, Phase
from candidatures.models import Candidature, CandidatureState, ComplementRequest
from evaluation.models import Assignment, Review, ReviewState
from tests import factories as f
from tests.shared import built_once

pytestmark = pytest.mark.django_db

S = CandidatureState


def _build():
    call = f.CallFactory()
    region = f.region("11")
    cell = f.RegionalCellFactory(call=call, region=region)
    coordinator = f.RegionalMembershipFactory(
        cell=cell, role=RegionalRole.COORDINATOR, user__first_name="Claire", user__last_name="Coord"
    ).user
    alice = f.RegionalMembershipFactory(
        cell=cell, user__first_name="Alice", user__last_name="Aubert"
    ).user
    bruno = f.RegionalMembershipFactory(
        cell=cell, user__first_name="Bruno", user__last_name="Berger"
    ).user
    paris = Commune.objects.get_or_create(
        code="75056", defaults={"name": "Paris", "department_id": "75"}
    )[0]
    evry = Commune.objects.get_or_create(
        code="91228", defaults={"name": "Évry-Courcouronnes", "department_id": "91"}
    )[0]
    now = timezone.now()

    def make(name, state, commune=None, **fields):
        ptce = f.PtceFactory(name=name, region=region, seat_commune=commune)
        candidature = f.CandidatureFactory(
            ptce=ptce, call=call, state=state, submitted_at=now, **fields
        )
        candidature.receipt_number = f"PTCE-{call.year}-{candidature.pk:06d}"
        candidature.save(update_fields=["receipt_number"])
        return candidature

    rows = {
        "reunion": make("Réunion des Savoirs", S.SUBMITTED, paris, is_rural=True),
        "eclat": make("Éclat solidaire", S.ADMISSIBLE, evry, in_qpv=True),
        "zephyr": make("Zéphyr", S.ADMISSIBLE, paris),
        "attente": make("Atelier en attente", S.COMPLEMENTS_REQUESTED, evry),
        "refus": make("Refusée", S.INADMISSIBLE),
    }
    # Region B and drafts stay out of the list.
    make("Ailleurs", S.SUBMITTED).__class__.objects.filter(ptce__name="Ailleurs").update(
        region=f.region("53")
    )
    f.CandidatureFactory(ptce=f.PtceFactory(name="Brouillon", region=region), call=call)
    ComplementRequest.objects.create(
        candidature=rows["attente"],
        message="Les statuts signés.",
        fields=["title"],
        due_at=now - timedelta(days=1),  # overdue
        requested_by=coordinator,
    )
    for candidature in (rows["eclat"], rows["zephyr"]):
        Assignment.objects.create(candidature=candidature, evaluator=alice, assigned_by=coordinator)
    Assignment.objects.create(candidature=rows["eclat"], evaluator=bruno, assigned_by=coordinator)
    Review.objects.create(
        candidature=rows["eclat"], evaluator=alice, state=ReviewState.SUBMITTED, submitted_at=now
    )
    return {
        "call": call,
        "cell": cell,
        "coordinator": coordinator,
        "alice": alice,
        "bruno": bruno,
        "rows": rows,
    }


@pytest.fixture(scope="module")
def _edition(django_db_setup, django_db_blocker):
    yield from built_once(django_db_blocker, _build)


@pytest.fixture
def edition(_edition, db, client):
    edition = copy.deepcopy(_edition)
    client.force_login(edition["coordinator"])
    return edition


def home(client, edition, **params):
    response = client.get(reverse("cell_home", args=[edition["cell"].pk]), params)
    assert response.status_code == 200
    return response


def names(client, edition, **params):
    return [row.ptce.name for row in home(client, edition, **params).context["rows"]]


# --- Search and filters ---------------------------------------------------------------------


def test_every_candidature_past_submission_is_listed_by_name(client, edition):
    assert names(client, edition) == [
        "Atelier en attente",
        "Éclat solidaire",
        "Refusée",
        "Réunion des Savoirs",
        "Zéphyr",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reunion", ["Réunion des Savoirs"]),
        ("RÉUNION", ["Réunion des Savoirs"]),
        ("savoirs", ["Réunion des Savoirs"]),
        ("eclat", ["Éclat solidaire"]),
        ("zephyr", ["Zéphyr"]),
        ("introuvable", []),
    ],
)
def test_search_ignores_accents_and_case(client, edition, text, expected):
    assert names(client, edition, q=text) == expected


def test_search_finds_a_receipt_number(client, edition):
    number = edition["rows"]["zephyr"].receipt_number
    assert names(client, edition, q=number) == ["Zéphyr"]


def test_filters(client, edition):
    assert names(client, edition, etat=S.ADMISSIBLE) == ["Éclat solidaire", "Zéphyr"]
    assert names(client, edition, evaluateur=edition["alice"].pk) == [
        "Éclat solidaire",
        "Zéphyr",
    ]
    assert names(client, edition, evaluateur=edition["bruno"].pk) == ["Éclat solidaire"]
    assert names(client, edition, departement="91") == ["Atelier en attente", "Éclat solidaire"]
    assert names(client, edition, rural="oui") == ["Réunion des Savoirs"]
    assert names(client, edition, qpv="oui") == ["Éclat solidaire"]
    assert "Éclat solidaire" not in names(client, edition, qpv="non")
    assert names(client, edition, q="e", etat=S.ADMISSIBLE, departement="75") == ["Zéphyr"]


def test_filter_choices_are_the_cell_s_own(client, edition):
    form = home(client, edition).context["form"]
    evaluators = [label for _value, label in form.fields["evaluateur"].choices][1:]
    assert evaluators == ["Alice Aubert", "Bruno Berger", "Claire Coord"]
    departments = [str(label) for _value, label in form.fields["departement"].choices][1:]
    assert departments[0] == "75 – Paris"
    assert "35 – Ille-et-Vilaine" not in departments  # not in the cell's region


# --- Sort -----------------------------------------------------------------------------------


def test_sort_by_name_descending_and_by_reviews(client, edition):
    assert names(client, edition, tri="-nom")[0] == "Zéphyr"
    by_reviews = names(client, edition, tri="-evaluations")
    assert by_reviews[0] == "Éclat solidaire"  # the one review submitted
    page = home(client, edition, tri="-evaluations", etat=S.ADMISSIBLE).content.decode()
    assert 'aria-sort="descending"' in page
    assert "etat=admissible" in page  # the filters are kept in the sort links


# --- Due dates, progress, actions -------------------------------------------------------------


def test_rows_show_progress_and_due_dates(client, edition):
    response = home(client, edition)
    rows = {row.ptce.name: row for row in response.context["rows"]}
    assert (
        rows["Éclat solidaire"].reviews_submitted,
        rows["Éclat solidaire"].reviews_assigned,
    ) == (
        1,
        2,
    )
    assert (rows["Zéphyr"].reviews_submitted, rows["Zéphyr"].reviews_assigned) == (0, 1)
    assert rows["Zéphyr"].due_at == edition["call"].regional_review_deadline
    assert rows["Atelier en attente"].overdue
    assert rows["Refusée"].due_at is None
    page = response.content.decode()
    assert "Compléments attendus avant le" in page
    assert "dépassée" in page
    assert timezone.localtime(edition["call"].regional_review_deadline).strftime("%d/%m/%Y") in page


def test_each_member_s_progress(client, edition):
    members = {
        m.user.get_full_name(): (m.submitted, m.assigned)
        for m in home(client, edition).context["members"]
    }
    assert members == {"Alice Aubert": (1, 2), "Bruno Berger": (0, 1), "Claire Coord": (0, 0)}


def test_actions_follow_the_phase_and_the_state(client, edition):
    rows = edition["rows"]
    page = home(client, edition).content.decode()
    assert reverse("admissibility", args=[rows["reunion"].pk]) in page
    assert reverse("regional_opinion", args=[rows["zephyr"].pk]) in page
    assert reverse("admissibility", args=[rows["zephyr"].pk]) not in page  # already decided
    assert reverse("complements_request", args=[rows["refus"].pk]) not in page
    assert "Attribuer les candidatures recevables" in page
    Call.objects.filter(pk=edition["call"].pk).update(phase=Phase.NATIONAL_REVIEW)
    page = home(client, edition).content.decode()
    for action in ("admissibility", "complements_request", "regional_opinion"):
        for candidature in rows.values():
            assert reverse(action, args=[candidature.pk]) not in page
    assert "Attribuer les candidatures recevables" not in page
    assert "la cellule régionale ne décide" in page


def test_a_conflicted_candidature_is_hidden_from_the_coordinator(client, edition):
    from evaluation.models import ConflictOfInterest, ConflictSource, ConflictStatus

    ConflictOfInterest.objects.create(
        candidature=edition["rows"]["zephyr"],
        evaluator=edition["coordinator"],
        source=ConflictSource.DECLARED,
        status=ConflictStatus.CONFIRMED,
        reason="Administrateur du PTCE.",
    )
    assert "Zéphyr" not in names(client, edition)
    assert names(client, edition, q="zephyr") == []


# --- Query count ------------------------------------------------------------------------------


def test_query_count_is_the_same_for_2_and_50_candidatures(client, edition):
    cell = RegionalCell.objects.get(pk=edition["cell"].pk)
    Candidature.objects.filter(call=edition["call"]).delete()
    url = reverse("cell_home", args=[cell.pk])
    params = {"q": "ptce", "etat": S.ADMISSIBLE, "tri": "-evaluations"}

    def add(n):
        for _ in range(n):
            candidature = f.CandidatureFactory(
                call=edition["call"],
                ptce=f.PtceFactory(region=cell.region, seat_commune_id="75056"),
                state=S.ADMISSIBLE,
                submitted_at=timezone.now(),
            )
            Assignment.objects.create(
                candidature=candidature,
                evaluator=edition["alice"],
                assigned_by=edition["coordinator"],
            )
            Review.objects.create(
                candidature=candidature,
                evaluator=edition["alice"],
                state=ReviewState.SUBMITTED,
                submitted_at=timezone.now(),
            )

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert response.status_code == 200
        return len(queries), len(response.context["rows"])

    add(2)
    small, shown = count()
    assert shown == 2
    add(48)
    large, shown = count()
    assert shown == 50
    assert large == small
