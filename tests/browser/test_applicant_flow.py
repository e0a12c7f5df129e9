"""The applicant's main journey in a real browser: PTCE profile and members, a candidature typed
step by step with htmx autosave over two sessions, budget, documents (refused and accepted
uploads), completeness, submission, receipt and its email, with axe-core on every screen."""

import re
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.urls import reverse
from playwright.sync_api import expect

from ami.formats import format_filesize
from ami.models import OutboxMessage
from candidatures.models import Candidature, MemberCategory, Ptce
from tests import factories as f
from tests.candidatures.helpers import PDF_BYTES, VALID_SIRET, commune

from .flows import (
    PtceProfile,
    add_members,
    create_ptce,
    expect_step,
    fill_fields,
    go_to_step,
    open_my_candidatures,
    open_summary,
    start_candidature,
    submit_candidature,
    upload_document,
    wait_for_autosave,
)
from .helpers import log_in, log_out

pytestmark = pytest.mark.browser

MIB = 1024 * 1024

PRESENTATION = {
    "Intitulé du projet": "Filière locale de réemploi des matériaux",
    "Résumé du projet": "Une recyclerie du bâtiment portée par les membres du pôle.",
}
TERRITOIRE = {
    "Territoire et ses enjeux": "Le bassin rennais, ses chantiers et ses déchets inertes.",
    "Coopération entre les membres": "Les membres mutualisent un local et une équipe.",
}
PROJET_FIRST = {
    "Animation territoriale et gouvernance": "Un comité de pilotage trimestriel ouvert.",
    "Ingénierie de projet": "Un plan d'action sur trois ans, avec ses indicateurs.",
}
PROJET_SECOND = {
    "Recherche et innovation": "Un partenariat avec un laboratoire de l'université.",
    "Viabilité économique": "La revente des matériaux couvre la moitié des charges.",
}
PTCE = PtceProfile(
    name="Pôle Réemploi Rennes",
    siret=VALID_SIRET,
    legal_form="SCIC SAS",
    year_created="2019",
    address="12 rue de la Coopération",
    postal_code="35000",
    seat_commune="Rennes",
    territory_communes="35238, 35288 35047",
)
MEMBERS = [
    ("Coopérative du Réemploi", MemberCategory.ESS_ENTERPRISE),
    ("BTP Rennais SARL", MemberCategory.NON_ESS_ENTERPRISE),
    ("Commune de Rennes", MemberCategory.LOCAL_AUTHORITY),
]


# --- Helpers ---------------------------------------------------------------------------------


def autosave_key_left(page) -> bool:
    """Whether autosave.js still keeps values of this page's form that the server has not
    confirmed (it drops them once a save of exactly those values answered 200)."""
    return page.evaluate(
        """() => {
            const form = document.querySelector("form[data-autosave]");
            const key = ["ami-autosave", form.getAttribute("data-autosave-user") || "",
                         form.getAttribute("hx-post")].join(":");
            return !!localStorage.getItem(key);
        }"""
    )


def expect_values(page, values: dict) -> None:
    for label, value in values.items():
        expect(page.get_by_label(label)).to_have_value(value)


# --- The whole journey -----------------------------------------------------------------------


def test_applicant_creates_ptce_drafts_over_two_sessions_and_submits(page, live_server, axe_check):
    call = f.CallFactory(name="AMI PTCE 2026")
    f.DocumentTypeFactory(call=call, label="Statuts", mandatory=True, max_size_mb=1, order=0)
    f.DocumentTypeFactory(
        call=call, label="Lettres de soutien", mandatory=False, max_size_mb=5, order=1
    )
    commune("35238", "Rennes", "35", "53", density=1)
    commune("35288", "Saint-Malo", "35", "53", density=2)
    commune("35047", "Bruz", "35", "53", density=2)
    user = f.UserFactory(email="lea.martin@example.org", first_name="Léa", last_name="Martin")

    # Every request the pages make, to tell whether anything calls the company lookup.
    requested = []
    page.on("request", lambda request: requested.append(request.url))

    # --- First session: PTCE, members, and the first steps of the candidature. ---
    log_in(page, user.email, axe_check)
    axe_check(page)  # « Mon espace »
    open_my_candidatures(page)
    expect(page.get_by_text("Vous ne faites encore partie d'aucun PTCE")).to_be_visible()
    axe_check(page)

    create_ptce(page, axe_check, PTCE)
    expect(page.get_by_role("row", name=re.compile("Commune du siège"))).to_contain_text(
        "Rennes (35238)"
    )
    ptce = Ptce.objects.get()
    assert ptce.siret == VALID_SIRET
    assert ptce.region_id == "53"
    assert not [url for url in requested if "recherche-siret" in url]

    add_members(page, axe_check, MEMBERS)

    # From the dashboard, start the candidature.
    start_candidature(page, axe_check, call, PTCE.name)
    candidature = Candidature.objects.get(ptce=ptce, call=call)

    # Présentation: typed only, saved by htmx (no button).
    fill_fields(page, PRESENTATION)
    wait_for_autosave(page)
    axe_check(page)  # with the « Enregistré à … » status
    candidature.refresh_from_db()
    assert candidature.title == PRESENTATION["Intitulé du projet"]
    assert candidature.answers["summary"] == PRESENTATION["Résumé du projet"]

    go_to_step(page, 2, "Territoire et partenaires", "territoire")
    axe_check(page)
    fill_fields(page, TERRITOIRE)
    wait_for_autosave(page)

    go_to_step(page, 3, "Projet", "projet")
    axe_check(page)
    fill_fields(page, PROJET_FIRST)
    wait_for_autosave(page)
    candidature.refresh_from_db()
    assert candidature.answers["territory_description"] == TERRITOIRE["Territoire et ses enjeux"]
    assert (
        candidature.answers["lever_governance"]
        == PROJET_FIRST["Animation territoriale et gouvernance"]
    )
    assert "lever_research" not in candidature.answers
    assert not autosave_key_left(page)

    log_out(page, axe_check)

    # --- Second session: « Reprendre » leads back to where the applicant stopped. ---
    log_in(page, user.email)
    open_my_candidatures(page)
    expect(page.get_by_role("table", name=f"Candidatures de {ptce.name}")).to_contain_text(
        "brouillon"
    )
    axe_check(page)  # the dashboard with a draft
    page.get_by_role("link", name=f"Reprendre la candidature à {call.name}").click()
    expect_step(page, "Projet", "projet")
    expect_values(page, PROJET_FIRST)
    expect_values(page, dict.fromkeys(PROJET_SECOND, ""))
    go_to_step(page, 1, "Présentation", "presentation")
    expect_values(page, PRESENTATION)
    go_to_step(page, 3, "Projet", "projet")

    fill_fields(page, PROJET_SECOND)
    wait_for_autosave(page)
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect_step(page, "Budget", "budget")
    expect(page.get_by_text("Aucun cofinancement déclaré.")).to_be_visible()
    axe_check(page)

    page.get_by_label("Montant demandé").fill("50000")
    wait_for_autosave(page)
    page.get_by_role("button", name="Ajouter un cofinancement").click()
    expect_step(page, "Budget", "budget")
    line = page.get_by_role("group", name="Cofinancement 1")
    expect(line).to_be_visible()
    expect(page.get_by_label("Montant demandé")).to_have_value(re.compile(r"^50000([.,]00)?$"))
    line.get_by_label("Financeur").fill("Région Bretagne")
    line.get_by_label("Montant (€)").fill("20000")
    wait_for_autosave(page)
    plan = page.get_by_role("table", name="Plan de financement")
    expect(plan.get_by_role("row", name=re.compile("Région Bretagne"))).to_contain_text(
        re.compile(r"20\s000\s€")
    )
    expect(plan.get_by_role("row", name=re.compile("Total du projet"))).to_contain_text(
        re.compile(r"70\s000\s€")
    )
    expect(plan.get_by_role("row", name=re.compile("Montant demandé"))).to_contain_text(
        re.compile(r"71,4\s%")
    )
    axe_check(page)  # with the co-financing line and the refreshed plan
    candidature.refresh_from_db()
    assert candidature.requested_amount == Decimal("50000")
    assert [(c.funder, c.amount) for c in candidature.cofinancing_lines.all()] == [
        ("Région Bretagne", Decimal("20000"))
    ]

    # --- Documents: a disguised executable, an oversized PDF, then a valid one. ---
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect_step(page, "Pièces justificatives", "pieces")
    axe_check(page)
    statuts = page.get_by_role("region", name="Statuts")
    upload = statuts.get_by_label("Choisir le fichier pour « Statuts »")
    deposit = statuts.get_by_role("button", name="Déposer « Statuts »")

    upload.set_input_files(
        {"name": "programme.pdf", "mimeType": "application/pdf", "buffer": b"MZ" + bytes(4094)}
    )
    deposit.click()
    error = page.locator(".fr-alert--error")
    expect(error).to_contain_text("Le fichier « programme.pdf » n'est pas un PDF valide")
    expect(error).to_contain_text("Vérifiez le fichier puis déposez-le à nouveau.")
    expect(statuts.get_by_text("Aucun fichier déposé.")).to_be_visible()
    axe_check(page)

    big = b"%PDF-1.4\n" + bytes(MIB + 1 - len(b"%PDF-1.4\n"))
    assert len(big) == MIB + 1
    upload.set_input_files(
        {"name": "statuts-scannés.pdf", "mimeType": "application/pdf", "buffer": big}
    )
    deposit.click()
    expect(error).to_contain_text(
        "Le fichier « statuts-scannés.pdf » pèse 1,1\u00a0Mo : la limite pour « Statuts » "
        "est de 1 Mo."
    )
    expect(statuts.get_by_text("Aucun fichier déposé.")).to_be_visible()
    assert not candidature.documents.exists()

    upload_document(page, axe_check, "Statuts", "statuts.pdf", PDF_BYTES)
    download = statuts.get_by_role("link", name=re.compile(r"la pièce « Statuts » : statuts\.pdf"))
    expect(download).to_contain_text(format_filesize(len(PDF_BYTES)))
    expect(statuts.get_by_label("Remplacer le fichier pour « Statuts »")).to_be_attached()
    document = candidature.documents.get()
    assert (document.original_name, document.size) == ("statuts.pdf", len(PDF_BYTES))

    # --- Summary and submission. ---
    open_summary(page, axe_check)
    expect(page.get_by_text("Coopérative du Réemploi")).to_be_visible()
    expect(page.get_by_text("Statuts : statuts.pdf")).to_be_visible()

    number = submit_candidature(page, axe_check, call)
    candidature.refresh_from_db()
    assert candidature.state == "submitted"
    assert re.fullmatch(rf"PTCE-{call.year}-\d{{6}}", candidature.receipt_number)
    assert number == candidature.receipt_number

    pdf_link = page.get_by_role("link", name="Télécharger l'attestation de dépôt (PDF)")
    response = page.request.get(pdf_link.get_attribute("href"))
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF-")

    # The receipt email: an outbox row, sent after commit (eager task) through Django's mail.
    message = OutboxMessage.objects.get(event="candidature.submitted", recipient=user.email)
    assert message.state == "sent"
    assert candidature.receipt_number in message.subject
    sent = [m for m in mail.outbox if m.to == [user.email]]
    assert len(sent) == 1
    assert candidature.receipt_number in sent[0].subject

    # Nothing but the live server was ever asked for (no company lookup, no outside host).
    host = urlsplit(live_server.url).hostname
    assert {urlsplit(url).hostname for url in requested if url.startswith("http")} == {host}


# --- Completeness of an incomplete draft -----------------------------------------------------


def test_completeness_lists_problems_with_links_to_the_right_step(page, live_server, axe_check):
    call = f.CallFactory(name="AMI PTCE 2026")
    f.DocumentTypeFactory(call=call, label="Statuts", mandatory=True)
    membership = f.PtceMembershipFactory(ptce__name="Pôle Incomplet")
    ptce, user = membership.ptce, membership.user
    candidature = f.CandidatureFactory(
        ptce=ptce,
        call=call,
        title="Un titre seulement",
        answers={"lever_governance": "Une réponse"},
        requested_amount=Decimal("10000"),
    )

    log_in(page, user.email)
    page.goto(reverse("candidature_detail", args=[candidature.pk]))
    expect(page.get_by_role("heading", level=1)).to_have_text("Pôle Incomplet")
    axe_check(page)
    page.get_by_role("link", name="Vérifier et déposer").click()
    completeness_url = reverse("candidature_completeness", args=[candidature.pk])
    expect(page).to_have_url(re.compile(re.escape(completeness_url) + "$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérification avant dépôt")
    alert = page.locator(".fr-alert--warning")
    expect(alert.get_by_role("heading")).to_contain_text("points à compléter")
    expect(page.get_by_role("button", name="Déposer la candidature")).to_have_count(0)
    axe_check(page)

    def step(slug):
        return reverse("candidature_step", args=[candidature.pk, slug])

    expected = [
        ("Le SIRET de la structure porteuse est manquant.", reverse("ptce_edit", args=[ptce.pk]),
         "Modifier le PTCE « Pôle Incomplet »"),
        ("Le PTCE doit réunir au moins 3 personnes morales membres (0 déclarée).",
         reverse("ptce_members", args=[ptce.pk]), "Membres du PTCE « Pôle Incomplet »"),
        ("La rubrique « Résumé du projet » est vide.", step("presentation"), "Présentation"),
        ("La rubrique « Territoire et ses enjeux » est vide.", step("territoire"),
         "Territoire et partenaires"),
        ("La rubrique « Recherche et innovation » est vide.", step("projet"), "Projet"),
        ("Le montant demandé (10\u202f000\u00a0€) doit être compris entre 30\u202f000\u00a0€ "
         "et 80\u202f000\u00a0€.", step("budget"), "Budget"),
        ("Pièce obligatoire manquante : Statuts.", step("pieces"), "Pièces justificatives"),
    ]  # fmt: skip
    # Problems already solved are not listed.
    expect(alert).not_to_contain_text("L'intitulé du projet est vide.")
    expect(alert).not_to_contain_text("Animation territoriale et gouvernance")
    for problem, url, heading in expected:
        expect(alert).to_contain_text(problem)
        link = alert.get_by_role("link", name=f"Corriger : {problem}", exact=True)
        expect(link).to_have_attribute("href", url)
        link.click()
        expect(page).to_have_url(re.compile(re.escape(url) + "$"))
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        axe_check(page)
        page.go_back()
        expect(page).to_have_url(re.compile(re.escape(completeness_url) + "$"))

    assert Candidature.objects.get(pk=candidature.pk).state == "draft"


def test_siret_lookup_fills_the_ptce_form_and_a_commune_is_found_without_accents(
    page, live_server, axe_check, monkeypatch
):
    """« Rechercher » (htmx) fills the form's inputs, SIRET included; the seat commune typed
    without accents nor hyphen is found. The directory answers from a recorded response."""
    from candidatures import company_lookup
    from tests.candidatures.test_ptce import ASSOCIATION_SIRET, recorded

    answer = recorded("search_association.json")
    monkeypatch.setattr(company_lookup, "http_get", lambda url, timeout: answer)
    commune("35238", "Rennes", "35", "53", density=1)
    commune("42218", "Saint-Étienne", "42", "84", density=1)
    user = f.UserFactory(email="paul.morel@example.org")
    log_in(page, user.email)
    page.goto(reverse("ptce_create"))
    page.get_by_label("SIRET à rechercher").fill(ASSOCIATION_SIRET)
    page.get_by_role("button", name="Rechercher").click()
    expect(page.locator("#resultat-recherche")).to_contain_text("vérifiez-les")
    expect(page.get_by_label("SIRET de la structure porteuse")).to_have_value(ASSOCIATION_SIRET)
    expect(page.get_by_label("Nom du PTCE")).to_have_value(
        "POLE COOPERATION ET TERRITOIRES DU PAYS DE RENNES"
    )
    expect(page.get_by_label("Commune du siège")).to_have_value("35238")
    axe_check(page)
    page.get_by_label("Commune du siège").fill("saint etienne")
    page.get_by_label("Code postal").fill("42000")
    page.get_by_role("button", name="Enregistrer").click()
    expect(page).to_have_url(re.compile(r"/candidatures/ptce/\d+/$"))
    ptce = Ptce.objects.get()
    assert ptce.siret == ASSOCIATION_SIRET
    assert ptce.seat_commune_id == "42218"
