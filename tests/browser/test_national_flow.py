"""The national review in a real browser: a CNA member writes an analysis; the administrator
runs the selection assistant, opens the deliberation from the scenario, overrides one line with
a justification, fixes the list, previews the emails and publishes after confirming the
password; the applicant reads the decision. axe-core on every page visited."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from ami.models import OutboxMessage, Phase
from candidatures.models import CandidatureState
from evaluation.models import Decision, DeliberationOverride, NationalReview
from tests.evaluation.national_helpers import national_edition

from .flows import (
    fix_the_list,
    open_deliberation_from_scenario,
    preview_and_publish,
    run_assistant,
    write_national_analysis,
)
from .helpers import expect_message, log_in, log_out

pytestmark = pytest.mark.browser


def test_cna_reviews_selects_deliberates_and_publishes(page, live_server, axe_check):
    edition = national_edition(
        {"11": [82, 70], "53": [75]},
        name="AMI PTCE 2026",
        envelope=Decimal("100000"),
    )
    best = edition.candidatures[0]
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
    write_national_analysis(
        page,
        axe_check,
        "Archipel Bois Rennes",
        score="71,5",
        opinion="reserved",
        text="Filière bois prometteuse, cofinancements à confirmer.",
    )
    assert NationalReview.objects.get().reviewer == edition.member
    log_out(page, axe_check)

    # --- The administrator runs the assistant. ---
    log_in(page, edition.admin.email)
    run_assistant(
        page,
        axe_check,
        "Notes brutes",
        selected=["Pôle Réemploi Paris"],
        not_selected=["Fabrique Solidaire"],
    )

    # --- The deliberation starts from the scenario. ---
    open_deliberation_from_scenario(page, axe_check, [edition.admin, edition.member], 2)

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
    fix_the_list(page, axe_check)
    assert Decision.objects.filter(published_at__isnull=True).count() == 3

    # --- Preview, then publish. ---
    preview_and_publish(page, axe_check, [winner_applicant.email])  # and confirm the password
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
