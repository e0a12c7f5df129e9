"""The national review in a real browser: a CNA member writes an analysis; the administrator
runs the selection assistant, opens the deliberation from the scenario, overrides one line with
a justification, fixes the list, previews the emails and publishes; the applicant reads the
decision. axe-core on every page visited."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ami.models import OutboxMessage, Phase
from candidatures.models import CandidatureState
from evaluation.models import Decision, DeliberationOverride, NationalReview
from tests.evaluation.national_helpers import national_edition

from .helpers import expect_message, log_in, log_out, main_menu, tick

pytestmark = pytest.mark.browser


def test_cna_reviews_selects_deliberates_and_publishes(page, live_server, axe_check):
    edition = national_edition(
        {"11": [82, 70], "53": [75]},
        name="AMI PTCE 2026",
        envelope=Decimal("100000"),
    )
    best, weaker, breton = edition.candidatures
    for candidature, name in zip(
        edition.candidatures,
        ["Pôle Réemploi Paris", "Fabrique Solidaire Montreuil", "Archipel Bois Rennes"],
        strict=True,
    ):
        candidature.ptce.name = name
        candidature.ptce.save()
    winner_applicant = edition.applicants[best.pk]

    # --- A CNA member analyses a candidature. ---
    log_in(page, edition.member.email, axe_check)
    main_menu(page, "Instruction nationale")
    expect(page.get_by_role("heading", level=1)).to_have_text("Instruction nationale")
    expect(page.get_by_role("row", name=re.compile("Archipel Bois Rennes"))).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name="Archipel Bois Rennes").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Archipel Bois Rennes")
    axe_check(page)
    page.get_by_label("Note globale (sur 100)").fill("71,5")
    page.get_by_label("Avis").select_option("reserved")
    page.get_by_label("Analyse").fill("Filière bois prometteuse, cofinancements à confirmer.")
    page.get_by_role("button", name="Enregistrer mon analyse").click()
    expect_message(page, "Votre analyse est enregistrée.")
    expect(
        page.get_by_role("paragraph").filter(has_text="Filière bois prometteuse")
    ).to_be_visible()
    axe_check(page)
    assert NationalReview.objects.get().reviewer == edition.member
    log_out(page, axe_check)

    # --- The administrator runs the assistant. ---
    log_in(page, edition.admin.email)
    main_menu(page, "Instruction nationale")
    page.get_by_role("link", name="Assistant de sélection").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assistant de sélection")
    axe_check(page)
    page.get_by_label("Nom du scénario").fill("Notes brutes")
    page.get_by_label("Note à maximiser").select_option("raw")
    page.get_by_role("button", name="Calculer et enregistrer le scénario").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Scénario « Notes brutes »")
    lines = page.locator("#lignes-scenario")
    expect(lines.get_by_role("row", name=re.compile("Pôle Réemploi Paris"))).to_contain_text(
        "Retenue"
    )
    expect(lines.get_by_role("row", name=re.compile("Fabrique Solidaire"))).to_contain_text(
        "Non retenue"
    )
    axe_check(page)

    # --- The deliberation starts from the scenario. ---
    page.get_by_role("link", name="Ouvrir la délibération à partir de ce scénario").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Délibération de la CNA")
    axe_check(page)
    for person in (edition.admin, edition.member):
        tick(page.get_by_role("checkbox", name=str(person)))
    page.get_by_role("button", name="Ouvrir la séance").click()
    expect_message(page, "La séance est ouverte.")
    expect(page.locator("#total-courant")).to_contain_text("2 lauréats")
    axe_check(page)

    # --- One line overridden with a justification. ---
    page.get_by_role("link", name="Modifier la ligne Pôle Réemploi Paris").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pôle Réemploi Paris")
    axe_check(page)
    page.get_by_label("Montant accordé (€)").fill("45 000")
    page.get_by_role("button", name="Enregistrer la ligne").click()
    expect(page.locator(".fr-error-text").first).to_contain_text("Justifiez")
    axe_check(page)  # the form with its error
    page.get_by_label("Justification").fill("Montant ramené au budget de la première année.")
    page.get_by_role("button", name="Enregistrer la ligne").click()
    expect_message(page, "est modifiée")
    expect(page.locator("#total-courant")).to_contain_text("95\u202f000")
    expect(page.get_by_role("row", name=re.compile("Pôle Réemploi Paris"))).to_contain_text(
        "Montant ramené au budget"
    )
    override = DeliberationOverride.objects.get()
    assert override.actor == edition.admin and override.amount == Decimal("45000")

    # --- The list is fixed; the decisions are pending. ---
    page.get_by_role("button", name="Arrêter la liste").click()
    expect_message(page, "La liste est arrêtée")
    expect(page.get_by_role("heading", level=1)).to_have_text("Décisions")
    axe_check(page)
    assert Decision.objects.filter(published_at__isnull=True).count() == 3

    # --- Preview, then publish. ---
    page.get_by_role("link", name="Prévisualiser et publier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Publication des résultats")
    expect(page.get_by_text(winner_applicant.email)).to_be_visible()
    axe_check(page)
    tick(page.get_by_role("checkbox", name=re.compile("J'ai relu les décisions")))
    page.get_by_role("button", name="Publier les résultats").click()
    expect_message(page, "Les résultats sont publiés")
    axe_check(page)
    edition.call.refresh_from_db()
    assert edition.call.phase == Phase.PUBLISHED
    assert OutboxMessage.objects.filter(event="decision.laureate").count() == 2
    assert OutboxMessage.objects.filter(event="decision.not_selected").count() == 1
    log_out(page)

    # --- The applicant reads the decision. ---
    log_in(page, winner_applicant.email)
    page.goto(f"/candidatures/{best.pk}/")
    expect(page.locator("#decision")).to_contain_text("Candidature retenue")
    expect(page.locator("#decision")).to_contain_text("45\u202f000")
    axe_check(page)
    best.refresh_from_db()
    assert best.state == CandidatureState.LAUREATE
    _ = (weaker, breton)
