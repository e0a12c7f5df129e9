"""A questionnaire built by staff, in a real browser: staff add a section and its questions in
the admin and preview the form; the call opens; an applicant fills it with the htmx autosave
(a wrong answer is refused with its French error, then corrected) and submits; the region's
evaluator reads the answers beside the grid and scores. axe-core on every page of the platform
(the preview, the applicant's and the evaluator's pages)."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import expect

from accounts.models import RegionalRole
from ami.calls import set_phase
from ami.models import Phase, Question
from candidatures.models import Candidature, CandidatureState
from evaluation import admission, assignment
from evaluation.models import Review, ReviewState
from tests import factories as f
from tests.candidatures.helpers import commune, complete_ptce

from .flows import (
    Evaluation,
    fill_review,
    open_review,
    open_summary,
    sign_in,
    submit_candidature,
    upload_document,
    wait_for_autosave,
)
from .helpers import log_out, tick

pytestmark = pytest.mark.browser

PTCE_NAME = "Pôle Tiers-lieu du Bocage"


def _add_question(page, index, *, slug, label, kind, choices="", max_length=""):
    page.locator("#questions-group .add-row a").click()
    prefix = f"questions-{index}"
    page.locator(f"[name='{prefix}-order']").fill(str(index + 1))
    page.locator(f"[name='{prefix}-slug']").fill(slug)
    page.locator(f"[name='{prefix}-kind']").select_option(kind)
    page.locator(f"[name='{prefix}-label']").fill(label)
    if choices:
        page.locator(f"[name='{prefix}-choices']").fill(choices)
    if max_length:
        page.locator(f"[name='{prefix}-max_length']").fill(max_length)


def test_staff_build_applicant_fills_cra_scores(page, live_server, axe_check):
    call = f.CallFactory(
        name="Appel à projets Tiers-lieux 2026", phase=Phase.DRAFT, questionnaire=False
    )
    f.CriterionFactory(call=call, label="Utilité", weight=Decimal("3"), order=0)
    f.CriterionFactory(call=call, label="Modèle économique", weight=Decimal("1"), order=1)
    f.DocumentTypeFactory(call=call, label="Plan du lieu", mandatory=True)
    staff = f.UserFactory(email="camille.staff@example.org", is_staff=True, is_superuser=True)

    # --- Staff: a section and its questions in the admin, then the preview. ---
    sign_in(page, axe_check, staff.email)
    page.goto(f"/admin/ami/section/add/?call={call.pk}")
    page.locator("#id_title").fill("Le lieu")
    page.locator("#id_slug").fill("le-lieu")
    page.locator("#id_order").fill("1")
    _add_question(page, 0, slug="surface", label="Surface du lieu (m²)", kind="integer")
    _add_question(page, 1, slug="activites", label="Activités proposées",
                  kind="multiple_choice", choices="Coworking\nFablab\nCafé associatif")  # fmt: skip
    _add_question(page, 2, slug="pitch", label="Le projet en bref", kind="long_text",
                  max_length="200")  # fmt: skip
    page.get_by_role("button", name="Enregistrer", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("ajouté")
    assert list(Question.objects.filter(call=call).values_list("slug", flat=True)) == [
        "surface", "activites", "pitch",
    ]  # fmt: skip
    page.goto(f"/admin/ami/call/{call.pk}/change/")
    preview = page.get_by_role("link", name=re.compile("Aperçu du formulaire"))
    page.goto(preview.get_attribute("href"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Le lieu")
    expect(page.get_by_label("Surface du lieu (m²)")).to_be_visible()
    expect(page.get_by_label("Fablab")).to_be_visible()
    axe_check(page)
    page.get_by_label("Surface du lieu (m²)").fill("grand")
    page.get_by_role("button", name="Vérifier les réponses").click()
    expect(page.get_by_text("Saisissez un nombre entier, par exemple 12.")).to_be_visible()
    axe_check(page)
    log_out(page)
    set_phase(call, Phase.OPEN, staff)

    # --- The applicant: the questionnaire, with the autosave, then submission. ---
    applicant = f.UserFactory(email="lea.tiers@example.org", first_name="Léa", last_name="Tiers")
    bretagne = f.region("53")
    ptce = f.PtceMembershipFactory(user=applicant, ptce__name=PTCE_NAME, ptce__region=bretagne).ptce
    complete_ptce(ptce)
    ptce.seat_commune = commune("35238", "Rennes", "35", "53")
    ptce.save()
    sign_in(page, axe_check, applicant.email)
    page.goto(f"/candidatures/ptce/{ptce.pk}/candidater/{call.slug}/")
    page.get_by_role("button", name="Commencer la candidature").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Le lieu")
    axe_check(page)
    page.get_by_label("Intitulé du projet").fill("Un tiers-lieu au bourg")
    page.get_by_label("Surface du lieu (m²)").fill("douze")
    status = page.locator("#etat-enregistrement")
    expect(status).to_contain_text("Saisissez un nombre entier", timeout=10_000)
    axe_check(page)  # the autosave's error shown
    page.get_by_label("Surface du lieu (m²)").fill("120")
    tick(page.get_by_label("Coworking", exact=True))
    tick(page.get_by_label("Café associatif", exact=True))
    page.get_by_label("Le projet en bref").fill("Un café associatif et un atelier partagé.")
    wait_for_autosave(page)
    candidature = Candidature.objects.get(ptce=ptce, call=call)
    assert candidature.title == "Un tiers-lieu au bourg"
    assert candidature.answers == {
        "surface": 120,
        "activites": ["Coworking", "Café associatif"],
        "pitch": "Un café associatif et un atelier partagé.",
    }
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Budget")
    page.get_by_label("Montant demandé").fill("40 000")
    wait_for_autosave(page)
    axe_check(page)
    page.get_by_role("button", name="Enregistrer et continuer").click()
    upload_document(page, axe_check, "Plan du lieu", "plan.pdf", b"%PDF-1.4\n%%EOF\n")
    open_summary(page, axe_check)
    expect(page.get_by_role("main")).to_contain_text("Café associatif")
    submit_candidature(page, axe_check, call)
    log_out(page)
    candidature.refresh_from_db()
    assert candidature.state == CandidatureState.SUBMITTED
    assert candidature.snapshot["answers"]["surface"] == 120

    # --- The region's cell: admissible, assigned; the evaluator reads and scores. ---
    cell = f.RegionalCellFactory(call=call, region=bretagne)
    coordinator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR).user
    evaluator = f.RegionalMembershipFactory(
        cell=cell,
        role=RegionalRole.EVALUATOR,
        user=f.UserFactory(email="etienne.eval@example.org", first_name="Étienne"),
    ).user
    manual = {
        item.key: True
        for item in admission.admissibility_checklist(candidature)
        if not item.automatic
    }
    admission.decide_admissibility(candidature, coordinator, True, manual)
    assignment.assign(candidature, evaluator, coordinator)
    sign_in(page, axe_check, evaluator.email)
    open_review(page, axe_check, PTCE_NAME)
    main = page.get_by_role("main")
    expect(main).to_contain_text("Surface du lieu (m²)")
    expect(main).to_contain_text("Coworking, Café associatif")
    expect(main).to_contain_text("Un tiers-lieu au bourg")
    fill_review(
        page,
        axe_check,
        Evaluation(evaluator, {"Utilité": "4", "Modèle économique": "2"}, "favorable", "70,00"),
    )
    page.get_by_role("button", name="Rendre mon évaluation").click()
    expect(page.get_by_text(re.compile(r"^Évaluation rendue le"))).to_be_visible()
    axe_check(page)
    review = Review.objects.get(candidature=candidature, evaluator=evaluator)
    assert review.state == ReviewState.SUBMITTED
    # 100 × (3×4/5 + 1×2/5) / 4 = 70
    assert review.total == Decimal("70.00")
