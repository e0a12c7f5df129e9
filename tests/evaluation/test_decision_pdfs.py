"""The documents of issue 16, item 4: the procès-verbal with nothing cut (a 2 000-character
justification found whole in the PDF's text), its signature block, and the laureate's
« notification d'attribution » (amount, conditions, signatory), both tagged PDF/UA-1 in
Marianne."""

import io
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from pypdf import PdfReader

from ami.formats import euros
from evaluation import deliberation as domain
from evaluation.models import Decision
from evaluation.national_exports import pv_pdf
from evaluation.notification import notification_pdf

from .national_helpers import fix_list, national_edition, publish

pytestmark = pytest.mark.django_db


def _spaces(text: str) -> str:
    return re.sub(r"[\s\u202f\xa0]+", " ", text)


def _text(content: bytes) -> str:
    """The PDF's text, with every kind of space as one plain space."""
    pages = PdfReader(io.BytesIO(content)).pages
    return _spaces("\n".join(page.extract_text() or "" for page in pages))


def _in_order(words: list[str], text: str) -> bool:
    tokens = re.findall(r"\S+", text)
    position = 0
    for word in words:
        try:
            position = tokens.index(word, position) + 1
        except ValueError:
            return False
    return True


def _fonts(content: bytes) -> set[str]:
    names = set()
    for page in PdfReader(io.BytesIO(content)).pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            names.add(str(font.get_object().get("/BaseFont")))
    return names


def _is_pdf_ua(content: bytes) -> bool:
    reader = PdfReader(io.BytesIO(content))
    metadata = reader.trailer["/Root"].get("/Metadata")
    xmp = metadata.get_object().get_data().decode("utf-8", "replace") if metadata else ""
    return "pdfuaid" in xmp and bool(reader.trailer["/Root"].get("/StructTreeRoot"))


def test_pv_keeps_a_2000_character_justification_whole_with_signatures():
    edition = national_edition({"11": [80, 70]})
    edition.call.signatory_name = "Claire Dubois"
    edition.call.signatory_title = "Présidente de la cellule nationale"
    edition.call.save()
    words = [f"motif{index:03d}" for index in range(250)]
    justification = " ".join(words)[:2000]
    assert len(justification) == 2000
    session = domain.open_deliberation(
        edition.call,
        edition.admin,
        held_on="2026-11-20",
        members_present=[edition.admin, edition.member],
    )
    line = session.lines.get(candidature=edition.candidatures[1])
    domain.set_line(
        line, edition.admin, selected=True, amount=Decimal("40000"), justification=justification
    )
    domain.fix_list(session, edition.admin)
    content = pv_pdf(session, viewer=edition.admin)
    text = _text(content)
    # Whole, in order: the row may break across pages (the page's footer and the repeated
    # table header then come in between), but no word is cut or lost at the page's edge.
    assert _in_order(justification.split(), text)
    assert "Signatures" in text and "Membre présent" in text
    assert "Claire Dubois, Présidente de la cellule nationale" in text
    for member in (edition.admin, edition.member):
        assert member.get_full_name() in text
    assert any("Marianne" in name for name in _fonts(content))
    assert _is_pdf_ua(content)


def test_laureate_downloads_the_notification_after_publication(client):
    edition = national_edition({"11": [80, 70]})
    call = edition.call
    call.grant_conditions = "Convention signée sous deux mois ; compte rendu annuel."
    call.signatory_name = "Claire Dubois"
    call.signatory_title = "Déléguée ministérielle à l'ESS"
    call.save()
    winner, loser = edition.candidatures
    fix_list(edition, {winner: "45000"})
    url = reverse("notification_pdf", args=[winner.pk])
    client.force_login(edition.applicants[winner.pk])
    assert client.get(url).status_code == 404  # pending: nothing yet
    publish(edition)
    page = client.get(reverse("candidature_detail", args=[winner.pk])).content.decode()
    assert url in page
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = _text(response.content)
    for fragment in (
        _spaces(euros(Decimal("45000"))),
        "Convention signée sous deux mois",
        "Claire Dubois",
        "Déléguée ministérielle à l'ESS",
        winner.ptce.name,
        "tribunal administratif",
    ):
        assert fragment in text, fragment
    assert _is_pdf_ua(response.content)
    # The other applicant (not selected, other PTCE) gets nothing.
    client.force_login(edition.applicants[loser.pk])
    assert client.get(url).status_code == 404
    assert client.get(reverse("notification_pdf", args=[loser.pk])).status_code == 404
    decision = Decision.objects.get(candidature=winner)
    decision.internal_note = "SECRET-INTERNE"
    assert "SECRET-INTERNE" not in _text(notification_pdf(decision))
