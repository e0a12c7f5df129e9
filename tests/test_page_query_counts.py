"""Query counts of the pages ``bench/pages.py`` measures at national scale (docs/performance.md):
each page makes the same number of queries for 2 and for 20 rows, and exactly the number
recorded here (at most 25, the budget) — a new query, or one per row, fails. On small data
from the factories; ``seed_bench`` itself is tested in ``tests/ami/test_seed_bench.py``."""

from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import RegionalCell, RegionalRole
from candidatures import messaging
from candidatures.models import CofinancingLine, PtceMember, PtceMembership
from evaluation import national
from evaluation.models import Assignment, Opinion, RegionalOpinion, SelectionScenario
from tests import factories as f
from tests.candidatures.helpers import PDF_BYTES
from tests.evaluation.national_helpers import national_edition
from tests.evaluation.test_scoring import NA, make_grid, make_review

MAX_QUERIES = 25
# The selection assistant's POST (solver, scenario saved) and the scenario's page.
POST_QUERIES = 16
SCENARIO_QUERIES = 11


@dataclass
class Edition:
    """A call in national review, region 11 with ``n`` candidatures handed over (two submitted
    reviews each, a ranked collegial opinion, a CNA analysis) and one in region 53."""

    call: object
    cell: object
    coordinator: object
    evaluator: object
    member: object
    applicant: object  # in the team of every PTCE of region 11
    candidature: object  # the applicant's first one, with n members and cofinancing lines


def edition(n: int) -> Edition:
    built = national_edition({"11": [50 + i for i in range(n)], "53": [70]})
    call = built.call
    grid = make_grid(call)
    cell = RegionalCell.objects.get(call=call, region="11")
    coordinator = built.coordinators["11"]
    evaluators = [
        f.RegionalMembershipFactory(cell=cell, role=RegionalRole.EVALUATOR).user for _ in (1, 2)
    ]
    applicant = f.UserFactory()
    region_11 = [c for c in built.candidatures if c.region_id == "11"]
    for rank, candidature in enumerate(region_11, start=1):
        for evaluator, scores in zip(evaluators, ((3, 6, NA), (4, 8, 2)), strict=True):
            Assignment.objects.create(
                candidature=candidature, evaluator=evaluator, assigned_by=coordinator
            )
            make_review(candidature, dict(zip(grid, scores, strict=True)), evaluator=evaluator)
        RegionalOpinion.objects.filter(candidature=candidature).update(rank=rank)
        national.save_analysis(
            candidature, built.member, score=Decimal(60), opinion=Opinion.FAVORABLE, comment="Vu."
        )
        PtceMembership.objects.create(ptce=candidature.ptce, user=applicant)
    first = region_11[0]
    for index in range(n):
        PtceMember.objects.create(ptce=first.ptce, name=f"Membre {index}", category="other")
        CofinancingLine.objects.create(candidature=first, funder=f"Financeur {index}", amount=1000)
        # The thread: n messages from both sides (one with an attachment), n internal notes.
        author = coordinator if index % 2 else applicant
        attachment = SimpleUploadedFile("devis.pdf", PDF_BYTES) if index == 0 else None
        messaging.post_message(first, author, f"Message {index}", attachment)
        messaging.post_note(first, coordinator, f"Note {index}")
    return Edition(call, cell, coordinator, evaluators[0], built.member, applicant, first)


def _count(client, method, url, data, status, *, cold=True):
    """The queries of one request; ``cold``: with nothing kept in the cache beforehand (the
    national dashboard keeps its figures and its order of rows there, ``national_cache``)."""
    if cold:
        cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, data)
    assert response.status_code == status, (url, response.status_code)
    return len(queries.captured_queries)


# page → (who, its address in an edition, query string, expected query count)
PAGES = {
    "applicant dashboard": ("applicant", lambda e: reverse("applicant_dashboard"), {}, 7),
    "step presentation": (
        "applicant",
        lambda e: reverse("candidature_step", args=[e.candidature.pk, "presentation"]),
        {},
        8,  # two of them read the call's questionnaire (sections, questions), the first time
    ),
    "step recapitulatif": (
        "applicant",
        lambda e: reverse("candidature_step", args=[e.candidature.pk, "recapitulatif"]),
        {},
        14,  # the questionnaire read by the step before is kept by the process (call not in draft)
    ),
    "cell home": ("coordinator", lambda e: reverse("cell_home", args=[e.cell.pk]), {}, 13),
    "thread": (
        "applicant",
        lambda e: reverse("candidature_messages", args=[e.candidature.pk]),
        {},
        9,  # one of them records what the reader has read (an upsert)
    ),
    "internal notes": (
        "coordinator",
        lambda e: reverse("candidature_notes", args=[e.candidature.pk]),
        {},
        11,
    ),
    "evaluator worklist": ("evaluator", lambda e: reverse("evaluator_worklist"), {}, 6),
    "consolidation list": (
        "coordinator",
        lambda e: reverse("consolidation_list", args=[e.cell.pk]),
        {},
        11,  # in national review the phase alone closes the cell: no hand-over lookup
    ),
    "national dashboard": (
        "member",
        lambda e: reverse("national_dashboard", args=[e.call.pk]),
        {},
        14,
    ),
    "national dashboard, filtered and sorted": (
        "member",
        lambda e: reverse("national_dashboard", args=[e.call.pk]),
        {"region": "11", "rural": "non", "tri": "-ecart"},
        15,
    ),
    "national export": (
        "member",
        lambda e: reverse("national_export", args=[e.call.pk]),
        {},
        12,
    ),
    "selection assistant": (
        "member",
        lambda e: reverse("selection_assistant", args=[e.call.pk]),
        {},
        9,
    ),
}


def test_page_query_counts_are_fixed(db):
    """Every page: the same count for 2 and 20 rows, and the count recorded in ``PAGES``."""
    editions = {n: edition(n) for n in (2, 20)}
    problems = []
    for page, (who, url, params, expected) in PAGES.items():
        counts = []
        for e in editions.values():
            client = Client()
            client.force_login(getattr(e, who))
            counts.append(_count(client, "get", url(e), params, 200))
        if counts != [expected, expected]:
            problems.append(f"{page}: {counts[0]} queries for 2 rows, {counts[1]} for 20")
    assert not problems, f"recorded counts: { {p: v[3] for p, v in PAGES.items()} }; {problems}"
    assert max(expected for *_, expected in PAGES.values()) <= MAX_QUERIES


# The national dashboard asked again, nothing changed meanwhile: the regions' normalisation,
# the charts' figures (two queries) and the order of the rows come from the cache
# (``evaluation.national_cache``); only the page's own rows are read (and, filtered, the
# region chosen in the filter).
DASHBOARD_AGAIN = {"national dashboard": 9, "national dashboard, filtered and sorted": 10}


def test_national_dashboard_asked_again_reads_its_figures_from_the_cache(db):
    for n in (2, 20):
        e = edition(n)
        client = Client()
        client.force_login(e.member)
        for page, expected in DASHBOARD_AGAIN.items():
            _who, url, params, cold = PAGES[page]
            first = _count(client, "get", url(e), params, 200)
            again = _count(client, "get", url(e), params, 200, cold=False)
            assert (first, again) == (cold, expected), (page, n)


def test_selection_assistant_post_and_scenario_page_query_counts_are_fixed(db):
    posts, pages = [], []
    for n in (2, 20):
        e = edition(n)
        client = Client()
        client.force_login(e.member)
        url = reverse("selection_assistant", args=[e.call.pk])
        data = {"name": "Scénario", "basis": "normalised", "funding_floor": 100}
        posts.append(_count(client, "post", url, data, 302))
        scenario = SelectionScenario.objects.annotate(n=Count("lines")).get(call=e.call)
        assert scenario.n == n + 1
        pages.append(_count(client, "get", reverse("scenario_detail", args=[scenario.pk]), {}, 200))
    assert posts == [POST_QUERIES, POST_QUERIES]
    assert pages == [SCENARIO_QUERIES, SCENARIO_QUERIES]
    assert max(POST_QUERIES, SCENARIO_QUERIES) <= MAX_QUERIES


def test_decision_table_query_count_is_fixed(db):
    """The table of pending decisions (issue 16): same count for 2 and 20 decisions."""
    from tests.evaluation.national_helpers import fix_list

    counts = []
    for n in (2, 20):
        built = national_edition({"11": [50 + i for i in range(n)]})
        fix_list(built, {built.candidatures[0]: "50000"})
        client = Client()
        client.force_login(built.admin)
        counts.append(
            _count(client, "get", reverse("decision_table", args=[built.call.pk]), {}, 200)
        )
    assert counts[0] == counts[1] <= MAX_QUERIES, counts


def test_held_batch_page_query_count_is_fixed(db):
    """The held publication batch (issue 16): same count for 2 and 20 letters."""
    from evaluation import publication
    from tests.evaluation.national_helpers import fix_list, publish

    counts = []
    for n in (2, 20):
        built = national_edition({"11": [50 + i for i in range(n)]})
        fix_list(built, {built.candidatures[0]: "50000"})
        publish(built, send=False)
        batch = publication.publication_batch(built.call)
        client = Client()
        client.force_login(built.admin)
        url = reverse("batch_detail", args=[built.call.pk, batch.pk])
        counts.append(_count(client, "get", url, {}, 200))
    assert counts[0] == counts[1] <= MAX_QUERIES, counts
