"""Exports of the national review: the national table (XLSX: one row per visible candidature with
every score, opinion and decision; formulas neutralised; bounded queries) and the procès-verbal
of the deliberation (PDF and XLSX, only once the list is fixed), with their permissions."""

import copy
import io
import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from ami.formats import euros
from evaluation import deliberation as deliberation_module
from evaluation import national
from evaluation.models import ConflictOfInterest, Opinion
from evaluation.national_exports import pv_context, pv_html, pv_xlsx
from tests import factories as f
from tests.evaluation.national_helpers import fix_list, national_edition, publish
from tests.evaluation.test_scoring import NA, make_grid, make_review
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, assert_outcome, client_as
from tests.shared import built_once

EVIL_NAME = '=HYPERLINK("x")'
EVIL_JUSTIFICATION = "=1+1 : projet prioritaire pour le territoire"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook(response, filename):
    assert response.status_code == 200
    assert response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == f'attachment; filename="{filename}"'
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    return load_workbook(io.BytesIO(response.content))


def _table(sheet, key=0):
    """Header and {key column value: {header: cell}} of a sheet."""
    rows = list(sheet.iter_rows())
    header = [cell.value for cell in rows[0]]
    return header, {row[key].value: dict(zip(header, row, strict=True)) for row in rows[1:]}


def _assert_no_formula(workbook):
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)


@pytest.fixture(scope="module")
def _module_edition(django_db_setup, django_db_blocker):
    """The edition built once for the module (tests/shared.py)."""
    yield from built_once(django_db_blocker, _build_edition)


@pytest.fixture
def edition(_module_edition, db):
    """Three candidatures handed over (two in Île-de-France, one in Bretagne): the first with a
    formula for a name, two reviews on a real grid and two CNA analyses."""
    return copy.deepcopy(_module_edition)


def _build_edition():
    edition = national_edition({"11": [70, 60], "53": [50]}, envelope=Decimal("200000"))
    first, second, third = edition.candidatures
    first.ptce.name = EVIL_NAME
    first.ptce.siret = "73282932000074"
    first.ptce.save()
    first.requested_amount = Decimal("60000")
    first.is_rural = True
    first.save()
    second.requested_amount = Decimal("45000.50")
    second.in_qpv = True
    second.save()
    third.requested_amount = Decimal("80000")
    third.save()
    grid = make_grid(edition.call)
    anne = f.UserFactory(first_name="Anne", last_name="Aubert")
    bruno = f.UserFactory(first_name="Bruno", last_name="Bernard")
    make_review(first, dict(zip(grid, (4, 7, NA), strict=True)), evaluator=anne)  # 76.67
    make_review(first, dict(zip(grid, (3, 5, 3), strict=True)), evaluator=bruno)  # 57.50
    edition.member.first_name, edition.member.last_name = "Claire", "Colin"
    edition.member.save()
    edition.admin.first_name, edition.admin.last_name = "Denis", "Durand"
    edition.admin.save()
    national.save_analysis(
        first, edition.member, score=Decimal("80"), opinion="favorable", comment="Solide."
    )
    national.save_analysis(
        first, edition.admin, score=Decimal("70.5"), opinion="reserved", comment="@Budget court."
    )
    edition.grid = grid
    return edition


def _fix(edition):
    """Deliberate: the first two candidatures laureate (the first with a justification that
    starts like a formula), then fix the list."""
    first, second, _third = edition.candidatures
    deliberation = deliberation_module.open_deliberation(
        edition.call,
        edition.admin,
        held_on=date(2026, 11, 20),
        members_present=[edition.admin, edition.member],
        notes="Séance tenue en visioconférence.",
    )
    lines = {line.candidature_id: line for line in deliberation.lines.all()}
    deliberation_module.set_line(
        lines[first.pk],
        edition.member,
        selected=True,
        amount=Decimal("55000"),
        justification=EVIL_JUSTIFICATION,
    )
    deliberation_module.set_line(
        lines[second.pk],
        edition.admin,
        selected=True,
        amount=Decimal("45000.50"),
        justification="Ancrage QPV.",
    )
    deliberation_module.fix_list(deliberation, edition.admin)
    return deliberation


# --- The national table ---------------------------------------------------------------------------


def test_national_export(client, edition):
    first, second, third = edition.candidatures
    _fix(edition)
    client.force_login(edition.member)
    url = reverse("national_export", args=[edition.call.pk])
    workbook = _workbook(client.get(url), f"{edition.call.slug}-tableau-national.xlsx")
    assert workbook.sheetnames == ["Tableau national"]
    header, rows = _table(workbook.active, key=1)
    assert header[:15] == [
        "N° de dépôt",
        "PTCE",
        "SIRET",
        "Région",
        "Territoire rural",
        "QPV",
        "État",
        "Montant demandé",
        "Évaluations rendues",
        "Moyenne /100",
        "Médiane /100",
        "Minimum /100",
        "Maximum /100",
        "Écart",
        "Désaccord",
    ]
    assert header[15:18] == [
        "Gouvernance – moyenne (/5)",
        "Viabilité – moyenne (/10)",
        "Recherche – moyenne (/5)",
    ]
    assert header[18:] == [
        "Note consolidée /100",
        "Avis collégial",
        "Rang régional",
        "Justification de la note",
        "Motivation régionale communicable",
        "Note interne régionale",
        "Note normalisée",
        "Analyses CNA",
        "Moyenne CNA /100",
        "Détail des analyses CNA",
        "Décision",
        "Montant accordé",
        "Publication",
    ]
    # One row per candidature, the formula as inert text.
    evil_name = "'" + EVIL_NAME
    assert set(rows) == {evil_name, second.ptce.name, third.ptce.name}
    _assert_no_formula(workbook)
    evil = rows[evil_name]
    assert evil["PTCE"].data_type == "s"
    assert evil["N° de dépôt"].value == first.receipt_number
    assert evil["SIRET"].value == "73282932000074"
    assert evil["Région"].value == "Île-de-France"
    assert evil["Territoire rural"].value == "oui"
    assert evil["QPV"].value == "non"
    assert evil["État"].value == "avis régional rendu"
    assert evil["Montant demandé"].value == 60000
    assert "€" in evil["Montant demandé"].number_format
    assert evil["Évaluations rendues"].value == 2
    assert evil["Moyenne /100"].value == pytest.approx(67.09)
    assert evil["Médiane /100"].value == pytest.approx(67.09)
    assert evil["Minimum /100"].value == pytest.approx(57.5)
    assert evil["Maximum /100"].value == pytest.approx(76.67)
    assert evil["Écart"].value == pytest.approx(19.17)
    assert evil["Gouvernance – moyenne (/5)"].value == pytest.approx(3.5)
    assert evil["Viabilité – moyenne (/10)"].value == 6
    assert evil["Recherche – moyenne (/5)"].value == 3  # n/a left out
    assert evil["Note consolidée /100"].value == 70
    assert evil["Avis collégial"].value == "favorable"
    assert evil["Motivation régionale communicable"].value.startswith("Motivation régionale de ")
    assert evil["Note normalisée"].value == 60  # one deviation above the region's mean
    assert rows[second.ptce.name]["Note normalisée"].value == 40
    assert rows[third.ptce.name]["Note normalisée"].value == 50  # alone in its region
    assert evil["Analyses CNA"].value == 2
    assert evil["Moyenne CNA /100"].value == pytest.approx(75.25)
    assert evil["Détail des analyses CNA"].value == (
        "Claire Colin : 80,00/100, favorable — Solide.\n"
        "Denis Durand : 70,50/100, réservé — @Budget court."
    )
    assert evil["Décision"].value == "lauréate"
    assert evil["Montant accordé"].value == 55000
    assert "€" in evil["Montant accordé"].number_format
    assert evil["Publication"].value == "en attente de publication"
    other = rows[second.ptce.name]
    assert other["QPV"].value == "oui"
    assert other["Montant accordé"].value == pytest.approx(45000.50)
    assert other["Évaluations rendues"].value == 0
    assert other["Moyenne /100"].value is None
    assert other["Gouvernance – moyenne (/5)"].value is None
    assert other["Analyses CNA"].value == 0
    assert other["Détail des analyses CNA"].value is None
    last = rows[third.ptce.name]
    assert last["Décision"].value == "non retenue"
    assert last["Montant accordé"].value is None


def test_national_export_after_publication(client, edition):
    _fix(edition)
    publish(edition)
    client.force_login(edition.admin)
    response = client.get(reverse("national_export", args=[edition.call.pk]))
    _header, rows = _table(_workbook(response, f"{edition.call.slug}-tableau-national.xlsx").active)
    for row in rows.values():
        assert row["Publication"].value.startswith("publiée le ")
        assert row["État"].value in {"lauréate", "non retenue"}


def test_national_export_before_any_decision(client, edition):
    client.force_login(edition.member)
    response = client.get(reverse("national_export", args=[edition.call.pk]))
    _header, rows = _table(_workbook(response, f"{edition.call.slug}-tableau-national.xlsx").active)
    assert len(rows) == 3
    assert {row["Décision"].value for row in rows.values()} == {None}
    assert {row["Publication"].value for row in rows.values()} == {None}


def test_national_export_keeps_the_dashboard_filters(client, edition):
    client.force_login(edition.member)
    url = reverse("national_export", args=[edition.call.pk]) + "?region=53"
    _header, rows = _table(
        _workbook(client.get(url), f"{edition.call.slug}-tableau-national.xlsx").active, key=1
    )
    assert list(rows) == [edition.candidatures[2].ptce.name]


def test_national_export_hides_conflicted_candidatures(client, edition):
    first = edition.candidatures[0]
    ConflictOfInterest.objects.create(
        candidature=first, evaluator=edition.member, source="declared", reason="Administratrice"
    )
    client.force_login(edition.member)
    response = client.get(reverse("national_export", args=[edition.call.pk]))
    header, rows = _table(
        _workbook(response, f"{edition.call.slug}-tableau-national.xlsx").active, key=1
    )
    assert "'" + EVIL_NAME not in rows
    assert len(rows) == 2


def _queries(client, url):
    # Nothing kept from an earlier request (the regions' normalisation, evaluation.national_cache).
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def _populate(count, reviewer):
    """A call with ``count`` candidatures handed over, each with a review and a CNA analysis,
    and the list fixed (one laureate): every join and per-row lookup of the table is used."""
    edition = national_edition({"11": [50 + i for i in range(count)]})
    grid = make_grid(edition.call)
    for index, candidature in enumerate(edition.candidatures):
        make_review(candidature, dict(zip(grid, (3, 6, NA), strict=True)), evaluator=reviewer)
        national.save_analysis(
            candidature,
            edition.member,
            score=Decimal(40 + index),
            opinion=Opinion.FAVORABLE,
            comment="Analyse.",
        )
    fix_list(edition, {edition.candidatures[0]: 40000})
    return edition


def test_national_export_query_count_does_not_grow(client, db):
    reviewer = f.UserFactory()
    small = _populate(3, reviewer)
    large = _populate(30, reviewer)
    staff = f.UserFactory(is_staff=True)
    client.force_login(staff)
    client.get(reverse("national_export", args=[small.call.pk]))  # the session's first request
    counts = [
        _queries(client, reverse("national_export", args=[edition.call.pk]))
        for edition in (small, large)
    ]
    assert counts[0] == counts[1], counts
    assert counts[0] <= 12, counts


# --- The procès-verbal ----------------------------------------------------------------------------


def _pdf_text(content: bytes):
    """The PDF's text when pypdf is installed (None otherwise: the HTML is checked instead)."""
    try:
        from pypdf import PdfReader
    except ImportError:
        return None
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)
    return re.sub(r"[\s\u202f\xa0]+", " ", text)


def test_pv_pdf(client, edition):
    first, second, third = edition.candidatures
    deliberation = _fix(edition)
    client.force_login(edition.admin)
    response = client.get(reverse("pv_pdf", args=[edition.call.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{edition.call.slug}-proces-verbal.pdf"'
    )
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content.startswith(b"%PDF")
    expected = [
        f"Procès-verbal de délibération — {edition.call.name}",
        "20/11/2026",
        "Claire Colin",
        "Denis Durand",
        "Séance tenue en visioconférence.",
        second.ptce.name,
        euros(Decimal("55000")),
        euros(Decimal("45000.50")),
        "Ancrage QPV.",
        third.ptce.name,
        euros(Decimal("200000")),  # the envelope
        euros(Decimal("100000.50")),  # granted in total
        euros(Decimal("99999.50")),  # left
    ]
    text = _pdf_text(response.content)
    if text is None:  # pypdf missing: check what WeasyPrint was given
        text = pv_html(pv_context(deliberation, edition.admin))
        expected += ["=1+1 : projet prioritaire pour le territoire", "=HYPERLINK(&quot;x&quot;)"]
    else:
        expected = [re.sub(r"[\s\u202f\xa0]+", " ", fragment) for fragment in expected]
        expected += ["=1+1 : projet prioritaire", '=HYPERLINK("x")']
    for fragment in expected:
        assert fragment in text, fragment


def test_pv_context(edition):
    first, second, third = edition.candidatures
    deliberation = _fix(edition)
    context = pv_context(deliberation)
    assert context["title"] == f"Procès-verbal de délibération — {edition.call.name}"
    assert context["held_on"] == date(2026, 11, 20)
    assert context["members"] == ["Claire Colin", "Denis Durand"]
    assert context["scenario"] is None
    assert [line.ptce for line in context["laureates"]] == [EVIL_NAME, second.ptce.name]
    assert [line.amount for line in context["laureates"]] == [
        Decimal("55000"),
        Decimal("45000.50"),
    ]
    laureate = context["laureates"][0]
    assert laureate.proposal_label == "sans proposition"
    assert laureate.decision_label == "lauréate"
    assert laureate.justification == EVIL_JUSTIFICATION
    assert [line.ptce for line in context["not_selected"]] == [third.ptce.name]
    assert context["not_selected"][0].amount is None
    assert [(o.actor, o.ptce, o.amount) for o in context["overrides"]] == [
        ("Claire Colin", EVIL_NAME, Decimal("55000")),
        ("Denis Durand", second.ptce.name, Decimal("45000.50")),
    ]
    totals = context["totals"]
    assert (totals.selected, totals.granted, totals.remaining) == (
        2,
        Decimal("100000.50"),
        Decimal("99999.50"),
    )
    assert (totals.lines, totals.overridden) == (3, 2)
    assert context["fixed_by"] == "Denis Durand"
    assert context["fixed_at"] is not None
    assert context["withheld"] == 0


def test_pv_with_a_scenario(edition):
    """Started from a scenario: the PV names it, summarises its parameters and tells the lines
    that departed from its proposal."""
    from evaluation import scenarios

    first, second, third = edition.candidatures
    scenario = scenarios.save(
        edition.call, edition.member, "Scénario équilibré", scenarios.Parameters()
    )
    deliberation = deliberation_module.open_deliberation(
        edition.call,
        edition.admin,
        held_on=date(2026, 11, 20),
        members_present=[edition.admin],
        scenario=scenario,
    )
    deliberation_module.fix_list(deliberation, edition.admin)
    context = pv_context(deliberation)
    assert context["scenario"].name == "Scénario équilibré"
    assert context["scenario_summary"]
    assert context["scenario_summary"][0].startswith("Note utilisée : ")
    lines = context["laureates"] + context["not_selected"]
    assert len(lines) == 3
    assert all(line.proposal_label in {"retenue", "non retenue"} for line in lines)
    assert not any(line.modified for line in lines)
    assert context["overrides"] == []
    html = pv_html(context)
    assert "Scénario équilibré" in html
    assert context["scenario_summary"][0] in html


def test_pv_leaves_out_conflicted_candidatures(edition):
    first = edition.candidatures[0]
    deliberation = _fix(edition)
    ConflictOfInterest.objects.create(
        candidature=first, evaluator=edition.member, source="declared", reason="Administratrice"
    )
    context = pv_context(deliberation, edition.member)
    shown = [line.ptce for line in context["laureates"] + context["not_selected"]]
    assert EVIL_NAME not in shown
    assert len(shown) == 2
    assert EVIL_NAME not in [o.ptce for o in context["overrides"]]
    assert context["withheld"] == 1
    assert context["totals"].granted == Decimal("45000.50")
    assert "conflit d'intérêts" in pv_html(context)


def test_pv_xlsx(client, edition):
    first, second, third = edition.candidatures
    _fix(edition)
    client.force_login(edition.member)
    response = client.get(reverse("pv_xlsx", args=[edition.call.pk]))
    workbook = _workbook(response, f"{edition.call.slug}-proces-verbal.xlsx")
    assert workbook.sheetnames == ["Décisions", "Modifications", "Séance"]
    _assert_no_formula(workbook)
    header, decisions = _table(workbook["Décisions"], key=1)
    assert header == [
        "N° de dépôt",
        "PTCE",
        "Région",
        "Note consolidée /100",
        "Montant demandé",
        "Proposition",
        "Montant proposé",
        "Décision",
        "Montant accordé",
        "Modifiée en séance",
        "Justification",
    ]
    evil_name = "'" + EVIL_NAME
    assert list(decisions) == [evil_name, second.ptce.name, third.ptce.name]  # laureates first
    evil = decisions[evil_name]
    assert evil["Décision"].value == "lauréate"
    assert evil["Montant accordé"].value == 55000
    assert "€" in evil["Montant accordé"].number_format
    assert evil["Justification"].value == "'" + EVIL_JUSTIFICATION
    assert evil["Modifiée en séance"].value == "oui"
    assert evil["Proposition"].value == "sans proposition"
    assert evil["Note consolidée /100"].value == 70
    assert decisions[third.ptce.name]["Décision"].value == "non retenue"
    assert decisions[third.ptce.name]["Montant accordé"].value is None
    assert decisions[third.ptce.name]["Modifiée en séance"].value == "non"

    header, _ = _table(workbook["Modifications"])
    assert header == ["Le", "Par", "N° de dépôt", "PTCE", "Décision", "Montant", "Justification"]
    log = list(workbook["Modifications"].iter_rows(min_row=2, values_only=True))
    assert [(row[1], row[3], row[4], row[5]) for row in log] == [
        ("Claire Colin", evil_name, "retenue", 55000),
        ("Denis Durand", second.ptce.name, "retenue", pytest.approx(45000.50)),
    ]
    assert log[0][6] == "'" + EVIL_JUSTIFICATION
    assert log[0][0].year == date.today().year  # a real date, in Paris time

    session = dict(workbook["Séance"].iter_rows(min_row=2, values_only=True))
    assert session["Appel"] == edition.call.name
    assert session["Date de la séance"] == "20/11/2026"
    assert session["Membres présents"] == "Claire Colin, Denis Durand"
    assert session["Scénario de départ"] == "aucun (liste établie en séance)"
    assert session["Observations de la séance"] == "Séance tenue en visioconférence."
    assert session["Enveloppe"] == euros(Decimal("200000"))
    assert session["Lauréates"] == 2
    assert session["Total accordé"] == euros(Decimal("100000.50"))
    assert session["Liste arrêtée par"] == "Denis Durand"


def test_pv_xlsx_bytes_directly(edition):
    deliberation = _fix(edition)
    workbook = load_workbook(io.BytesIO(pv_xlsx(deliberation)))
    assert workbook.sheetnames == ["Décisions", "Modifications", "Séance"]


@pytest.mark.parametrize("name", ["pv_pdf", "pv_xlsx"])
def test_no_pv_before_the_list_is_fixed(client, edition, name):
    url = reverse(name, args=[edition.call.pk])
    client.force_login(edition.admin)
    assert client.get(url).status_code == 404  # no session yet
    deliberation = deliberation_module.open_deliberation(
        edition.call, edition.admin, held_on=date(2026, 11, 20), members_present=[edition.admin]
    )
    assert client.get(url).status_code == 404  # session open, list not fixed
    deliberation_module.fix_list(deliberation, edition.admin)
    assert client.get(url).status_code == 200
    deliberation_module.reopen(deliberation, edition.admin, reason="Erreur de montant.")
    assert client.get(url).status_code == 404  # reopened: no PV until fixed again


def test_pv_context_refuses_an_open_list(edition):
    from django.core.exceptions import ValidationError

    deliberation = deliberation_module.open_deliberation(
        edition.call, edition.admin, held_on=date(2026, 11, 20), members_present=[edition.admin]
    )
    with pytest.raises(ValidationError):
        pv_context(deliberation)


# --- Who may download (DESIGN §3) ----------------------------------------------------------------

# The CNA of the call and the staff; everyone else a 404, anonymous visitors the login page.
EXPORT = {
    "anonymous": LOGIN,
    "applicant": NOT_FOUND,
    "other_applicant": NOT_FOUND,
    "cra_evaluator": NOT_FOUND,
    "cra_coordinator": NOT_FOUND,
    "other_region_evaluator": NOT_FOUND,
    "cna_member": OK,
    "cna_admin": OK,
    "staff": OK,
}


@pytest.mark.parametrize("role", ROLES)
def test_national_export_permissions(client, world, role):
    url = reverse("national_export", args=[world.call.pk])
    response = client_as(client, world, role).get(url)
    assert_outcome(response, EXPORT[role], url, role)


def _edition_user(edition, role):
    first = edition.candidatures[0]
    return {
        "anonymous": None,
        "applicant": edition.applicants[first.pk],
        "regional_coordinator": edition.coordinators["11"],
        "cna_member": edition.member,
        "cna_admin": edition.admin,
        "staff": f.UserFactory(is_staff=True),
        "other_cna_member": f.NationalMembershipFactory().user,  # the CNA of another call
    }[role]


PV = {
    "anonymous": LOGIN,
    "applicant": NOT_FOUND,
    "regional_coordinator": NOT_FOUND,
    "other_cna_member": NOT_FOUND,
    "cna_member": OK,
    "cna_admin": OK,
    "staff": OK,
}


@pytest.mark.parametrize("name", ["pv_pdf", "pv_xlsx", "national_export"])
@pytest.mark.parametrize("role", list(PV))
def test_pv_permissions(client, edition, name, role):
    _fix(edition)
    user = _edition_user(edition, role)
    if user is not None:
        client.force_login(user)
    url = reverse(name, args=[edition.call.pk])
    assert_outcome(client.get(url), PV[role], url, role)


def test_unknown_call_is_a_404(client, edition):
    client.force_login(f.UserFactory(is_staff=True))
    assert client.get(reverse("national_export", args=[987654])).status_code == 404
    assert client.get(reverse("pv_pdf", args=[987654])).status_code == 404


def test_exports_are_get_only(client, edition):
    _fix(edition)
    client.force_login(edition.admin)
    for name in ("national_export", "pv_pdf", "pv_xlsx"):
        assert client.post(reverse(name, args=[edition.call.pk])).status_code == 405
