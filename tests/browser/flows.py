"""Step sequences of the browser tests, through the real screens, with axe-core on every page
state they reach: the applicant's (PTCE, candidature, documents, submission), the regional
cell's (admissibility, assignments, reviews, collegial opinion, ranking, hand-over) and the
national cell's (analysis, assistant, deliberation, publication, the decision read by the
applicant). The tests of each part call the steps one by one, with their own checks in between;
``tests/browser/test_whole_edition.py`` chains the composed ones (``apply``, ``instruct_region``,
``deliberate_and_publish``, ``read_decision``).

Every function takes the ``page`` and the ``axe_check`` fixture first."""

import re
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from ami.formats import plural
from tests.candidatures.helpers import PDF_BYTES

from .helpers import WAIT, confirm_password, expect_message, log_in, log_out, main_menu, tick


def sign_in(page, axe_check, email: str) -> None:
    """Log in through the home and login pages (and the second factor's), then « Mon espace »;
    axe-core on each."""
    log_in(page, email, axe_check)
    axe_check(page)


# --- The applicant ----------------------------------------------------------------------------


@dataclass
class PtceProfile:
    """What the applicant types on « Déclarer un PTCE » (the communes must exist)."""

    name: str
    siret: str
    legal_form: str
    year_created: str
    address: str
    postal_code: str
    seat_commune: str  # name or INSEE code
    territory_communes: str  # INSEE codes


@dataclass
class Application:
    """One applicant's whole candidature, for ``apply``."""

    email: str
    ptce: PtceProfile
    members: list  # (name, MemberCategory)
    presentation: dict  # label → value, per step
    territory: dict
    project: dict
    requested_amount: str
    document_label: str
    document_name: str = "statuts.pdf"
    document_content: bytes = PDF_BYTES


def open_my_candidatures(page) -> None:
    main_menu(page, "Mes candidatures")
    expect(page).to_have_url(re.compile(r"/candidatures/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes PTCE et candidatures")


def create_ptce(page, axe_check, ptce: PtceProfile) -> None:
    """From « Mes candidatures » to the new PTCE's page."""
    page.get_by_role("link", name="Créer un PTCE").click()
    expect(page).to_have_url(re.compile(r"/candidatures/ptce/nouveau/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Déclarer un PTCE")
    axe_check(page)
    page.get_by_label("Nom du PTCE").fill(ptce.name)
    page.get_by_label("SIRET de la structure porteuse").fill(ptce.siret)
    page.get_by_label("Forme juridique").fill(ptce.legal_form)
    page.get_by_label("Année de création").fill(ptce.year_created)
    page.get_by_label(re.compile(r"^Adresse")).fill(ptce.address)
    page.get_by_label("Code postal").fill(ptce.postal_code)
    page.get_by_label("Commune du siège").fill(ptce.seat_commune)
    page.get_by_label("Communes du territoire").fill(ptce.territory_communes)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page).to_have_url(re.compile(r"/candidatures/ptce/\d+/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(ptce.name)
    expect(page.get_by_role("status").first).to_contain_text("vous êtes référent")
    axe_check(page)


def add_members(page, axe_check, members) -> None:
    """From the PTCE's page: declare its legal-person members, ``(name, MemberCategory)``."""
    page.get_by_role("link", name="Gérer les membres").click()
    expect(page).to_have_url(re.compile(r"/candidatures/ptce/\d+/membres/$"))
    expect(page.get_by_text("Aucun membre n'est encore déclaré.")).to_be_visible()
    axe_check(page)
    for name, category in members:
        page.get_by_label("Raison sociale").fill(name)
        page.get_by_label("Catégorie").select_option(category.value)
        page.get_by_role("button", name="Ajouter ce membre").click()
        expect(page.get_by_role("status").first).to_contain_text(f"« {name} » est ajouté")
    table = page.get_by_role("table", name=f"Membres déclarés ({len(members)})")
    for name, category in members:
        expect(table.get_by_role("row", name=re.compile(re.escape(name)))).to_contain_text(
            category.label
        )
    expect(page.get_by_text("Il manque encore")).to_have_count(0)
    axe_check(page)


def start_candidature(page, axe_check, call, ptce_name: str) -> None:
    """From anywhere: « Mes candidatures », then « Candidater à … » up to the first step."""
    open_my_candidatures(page)
    expect(page.get_by_role("heading", level=2, name=ptce_name)).to_be_visible()
    axe_check(page)  # a PTCE and an open call, no candidature yet
    page.get_by_role("link", name=f"Candidater à « {call.name} »").click()
    expect(page).to_have_url(re.compile(rf"/candidater/{call.slug}/$"))
    axe_check(page)
    page.get_by_role("button", name="Commencer la candidature").click()
    expect_step(page, "Présentation", "presentation")
    expect(page.get_by_role("status").first).to_contain_text("est ouverte")
    axe_check(page)


def expect_step(page, title: str, slug: str) -> None:
    expect(page).to_have_url(re.compile(rf"/candidatures/\d+/etapes/{slug}/(#[\w-]+)?$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)


def go_to_step(page, number: int, title: str, slug: str) -> None:
    """Through the list of steps under the stepper (links, not the saving buttons)."""
    page.get_by_role("navigation", name="Étapes de la candidature").get_by_role(
        "link", name=f"{number}. {title}"
    ).click()
    expect_step(page, title, slug)


def fill_fields(page, values: dict) -> None:
    for label, value in values.items():
        page.get_by_label(label).fill(value)


def wait_for_autosave(page) -> None:
    """The status line says « Enregistré à … », no field was refused, and autosave.js no longer
    keeps values that the server has not confirmed (it drops them once a save of exactly those
    values answered 200)."""
    status = page.locator("#etat-enregistrement")
    expect(status).to_contain_text("Enregistré à", timeout=WAIT)
    expect(status).not_to_contain_text("sauf")
    page.wait_for_function(
        """() => {
            const form = document.querySelector("form[data-autosave]");
            const key = ["ami-autosave", form.getAttribute("data-autosave-user") || "",
                         form.getAttribute("hx-post")].join(":");
            return !localStorage.getItem(key);
        }""",
        timeout=WAIT,
    )


def upload_document(page, axe_check, label: str, name: str, content: bytes) -> None:
    """On « Pièces justificatives »: deposit a PDF for the document type ``label``."""
    section = page.get_by_role("region", name=label)
    section.get_by_label(f"Choisir le fichier pour « {label} »").set_input_files(
        {"name": name, "mimeType": "application/pdf", "buffer": content}
    )
    section.get_by_role("button", name=f"Déposer « {label} »").click()
    expect(page.locator(".fr-alert--success")).to_contain_text(
        f"« {label} » : le fichier « {name} » a été déposé."
    )
    expect(page.locator(".fr-alert--error")).to_have_count(0)
    expect(section.get_by_text("Déposée", exact=True)).to_be_visible()
    axe_check(page)


def open_summary(page, axe_check) -> None:
    """From « Pièces justificatives » to the summary, which must say the candidature is
    complete."""
    page.get_by_role("link", name="Étape suivante").click()
    expect_step(page, "Récapitulatif et dépôt", "recapitulatif")
    complete = page.get_by_role("heading", name="La candidature est complète")
    if not complete.is_visible():  # say what is missing rather than only « not visible »
        pytest.fail("Récapitulatif incomplet : " + page.locator(".fr-alert--warning").inner_text())
    axe_check(page)


def submit_candidature(page, axe_check, call) -> str:
    """On the summary: submit; returns the receipt number shown on the receipt page."""
    page.get_by_role("button", name="Déposer la candidature").click()
    expect(page).to_have_url(re.compile(r"/candidatures/\d+/recepisse/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Accusé de réception")
    number = re.compile(rf"PTCE-{call.year}-\d{{6}}")
    expect(page.get_by_role("status").first).to_contain_text(number)
    expect(page.get_by_role("main")).to_contain_text(number)
    axe_check(page)
    return number.search(page.get_by_role("main").inner_text()).group(0)


def apply(page, axe_check, call, application: Application) -> str:
    """An applicant with an account and no PTCE logs in, declares the PTCE and its members,
    drafts the candidature step by step (htmx autosave), deposits the document, submits and
    logs out. Returns the receipt number."""
    sign_in(page, axe_check, application.email)
    open_my_candidatures(page)
    expect(page.get_by_text("Vous ne faites encore partie d'aucun PTCE")).to_be_visible()
    axe_check(page)
    create_ptce(page, axe_check, application.ptce)
    add_members(page, axe_check, application.members)
    start_candidature(page, axe_check, call, application.ptce.name)

    fill_fields(page, application.presentation)
    wait_for_autosave(page)
    axe_check(page)  # with the « Enregistré à … » status
    go_to_step(page, 2, "Territoire et partenaires", "territoire")
    axe_check(page)
    fill_fields(page, application.territory)
    wait_for_autosave(page)
    go_to_step(page, 3, "Projet", "projet")
    axe_check(page)
    fill_fields(page, application.project)
    wait_for_autosave(page)
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect_step(page, "Budget", "budget")
    axe_check(page)
    page.get_by_label("Montant demandé").fill(application.requested_amount)
    wait_for_autosave(page)
    page.get_by_role("button", name="Enregistrer et continuer").click()
    expect_step(page, "Pièces justificatives", "pieces")
    axe_check(page)
    upload_document(
        page,
        axe_check,
        application.document_label,
        application.document_name,
        application.document_content,
    )
    open_summary(page, axe_check)
    number = submit_candidature(page, axe_check, call)
    log_out(page, axe_check)
    return number


# --- The regional cell ------------------------------------------------------------------------


@dataclass
class Evaluation:
    """One evaluator's review: ``scores`` maps criterion labels to a grade, or None for « non
    applicable »; ``total`` is the score over 100 as the page shows it (« 80,00 »)."""

    evaluator: object  # User
    scores: dict
    opinion: str  # "favorable", "reserved", "unfavorable"
    total: str


@dataclass
class RegionCase:
    """A region's cell and its one candidature, for ``instruct_region``."""

    region_name: str
    coordinator: object  # User
    ptce_name: str
    evaluations: list  # of Evaluation, one per evaluator of the cell
    consolidated_score: str  # the mean of the totals, as the page shows it
    collegial_opinion: str
    motivation: str
    handover_comment: str = "Une candidature classée."


OPINION_LABELS = {"favorable": "Favorable", "reserved": "Réservé", "unfavorable": "Défavorable"}


def open_cell_dashboard(page, axe_check, region_name: str) -> None:
    """From « Mon espace » of a coordinator."""
    page.get_by_role("link", name="tableau de bord de la cellule").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Cellule régionale {region_name}")
    axe_check(page)


def open_admissibility(page, axe_check, ptce_name: str) -> None:
    """From the cell's dashboard, a submitted candidature's admissibility page."""
    expect(page.get_by_role("row", name=re.compile(ptce_name))).to_contain_text("déposée")
    page.get_by_role("link", name=f"Décider la recevabilité : {ptce_name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Recevabilité – {ptce_name}")
    axe_check(page)


def declare_admissible(page, axe_check) -> None:
    """On the admissibility page: every point checked, « Recevable », saved."""
    points = page.get_by_role("group", name=re.compile("^Points à vérifier par le coordinateur"))
    boxes = points.get_by_role("checkbox")
    expect(boxes).to_have_count(3)
    for index in range(3):
        tick(boxes.nth(index))
    tick(page.get_by_label("Recevable", exact=True))
    axe_check(page)  # the form filled in
    page.get_by_role("button", name="Enregistrer la décision").click()
    expect_message(page, "La candidature est déclarée recevable")
    expect(page.get_by_role("heading", name="Vérification enregistrée")).to_be_visible()
    expect(page.get_by_role("button", name="Enregistrer la décision")).to_have_count(0)
    axe_check(page)


def assign_automatically(page, axe_check, region_name: str, ptce_name: str, evaluators) -> None:
    """From a page of the cell: « Attributions », the balanced automatic split; the
    candidature gets ``evaluators`` (their full names)."""
    page.get_by_role("navigation", name="Pages de la cellule").get_by_role(
        "link", name="Attributions"
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Attributions de la cellule {region_name}"
    )
    expect(page.get_by_text("dont 1 à pourvoir")).to_be_visible()
    axe_check(page)
    page.get_by_role("button", name="Répartir automatiquement").click()
    expect_message(page, plural(len(evaluators), "attribution créée", "attributions créées"))
    assigned = page.get_by_role(
        "table", name="Candidatures recevables et leurs évaluateurs"
    ).get_by_role("row", name=re.compile(ptce_name))
    for name in evaluators:
        expect(assigned).to_contain_text(name)
    expect(page.get_by_text("toutes pourvues")).to_be_visible()
    axe_check(page)


def open_review(page, axe_check, ptce_name: str) -> None:
    """An evaluator, from any page: « Mes évaluations », then the candidature's grid."""
    main_menu(page, "Mes évaluations")
    expect(page.get_by_role("heading", level=1)).to_have_text("Mes évaluations")
    worklist = page.get_by_role("table", name=re.compile("Candidatures attribuées"))
    expect(worklist.get_by_role("row", name=re.compile(ptce_name))).to_contain_text("à faire")
    axe_check(page)
    worklist.get_by_role("link", name=f"Évaluer la candidature de {ptce_name}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Évaluation de la candidature de {ptce_name}"
    )
    axe_check(page)


def fill_review(page, axe_check, evaluation: Evaluation) -> None:
    """On the grid: a grade (or « non applicable ») and a comment per criterion, the overall
    opinion and comment, saved by htmx; the total is shown."""
    first_name = evaluation.evaluator.first_name
    for criterion, value in evaluation.scores.items():
        if value is None:
            tick(page.get_by_label(re.compile(rf"^Non applicable : critère « {criterion} »")))
        else:
            page.get_by_label(re.compile(rf"^Note du critère « {criterion} »")).select_option(value)
        page.get_by_label(f"Commentaire sur ce critère « {criterion} »").fill(
            f"Avis de {first_name} sur {criterion.lower()}."
        )
    tick(
        page.get_by_role("group", name="Avis global").get_by_label(
            OPINION_LABELS[evaluation.opinion], exact=True
        )
    )
    page.get_by_label(re.compile(r"^Commentaire général")).fill(
        f"Projet solide, selon {first_name}."
    )
    wait_for_autosave(page)
    expect(page.locator("#total-evaluation")).to_contain_text(f"{evaluation.total} / 100")
    axe_check(page)  # the grid filled in, saved, with its total


def submit_review(page, axe_check, total: str) -> None:
    page.get_by_role("button", name="Rendre mon évaluation").click()
    expect_message(page, "Votre évaluation est rendue.")
    expect(page.get_by_text(re.compile(r"^Évaluation rendue le"))).to_be_visible()
    expect(page.get_by_role("table", name="Mon évaluation")).to_contain_text(total)
    axe_check(page)


def open_regional_opinion(page, axe_check, region_name: str, ptce_name: str) -> None:
    """A coordinator, from « Mon espace »: the consolidation list, then the candidature's
    collegial opinion page."""
    page.get_by_role("link", name="consolidation", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Consolidation régionale – {region_name}"
    )
    axe_check(page)
    page.get_by_role("link", name=ptce_name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Avis régional – {ptce_name}")


def save_regional_opinion(page, axe_check, ptce_name: str, opinion: str, motivation: str) -> None:
    """On the collegial opinion page: the opinion and its motivation, the score kept."""
    axe_check(page)
    page.get_by_label("Avis collégial").select_option(opinion)
    page.get_by_label(re.compile(r"^Motivation")).fill(motivation)
    page.get_by_role("button", name="Enregistrer l'avis collégial").click()
    expect_message(page, f"L'avis collégial sur « {ptce_name} » est enregistré.")
    axe_check(page)


def rank_region(page, axe_check, region_name: str, ranking: list) -> None:
    """From a consolidation page: « Classement », the proposed ranks (``ranking``, best first)
    kept and saved."""
    navigation = page.get_by_role("navigation", name="Pages de la consolidation régionale")
    navigation.get_by_role("link", name="Classement").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Classement régional – {region_name}"
    )
    for rank, ptce_name in enumerate(ranking, start=1):
        expect(page.get_by_label(f"Rang de {ptce_name}")).to_have_value(str(rank))
    axe_check(page)
    page.get_by_role("button", name="Enregistrer le classement").click()
    expect_message(page, "Le classement est enregistré.")
    axe_check(page)


def hand_over_region(page, axe_check, region_name: str, comment: str) -> None:
    """From a consolidation page: « Transmission à la CNA », with a comment."""
    navigation = page.get_by_role("navigation", name="Pages de la consolidation régionale")
    navigation.get_by_role("link", name="Transmission à la CNA").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Transmettre la région {region_name} à la CNA"
    )
    expect(page.get_by_text("La région ne peut pas encore être transmise")).to_have_count(0)
    axe_check(page)
    page.get_by_label(re.compile(r"^Commentaire pour la CNA")).fill(comment)
    page.get_by_role("button", name="Transmettre la région à la CNA").click()
    expect_message(page, f"La région {region_name} est transmise à la CNA")
    expect(page.get_by_text(re.compile(r"^Région transmise à la CNA le"))).to_be_visible()
    axe_check(page)


def instruct_region(page, axe_check, case: RegionCase) -> None:
    """A region's whole review of its one submitted candidature: the coordinator declares it
    admissible and assigns the evaluators; each scores it and submits; the coordinator writes
    the collegial opinion, ranks and hands the region over. Everyone logs out."""
    sign_in(page, axe_check, case.coordinator.email)
    open_cell_dashboard(page, axe_check, case.region_name)
    open_admissibility(page, axe_check, case.ptce_name)
    declare_admissible(page, axe_check)
    evaluators = [evaluation.evaluator.get_full_name() for evaluation in case.evaluations]
    assign_automatically(page, axe_check, case.region_name, case.ptce_name, evaluators)
    log_out(page, axe_check)

    for evaluation in case.evaluations:
        sign_in(page, axe_check, evaluation.evaluator.email)
        open_review(page, axe_check, case.ptce_name)
        fill_review(page, axe_check, evaluation)
        submit_review(page, axe_check, evaluation.total)
        log_out(page, axe_check)

    sign_in(page, axe_check, case.coordinator.email)
    open_regional_opinion(page, axe_check, case.region_name, case.ptce_name)
    expect(page.get_by_label(re.compile(r"^Note consolidée"))).to_have_value(
        case.consolidated_score
    )
    save_regional_opinion(page, axe_check, case.ptce_name, case.collegial_opinion, case.motivation)
    rank_region(page, axe_check, case.region_name, [case.ptce_name])
    hand_over_region(page, axe_check, case.region_name, case.handover_comment)
    expect(page.get_by_role("row", name=re.compile(case.ptce_name))).to_contain_text(
        "avis régional rendu"
    )
    log_out(page, axe_check)


# --- The national cell ------------------------------------------------------------------------


def write_national_analysis(
    page, axe_check, ptce_name: str, *, score: str, opinion: str, text: str
) -> None:
    """A CNA member, from any page: « Instruction nationale », the candidature, an analysis."""
    main_menu(page, "Instruction nationale")
    expect(page.get_by_role("heading", level=1)).to_have_text("Instruction nationale")
    expect(page.get_by_role("row", name=re.compile(ptce_name))).to_be_visible()
    axe_check(page)
    page.get_by_role("link", name=ptce_name, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(ptce_name)
    axe_check(page)
    page.get_by_label("Note globale (sur 100)").fill(score)
    page.get_by_label("Avis").select_option(opinion)
    page.get_by_label("Analyse").fill(text)
    page.get_by_role("button", name="Enregistrer mon analyse").click()
    expect_message(page, "Votre analyse est enregistrée.")
    expect(page.get_by_role("paragraph").filter(has_text=text[:40])).to_be_visible()
    axe_check(page)


def run_assistant(page, axe_check, name: str, *, selected, not_selected, basis="raw") -> None:
    """A CNA member, from any page: the selection assistant computes and saves a scenario;
    ``selected`` and ``not_selected`` are PTCE names."""
    main_menu(page, "Instruction nationale")
    page.get_by_role("link", name="Assistant de sélection").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Assistant de sélection")
    axe_check(page)
    page.get_by_label("Nom du scénario").fill(name)
    page.get_by_label("Note à maximiser").select_option(basis)
    page.get_by_role("button", name="Calculer et enregistrer le scénario").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Scénario « {name} »")
    lines = page.locator("#lignes-scenario")
    for ptce_name in selected:
        expect(lines.get_by_role("row", name=re.compile(ptce_name))).to_contain_text("Retenue")
    for ptce_name in not_selected:
        expect(lines.get_by_role("row", name=re.compile(ptce_name))).to_contain_text("Non retenue")
    axe_check(page)


def open_deliberation_from_scenario(page, axe_check, present, laureates: int) -> None:
    """On a scenario: open the deliberation from it, with the ``present`` members (users)."""
    page.get_by_role("link", name="Ouvrir la délibération à partir de ce scénario").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Délibération de la CNA")
    axe_check(page)
    for person in present:
        tick(page.get_by_role("checkbox", name=str(person)))
    page.get_by_role("button", name="Ouvrir la séance").click()
    expect_message(page, "La séance est ouverte.")
    expect(page.locator("#total-courant")).to_contain_text(
        f"{laureates} lauréat{'s' if laureates > 1 else ''} —"
    )
    axe_check(page)


def fix_the_list(page, axe_check) -> None:
    """On the deliberation: « Arrêter la liste »; the decisions are pending."""
    page.get_by_role("button", name="Arrêter la liste").click()
    expect_message(page, "La liste est arrêtée")
    expect(page.get_by_role("heading", level=1)).to_have_text("Décisions")
    axe_check(page)


def preview_and_publish(page, axe_check, recipients) -> None:
    """On the decisions: preview every email (each of ``recipients`` is listed), confirm,
    publish after typing the password again."""
    page.get_by_role("link", name="Prévisualiser et publier").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Publication des résultats")
    for recipient in recipients:
        expect(page.get_by_text(recipient)).to_be_visible()
    axe_check(page)
    tick(page.get_by_role("checkbox", name=re.compile("J'ai relu les décisions")))
    page.get_by_role("button", name="Publier les résultats").click()
    confirm_password(page, axe_check)  # publishing asks for the password again
    expect_message(page, "Les résultats sont publiés")
    axe_check(page)
    send_held_batch(page, axe_check)


def send_held_batch(page, axe_check) -> None:
    """On a held bulk send (« envoi groupé »): send the kept emails."""
    expect(page.get_by_role("heading", level=1)).to_contain_text("Publication des résultats")
    page.get_by_role("button", name=re.compile(r"^Envoyer les? \d")).click()
    expect_message(page, "Envoi lancé")
    axe_check(page)


def deliberate_and_publish(
    page, axe_check, administrator, *, present, scenario: str, selected, not_selected, recipients
) -> None:
    """The CNA administrator runs the assistant, opens the deliberation from its scenario,
    fixes the list unchanged, previews and publishes, and logs out."""
    sign_in(page, axe_check, administrator.email)
    run_assistant(page, axe_check, scenario, selected=selected, not_selected=not_selected)
    open_deliberation_from_scenario(page, axe_check, present, len(selected))
    fix_the_list(page, axe_check)
    preview_and_publish(page, axe_check, recipients)
    log_out(page, axe_check)


def read_decision(page, axe_check, email: str, call, texts) -> None:
    """An applicant logs in, opens the candidature from « Mes candidatures » and reads the
    published decision, which contains each of ``texts``; stays logged in."""
    sign_in(page, axe_check, email)
    open_my_candidatures(page)
    axe_check(page)
    page.get_by_role("link", name=f"Voir la candidature à {call.name}").click()
    expect(page).to_have_url(re.compile(r"/candidatures/\d+/$"))
    decision = page.locator("#decision")
    for text in texts:
        expect(decision).to_contain_text(text)
    axe_check(page)
