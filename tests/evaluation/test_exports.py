"""Exports for the regional cell: the XLSX of the region (formulas neutralised, numbers kept as
numbers, per-criterion columns, bounded queries) and the ZIP of a candidature's documents."""

import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from accounts.models import RegionalCell
from ami.spreadsheets import safe_cell
from candidatures import questionnaire
from evaluation import consolidation
from evaluation.exports import documents_zip
from evaluation.models import Opinion
from tests import factories as f
from tests.candidatures.helpers import PDF_BYTES, add_document
from tests.evaluation.test_consolidation import candidature, opinion
from tests.evaluation.test_scoring import NA, make_grid, make_review
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, assert_outcome, client_as

# --- safe_cell ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://exemple.test","clic")', '\'=HYPERLINK("http://exemple.test","clic")'),
        ("+33 1 23 45 67 89", "'+33 1 23 45 67 89"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A3)", "'@SUM(A1:A3)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("\x01=1+1", "'=1+1"),  # a control character cannot hide the formula
        ("PTCE des Monts", "PTCE des Monts"),
        ("Coopérative = solidaire", "Coopérative = solidaire"),
        ("", ""),
        (None, None),
        (42, 42),
        (Decimal("-12.50"), Decimal("-12.50")),  # numbers stay numbers, negative ones too
        (3.5, 3.5),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_safe_cell_truncates_to_the_cell_limit():
    assert len(safe_cell("x" * 40000)) == 32767


# --- XLSX of the region -------------------------------------------------------------------------


@pytest.fixture
def cell(world):
    return RegionalCell.objects.get(call=world.call, region=world.region_a)


@pytest.fixture
def exported(world):
    """Two reviewed candidatures on a real grid; one PTCE with a formula for a name."""
    grid = make_grid(world.call)
    evil = candidature(world, '=HYPERLINK("http://exemple.test","clic")')
    evil.requested_amount = Decimal("45000.50")
    evil.save()
    evil.ptce.siret = "73282932000074"
    evil.ptce.save()
    first = f.UserFactory(first_name="Anne", last_name="Aubert")
    second = f.UserFactory(first_name="Bruno", last_name="Bernard")
    make_review(evil, dict(zip(grid, (4, 7, NA), strict=True)), evaluator=first)  # 76.67
    make_review(evil, dict(zip(grid, (3, 5, 3), strict=True)), evaluator=second)  # 57.50
    opinion_row = opinion(evil, "66.00", rank=1)
    opinion_row.motivation = "@SUM(A1) conforme"
    opinion_row.score_justification = "-1 point"
    opinion_row.save()
    plain = candidature(world, "Bocage")
    make_review(plain, dict(zip(grid, (5, 10, 5), strict=True)), evaluator=first)  # 100
    return {"grid": grid, "evil": evil, "plain": plain, "evaluators": (first, second)}


def _sheet(response):
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response["Content-Disposition"].startswith('attachment; filename="consolidation-')
    workbook = load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    return header, {row[0].value: dict(zip(header, row, strict=True)) for row in rows[1:]}


def test_export(client, world, cell, exported):
    client.force_login(world.user("cra_coordinator"))
    header, rows = _sheet(client.get(reverse("consolidation_export", args=[cell.pk])))
    assert header[:11] == [
        "PTCE",
        "SIRET",
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
    assert header[11:20] == [
        "Gouvernance – moyenne (/5)",
        "Gouvernance – Anne Aubert",
        "Gouvernance – Bruno Bernard",
        "Viabilité – moyenne (/10)",
        "Viabilité – Anne Aubert",
        "Viabilité – Bruno Bernard",
        "Recherche – moyenne (/5)",
        "Recherche – Anne Aubert",
        "Recherche – Bruno Bernard",
    ]
    assert header[20:26] == [
        "Note consolidée /100",
        "Avis collégial",
        "Justification de la note",
        "Motivation communicable au porteur",
        "Note interne",
        "Rang",
    ]
    # Then the answers as submitted: the title and one column per question of the call.
    assert header[26:] == ["Intitulé du projet"] + [
        q.label for q in questionnaire.questions(world.candidature_a.call)
    ]
    assert len(header) == 26 + 1 + 8
    # The formula came out as text.
    name = '\'=HYPERLINK("http://exemple.test","clic")'
    assert set(rows) == {name, "Bocage", world.candidature_a.ptce.name}
    evil = rows[name]
    assert evil["PTCE"].data_type == "s"
    assert evil["Motivation communicable au porteur"].value == "'@SUM(A1) conforme"
    assert evil["Justification de la note"].value == "'-1 point"
    assert evil["SIRET"].value == "73282932000074"
    assert evil["État"].value == "recevable"
    # Numbers are numbers.
    amount = evil["Montant demandé"]
    assert amount.data_type == "n"
    assert amount.value == pytest.approx(45000.50)
    assert "€" in amount.number_format
    assert evil["Évaluations rendues"].value == 2
    assert evil["Moyenne /100"].data_type == "n"
    assert evil["Moyenne /100"].value == pytest.approx(67.09)  # 67.085 to two decimals
    assert evil["Médiane /100"].value == pytest.approx(67.09)
    assert evil["Écart"].value == pytest.approx(19.17)
    assert evil["Désaccord"].value == "non"
    assert evil["Gouvernance – moyenne (/5)"].value == pytest.approx(3.5)
    assert evil["Gouvernance – Anne Aubert"].value == 4
    assert evil["Gouvernance – Bruno Bernard"].value == 3
    assert evil["Recherche – Anne Aubert"].value == "n/a"
    assert evil["Recherche – moyenne (/5)"].value == 3  # n/a left out
    assert evil["Note consolidée /100"].value == 66
    assert evil["Avis collégial"].value == "favorable"
    assert evil["Rang"].value == 1
    plain = rows["Bocage"]
    assert plain["Gouvernance – Bruno Bernard"].value is None  # no review from Bruno
    assert plain["Moyenne /100"].value == 100
    assert plain["Avis collégial"].value is None
    assert plain["Rang"].value is None


def test_export_keeps_the_list_filters(client, world, cell, exported):
    client.force_login(world.user("cna_member"))
    url = reverse("consolidation_export", args=[cell.pk]) + "?q=boca"
    _header, rows = _sheet(client.get(url))
    assert list(rows) == ["Bocage"]


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_export_query_count_does_not_grow(client, world, cell):
    grid = make_grid(world.call)
    evaluators = [f.UserFactory(), f.UserFactory(), f.UserFactory()]
    client.force_login(world.user("cra_coordinator"))
    url = reverse("consolidation_export", args=[cell.pk])

    def add(count, start):
        for index in range(count):
            made = candidature(world, f"PTCE {start + index}")
            for evaluator in evaluators[: 1 + index % 3]:
                make_review(made, dict(zip(grid, (3, 6, NA), strict=True)), evaluator=evaluator)
            if index % 2:
                opinion(made, "60", rank=None, value=Opinion.RESERVED)

    add(2, 0)
    _queries(
        client, url
    )  # warm the per-call caches (the call's questionnaire, kept by the process)
    small = _queries(client, url)
    add(12, 2)
    assert _queries(client, url) == small


def test_export_of_an_empty_region(client, world):
    cell_b = RegionalCell.objects.get(call=world.call, region=world.region_b)
    client.force_login(world.user("cna_admin"))
    header, rows = _sheet(client.get(reverse("consolidation_export", args=[cell_b.pk])))
    assert header[0] == "PTCE"
    assert len(rows) == 1  # the world's candidature_b, no reviews
    row = next(iter(rows.values()))
    assert row["Moyenne /100"].value is None
    assert row["Évaluations rendues"].value == 0


# --- ZIP of a candidature's documents -------------------------------------------------------------


def _archive(response):
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert 'filename="pieces-' in response["Content-Disposition"]
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def test_zip_contains_the_documents(client, world):
    target = world.candidature_a
    statuts = f.DocumentTypeFactory(call=world.call, label="Statuts", order=1)
    annex_1 = f.DocumentTypeFactory(call=world.call, label="Annexe", order=2)
    annex_2 = f.DocumentTypeFactory(call=world.call, label="Annexe", order=3)
    add_document(target, statuts, name="statuts signés.pdf")
    add_document(target, annex_1, content=b"%PDF-1.4 un", name="budget.pdf")
    add_document(target, annex_2, content=b"%PDF-1.4 deux", name="budget.pdf")
    client.force_login(world.user("cra_evaluator"))
    archive = _archive(client.get(reverse("documents_zip", args=[target.pk])))
    assert archive.namelist() == [
        "Statuts - statuts signés.pdf",
        "Annexe - budget.pdf",
        "Annexe - budget (2).pdf",  # unique names
    ]
    assert archive.read("Statuts - statuts signés.pdf") == PDF_BYTES
    assert archive.read("Annexe - budget.pdf") == b"%PDF-1.4 un"
    assert archive.read("Annexe - budget (2).pdf") == b"%PDF-1.4 deux"
    assert archive.testzip() is None


def test_zip_names_are_sanitised(world):
    kind = f.DocumentTypeFactory(call=world.call, label="Pièce / jointe")
    add_document(world.candidature_a, kind, name="../../etc/passwd\u202e.pdf")
    with zipfile.ZipFile(documents_zip(world.candidature_a, world.user("staff"))) as archive:
        (name,) = archive.namelist()
    assert "/" not in name and "\\" not in name and "\u202e" not in name
    assert name.endswith(".pdf")


def test_zip_lists_missing_files(world):
    kind = f.DocumentTypeFactory(call=world.call, label="Statuts")
    document = add_document(world.candidature_a, kind)
    default_storage.delete(document.file.name)
    with zipfile.ZipFile(documents_zip(world.candidature_a, world.user("staff"))) as archive:
        assert archive.namelist() == ["fichiers-manquants.txt"]
        assert "Statuts - statuts.pdf" in archive.read("fichiers-manquants.txt").decode()


def test_zip_of_a_candidature_without_documents(client, world):
    client.force_login(world.user("cna_member"))
    archive = _archive(client.get(reverse("documents_zip", args=[world.candidature_a.pk])))
    assert archive.namelist() == []


# --- Who may export (DESIGN §3) -------------------------------------------------------------------

# The export of the region: as its list (coordinators, CNA, staff).
EXPORT = {
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
# The documents of one candidature of region A: everyone instructing it (its evaluators already
# download each document); not its applicants, who have their own screens.
ZIP = {**EXPORT, "cra_evaluator": OK}


@pytest.mark.parametrize("role", ROLES)
def test_export_permissions(client, world, cell, role):
    url = reverse("consolidation_export", args=[cell.pk])
    response = client_as(client, world, role).get(url)
    assert_outcome(response, EXPORT[role], url, role)


@pytest.mark.parametrize("role", ROLES)
def test_zip_permissions(client, world, role):
    add_document(world.candidature_a, f.DocumentTypeFactory(call=world.call))
    url = reverse("documents_zip", args=[world.candidature_a.pk])
    response = client_as(client, world, role).get(url)
    assert_outcome(response, ZIP[role], url, role)
    if response.status_code == 200:
        assert len(_archive(response).namelist()) == 1


@pytest.mark.parametrize("role", ["cra_coordinator", "cna_admin"])
def test_no_zip_of_a_draft(client, world, role):
    add_document(world.draft_a, f.DocumentTypeFactory(call=world.call))
    url = reverse("documents_zip", args=[world.draft_a.pk])
    assert client_as(client, world, role).get(url).status_code == 404


def test_zip_hidden_by_a_conflict(client, world):
    from evaluation.models import ConflictOfInterest

    evaluator = world.user("cra_evaluator")
    ConflictOfInterest.objects.create(
        candidature=world.candidature_a, evaluator=evaluator, source="declared", reason="Membre"
    )
    client.force_login(evaluator)
    assert client.get(reverse("documents_zip", args=[world.candidature_a.pk])).status_code == 404


def test_opinion_shown_in_export_after_save(client, world, cell, exported):
    """The export reads the opinion written through the domain function."""
    coordinator = world.user("cra_coordinator")
    consolidation.save_opinion(exported["plain"], coordinator, "100", "", "favorable", "Top")
    client.force_login(coordinator)
    _header, rows = _sheet(client.get(reverse("consolidation_export", args=[cell.pk])))
    assert rows["Bocage"]["Avis collégial"].value == "favorable"
    assert rows["Bocage"]["Note consolidée /100"].value == 100
