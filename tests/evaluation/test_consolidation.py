"""Regional consolidation: the region's list (filters, sorting, a query count that does not grow),
the reviews side by side with the collegial opinion, the ranking, the hand-over to the CNA and
who may see and do what."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalCell, RegionalRole
from ami.models import OutboxMessage, Phase
from candidatures.models import Candidature, CandidatureEvent, CandidatureState, Ptce
from evaluation import consolidation
from evaluation.models import (
    ConflictOfInterest,
    ConflictSource,
    Opinion,
    RegionalOpinion,
    RegionHandover,
    Review,
    ReviewState,
)
from evaluation.permissions import can_edit_cell
from tests import factories as f
from tests.evaluation.test_scoring import NA, make_grid, make_review
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, assert_outcome, client_as

S = CandidatureState


# --- Builders -----------------------------------------------------------------------------------


def candidature(world, name, state=S.ADMISSIBLE, region=None, totals=(), **fields):
    """A candidature of the world's call past submission, with submitted reviews of the given
    totals (the grid is not needed for the statistics)."""
    ptce = f.PtceFactory(name=name, region=region or world.region_a)
    made = f.CandidatureFactory(
        ptce=ptce, call=world.call, state=state, submitted_at=timezone.now(), **fields
    )
    for total in totals:
        Review.objects.create(
            candidature=made,
            evaluator=f.UserFactory(),
            state=ReviewState.SUBMITTED,
            total=Decimal(total),
            submitted_at=timezone.now(),
        )
    return made


def opinion(candidature, score, rank=None, value=Opinion.FAVORABLE, author=None):
    return RegionalOpinion.objects.create(
        candidature=candidature,
        consolidated_score=Decimal(score),
        opinion=value,
        motivation="Motivation de la cellule.",
        rank=rank,
        written_by=author or f.UserFactory(),
    )


def close_submissions(call):
    call.phase = Phase.REGIONAL_REVIEW
    call.opens_at = timezone.now() - timedelta(days=40)
    call.closes_at = timezone.now() - timedelta(days=1)
    call.save()


@pytest.fixture
def cell(world):
    return RegionalCell.objects.get(call=world.call, region=world.region_a)


@pytest.fixture
def coordinator(world):
    return world.user("cra_coordinator")


@pytest.fixture
def region(world):
    """Alpha (ranked, favorable), Bravo (disagreement, no opinion), Charlie (complements, no
    review), the world's submitted candidature_a; a draft, a withdrawn one and region B's are
    out of the list."""
    alpha = candidature(world, "Alpha", totals=("60.00", "70.00"))
    opinion(alpha, "65.00", rank=1)
    bravo = candidature(world, "Bravo", totals=("20.00", "90.00"))
    charlie = candidature(world, "Charlie", state=S.COMPLEMENTS_REQUESTED)
    withdrawn = candidature(world, "Retirée", state=S.WITHDRAWN)
    return {"alpha": alpha, "bravo": bravo, "charlie": charlie, "withdrawn": withdrawn}


def list_url(cell, **params):
    url = reverse("consolidation_list", args=[cell.pk])
    if params:
        from urllib.parse import urlencode

        url += "?" + urlencode(params)
    return url


def listed(client, cell, **params):
    response = client.get(list_url(cell, **params))
    assert response.status_code == 200
    return [row.pk for row in response.context["rows"]]


# --- The list -----------------------------------------------------------------------------------


def test_list_rows_and_statistics(client, world, cell, coordinator, region):
    client.force_login(coordinator)
    response = client.get(list_url(cell))
    assert response.status_code == 200
    rows = {row.pk: row for row in response.context["rows"]}
    # Past submission only: no draft, no withdrawn one, nothing from region B.
    assert set(rows) == {
        region["alpha"].pk,
        region["bravo"].pk,
        region["charlie"].pk,
        world.candidature_a.pk,
    }
    alpha, bravo = rows[region["alpha"].pk], rows[region["bravo"].pk]
    assert alpha.review_count == 2
    assert alpha.score_mean == Decimal("65")
    assert alpha.score_spread == Decimal("10.00")
    assert not alpha.disagreement
    assert alpha.collegial_rank == 1
    assert alpha.collegial_score == Decimal("65.00")
    assert alpha.collegial_opinion_label == "favorable"
    assert bravo.disagreement is True  # 70 > 20
    assert bravo.collegial_opinion is None
    html = response.content.decode()
    assert "Désaccord" in html
    assert "compléments demandés" in html
    assert "50\u202f000\u00a0€" in html  # the requested amount in French
    assert "65,00" in html
    assert "<caption>" in html


def test_list_default_order_is_rank_then_mean(client, cell, coordinator, region, world):
    client.force_login(coordinator)
    assert listed(client, cell) == [
        region["alpha"].pk,  # ranked
        region["bravo"].pk,  # mean 55
        *sorted(
            [region["charlie"].pk, world.candidature_a.pk],
            key=lambda pk: Candidature.objects.get(pk=pk).ptce.name,
        ),
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"state": S.COMPLEMENTS_REQUESTED}, ["charlie"]),
        ({"state": S.ADMISSIBLE}, ["alpha", "bravo"]),
        ({"disagreement": "oui"}, ["bravo"]),
        ({"disagreement": "non"}, ["alpha", "charlie", "world"]),  # no review: no disagreement
        ({"opinion": Opinion.FAVORABLE}, ["alpha"]),
        ({"opinion": Opinion.UNFAVORABLE}, []),
        ({"opinion": "aucun"}, ["bravo", "charlie", "world"]),
        ({"q": "rav"}, ["bravo"]),
        ({"q": "CHARL"}, ["charlie"]),
        ({"state": S.ADMISSIBLE, "disagreement": "non"}, ["alpha"]),
    ],
)
def test_list_filters(client, world, cell, coordinator, region, params, expected):
    client.force_login(coordinator)
    names = {**region, "world": world.candidature_a}
    assert set(listed(client, cell, **params)) == {names[key].pk for key in expected}


def test_list_sorting(client, world, cell, coordinator, region):
    client.force_login(coordinator)
    delta = candidature(world, "Delta", totals=("80.00",)).pk
    alpha, bravo = region["alpha"].pk, region["bravo"].pk
    unreviewed = {region["charlie"].pk, world.candidature_a.pk}
    # Means: Delta 80, Alpha 65, Bravo 55; candidatures without reviews always last.
    by_mean_desc = listed(client, cell, tri="-moyenne")
    assert by_mean_desc[:3] == [delta, alpha, bravo]
    assert set(by_mean_desc[3:]) == unreviewed
    by_mean = listed(client, cell, tri="moyenne")
    assert by_mean[:3] == [bravo, alpha, delta]
    assert set(by_mean[3:]) == unreviewed
    assert listed(client, cell, tri="-ecart")[:3] == [bravo, alpha, delta]  # 70, 10, 0
    # Review counts 0, 0, 1, 2, 2: ties by primary key.
    assert listed(client, cell, tri="evaluations")[-3:] == [delta, alpha, bravo]
    assert listed(client, cell, tri="rang")[0] == alpha
    names = [Candidature.objects.get(pk=pk).ptce.name for pk in listed(client, cell, tri="nom")]
    assert names == sorted(names)
    assert listed(client, cell, tri="-nom")[-1] == alpha
    # The sort links of the header toggle the direction and keep the filters.
    response = client.get(list_url(cell, tri="moyenne", state=S.ADMISSIBLE))
    header = next(h for h in response.context["headers"] if h["label"] == "Moyenne")
    assert header["sort"] == "ascending"
    assert "tri=-moyenne" in header["url"]
    assert "state=admissible" in header["url"]
    assert 'aria-sort="ascending"' in response.content.decode()


def _populate(world, start, count, evaluators):
    """``count`` candidatures in region A with two reviews each and, for one in two, an
    opinion: bulk-created, as a real region would be."""
    ptces = Ptce.objects.bulk_create(
        Ptce(name=f"PTCE masse {start + i:03d}", region=world.region_a) for i in range(count)
    )
    candidatures = Candidature.objects.bulk_create(
        Candidature(
            ptce=ptce,
            call=world.call,
            region=world.region_a,
            state=S.ADMISSIBLE,
            submitted_at=timezone.now(),
            requested_amount=Decimal("45000"),
        )
        for ptce in ptces
    )
    Review.objects.bulk_create(
        Review(
            candidature=c,
            evaluator=evaluator,
            state=ReviewState.SUBMITTED,
            total=Decimal(40 + (i * 7 + j * 13) % 60),
        )
        for i, c in enumerate(candidatures)
        for j, evaluator in enumerate(evaluators)
    )
    RegionalOpinion.objects.bulk_create(
        RegionalOpinion(
            candidature=c,
            consolidated_score=Decimal("50"),
            opinion=Opinion.RESERVED,
            motivation="…",
            rank=i + 1,
            written_by=evaluators[0],
        )
        for i, c in enumerate(candidatures)
        if i % 2 == 0
    )


def _count_queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response


def test_list_query_count_does_not_grow(client, world, cell, coordinator):
    evaluators = [f.UserFactory(), f.UserFactory()]
    client.force_login(coordinator)
    _populate(world, 0, 5, evaluators)
    url = list_url(cell, tri="-moyenne", disagreement="non")
    small, response = _count_queries(client, url)
    assert len(response.context["rows"]) == 6  # with the world's candidature_a
    _populate(world, 5, 195, evaluators)
    large, response = _count_queries(client, url)
    assert len(response.context["rows"]) == 50  # first page
    assert large == small
    second, response = _count_queries(client, url + "&page=2")
    assert second == small
    assert response.context["page"].number == 2


def test_list_hides_a_conflicted_candidature(client, world, cell, coordinator, region):
    ConflictOfInterest.objects.create(
        candidature=region["bravo"],
        evaluator=coordinator,
        source=ConflictSource.DECLARED,
        reason="Administrateur du PTCE",
    )
    client.force_login(coordinator)
    assert region["bravo"].pk not in listed(client, cell)
    response = client.get(reverse("regional_opinion", args=[region["bravo"].pk]))
    assert response.status_code == 404


def test_cna_sees_every_region_read_only(client, world, cell):
    cell_b = RegionalCell.objects.get(call=world.call, region=world.region_b)
    client.force_login(world.user("cna_member"))
    response = client.get(list_url(cell_b))
    assert response.status_code == 200
    assert [row.pk for row in response.context["rows"]] == [world.candidature_b.pk]
    assert response.context["can_edit"] is False
    # A coordinator of region A sees nothing of region B.
    client.force_login(world.user("cra_coordinator"))
    assert client.get(list_url(cell_b)).status_code == 404


# --- Side by side and the collegial opinion -----------------------------------------------------


@pytest.fixture
def reviewed(world):
    """An admissible candidature with two reviews on a real grid: totals 76.67 and 57.50."""
    grid = make_grid(world.call)
    made = candidature(world, "Écho")
    make_review(
        made,
        dict(zip(grid, ((4, "Gouvernance solide"), 7, NA), strict=True)),
        opinion=Opinion.FAVORABLE,
        comment="Projet mûr.",
    )
    make_review(
        made, dict(zip(grid, (3, 5, 3), strict=True)), opinion=Opinion.RESERVED, comment="Fragile."
    )
    make_review(made, dict(zip(grid, (0, 0, 0), strict=True)), state=ReviewState.DRAFT)
    return made


def test_side_by_side_page(client, world, coordinator, reviewed):
    client.force_login(coordinator)
    response = client.get(reverse("regional_opinion", args=[reviewed.pk]))
    assert response.status_code == 200
    assert len(response.context["reviews"]) == 2  # the draft is not shown
    rows = response.context["criterion_rows"]
    assert [row.criterion.label for row in rows] == ["Gouvernance", "Viabilité", "Recherche"]
    assert [row.mean for row in rows] == [Decimal("3.50"), Decimal("6.00"), Decimal("3.00")]
    html = response.content.decode()
    assert "Gouvernance solide" in html
    assert "n/a" in html
    assert "76,67" in html
    assert "57,50" in html
    assert "Projet mûr." in html
    assert "réservé" in html
    # The mean (67.085) is proposed as the consolidated score, to two decimals.
    assert response.context["form"]["score"].value() == Decimal("67.09")
    assert 'value="67,09"' in html
    assert "Enregistrer l'avis collégial" in html


def test_cna_reads_the_page_without_the_form(client, world, reviewed, coordinator):
    consolidation.save_opinion(reviewed, coordinator, "70", "Meilleur dossier.", "favorable", "Ok")
    client.force_login(world.user("cna_member"))
    url = reverse("regional_opinion", args=[reviewed.pk])
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Enregistrer l'avis collégial" not in html
    assert "Meilleur dossier." in html
    assert client.post(url, {"score": "10", "opinion": "favorable"}).status_code == 403


@pytest.mark.parametrize(
    ("score", "justification", "error_field"),
    [
        ("67.09", "", None),  # the proposed value: 67.09 − 67.085 = 0.005
        ("67.08", "", None),  # 0.005 below
        ("67,085", "", "score"),  # three decimals
        ("67.1", "", "justification"),  # 0.015 away
        ("67.07", "", "justification"),
        ("67.1", "Un critère a été sous-évalué.", None),
        ("101", "Trop", "score"),
        ("-1", "Trop peu", "score"),
        ("", "", "score"),
        ("abc", "", "score"),
    ],
)
def test_opinion_justification_rule(reviewed, coordinator, score, justification, error_field):
    if error_field is None:
        saved = consolidation.save_opinion(
            reviewed, coordinator, score, justification, Opinion.FAVORABLE, "Bon projet."
        )
        assert saved.consolidated_score == Decimal(score)
        assert saved.score_justification == justification
        assert saved.written_by == coordinator
    else:
        with pytest.raises(ValidationError) as refused:
            consolidation.save_opinion(
                reviewed, coordinator, score, justification, Opinion.FAVORABLE, "Bon projet."
            )
        assert set(refused.value.message_dict) == {error_field}
        assert not RegionalOpinion.objects.filter(candidature=reviewed).exists()


def test_opinion_needs_motivation_and_an_opinion(reviewed, coordinator):
    with pytest.raises(ValidationError) as refused:
        consolidation.save_opinion(reviewed, coordinator, "67.09", "", "excellent", "  ")
    assert set(refused.value.message_dict) == {"opinion", "motivation"}


def test_opinion_without_reviews_needs_a_justification(world, coordinator):
    made = candidature(world, "Sans évaluation")
    with pytest.raises(ValidationError) as refused:
        consolidation.save_opinion(made, coordinator, "50", "", Opinion.RESERVED, "Motif.")
    assert "justification" in refused.value.message_dict
    consolidation.save_opinion(made, coordinator, "50", "Examen en séance.", "reserved", "Motif.")


def test_opinion_rewrite_keeps_the_rank(reviewed, coordinator):
    opinion(reviewed, "67.09", rank=3)
    consolidation.save_opinion(reviewed, coordinator, "67.09", "", Opinion.UNFAVORABLE, "Revu.")
    saved = RegionalOpinion.objects.get(candidature=reviewed)
    assert saved.rank == 3
    assert saved.opinion == Opinion.UNFAVORABLE
    assert saved.written_by == coordinator


@pytest.mark.parametrize("role", ["cra_evaluator", "cna_member", "cna_admin", "staff"])
def test_only_a_coordinator_writes_the_opinion(world, reviewed, role):
    with pytest.raises(PermissionDenied):
        consolidation.save_opinion(reviewed, world.user(role), "67.09", "", "favorable", "M.")


def test_conflicted_coordinator_may_not_write_the_opinion(reviewed, coordinator):
    ConflictOfInterest.objects.create(
        candidature=reviewed, evaluator=coordinator, source="declared", reason="Membre"
    )
    with pytest.raises(PermissionDenied):
        consolidation.save_opinion(reviewed, coordinator, "67.09", "", "favorable", "M.")


def test_opinion_only_on_an_admissible_candidature(world, coordinator):
    with pytest.raises(ValidationError, match="recevable"):
        consolidation.save_opinion(
            world.candidature_a, coordinator, "50", "Motif", "favorable", "M."
        )


def test_opinion_form_flow(client, reviewed, coordinator):
    client.force_login(coordinator)
    url = reverse("regional_opinion", args=[reviewed.pk])
    response = client.post(
        url, {"score": "72,5", "justification": "", "opinion": "favorable", "motivation": "M."}
    )
    assert response.status_code == 200
    assert "diffère de la moyenne des évaluations (67,09)" in response.content.decode()
    assert not RegionalOpinion.objects.filter(candidature=reviewed).exists()
    response = client.post(
        url,
        {
            "score": "72,5",
            "justification": "Le critère Recherche est applicable.",
            "opinion": "favorable",
            "motivation": "Projet structurant.",
        },
    )
    assert response.status_code == 302
    saved = RegionalOpinion.objects.get(candidature=reviewed)
    assert saved.consolidated_score == Decimal("72.50")
    response = client.get(url)
    assert 'value="72,50"' in response.content.decode()


# --- Ranking ------------------------------------------------------------------------------------


@pytest.fixture
def ranked(world):
    """Four admissible candidatures with opinions, and one in complements with an old rank."""
    made = {
        "a": candidature(world, "Aa", totals=("70",)),
        "b": candidature(world, "Bb", totals=("75",)),
        "c": candidature(world, "Cc", totals=("60",)),
        "d": candidature(world, "Ab", totals=("75",)),
        "old": candidature(world, "Zz", state=S.COMPLEMENTS_REQUESTED),
    }
    opinion(made["a"], "80")
    opinion(made["b"], "80")
    opinion(made["c"], "90")
    opinion(made["d"], "80")
    opinion(made["old"], "95", rank=1)
    return made


def test_default_ranking(cell, ranked):
    # Consolidated score first (C 90), then mean (B and D 75 before A 70), then PTCE name.
    assert consolidation.default_ranking(cell) == [
        ranked["c"].pk,
        ranked["d"].pk,  # « Ab »
        ranked["b"].pk,  # « Bb »
        ranked["a"].pk,
    ]


def test_rank_by_score_and_set_ranking(cell, coordinator, ranked):
    consolidation.rank_by_score(cell, coordinator)
    ranks = dict(RegionalOpinion.objects.values_list("candidature_id", "rank"))
    assert ranks == {
        ranked["c"].pk: 1,
        ranked["d"].pk: 2,
        ranked["b"].pk: 3,
        ranked["a"].pk: 4,
        ranked["old"].pk: None,  # not admissible any more: not ranked
    }
    order = [ranked[key].pk for key in ("a", "b", "c", "d")]
    consolidation.set_ranking(cell, coordinator, order)
    ranks = dict(RegionalOpinion.objects.values_list("candidature_id", "rank"))
    assert [ranks[pk] for pk in order] == [1, 2, 3, 4]


@pytest.mark.parametrize(
    "keys",
    [("a", "b", "c"), ("a", "b", "c", "d", "old"), ("a", "b", "c", "d", "d")],
    ids=["missing", "not-admissible", "twice"],
)
def test_set_ranking_refuses_an_incomplete_list(cell, coordinator, ranked, keys):
    with pytest.raises(ValidationError):
        consolidation.set_ranking(cell, coordinator, [ranked[key].pk for key in keys])


@pytest.mark.parametrize("role", ["cra_evaluator", "cna_admin", "staff", "other_region_evaluator"])
def test_only_a_coordinator_ranks(world, cell, ranked, role):
    with pytest.raises(PermissionDenied):
        consolidation.rank_by_score(cell, world.user(role))


def test_conflicted_coordinator_may_not_rank(cell, coordinator, ranked):
    ConflictOfInterest.objects.create(
        candidature=ranked["a"], evaluator=coordinator, source="declared", reason="Membre"
    )
    with pytest.raises(PermissionDenied, match="conflit"):
        consolidation.rank_by_score(cell, coordinator)


@pytest.mark.parametrize(
    ("entered", "expected"),
    [
        ({}, [1, 2, 3, 4, 5]),
        ({5: 2}, [1, 5, 2, 3, 4]),  # moved up: takes the 2nd place
        ({1: 3}, [2, 3, 1, 4, 5]),  # moved down: takes the 3rd place
        ({1: 5, 5: 1}, [5, 2, 3, 4, 1]),
        ({3: 10}, [1, 2, 4, 5, 3]),
        ({1: 2, 2: 1}, [2, 1, 3, 4, 5]),
    ],
)
def test_ranking_from_inputs(entered, expected):
    assert consolidation.ranking_from_inputs([1, 2, 3, 4, 5], entered) == expected


def test_ranking_page(client, cell, coordinator, ranked):
    client.force_login(coordinator)
    url = reverse("regional_ranking", args=[cell.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert [row.pk for row in response.context["rows"]] == consolidation.default_ranking(cell)
    assert response.context["unranked_count"] == 4
    assert client.post(url, {"action": "par-note"}).status_code == 302
    assert RegionalOpinion.objects.get(candidature=ranked["c"]).rank == 1
    # Typing 1 on the last row (A) moves it to the top.
    response = client.post(url, {"action": "enregistrer", f"rang-{ranked['a'].pk}": "1"})
    assert response.status_code == 302
    ranks = dict(RegionalOpinion.objects.values_list("candidature_id", "rank"))
    assert [ranks[ranked[key].pk] for key in ("a", "c", "d", "b")] == [1, 2, 3, 4]
    response = client.post(url, {"action": "enregistrer", f"rang-{ranked['a'].pk}": "zéro"})
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("nombre entier positif" in m for m in messages)


def test_ranking_page_is_read_only_for_the_cna(client, world, cell, ranked):
    client.force_login(world.user("cna_admin"))
    url = reverse("regional_ranking", args=[cell.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert "Enregistrer le classement" not in response.content.decode()
    assert client.post(url, {"action": "par-note"}).status_code == 403


# --- Hand-over ----------------------------------------------------------------------------------


@pytest.fixture
def ready(world, coordinator):
    """A region ready to be handed over: submissions closed, two admissible candidatures with
    opinions and ranks, the world's candidature declared inadmissible."""
    close_submissions(world.call)
    Candidature.objects.filter(pk=world.candidature_a.pk).update(state=S.INADMISSIBLE)
    first = candidature(world, "Premier", totals=("80",))
    second = candidature(world, "Second", totals=("60",))
    opinion(first, "80", rank=1)
    opinion(second, "60", rank=2, value=Opinion.RESERVED)
    return [first, second]


def test_hand_over_refusals_list_every_problem(world, cell, coordinator):
    submitted = world.candidature_a
    complements = candidature(world, "Compléments", state=S.COMPLEMENTS_REQUESTED)
    no_opinion = candidature(world, "Sans avis")
    no_rank = candidature(world, "Sans rang")
    opinion(no_rank, "50")
    with pytest.raises(ValidationError) as refused:
        consolidation.hand_over(cell, coordinator)
    text = "\n".join(refused.value.messages)
    assert "ne peut pas encore être transmise" in text
    assert "Le dépôt des candidatures est ouvert" in text
    assert f"« {submitted.ptce.name} » : la recevabilité n'a pas été décidée." in text
    assert "« Compléments » : des compléments sont attendus" in text
    assert "« Sans avis » : l'avis collégial n'est pas rédigé." in text
    assert "« Sans rang » : la candidature n'est pas classée." in text
    assert not RegionHandover.objects.exists()
    assert Candidature.objects.get(pk=no_rank.pk).state == S.ADMISSIBLE
    problems = consolidation.handover_problems(cell)
    assert {p.candidature_id for p in problems} == {
        None,
        submitted.pk,
        complements.pk,
        no_opinion.pk,
        no_rank.pk,
    }


def test_hand_over(world, cell, coordinator, ready):
    handover = consolidation.hand_over(cell, coordinator, "Bonne session.")
    assert handover.cell == cell
    assert handover.handed_over_by == coordinator
    assert handover.comment == "Bonne session."
    for made in ready:
        made.refresh_from_db()
        assert made.state == S.REGIONAL_REVIEW_DONE
        event = CandidatureEvent.objects.filter(candidature=made).latest("pk")
        assert (event.from_state, event.to_state, event.actor) == (
            S.ADMISSIBLE,
            S.REGIONAL_REVIEW_DONE,
            coordinator,
        )
    world.candidature_a.refresh_from_db()
    assert world.candidature_a.state == S.INADMISSIBLE  # untouched
    world.candidature_b.refresh_from_db()
    assert world.candidature_b.state == S.SUBMITTED  # another region
    messages = OutboxMessage.objects.filter(event="region.handed_over")
    assert sorted(messages.values_list("recipient", flat=True)) == sorted(
        [world.user("cna_member").email, world.user("cna_admin").email]
    )
    message = messages.first()
    assert world.region_a.name in message.subject
    assert "2 candidatures" in message.body_text
    assert f"/instruction/cellules/{cell.pk}/consolidation/" in message.body_text
    assert "Bonne session." in message.body_html


def test_second_hand_over_is_refused(cell, coordinator, ready):
    consolidation.hand_over(cell, coordinator)
    with pytest.raises(ValidationError, match="déjà été transmise"):
        consolidation.hand_over(cell, coordinator)
    assert RegionHandover.objects.count() == 1
    assert OutboxMessage.objects.filter(event="region.handed_over").count() == 2


def test_nothing_changes_after_the_hand_over(world, cell, coordinator, ready):
    consolidation.hand_over(cell, coordinator)
    late = candidature(world, "Tardive")  # admissible after the hand-over (by another path)
    with pytest.raises(ValidationError, match="transmise à la CNA"):
        consolidation.save_opinion(late, coordinator, "50", "Motif", "favorable", "M.")
    with pytest.raises(ValidationError, match="transmise à la CNA"):
        consolidation.set_ranking(cell, coordinator, [])
    with pytest.raises(ValidationError, match="transmise à la CNA"):
        consolidation.rank_by_score(cell, coordinator)
    assert can_edit_cell(coordinator, cell) is False


@pytest.mark.parametrize("role", ["cra_evaluator", "cna_admin", "staff"])
def test_only_a_coordinator_hands_over(world, cell, ready, role):
    with pytest.raises(PermissionDenied):
        consolidation.hand_over(cell, world.user(role))


def test_hand_over_page(client, world, cell, coordinator, ready):
    client.force_login(coordinator)
    url = reverse("region_handover", args=[cell.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response.context["problems"] == []
    assert response.context["ready_count"] == 2
    assert "Transmettre la région à la CNA" in response.content.decode()
    response = client.post(url, {"comment": "Merci."})
    assert response.status_code == 302
    assert response["Location"] == reverse("consolidation_list", args=[cell.pk])
    assert RegionHandover.objects.get(cell=cell).comment == "Merci."
    response = client.get(list_url(cell))
    assert "Région transmise à la CNA" in response.content.decode()
    response = client.post(url, {"comment": "Encore"})
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("déjà été transmise" in m for m in messages)


def test_hand_over_page_lists_problems(client, world, cell, coordinator):
    client.force_login(coordinator)
    url = reverse("region_handover", args=[cell.pk])
    response = client.get(url)
    html = response.content.decode()
    assert "La région ne peut pas encore être transmise" in html
    assert reverse("regional_opinion", args=[world.candidature_a.pk]) in html
    response = client.post(url, {"comment": ""})
    assert response.status_code == 302
    assert not RegionHandover.objects.exists()
    client.force_login(world.user("cna_member"))
    assert client.get(url).status_code == 200
    assert client.post(url, {}).status_code == 403


# --- Who may see the consolidation pages (DESIGN §3) ---------------------------------------------

# Coordinators of region A, the CNA of the call (read-only) and the staff; evaluators get 404 (the
# pages show every evaluator's scores, which an evaluator only sees case by case).
CELL_PAGES = {
    "anonymous": LOGIN,
    "applicant": NOT_FOUND,
    "other_applicant": NOT_FOUND,
    "cra_evaluator": NOT_FOUND,
    "cra_coordinator": OK,
    "other_region_evaluator": NOT_FOUND,
    "cna_member": OK,
    "cna_admin": OK,
    "staff": OK,
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", ["consolidation_list", "regional_ranking", "region_handover"])
def test_cell_pages_permissions(client, world, cell, role, name):
    url = reverse(name, args=[cell.pk])
    response = client_as(client, world, role).get(url)
    assert_outcome(response, CELL_PAGES[role], url, role)


@pytest.mark.parametrize("role", ROLES)
def test_opinion_page_permissions(client, world, role):
    url = reverse("regional_opinion", args=[world.candidature_a.pk])
    response = client_as(client, world, role).get(url)
    assert_outcome(response, CELL_PAGES[role], url, role)


@pytest.mark.parametrize("role", ["staff", "cna_admin", "cra_coordinator"])
def test_no_opinion_page_for_a_draft(client, world, role):
    url = reverse("regional_opinion", args=[world.draft_a.pk])
    assert client_as(client, world, role).get(url).status_code == 404


def test_unknown_cell_is_404(client, world):
    client.force_login(world.user("staff"))
    assert client.get(reverse("consolidation_list", args=[999999])).status_code == 404


def test_coordinator_role_is_per_cell(client, world, cell):
    """A coordinator of region B is an evaluator nowhere near region A."""
    cell_b = RegionalCell.objects.get(call=world.call, region=world.region_b)
    other = f.RegionalMembershipFactory(cell=cell_b, role=RegionalRole.COORDINATOR).user
    client.force_login(other)
    assert client.get(list_url(cell)).status_code == 404
    assert client.get(list_url(cell_b)).status_code == 200


def test_reopening_a_review_puts_the_opinion_to_review_and_holds_the_hand_over(
    world, cell, coordinator, ready
):
    from evaluation import reviews
    from evaluation.models import Assignment

    first = ready[0]
    evaluator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.EVALUATOR).user
    Assignment.objects.create(candidature=first, evaluator=evaluator, assigned_by=coordinator)
    review = Review.objects.create(
        candidature=first,
        evaluator=evaluator,
        state=ReviewState.SUBMITTED,
        total=Decimal("40"),
        submitted_at=timezone.now(),
    )
    reviews.reopen_review(review, coordinator, "Note à revoir.")
    assert RegionalOpinion.objects.get(candidature=first).needs_review
    with pytest.raises(ValidationError) as refused:
        consolidation.hand_over(cell, coordinator)
    assert "« Premier » : l'avis collégial est à revoir" in "\n".join(refused.value.messages)
    assert not RegionHandover.objects.exists()
    # The coordinator confirms the opinion (saved again, rank kept): the hand-over goes.
    consolidation.save_opinion(first, coordinator, "80", "", Opinion.FAVORABLE, "Confirmé.")
    confirmed = RegionalOpinion.objects.get(candidature=first)
    assert not confirmed.needs_review and confirmed.rank == 1
    consolidation.hand_over(cell, coordinator)
