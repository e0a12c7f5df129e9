"""Open data of a call's results: the public page of the laureates and the CSV of the granted
subsidies, validated with Frictionless against the project's copy of the SCDL « subventions »
schema 2.0.1 (loaded from the local file: nothing is fetched)."""

import csv
import io
import json
import logging
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from frictionless import Resource, Schema

from ami.identifiers import is_valid_siret, luhn_ok
from ami.models import Call, Phase
from evaluation import opendata
from evaluation.models import Decision, DecisionOutcome
from tests import factories as f
from tests.evaluation.national_helpers import fix_list, national_edition, publish

GRANTING_BODY = {
    "granting_body_name": "Ministère du Travail, de la Santé et des Solidarités",
    "granting_body_siret": "11000201100044",
}
EVIL_NAME = '=HYPERLINK("x")'


def make_siret(number: int) -> str:
    """A valid SIRET (SIREN and SIRET check keys) built from ``number``."""

    def with_key(payload: str) -> str:
        return next(payload + str(d) for d in range(10) if luhn_ok(payload + str(d)))

    siren = with_key(f"{number + 10_000_000:08d}")
    return with_key(siren + "0001")


def schema() -> Schema:
    with opendata.SCHEMA_PATH.open(encoding="utf-8") as schema_file:
        return Schema.from_descriptor(json.load(schema_file))


def report(content: bytes):
    return Resource(content, format="csv", encoding="utf-8", schema=schema()).validate()


def errors(content: bytes) -> list:
    return report(content).flatten(["rowNumber", "fieldName", "type", "note"])


def csv_rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8"))))


def give_sirets(edition):
    for index, candidature in enumerate(edition.candidatures):
        candidature.ptce.siret = make_siret(index + 1)
        candidature.ptce.save(update_fields=["siret"])


@pytest.fixture
def edition(db):
    """Three candidatures of two regions handed over to the CNA; every PTCE has a SIRET."""
    edition = national_edition({"11": [70, 60], "53": [50]}, **GRANTING_BODY)
    give_sirets(edition)
    first, second, third = edition.candidatures
    first.title, first.is_rural = "Filière bois du plateau", True
    first.save(update_fields=["title", "is_rural"])
    third.ptce.name = EVIL_NAME
    third.ptce.save(update_fields=["name"])
    third.in_qpv = True
    third.save(update_fields=["in_qpv"])
    return edition


@pytest.fixture
def published(edition):
    """Two laureates (one of them the PTCE with a formula for a name), one not selected."""
    first, second, third = edition.candidatures
    fix_list(edition, {first: "45000.50", third: "30000"})
    publish(edition)
    return edition


def laureates_url(call):
    return reverse("call_laureates", args=[call.slug])


def csv_url(call):
    return reverse("call_subsidies_csv", args=[call.slug])


# --- The CSV -------------------------------------------------------------------------------------


def test_csv_validates_against_the_scdl_schema(client, published):
    response = client.get(csv_url(published.call))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    slug = published.call.slug
    assert response["Content-Disposition"] == f'attachment; filename="{slug}-subventions.csv"'
    content = response.content
    assert errors(content) == []
    assert content.decode("utf-8").splitlines()[0] == ",".join(
        spec["name"] for spec in opendata.scdl_schema()["fields"]
    )


def test_csv_rows(client, published):
    call = published.call
    first, _second, third = published.candidatures
    published_at = Decision.objects.get(candidature=first).published_at
    published_on = published_at.astimezone(ZoneInfo("Europe/Paris")).date().isoformat()

    rows = csv_rows(client.get(csv_url(call)).content)

    # By region (Bretagne, then Île-de-France), then PTCE name.
    assert [row["idBeneficiaire"] for row in rows] == [third.ptce.siret, first.ptce.siret]
    assert rows[0]["montant"] == "30000.00"
    row = rows[1]
    assert row == {
        "nomAttribuant": GRANTING_BODY["granting_body_name"],
        "idAttribuant": GRANTING_BODY["granting_body_siret"],
        "dateConvention": published_on,
        "referenceDecision": f"{call.slug}-{first.receipt_number}",
        "nomBeneficiaire": first.ptce.name,
        "idBeneficiaire": first.ptce.siret,
        "objet": f"Financement du développement du PTCE {first.ptce.name} ({call.name})",
        "montant": "45000.50",
        "nature": "aide en numéraire",
        "conditionsVersement": "unique",
        "datesPeriodeVersement": published_on,
        "idRAE": "",
        "notificationUE": "non",
        "pourcentageSubvention": "1.00",
    }


def test_date_of_publication_is_the_paris_date(published):
    """Published at 23:30 UTC on 31 December: 1 January in Paris."""
    late = datetime(2026, 12, 31, 23, 30, tzinfo=ZoneInfo("UTC"))
    Decision.objects.filter(deliberation__call=published.call).update(published_at=late)

    rows = opendata.scdl_rows(published.call)

    assert {row["dateConvention"] for row in rows} == {"2027-01-01"}
    assert {row["datesPeriodeVersement"] for row in rows} == {"2027-01-01"}


def test_payment_settings_of_the_call(client, published):
    call = published.call
    call.subsidy_payment_terms = "échelonné"
    call.subsidy_payment_start = date(2027, 1, 15)
    call.subsidy_payment_end = date(2027, 12, 15)
    call.save()

    content = client.get(csv_url(call)).content

    assert errors(content) == []
    rows = csv_rows(content)
    assert {row["conditionsVersement"] for row in rows} == {"échelonné"}
    assert {row["datesPeriodeVersement"] for row in rows} == {"2027-01-15/2027-12-15"}


BROKEN = [
    ("idAttribuant", "1100020110004"),
    ("dateConvention", "27/11/2026"),
    ("nomBeneficiaire", ""),
    ("idBeneficiaire", "7328293200007A"),
    ("objet", "x" * 257),
    ("montant", "45000,50"),
    ("nature", "subvention"),
    ("datesPeriodeVersement", "2026-11-27_2027-11-27"),
    ("idRAE", "123456"),
    ("notificationUE", "false"),
    ("pourcentageSubvention", "45"),
]


@pytest.mark.parametrize(("name", "value"), BROKEN)
def test_validation_catches_a_broken_row(client, published, name, value):
    """The schema check bites: the served file is valid, the same file with one wrong value is
    not."""
    rows = csv_rows(client.get(csv_url(published.call)).content)
    rows[0][name] = value
    output = io.StringIO()
    writer = csv.DictWriter(output, fieldnames=opendata.scdl_fields(), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)

    found = errors(output.getvalue().encode("utf-8"))

    assert [(row, field) for row, field, *_ in found] == [(2, name)]


def test_validation_catches_a_wrong_header(client, published):
    content = client.get(csv_url(published.call)).content
    broken = content.replace(b"pourcentageSubvention", b"pourcentage", 1)

    assert not report(broken).valid


def test_formula_in_a_name_comes_out_inert_and_valid(client, published):
    content = client.get(csv_url(published.call)).content

    rows = csv_rows(content)
    evil = next(row for row in rows if EVIL_NAME in row["nomBeneficiaire"])
    assert evil["nomBeneficiaire"] == "'" + EVIL_NAME
    assert evil["objet"].startswith("Financement du développement du PTCE =HYPERLINK")
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())
    assert errors(content) == []


def test_neutralised_text_keeps_to_the_schema_length(client, published):
    call = published.call
    call.subsidy_payment_terms = "=" + "x" * 255
    call.save()

    content = client.get(csv_url(call)).content

    assert errors(content) == []
    terms = csv_rows(content)[0]["conditionsVersement"]
    assert terms.startswith("'=") and len(terms) == 256


def test_long_object_is_cut_to_256_characters(client, edition):
    first = edition.candidatures[0]
    first.ptce.name = "P" * 200
    first.ptce.save(update_fields=["name"])
    edition.call.name = "A" * 200
    edition.call.save(update_fields=["name"])
    fix_list(edition, {first: "40000"})
    publish(edition)

    content = client.get(csv_url(edition.call)).content

    assert errors(content) == []
    assert len(csv_rows(content)[0]["objet"]) == 256


def test_not_selected_never_and_pending_not_yet(client, published):
    """A decision still pending (e.g. a later batch) is in neither the file nor the page; a
    candidature not selected is never."""
    call = published.call
    _first, not_selected, _third = published.candidatures
    pending = f.CandidatureFactory(
        call=call,
        ptce=f.PtceFactory(name="PTCE en attente", siret=make_siret(99), region=f.region("11")),
    )
    Decision.objects.create(
        candidature=pending,
        deliberation=call.deliberation,
        outcome=DecisionOutcome.LAUREATE,
        granted_amount=Decimal("50000"),
        motivation="Pas encore publiée.",
    )

    content = client.get(csv_url(call)).content.decode("utf-8")
    page = client.get(laureates_url(call)).content.decode("utf-8")

    for hidden in (pending.ptce, not_selected.ptce):
        assert hidden.name not in content and hidden.siret not in content
        assert hidden.name not in page
    assert len(csv_rows(content.encode("utf-8"))) == 2
    assert len(opendata.published_laureates(call)) == 2


def test_laureate_without_valid_siret_is_left_out_and_logged(client, edition, caplog):
    first, _second, third = edition.candidatures
    first.ptce.siret = "12345678901234"  # 14 digits, wrong check key
    first.ptce.save(update_fields=["siret"])
    assert not is_valid_siret(first.ptce.siret)
    fix_list(edition, {first: "45000.50", third: "30000"})
    publish(edition)
    published = edition

    with caplog.at_level(logging.WARNING, logger="evaluation.opendata"):
        content = client.get(csv_url(published.call)).content

    assert errors(content) == []
    assert [row["nomBeneficiaire"] for row in csv_rows(content)] == ["'" + EVIL_NAME]
    assert any(first.ptce.name in message for message in caplog.messages)
    # The public page still lists the laureate; the CNA sees why it is not in the file.
    page = client.get(laureates_url(published.call)).content.decode("utf-8")
    assert first.ptce.name in page
    assert "SIRET invalide" not in page
    client.force_login(published.member)
    page = client.get(laureates_url(published.call)).content.decode("utf-8")
    assert f"{first.ptce.name} : SIRET invalide" in page


def test_without_granting_body_settings_no_file_and_the_cna_is_told(client, published):
    call = published.call
    call.granting_body_siret = ""
    call.save()

    assert client.get(csv_url(call)).status_code == 404
    page = client.get(laureates_url(call)).content.decode("utf-8")
    assert csv_url(call) not in page
    assert "seront publiées prochainement" in page
    client.force_login(published.admin)
    page = client.get(laureates_url(call)).content.decode("utf-8")
    assert "attribuant est absent ou invalide dans les réglages" in page


# --- Before publication, drafts, unknown calls ---------------------------------------------------


def test_nothing_before_publication(client, edition):
    first, _second, third = edition.candidatures
    fix_list(edition, {first: "45000", third: "30000"})  # pending decisions, not published

    assert opendata.scdl_rows(edition.call) == []
    assert list(opendata.published_laureates(edition.call)) == []
    assert client.get(laureates_url(edition.call)).status_code == 404
    assert client.get(csv_url(edition.call)).status_code == 404


@pytest.mark.parametrize("url", [laureates_url, csv_url])
def test_unknown_and_draft_calls_are_404(client, published, url):
    unknown = f.CallFactory.build(slug="appel-inconnu")
    assert client.get(url(unknown)).status_code == 404

    assert client.get(url(published.call)).status_code == 200
    Call.objects.filter(pk=published.call.pk).update(phase=Phase.DRAFT)
    assert client.get(url(published.call)).status_code == 404


# --- The public page -----------------------------------------------------------------------------


def test_public_page(client, published):
    call = published.call
    first, _second, third = published.candidatures

    response = client.get(laureates_url(call))

    assert response.status_code == 200
    page = response.content.decode("utf-8")
    assert 'aria-current="page">Lauréats</a>' in page
    assert f'href="{reverse("call_detail", args=[call.slug])}"' in page
    assert "<caption>" in page and '<th scope="col">Montant accordé</th>' in page
    # By region (Bretagne before Île-de-France), the formula escaped as text.
    assert page.index("=HYPERLINK(&quot;x&quot;)") < page.index(first.ptce.name)
    assert "Filière bois du plateau" in page
    assert "45\u202f000,50\u00a0€" in page and "30\u202f000\u00a0€" in page
    assert "75\u202f000,50\u00a0€ accordés sur une enveloppe de 500\u202f000\u00a0€" in page
    assert "2 lauréats" in page
    assert "territoire rural" in page and "quartier prioritaire (QPV)" in page
    assert f'href="{csv_url(call)}"' in page
    assert "Télécharger les données (CSV, schéma SCDL subventions)" in page
    assert "Données ouvertes des subventions incomplètes" not in page


@pytest.mark.parametrize("as_cna", [False, True])
def test_page_queries_do_not_grow_with_laureates(client, db, as_cna):
    def queries(count):
        edition = national_edition(
            {"11": [60] * (count // 2), "53": [50] * (count - count // 2)},
            envelope=Decimal("5000000"),
            **GRANTING_BODY,
        )
        give_sirets(edition)
        edition.candidatures[0].ptce.siret = ""  # one skipped row, shown to the CNA
        edition.candidatures[0].ptce.save(update_fields=["siret"])
        fix_list(edition, dict.fromkeys(edition.candidatures, "40000"))
        publish(edition)
        if as_cna:
            client.force_login(edition.member)
        with CaptureQueriesContext(connection) as context:
            response = client.get(laureates_url(edition.call))
        assert response.status_code == 200
        assert response.content.decode("utf-8").count('<th scope="row">') == count + 1
        return len(context)

    assert queries(2) == queries(20)


def test_call_page_links_to_the_laureates_once_published(client, edition):
    call = edition.call
    first = edition.candidatures[0]
    fix_list(edition, {first: "45000"})
    call_page = reverse("call_detail", args=[call.slug])

    assert laureates_url(call) not in client.get(call_page).content.decode("utf-8")
    publish(edition)
    assert laureates_url(call) in client.get(call_page).content.decode("utf-8")


# --- The public record is frozen at publication (issue 12, defect 2) ---------------------------


def test_renaming_the_ptce_after_publication_changes_no_public_record(client, published):
    first = published.candidatures[0]
    name, siret = first.ptce.name, first.ptce.siret
    first.ptce.name, first.ptce.siret = "Nouveau nom après publication", make_siret(77)
    first.ptce.save(update_fields=["name", "siret"])

    content = client.get(csv_url(published.call)).content
    page = client.get(laureates_url(published.call)).content.decode("utf-8")

    row = next(
        r for r in csv_rows(content) if r["referenceDecision"].endswith(first.receipt_number)
    )
    assert (row["nomBeneficiaire"], row["idBeneficiaire"]) == (name, siret)
    assert name in row["objet"]
    assert "Nouveau nom après publication" not in content.decode("utf-8")
    assert name in page and "Nouveau nom après publication" not in page


def test_staff_correct_the_published_beneficiary_in_the_admin_and_it_is_logged(client, published):
    from ami.audit import history_of

    first = published.candidatures[0]
    decision = Decision.objects.get(candidature=first)
    staff = f.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    url = reverse("admin:evaluation_decision_change", args=[decision.pk])
    refused = client.post(url, {"beneficiary_name": "Corrigé", "beneficiary_siret": "123"})
    assert refused.status_code == 200
    assert Decision.objects.get(pk=decision.pk).beneficiary_siret == first.ptce.siret
    response = client.post(
        url, {"beneficiary_name": "Nom corrigé", "beneficiary_siret": make_siret(55)}
    )
    assert response.status_code == 302
    decision.refresh_from_db()
    assert (decision.beneficiary_name, decision.beneficiary_siret) == (
        "Nom corrigé",
        make_siret(55),
    )
    assert decision.outcome == DecisionOutcome.LAUREATE  # nothing else changes
    changes = history_of(decision).changes
    assert any(
        change.actor == staff and "beneficiary_siret" in {fc.name for fc in change.fields}
        for change in changes
    )
