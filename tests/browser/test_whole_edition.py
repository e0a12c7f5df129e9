"""One edition end to end, through the real screens in Chromium: two PTCE of two regions apply;
each region checks admissibility, assigns, scores, gives its collegial opinion, ranks and hands
over; the CNA analyses, runs the selection assistant (an envelope for one laureate only),
deliberates from the scenario, fixes the list, previews and publishes; both applicants read
their decision. Every email goes through a real Celery worker on Redis to a real SMTP server on
the loopback, and each must arrive exactly once. axe-core checks every page state visited.

Only what Coorace staff configure in the admin is made with factories: the call with its grid
and required document, the communes, the regional and national cells, the applicants'
accounts (verified). Everything else is typed in the browser."""

import hashlib
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import NationalRole, RegionalRole
from ami.calls import set_phase
from ami.models import Call, OutboxMessage, OutboxState, Phase
from candidatures.models import Candidature, CandidatureState, MemberCategory
from evaluation.models import Decision, RegionHandover
from tests import factories as f
from tests.candidatures.helpers import VALID_SIRET, commune
from tests.integration.conftest import redis_url_or_skip, running_worker
from tests.integration.smtp import loopback_smtp_server, smtp_worker_env

from . import flows
from .flows import Application, Evaluation, PtceProfile, RegionCase
from .helpers import check_small_screen, log_out

pytestmark = [pytest.mark.browser, pytest.mark.integration]

ANCRAGE, COOPERATION, INNOVATION = "Ancrage territorial", "Coopération", "Innovation sociale"
OTHER_SIRET = "55210055410004"  # valid (Luhn) and different from VALID_SIRET
DELIVERY_TIMEOUT = 60  # seconds for the worker to deliver what is queued


@pytest.fixture
def smtp_server():
    with loopback_smtp_server() as server:
        server.start()
        yield server


@pytest.fixture
def smtp_worker(live_server, smtp_server, tmp_path):
    """A real worker (solo pool) on Redis sending through Django's SMTP backend to
    ``smtp_server``. It reads the live server's test database (``live_server`` makes the test
    transactional, so what the pages commit is visible to the worker); meanwhile the live
    server's tasks go to the worker's queue instead of running eagerly."""
    redis_url = redis_url_or_skip()
    env = smtp_worker_env(smtp_server)
    with running_worker(redis_url, tmp_path / "worker.log", env, "--pool", "solo") as worker:
        yield worker


# Structure of the page as axe-core sees it, without the data: every element with its attributes
# (the values of those that change what axe checks, digits folded) and whether it holds text.
PAGE_STRUCTURE = """() => {
    const kept = /^(class|role|type|lang|scope|tabindex|style|aria-.*)$/;
    const parts = [];
    for (const element of document.querySelectorAll("html, html *")) {
        const attributes = Array.from(element.attributes, (attribute) => {
            const value = attribute.value.replace(/[0-9]+/g, "N");
            if (kept.test(attribute.name)) return `${attribute.name}=${value}`;
            return attribute.value.trim() ? attribute.name : `${attribute.name}=`;
        });
        const text = Array.from(element.childNodes).some(
            (node) => node.nodeType === Node.TEXT_NODE && node.textContent.trim()
        );
        parts.push(`${element.tagName}[${attributes.sort().join(" ")}]${text ? "T" : ""}`);
    }
    return parts.join("|");
}"""


@pytest.fixture
def axe_each_state(axe_check):
    """``axe_check`` on every distinct page state the test reaches: a page whose structure
    (elements, attributes, text or not) was already checked differs only by its data — the
    second applicant's steps, the second region's screens, the login page at each login — and
    is not checked again. Keeps the test within minutes; ``checked`` and ``visits`` count."""

    def check(page) -> None:
        signature = hashlib.sha256(page.evaluate(PAGE_STRUCTURE).encode()).hexdigest()
        check.visits += 1
        if signature not in check.checked:
            axe_check(page)
            check.checked.add(signature)

    check.checked, check.visits = set(), 0
    return check


# --- What staff configure ----------------------------------------------------------------------


def staff_configuration():
    """The call, open now, with its grid and one required document; the communes of both
    PTCE; the two regional cells (a coordinator and two evaluators each); the CNA."""
    year = timezone.now().year
    call = f.CallFactory(
        name=f"AMI PTCE {year}",
        slug=f"ami-ptce-{year}",
        reviews_per_candidature=2,
        envelope=Decimal("50000"),  # room for one laureate only: the minimum grant is 30 000 €
    )
    f.CriterionFactory(call=call, label=ANCRAGE, weight=Decimal("2"), order=0)
    f.CriterionFactory(call=call, label=COOPERATION, weight=Decimal("1"), order=1)
    f.CriterionFactory(
        call=call, label=INNOVATION, weight=Decimal("1"), allows_not_applicable=True, order=2
    )
    f.DocumentTypeFactory(call=call, label="Statuts", mandatory=True, order=0)
    commune("35238", "Rennes", "35", "53", density=1)
    commune("35047", "Bruz", "35", "53", density=2)
    commune("69123", "Lyon", "69", "84", density=1)
    commune("69259", "Vénissieux", "69", "84", density=1)

    def person(email, first_name, last_name):
        return f.UserFactory(email=email, first_name=first_name, last_name=last_name)

    cells = {}
    for code, people in {
        "53": [
            ("claire.coord@example.org", "Claire", "Bretonne", RegionalRole.COORDINATOR),
            ("etienne.eval@example.org", "Étienne", "Premier", RegionalRole.EVALUATOR),
            ("fanny.eval@example.org", "Fanny", "Seconde", RegionalRole.EVALUATOR),
        ],
        "84": [
            ("hugo.coord@example.org", "Hugo", "Lyonnais", RegionalRole.COORDINATOR),
            ("ines.eval@example.org", "Inès", "Troisième", RegionalRole.EVALUATOR),
            ("jules.eval@example.org", "Jules", "Quatrième", RegionalRole.EVALUATOR),
        ],
    }.items():
        cell = f.RegionalCellFactory(call=call, region=f.region(code))
        cells[code] = [
            f.RegionalMembershipFactory(cell=cell, role=role, user=person(*names)).user
            for *names, role in people
        ]
    national = f.NationalCellFactory(call=call)
    member = f.NationalMembershipFactory(
        cell=national,
        role=NationalRole.MEMBER,
        user=person("nora.cna@example.org", "Nora", "Nationale"),
    ).user
    administrator = f.NationalMembershipFactory(
        cell=national,
        role=NationalRole.ADMINISTRATOR,
        user=person("oscar.cna@example.org", "Oscar", "Administrateur"),
    ).user
    return call, cells, member, administrator


# --- What the applicants type ------------------------------------------------------------------


def application(email, ptce: PtceProfile, amount: str, topic: str) -> Application:
    return Application(
        email=email,
        ptce=ptce,
        members=[
            (f"Coopérative {topic}", MemberCategory.ESS_ENTERPRISE),
            (f"Entreprise {topic} SARL", MemberCategory.NON_ESS_ENTERPRISE),
            (f"Commune partenaire {topic}", MemberCategory.LOCAL_AUTHORITY),
        ],
        presentation={
            "Intitulé du projet": f"Filière locale {topic}",
            "Résumé du projet": f"Une filière {topic} portée par les membres du pôle.",
        },
        territory={
            "Territoire et ses enjeux": f"Le bassin de {ptce.seat_commune} et ses besoins.",
            "Coopération entre les membres": "Les membres mutualisent un local et une équipe.",
        },
        project={
            "Animation territoriale et gouvernance": "Un comité de pilotage trimestriel.",
            "Ingénierie de projet": "Un plan d'action sur trois ans, avec ses indicateurs.",
            "Recherche et innovation": "Un partenariat avec un laboratoire universitaire.",
            "Viabilité économique": "Les ventes couvrent la moitié des charges.",
        },
        requested_amount=amount,
        document_label="Statuts",
    )


BRETON = application(
    "lea.martin@example.org",
    PtceProfile(
        name="Pôle Réemploi Rennes",
        siret=VALID_SIRET,
        legal_form="SCIC SAS",
        year_created="2019",
        address="12 rue de la Coopération",
        postal_code="35000",
        seat_commune="Rennes",
        territory_communes="35238 35047",
    ),
    "50000",
    "du réemploi",
)
LYONNAIS = application(
    "marc.durand@example.org",
    PtceProfile(
        name="Fabrique Textile Lyon",
        siret=OTHER_SIRET,
        legal_form="Association déclarée",
        year_created="2021",
        address="3 quai du Rhône",
        postal_code="69001",
        seat_commune="Lyon",
        territory_communes="69123, 69259",
    ),
    "40000",
    "du textile",
)
EVENTS = ["decision.laureate", "decision.not_selected"]
DECISION_SUBJECTS = {
    "laureate": "[AMI PTCE] Votre candidature est retenue – {}",
    "not_selected": "[AMI PTCE] Décision sur votre candidature – {}",
}


# --- Checks on the mailbox ----------------------------------------------------------------------


def wait_until_everything_is_sent(worker) -> list[int]:
    """Poll the outbox until the worker has sent every row; returns their ids."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while OutboxMessage.objects.exclude(state=OutboxState.SENT).exists():
        if time.monotonic() > deadline:
            pending = list(
                OutboxMessage.objects.exclude(state=OutboxState.SENT).values_list(
                    "pk", "event", "state", "last_error"
                )
            )
            pytest.fail(f"Courriels non envoyés : {pending}\n{worker.read_log()[-5000:]}")
        time.sleep(0.2)
    return list(OutboxMessage.objects.values_list("pk", flat=True))


def expect_receipt(smtp_server, worker, applicant: Application, number: str) -> None:
    subject = f"[AMI PTCE] Accusé de réception {number} – {applicant.ptce.name}"

    def arrived(mailbox):
        return any(message.subject == subject for message in mailbox.to(applicant.email))

    if not smtp_server.mailbox.wait_for(arrived, timeout=DELIVERY_TIMEOUT):
        pytest.fail(
            f"Accusé de réception non reçu par {applicant.email} : "
            f"{smtp_server.mailbox.to(applicant.email)}\n{worker.read_log()[-5000:]}"
        )


# --- The edition ------------------------------------------------------------------------------


def test_one_edition_from_applications_to_published_decisions(
    page, live_server, axe_each_state, smtp_server, smtp_worker
):
    axe_check = axe_each_state
    started = time.monotonic()
    call, cells, member, administrator = staff_configuration()
    for applicant in (BRETON, LYONNAIS):
        f.UserFactory(email=applicant.email)  # signed up, email verified

    # --- Both PTCE apply; each receipt email reaches the SMTP server. ---
    numbers = {}
    for applicant in (BRETON, LYONNAIS):
        numbers[applicant.email] = flows.apply(page, axe_check, call, applicant)
        expect_receipt(smtp_server, smtp_worker, applicant, numbers[applicant.email])
    candidatures = {
        applicant.email: Candidature.objects.get(ptce__name=applicant.ptce.name, call=call)
        for applicant in (BRETON, LYONNAIS)
    }
    breton, lyonnais = candidatures[BRETON.email], candidatures[LYONNAIS.email]
    assert (breton.region_id, lyonnais.region_id) == ("53", "84")
    assert {c.state for c in candidatures.values()} == {CandidatureState.SUBMITTED}
    assert {c.receipt_number for c in candidatures.values()} == set(numbers.values())
    print(f"applications: {time.monotonic() - started:.0f}s")

    # --- The call closes. The deadline is enforced on the server (``Call.accepts_submissions``
    # in ``candidatures.submission.check_submission``), not by a page: the test moves
    # ``closes_at`` into the past as time would, then the phase as the calendar does (no
    # actor). ---
    Call.objects.filter(pk=call.pk).update(closes_at=timezone.now() - timedelta(minutes=1))
    set_phase(call, Phase.REGIONAL_REVIEW, None, comment="Clôture des candidatures.")

    # --- Each region reviews its candidature and hands over. ---
    coordinator, first, second = cells["53"]
    flows.instruct_region(
        page,
        axe_check,
        RegionCase(
            region_name="Bretagne",
            coordinator=coordinator,
            ptce_name=BRETON.ptce.name,
            evaluations=[
                Evaluation(
                    first, {ANCRAGE: "4", COOPERATION: "3", INNOVATION: "5"}, "favorable", "80,00"
                ),
                Evaluation(
                    second, {ANCRAGE: "5", COOPERATION: "4", INNOVATION: None}, "reserved", "93,33"
                ),
            ],
            consolidated_score="86,67",
            collegial_opinion="favorable",
            motivation="Un projet ancré dans son territoire, à la coopération réelle.",
        ),
    )
    coordinator, first, second = cells["84"]
    flows.instruct_region(
        page,
        axe_check,
        RegionCase(
            region_name="Auvergne-Rhône-Alpes",
            coordinator=coordinator,
            ptce_name=LYONNAIS.ptce.name,
            evaluations=[
                Evaluation(
                    first, {ANCRAGE: "3", COOPERATION: "3", INNOVATION: "2"}, "reserved", "55,00"
                ),
                Evaluation(
                    second, {ANCRAGE: "2", COOPERATION: "3", INNOVATION: "3"}, "reserved", "50,00"
                ),
            ],
            consolidated_score="52,50",
            collegial_opinion="reserved",
            motivation="Un projet utile dont le modèle économique reste à consolider.",
        ),
    )
    assert RegionHandover.objects.filter(cell__call=call).count() == 2
    for candidature in candidatures.values():
        candidature.refresh_from_db()
        assert candidature.state == CandidatureState.REGIONAL_REVIEW_DONE
    print(f"regional reviews: {time.monotonic() - started:.0f}s")

    # --- The national review: an analysis, the assistant, the deliberation, publication. ---
    set_phase(call, Phase.NATIONAL_REVIEW, None, comment="Fin de l'instruction régionale.")
    flows.sign_in(page, axe_check, member.email)
    flows.write_national_analysis(
        page,
        axe_check,
        LYONNAIS.ptce.name,
        score="55",
        opinion="reserved",
        text="Filière textile prometteuse, modèle économique à consolider.",
    )
    log_out(page, axe_check)
    flows.deliberate_and_publish(
        page,
        axe_check,
        administrator,
        present=[administrator, member],
        scenario="Notes brutes",
        selected=[BRETON.ptce.name],
        not_selected=[LYONNAIS.ptce.name],
        recipients=[BRETON.email, LYONNAIS.email],
    )
    call.refresh_from_db()
    assert call.phase == Phase.PUBLISHED
    decisions = {d.candidature_id: d for d in Decision.objects.filter(candidature__call=call)}
    assert decisions[breton.pk].outcome == "laureate"
    assert decisions[breton.pk].granted_amount == Decimal("50000")
    assert decisions[lyonnais.pk].outcome == "not_selected"
    assert all(d.published_at for d in decisions.values())
    print(f"national review: {time.monotonic() - started:.0f}s")

    # --- Each applicant reads the decision. ---
    flows.read_decision(
        page, axe_check, BRETON.email, call, ["Candidature retenue", "50\u202f000\u00a0€"]
    )
    log_out(page, axe_check)
    flows.read_decision(page, axe_check, LYONNAIS.email, call, ["Candidature non retenue"])

    # --- The main pages on a small phone (375 px), as each role: nothing wider than the screen,
    # no button whose text is hidden; axe-core there too. ---
    check_small_screen(
        page,
        [
            reverse("dashboard"),
            reverse("applicant_dashboard"),
            reverse("candidature_detail", args=[lyonnais.pk]),
        ],
        axe_check,
    )
    log_out(page, axe_check)
    check_small_screen(
        page,
        [
            "/",
            reverse("call_detail", args=[call.slug]),
            reverse("call_laureates", args=[call.slug]),
            reverse("site_map"),
        ],
        axe_check,
    )
    coordinator = cells["53"][0]
    flows.sign_in(page, axe_check, coordinator.email)
    cell_pk = coordinator.regional_memberships.get().cell_id
    check_small_screen(
        page,
        [
            reverse("dashboard"),
            reverse("consolidation_list", args=[cell_pk]),
            reverse("regional_ranking", args=[cell_pk]),
            reverse("candidature_detail", args=[breton.pk]),
        ],
        axe_check,
    )
    log_out(page, axe_check)
    flows.sign_in(page, axe_check, administrator.email)
    check_small_screen(
        page,
        [
            reverse("dashboard"),
            reverse("national_dashboard", args=[call.pk]),
            reverse("decision_table", args=[call.pk]),
            reverse("deliberation", args=[call.pk]),
        ],
        axe_check,
    )
    log_out(page, axe_check)
    print(f"small screens: {time.monotonic() - started:.0f}s")

    # --- The worker delivered every email exactly once; one decision letter each. ---
    ids = wait_until_everything_is_sent(smtp_worker)
    # A duplicate would arrive now, if ever: nothing is left to send.
    assert not smtp_server.mailbox.wait_for(lambda box: len(box.received()) > len(ids), timeout=2)
    counts = smtp_server.mailbox.counts()
    assert not {key: n for key, n in counts.items() if n > 1}, "courriel reçu plusieurs fois"
    assert sorted(counts) == sorted(str(pk) for pk in ids), smtp_worker.read_log()[-5000:]
    for applicant, outcome in ((BRETON, "laureate"), (LYONNAIS, "not_selected")):
        name = applicant.ptce.name
        subjects = {subject.format(name) for subject in DECISION_SUBJECTS.values()}
        received = smtp_server.mailbox.to(applicant.email)
        letters = [message.subject for message in received if message.subject in subjects]
        assert letters == [DECISION_SUBJECTS[outcome].format(name)], received
        letter_rows = OutboxMessage.objects.filter(recipient=applicant.email, event__in=EVENTS)
        assert list(letter_rows.values_list("event", flat=True)) == [f"decision.{outcome}"]
    elapsed = time.monotonic() - started
    print(f"{len(ids)} emails delivered once each; whole edition in {elapsed:.0f}s")
    print(f"axe-core: {len(axe_check.checked)} distinct page states of {axe_check.visits} visited")
