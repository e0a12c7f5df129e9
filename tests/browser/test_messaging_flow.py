"""The thread with the applicant in a real browser (issue 15): the coordinator writes from the
admissibility page; the applicant follows the email's link, reads the message and answers with an
attachment; the coordinator sees the unread count on the cell's dashboard and reads the answer;
an internal note stays invisible to the applicant. axe-core on every page state."""

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.models import RegionalRole
from ami.models import OutboxMessage
from candidatures import workflow
from candidatures.models import CandidatureState, InternalNote, Message
from tests import factories as f
from tests.candidatures.helpers import PDF_BYTES, commune, complete_candidature

from .flows import open_admissibility, open_cell_dashboard, sign_in
from .helpers import expect_message, log_out

pytestmark = pytest.mark.browser

PTCE_NAME = "Pôle Réemploi Rennes"
QUESTION = "Pouvez-vous préciser le nombre de chantiers d'insertion prévus en 2027 ?"
ANSWER = "Douze chantiers, le détail est dans le devis joint."
NOTE = "À vérifier en commission : le devis semble sous-évalué."
LINK = re.compile(r"https?://[^\s<>\"]+")


def _thread_link(live_server, recipient: str, event: str) -> str:
    message = OutboxMessage.objects.get(recipient=recipient, event=event)
    assert QUESTION not in message.body_text and ANSWER not in message.body_text
    [link] = [url for url in LINK.findall(message.body_text) if "/messages/" in url]
    return f"{live_server.url}{urlsplit(link).path}"


def test_coordinator_and_applicant_talk_through_the_thread(page, live_server, axe_check):
    call = f.CallFactory(name="AMI PTCE 2026")
    f.DocumentTypeFactory(call=call, label="Statuts", mandatory=True)
    bretagne = f.region("53")
    applicant = f.UserFactory(email="lea.martin@example.org", first_name="Léa", last_name="Martin")
    ptce = f.PtceMembershipFactory(user=applicant, ptce__name=PTCE_NAME, ptce__region=bretagne).ptce
    candidature = complete_candidature(f.CandidatureFactory(ptce=ptce, call=call))
    ptce.seat_commune = commune("35238", "Rennes", "35", "53")
    ptce.save()
    candidature.region = bretagne
    candidature.save()
    workflow.transition(candidature, CandidatureState.SUBMITTED, applicant)
    cell = f.RegionalCellFactory(call=call, region=bretagne)
    coordinator = f.RegionalMembershipFactory(
        cell=cell,
        role=RegionalRole.COORDINATOR,
        user=f.UserFactory(
            email="claire.coord@example.org", first_name="Claire", last_name="Coordinatrice"
        ),
    ).user

    # --- The coordinator writes from the admissibility page, and leaves an internal note. ---
    sign_in(page, axe_check, coordinator.email)
    open_cell_dashboard(page, axe_check, "Bretagne")
    open_admissibility(page, axe_check, PTCE_NAME)
    page.get_by_role("link", name="Messagerie", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Messagerie – {PTCE_NAME}")
    expect(page.get_by_text("Aucun message pour l'instant.")).to_be_visible()
    axe_check(page)
    page.get_by_label(re.compile("^Votre message au porteur")).fill(QUESTION)
    page.get_by_role("button", name="Envoyer le message").click()
    expect_message(page, "Votre message a été envoyé.")
    expect(page.get_by_text(QUESTION)).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="Notes internes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Notes internes – {PTCE_NAME}")
    axe_check(page)
    page.get_by_label(re.compile("^Note interne — jamais visible du porteur")).fill(NOTE)
    page.get_by_role("button", name="Enregistrer la note interne").click()
    expect_message(page, "La note interne a été enregistrée.")
    expect(page.get_by_text(NOTE)).to_be_visible()
    axe_check(page)
    assert InternalNote.objects.get().text == NOTE
    log_out(page, axe_check)

    # --- The applicant follows the email's link, reads, answers with an attachment. ---
    link = _thread_link(live_server, applicant.email, "message.to_team")
    sign_in(page, axe_check, applicant.email)
    expect(page.locator("#messages-non-lus")).to_contain_text("1 message non lu")
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Messagerie – {PTCE_NAME}")
    expect(page.get_by_text(QUESTION)).to_be_visible()
    expect(page.get_by_text("Cellule régionale d'animation", exact=True)).to_be_visible()
    expect(page.get_by_text(NOTE)).to_have_count(0)
    expect(page.get_by_role("link", name="Notes internes")).to_have_count(0)
    axe_check(page)
    page.get_by_label(re.compile("^Votre message")).fill(ANSWER)
    page.get_by_label(re.compile(r"^Pièce jointe \(facultative\)")).set_input_files(
        {"name": "devis.pdf", "mimeType": "application/pdf", "buffer": PDF_BYTES}
    )
    page.get_by_role("button", name="Envoyer le message").click()
    expect_message(page, "Votre message a été envoyé.")
    expect(page.get_by_text(ANSWER)).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("^devis.pdf"))).to_be_visible()
    axe_check(page)
    assert Message.objects.get(text=ANSWER).attachment_name == "devis.pdf"
    # The notes page does not exist for the applicant.
    response = page.goto(f"{live_server.url}/candidatures/{candidature.pk}/notes-internes/")
    assert response.status == 404
    axe_check(page)
    page.goto(f"{live_server.url}/candidatures/{candidature.pk}/")
    expect(page.get_by_text("Notes internes")).to_have_count(0)
    log_out(page, axe_check)

    # --- The coordinator sees the unread count and reads the answer and its attachment. ---
    _thread_link(live_server, coordinator.email, "message.to_cell")  # emailed, link only
    sign_in(page, axe_check, coordinator.email)
    open_cell_dashboard(page, axe_check, "Bretagne")
    row = page.get_by_role("row", name=re.compile(PTCE_NAME))
    expect(row).to_contain_text("1 non lu")
    row.get_by_role("link", name=f"Messagerie : {PTCE_NAME}").click()
    expect(page.get_by_text(ANSWER)).to_be_visible()
    axe_check(page)
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("^devis.pdf")).click()
    assert download.value.suggested_filename == "devis.pdf"
    page.goto(f"{live_server.url}/instruction/cellules/{cell.pk}/")
    expect(page.get_by_role("row", name=re.compile(PTCE_NAME))).not_to_contain_text("non lu")
