"""Every PDF made for people carries the State's identity (issue 17, item 7): the « République
française » block with its motto, drawn in Marianne (the State's typeface shipped by
django-dsfr), read back from the PDF itself with pypdf."""

import io
import re
import threading
from decimal import Decimal

import pytest
from pypdf import PdfReader

from ami import pdf
from candidatures import workflow
from candidatures.models import CandidatureState
from candidatures.receipt import receipt_pdf
from evaluation.models import Decision
from evaluation.national_exports import pv_pdf
from evaluation.notification import notification_pdf
from tests.candidatures.helpers import submittable
from tests.evaluation.national_helpers import fix_list, national_edition, publish

pytestmark = pytest.mark.django_db


def _text(content: bytes) -> str:
    pages = PdfReader(io.BytesIO(content)).pages
    return re.sub(r"[\s\u202f\xa0]+", " ", " ".join(page.extract_text() or "" for page in pages))


def _fonts(content: bytes) -> set[str]:
    """The base names of the fonts the pages use, without their subset prefix."""
    names = set()
    for page in PdfReader(io.BytesIO(content)).pages:
        for font in (page.get("/Resources") or {}).get("/Font", {}).values():
            names.add(str(font.get_object().get("/BaseFont")).lstrip("/").split("+")[-1])
    return names


def assert_state_identity(content: bytes) -> None:
    text = _text(content)
    # Drawn in capitals as the DSFR's « bloc-marque », the motto under it, on the first page.
    first_page = re.sub(r"\s+", " ", PdfReader(io.BytesIO(content)).pages[0].extract_text())
    assert "RÉPUBLIQUE FRANÇAISE" in first_page, first_page[:200]
    assert "Liberté Égalité Fraternité" in text
    fonts = _fonts(content)
    assert {"Marianne", "Marianne-Bold"} <= fonts, fonts
    # No text falls back on a generic face, page numbers included (only the checksums' monospace).
    assert all(name.startswith("Marianne") or "Mono" in name for name in fonts), fonts


def test_the_receipt_carries_the_state_block_in_marianne():
    candidature, user = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    candidature.refresh_from_db()
    content = receipt_pdf(candidature)
    assert_state_identity(content)
    assert candidature.receipt_number in _text(content)


def test_the_notification_and_the_pv_carry_the_state_block_in_marianne():
    edition = national_edition({"11": [80, 70]})
    winner, _ = edition.candidatures
    session = fix_list(edition, {winner: "45000"})
    assert_state_identity(pv_pdf(session, viewer=edition.admin))
    publish(edition)
    decision = Decision.objects.get(candidature=winner)
    assert decision.granted_amount == Decimal("45000")
    assert_state_identity(notification_pdf(decision))


def test_pdfs_made_in_a_row_share_the_fonts_loaded_once_per_thread():
    """Loading Marianne costs more than a short layout: one font configuration and stylesheet
    per thread, reused by each PDF, every PDF still set in Marianne."""
    first = pdf._fonts_and_stylesheet()
    assert pdf._fonts_and_stylesheet() == first
    other = []
    thread = threading.Thread(target=lambda: other.append(pdf._fonts_and_stylesheet()))
    thread.start()
    thread.join()
    assert other[0][0] is not first[0] and other[0][1] is not first[1]
    candidature, user = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    candidature.refresh_from_db()
    receipt_pdf(candidature)
    assert_state_identity(receipt_pdf(candidature))
    assert pdf._fonts_and_stylesheet() == first
