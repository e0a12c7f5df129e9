"""The regional review in a real browser: the coordinator asks for a complement, the applicant
gives it, the coordinator sees what changed and declares the candidature admissible, assigns two
evaluators; both score it on the grid (htmx autosave) and submit; the coordinator writes the
collegial opinion, ranks and hands the region over to the CNA. axe-core on every page state."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import RegionalRole
from ami.models import Call, OutboxMessage
from candidatures import workflow
from candidatures.models import Candidature, CandidatureState, ComplementRequest
from evaluation.models import RegionalOpinion, RegionHandover, Review, ReviewState
from tests import factories as f
from tests.candidatures.helpers import commune, complete_candidature

from .flows import (
    Evaluation,
    assign_automatically,
    declare_admissible,
    fill_review,
    hand_over_region,
    open_admissibility,
    open_cell_dashboard,
    open_regional_opinion,
    open_review,
    rank_region,
    save_regional_opinion,
    sign_in,
    submit_review,
    wait_for_autosave,
)
from .helpers import expect_message, log_in, log_out, main_menu, tick

pytestmark = pytest.mark.browser

PTCE_NAME = "Pôle Réemploi Rennes"
OLD_SUMMARY = "Une recyclerie du bâtiment."
NEW_SUMMARY = "Une recyclerie du bâtiment, avec 4 salariés en insertion et 12 chantiers par an."
ANCRAGE, COOPERATION, INNOVATION = "Ancrage territorial", "Coopération", "Innovation sociale"


# --- The whole regional review ---------------------------------------------------------------


def test_regional_review_from_admissibility_to_hand_over(page, live_server, axe_check):
    # --- Setup: a call and its grid, the cells, a submitted candidature. ---
    call = f.CallFactory(name="AMI PTCE 2026", reviews_per_candidature=2)
    f.CriterionFactory(call=call, label=ANCRAGE, weight=Decimal("2"), order=0)
    f.CriterionFactory(call=call, label=COOPERATION, weight=Decimal("1"), order=1)
    f.CriterionFactory(
        call=call, label=INNOVATION, weight=Decimal("1"), allows_not_applicable=True, order=2
    )
    f.DocumentTypeFactory(call=call, label="Statuts", mandatory=True)
    bretagne = f.region("53")

    applicant = f.UserFactory(email="lea.martin@example.org", first_name="Léa", last_name="Martin")
    ptce = f.PtceMembershipFactory(user=applicant, ptce__name=PTCE_NAME, ptce__region=bretagne).ptce
    candidature = complete_candidature(
        f.CandidatureFactory(ptce=ptce, call=call, requested_amount=None)
    )
    ptce.seat_commune = commune("35238", "Rennes", "35", "53")
    ptce.save()
    candidature.title = "Filière locale de réemploi des matériaux"
    candidature.answers["summary"] = OLD_SUMMARY
    candidature.save()
    workflow.transition(candidature, CandidatureState.SUBMITTED, applicant)
    assert candidature.snapshot
    # The call closes (the hand-over is refused while it accepts submissions).
    Call.objects.filter(pk=call.pk).update(closes_at=timezone.now() - timedelta(minutes=1))

    cell = f.RegionalCellFactory(call=call, region=bretagne)
    coordinator = f.RegionalMembershipFactory(
        cell=cell,
        role=RegionalRole.COORDINATOR,
        user=f.UserFactory(
            email="claire.coord@example.org", first_name="Claire", last_name="Coordinatrice"
        ),
    ).user
    first, second = (
        f.RegionalMembershipFactory(
            cell=cell,
            role=RegionalRole.EVALUATOR,
            user=f.UserFactory(email=email, first_name=first_name, last_name=last_name),
        ).user
        for email, first_name, last_name in [
            ("etienne.eval@example.org", "Étienne", "Premier"),
            ("fanny.eval@example.org", "Fanny", "Seconde"),
        ]
    )
    cna_member = f.NationalMembershipFactory(
        cell=f.NationalCellFactory(call=call),
        user=f.UserFactory(email="nora.cna@example.org", first_name="Nora", last_name="National"),
    ).user

    # --- The coordinator asks for a complement. ---
    sign_in(page, axe_check, coordinator.email)  # « Mon espace » of a coordinator
    open_cell_dashboard(page, axe_check, "Bretagne")
    open_admissibility(page, axe_check, PTCE_NAME)
    expect(page.get_by_role("link", name="statuts.pdf").first).to_be_visible()

    page.get_by_role("link", name="Demander des compléments").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Compléments – {PTCE_NAME}")
    expect(
        page.get_by_text("Aucune demande de compléments pour cette candidature.")
    ).to_be_visible()
    axe_check(page)
    page.get_by_label(re.compile(r"^Message au porteur")).fill(
        "Précisez le résumé : nombre de salariés en insertion et de chantiers par an."
    )
    tick(
        page.get_by_role("group", name="Rubriques à compléter").get_by_label(
            "Résumé du projet", exact=True
        )
    )
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    deadline = page.get_by_role("group", name="Date limite (heure de Paris)")
    deadline.get_by_label(re.compile(r"^Date")).fill(due)
    expect(deadline.get_by_label(re.compile(r"^Heure"))).to_have_value("12:00")
    page.get_by_role("button", name="Envoyer la demande").click()
    expect_message(page, "La demande de compléments est envoyée au porteur")
    expect(page.get_by_text("Une demande de compléments est en cours")).to_be_visible()
    expect(page.locator(".fr-badge", has_text="en attente")).to_be_visible()
    axe_check(page)
    request = ComplementRequest.objects.get(candidature=candidature)
    assert request.fields == ["summary"]
    assert Candidature.objects.get(pk=candidature.pk).state == "complements_requested"
    log_out(page, axe_check)

    # --- The applicant gives the complement. ---
    log_in(page, applicant.email)
    main_menu(page, "Mes candidatures")
    table = page.get_by_role("table", name=f"Candidatures de {PTCE_NAME}")
    expect(table).to_contain_text("compléments demandés")
    axe_check(page)
    table.get_by_role("link", name=f"Voir la candidature à {call.name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PTCE_NAME)
    axe_check(page)
    page.get_by_role("link", name="Apporter les compléments demandés").click()
    expect(page).to_have_url(re.compile(r"/candidatures/\d+/etapes/presentation/$"))
    callout = page.locator(".fr-callout", has_text="Compléments demandés par la cellule régionale")
    expect(callout).to_contain_text("nombre de salariés en insertion")
    expect(callout.get_by_role("listitem")).to_have_text(["Résumé du projet"])
    expect(page.get_by_label("Intitulé du projet")).not_to_be_editable()  # not requested
    summary = page.get_by_label("Résumé du projet")
    expect(summary).to_be_editable()
    expect(summary).to_have_value(OLD_SUMMARY)
    axe_check(page)
    summary.fill(NEW_SUMMARY)
    wait_for_autosave(page)
    axe_check(page)  # with the « Enregistré à … » status
    candidature.refresh_from_db()
    assert candidature.answers["summary"] == NEW_SUMMARY
    assert candidature.title == "Filière locale de réemploi des matériaux"

    page.get_by_role("navigation", name="Étapes de la candidature").get_by_role(
        "link", name="6. Récapitulatif et dépôt"
    ).click()
    expect(page).to_have_url(re.compile(r"/etapes/recapitulatif/$"))
    expect(page.get_by_text(NEW_SUMMARY)).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Transmettre les compléments").click()
    expect_message(page, "Vos compléments sont transmis à la cellule régionale.")
    expect(page.get_by_role("heading", level=1)).to_have_text(PTCE_NAME)
    axe_check(page)
    assert Candidature.objects.get(pk=candidature.pk).state == "submitted"
    log_out(page)

    # --- The coordinator sees what changed and declares the candidature admissible. ---
    log_in(page, coordinator.email)
    page.get_by_role("link", name="tableau de bord de la cellule").click()
    page.get_by_role("link", name=f"Demander des compléments : {PTCE_NAME}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Compléments – {PTCE_NAME}")
    changes = page.get_by_role("table", name="Ce qui a changé")
    row = changes.get_by_role("row", name=re.compile("Résumé du projet"))
    expect(row.get_by_role("cell")).to_have_text([OLD_SUMMARY, NEW_SUMMARY])
    expect(page.locator(".fr-badge", has_text="complétée le")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="Recevabilité", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Recevabilité – {PTCE_NAME}")
    declare_admissible(page, axe_check)
    assert Candidature.objects.get(pk=candidature.pk).state == "admissible"

    # --- Assignments. ---
    assign_automatically(
        page, axe_check, "Bretagne", PTCE_NAME, ["Étienne Premier", "Fanny Seconde"]
    )
    log_out(page)

    # --- Both evaluators score and submit. ---
    reviews = [
        Evaluation(first, {ANCRAGE: "4", COOPERATION: "3", INNOVATION: "5"}, "favorable", "80,00"),
        # « non applicable » on the last criterion
        Evaluation(second, {ANCRAGE: "5", COOPERATION: "4", INNOVATION: None}, "reserved", "93,33"),
    ]
    for index, evaluation in enumerate(reviews):
        evaluator = evaluation.evaluator
        log_in(page, evaluator.email)
        open_review(page, axe_check, PTCE_NAME)
        expect(page.get_by_text(NEW_SUMMARY)).to_be_visible()  # the snapshot after complements
        expect(
            page.get_by_text("Vous verrez les évaluations des autres membres de la cellule")
        ).to_be_visible()

        fill_review(page, axe_check, evaluation)
        review = Review.objects.get(candidature=candidature, evaluator=evaluator)
        assert review.state == ReviewState.DRAFT
        assert review.opinion == evaluation.opinion

        submit_review(page, axe_check, evaluation.total)
        others = page.get_by_role("region", name="Les évaluations des autres membres de la cellule")
        if index == 0:
            expect(others).to_contain_text("Aucune autre évaluation n'a encore été rendue.")
        else:  # the first evaluator's review, now visible side by side
            table = others.get_by_role("table", name="Évaluations rendues, côte à côte")
            expect(table).to_contain_text("Étienne Premier")
            expect(table).to_contain_text("Avis de Étienne sur ancrage territorial.")
            expect(table.get_by_role("row", name=re.compile("^Note sur 100"))).to_contain_text(
                "80,00"
            )
        assert Review.objects.get(pk=review.pk).state == ReviewState.SUBMITTED
        log_out(page)

    # --- The collegial opinion, the ranking, the hand-over. ---
    log_in(page, coordinator.email)
    open_regional_opinion(page, axe_check, "Bretagne", PTCE_NAME)
    side_by_side = page.locator("#cote-a-cote")
    expect(side_by_side).to_contain_text("Étienne Premier")
    expect(side_by_side).to_contain_text("Fanny Seconde")
    expect(side_by_side.get_by_role("row", name=re.compile(INNOVATION))).to_contain_text("n/a")
    expect(side_by_side.get_by_role("row", name=re.compile("^Note sur 100"))).to_contain_text(
        "86,67"
    )
    score_input = page.get_by_label(re.compile(r"^Note consolidée"))
    expect(score_input).to_have_value("86,67")  # the mean, kept as it is
    save_regional_opinion(
        page,
        axe_check,
        PTCE_NAME,
        "favorable",
        "Un projet ancré dans son territoire, à la coopération réelle.",
    )
    opinion = RegionalOpinion.objects.get(candidature=candidature)
    assert (opinion.consolidated_score, opinion.opinion) == (Decimal("86.67"), "favorable")
    assert opinion.score_justification == ""

    rank_region(page, axe_check, "Bretagne", [PTCE_NAME])
    assert RegionalOpinion.objects.get(candidature=candidature).rank == 1

    hand_over_region(page, axe_check, "Bretagne", "Une candidature classée.")
    expect(page.get_by_role("row", name=re.compile(PTCE_NAME))).to_contain_text(
        "avis régional rendu"
    )

    assert RegionHandover.objects.get(cell=cell).handed_over_by == coordinator
    assert Candidature.objects.get(pk=candidature.pk).state == "regional_review_done"
    assert OutboxMessage.objects.filter(
        event="region.handed_over", recipient=cna_member.email
    ).exists()
