"""Issue 16 in a real browser: the CNA administrator fixes the list, edits the motivations in
the decisions table (a line saved by its button, another by autosave), previews the letters,
publishes after confirming the password and sends the held batch; the laureate downloads the
« notification d'attribution ». axe-core on every page visited."""

import re
from datetime import date
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ami.models import OutboxMessage, OutboxState
from candidatures import letters
from evaluation import deliberation as domain
from evaluation.models import Decision
from tests.evaluation.national_helpers import national_edition

from .flows import fix_the_list, preview_and_publish
from .helpers import expect_message, log_in, log_out

pytestmark = pytest.mark.browser


def test_fix_edit_in_the_table_publish_and_download_the_notification(page, live_server, axe_check):
    edition = national_edition({"11": [82, 70], "53": [75]}, envelope=Decimal("100000"))
    call = edition.call
    call.signatory_name = "Claire Dubois"
    call.signatory_title = "Déléguée ministérielle à l'ESS"
    call.save()
    best, weaker, breton = edition.candidatures
    for candidature, name in zip(
        edition.candidatures,
        ["Pôle Réemploi Paris", "Fabrique Solidaire Montreuil", "Archipel Bois Rennes"],
        strict=True,
    ):
        candidature.ptce.name = name
        candidature.ptce.save()
    session = domain.open_deliberation(
        call, edition.admin, held_on=date(2026, 11, 20), members_present=[edition.admin]
    )
    domain.set_line(
        session.lines.get(candidature=best),
        edition.admin,
        selected=True,
        amount=Decimal("50000"),
        justification="Meilleur dossier.",
    )

    # --- The administrator fixes the list. ---
    log_in(page, edition.admin.email, axe_check)
    page.goto(f"/instruction/national/{call.pk}/deliberation/")
    axe_check(page)
    fix_the_list(page, axe_check)

    # --- The motivations, edited in the table. ---
    page.get_by_role("link", name="Relire et modifier dans le tableau").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Décisions à relire")
    expect(page.locator("#total-decisions")).to_contain_text("50\u202f000")
    axe_check(page)
    weaker_decision = Decision.objects.get(candidature=weaker)
    field = page.get_by_label("Motivation communicable pour Fabrique Solidaire Montreuil")
    field.fill("Le plan de financement n'est pas encore consolidé.")
    page.locator(f"#ligne-{weaker_decision.pk}").get_by_role("button", name="Enregistrer").click()
    expect_message(page, "est enregistrée")
    axe_check(page)
    breton_decision = Decision.objects.get(candidature=breton)
    page.get_by_label("Motivation communicable pour Archipel Bois Rennes").fill(
        "Projet à représenter l'an prochain avec ses cofinancements."
    )
    expect(page.locator(f"#etat-{breton_decision.pk}")).to_contain_text("Enregistré à")
    axe_check(page)
    breton_decision.refresh_from_db()
    assert breton_decision.motivation.startswith("Projet à représenter")
    page.get_by_role("link", name="Retour aux décisions").click()

    # --- Preview, publish with the password, send the held batch. ---
    preview_and_publish(page, axe_check, [edition.applicants[best.pk].email])
    letters_sent = OutboxMessage.objects.filter(event__startswith="decision.")
    assert letters_sent.count() == 3
    assert not letters_sent.filter(state=OutboxState.HELD).exists()
    for letter in letters_sent:
        assert letters.has_appeal_mention(letter.body_text)
    refusal = letters_sent.get(recipient=edition.applicants[weaker.pk].email)
    assert "plan de financement n'est pas encore consolidé" in refusal.body_text
    log_out(page, axe_check)

    # --- The laureate downloads the notification. ---
    log_in(page, edition.applicants[best.pk].email, axe_check)
    page.goto(f"/candidatures/{best.pk}/")
    expect(page.locator("#decision")).to_contain_text("Candidature retenue")
    axe_check(page)
    with page.expect_download() as download_info:
        page.get_by_role("link", name=re.compile("notification d'attribution")).click()
    download = download_info.value
    assert download.suggested_filename.startswith("notification-attribution-")
    with open(download.path(), "rb") as pdf:
        assert pdf.read(4) == b"%PDF"
