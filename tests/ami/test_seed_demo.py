from dataclasses import dataclass
from io import StringIO

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.db.models import Avg
from django.test import TestCase, override_settings
from django.urls import reverse

from accounts.models import NationalCell, RegionalCell, RegionalCellMembership, User
from ami.models import Call, Criterion, DocumentType, OutboxMessage, OutboxState, Phase, Region
from candidatures.models import (
    Candidature,
    CandidatureEvent,
    CandidatureState,
    InternalNote,
    Message,
)
from candidatures.submission import completeness_problems
from evaluation.models import (
    AdmissibilityCheck,
    Assignment,
    NationalReview,
    RegionalOpinion,
    RegionHandover,
    Review,
    ReviewScore,
    ReviewState,
    SelectionScenario,
)
from wiring.demo import evaluation as demo
from wiring.demo.seed import NOT_SENT

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@dataclass
class Seeded:
    out: str
    callbacks: list
    outbox: list


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker, tmp_path_factory):
    """``seed_demo`` run once for the module (it takes about 20 s), its documents in a temporary
    folder, inside a transaction rolled back after the module's last test; each test's own
    transaction nests inside it as a savepoint. Keeps what the run printed, the on-commit
    callbacks it registered (executed, as at a real commit) and the emails it sent."""
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path_factory.mktemp("demo") / "private")},
        },
    }
    with (
        override_settings(STORAGES=storages),
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        out = StringIO()
        mail.outbox = []
        with TestCase.captureOnCommitCallbacks(execute=True) as callbacks:
            call_command("seed_demo", stdout=out)
        seeded = Seeded(out=out.getvalue(), callbacks=callbacks, outbox=list(mail.outbox))
        with django_db_blocker.block():
            yield seeded
        transaction.set_rollback(True)


@pytest.fixture
def _private_storage():
    """The demo's documents stay where ``seeded`` put them (instead of tests/conftest.py's
    per-test folder)."""


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (
            Call,
            Criterion,
            DocumentType,
            RegionalCell,
            NationalCell,
            User,
            RegionalCellMembership,
            AdmissibilityCheck,
            Assignment,
            Review,
            ReviewScore,
            RegionalOpinion,
            RegionHandover,
            OutboxMessage,
        )
    }


def _review_state():
    """What a second run must not change, even without adding rows."""
    return (
        list(Review.objects.order_by("pk").values_list("pk", "state", "total", "updated_at")),
        list(
            RegionalOpinion.objects.order_by("pk").values_list(
                "pk", "consolidated_score", "rank", "updated_at"
            )
        ),
        list(Candidature.objects.order_by("pk").values_list("pk", "state")),
    )


def test_seed_demo_is_idempotent_and_prints_the_logins(seeded):
    first, reviewed = _counts(), _review_state()
    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first
    assert _review_state() == reviewed

    text = seeded.out
    assert "demo-ami-ptce-2025" in text
    assert "coorace@demo.ami-ptce.fr" in text
    edition_2025 = Call.objects.get(slug="ami-ptce-2025")
    assert edition_2025.criteria.count() == 5
    assert edition_2025.document_types.count() == 6
    current = Call.objects.current()
    assert current.phase == Phase.OPEN and current.accepts_submissions()
    assert RegionalCell.objects.filter(call=current).count() == 18
    assert NationalCell.objects.filter(call=current).count() == 1
    # Every cell has a coordinator and three evaluators who can log in (verified email).
    assert RegionalCellMembership.objects.filter(cell__call=current).count() == 18 * 4
    assert User.objects.get(email="coorace@demo.ami-ptce.fr").is_staff
    # About 80 PTCEs and candidatures over every region, drafts and submitted ones.
    candidatures = Candidature.objects.filter(call=current)
    assert candidatures.count() == 79
    assert set(candidatures.values_list("region", flat=True)) == set(
        Region.objects.values_list("code", flat=True)
    )
    # Submitted ones, then (most of them) decided by their regional cell.
    submitted = candidatures.exclude(state=CandidatureState.DRAFT)
    assert 30 < submitted.count() < 70
    assert candidatures.filter(state=CandidatureState.DRAFT).exists()
    sample = submitted.first()
    assert sample.receipt_number and sample.snapshot["documents"]
    assert completeness_problems(sample) == []
    document = sample.documents.first()
    assert document.file.read().startswith(b"%PDF")


def test_demo_user_can_log_in(client, seeded):
    response = client.post(
        "/compte/login/",
        {"login": "porteur@demo.ami-ptce.fr", "password": "demo-ami-ptce-2025"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/mon-espace/"


def test_seed_demo_gives_the_regional_cells_material(seeded):
    callbacks = seeded.callbacks
    current = Call.objects.current()
    candidatures = Candidature.objects.filter(call=current)
    submitted = Review.objects.filter(candidature__call=current, state=ReviewState.SUBMITTED)
    # Submitted reviews in most regions, some left in draft, nothing handed over to the CNA.
    assert submitted.values("candidature__region").distinct().count() >= 12
    assert Review.objects.filter(candidature__call=current, state=ReviewState.DRAFT).exists()
    assert not RegionHandover.objects.filter(cell__call=current).exists()
    # Regions kept for their coordinator: admissibility still to decide.
    for code in demo.NOT_STARTED:
        assert not AdmissibilityCheck.objects.filter(
            candidature__call=current, candidature__region=code
        ).exists()
        assert candidatures.filter(region=code, state=CandidatureState.SUBMITTED).exists()
    # A few threads with the applicants, and internal notes (issue 15).
    threads = Message.objects.filter(candidature__call=current)
    assert threads.values("candidature").distinct().count() == 3
    assert InternalNote.objects.filter(candidature__call=current).count() == 3
    # A couple of inadmissible candidatures, with the motivation sent to the applicant.
    inadmissible = candidatures.filter(state=CandidatureState.INADMISSIBLE)
    assert set(inadmissible.values_list("region", flat=True)) == demo.WITH_INADMISSIBLE
    assert CandidatureEvent.objects.get(
        candidature__in=inadmissible[:1], to_state=CandidatureState.INADMISSIBLE
    ).comment

    # Île-de-France: every admissible candidature fully reviewed, no collegial opinion yet.
    idf = candidatures.filter(region="11", state=CandidatureState.ADMISSIBLE)
    assert idf.exists()
    for candidature in idf:
        assert (
            candidature.reviews.filter(state=ReviewState.SUBMITTED).count()
            == current.reviews_per_candidature
        )
    assert not RegionalOpinion.objects.filter(
        candidature__call=current, candidature__region="11"
    ).exists()

    # About half of the regions wrote their opinions and ranked them 1…n.
    opinions = RegionalOpinion.objects.filter(candidature__call=current)
    regions = set(opinions.values_list("candidature__region", flat=True))
    assert regions == demo.WITH_OPINIONS
    for code in regions:
        ranks = sorted(opinions.filter(candidature__region=code).values_list("rank", flat=True))
        assert ranks == list(range(1, len(ranks) + 1))
    assert opinions.exclude(score_justification="").exists()

    # Some cells score systematically higher than others: normalisation has work to do.
    def mean(codes):
        return submitted.filter(candidature__region__in=codes).aggregate(m=Avg("total"))["m"]

    lenient = [code for code, bias in demo.SEVERITY.items() if bias > 0]
    strict = [code for code, bias in demo.SEVERITY.items() if bias < 0]
    assert mean(lenient) > mean(strict) + 15

    # 2025: in national review, every region handed over, analyses and a scenario to look at.
    edition_2025 = Call.objects.get(slug="ami-ptce-2025")
    assert edition_2025.phase == Phase.NATIONAL_REVIEW
    assert RegionHandover.objects.filter(cell__call=edition_2025).count() == Region.objects.count()
    handed = Candidature.objects.filter(
        call=edition_2025, state=CandidatureState.REGIONAL_REVIEW_DONE
    )
    assert handed.count() >= 70
    assert not handed.filter(regional_opinion__isnull=True).exists()
    assert NationalReview.objects.filter(candidature__call=edition_2025).count() == 2
    scenario = SelectionScenario.objects.get(call=edition_2025)
    assert scenario.feasible and scenario.total_granted <= edition_2025.envelope

    # The notifications are in the outbox, none dispatched, sent nor left to send.
    assert OutboxMessage.objects.filter(last_error=NOT_SENT).exists()
    assert not OutboxMessage.objects.filter(state=OutboxState.QUEUED).exists()
    assert not [callback for callback in callbacks if callback.__module__ == "ami.outbox"]
    assert seeded.outbox == []


def test_the_tiers_lieux_call_is_applied_to_and_scored_with_the_same_screens(client):
    """A second call of another shape on the same instance: its own questionnaire (three
    sections, other kinds of questions), grid and documents; an applicant applies, the CRA of
    the region scores it."""
    from ami.models import Question
    from candidatures import questionnaire
    from evaluation import admission, assignment
    from tests.candidatures.helpers import add_document, step_data
    from tests.evaluation.test_reviews import complete_data
    from tests.factories import give_totp

    call_command("seed_demo", stdout=StringIO())
    call = Call.objects.get(slug="aap-tiers-lieux-2026")
    assert call.name == "Appel à projets Tiers-lieux 2026" and call.phase == Phase.OPEN
    steps = questionnaire.steps(call)
    assert [s.slug for s in steps] == [
        "le-lieu", "activites", "financement", "pieces", "recapitulatif",
    ]  # fmt: skip
    kinds = set(Question.objects.filter(call=call).values_list("kind", flat=True))
    assert {"integer", "date", "url", "email", "multiple_choice", "single_choice", "yes_no",
            "long_text", "amount"} <= kinds  # fmt: skip
    criteria = list(call.criteria.all())
    assert [c.weight for c in criteria] == [40, 35, 25]
    assert call.document_types.count() == 2
    assert Call.objects.current().slug != call.slug  # the AMI PTCE stays the home page's call

    # The demo applicant applies, step by step, with the autosave.
    applicant = User.objects.get(email="porteur@demo.ami-ptce.fr")
    ptce = applicant.ptces.get()
    client.force_login(applicant)
    response = client.post(reverse("candidature_start", args=[ptce.pk, call.slug]))
    candidature = Candidature.objects.get(ptce=ptce, call=call)
    assert response["Location"] == reverse("candidature_step", args=[candidature.pk, "le-lieu"])
    answers = questionnaire.sample_answers(call, 7)
    core = {"title": "Le tiers-lieu du bourg", "requested_amount": "25 000"}
    for step in steps[:3]:
        response = client.post(
            reverse("candidature_autosave", args=[candidature.pk, step.slug]),
            step_data(call, step.slug, answers, **core),
            HTTP_HX_REQUEST="true",
        )
        assert "Enregistré à" in response.content.decode()
    for document_type in call.document_types.filter(mandatory=True):
        add_document(candidature, document_type)
    response = client.post(reverse("candidature_submit", args=[candidature.pk]))
    candidature.refresh_from_db()
    assert candidature.state == CandidatureState.SUBMITTED, completeness_problems(candidature)
    assert candidature.snapshot["answers"] == {"title": "Le tiers-lieu du bourg", **answers}

    # The CRA of the region: admissibility, assignment, a review on this call's grid.
    cell = RegionalCell.objects.get(call=call, region=candidature.region)
    coordinator = cell.memberships.get(role="coordinator").user
    evaluator = cell.memberships.get(role="evaluator").user
    manual = {item.key: True for item in admission.admissibility_checklist(candidature)
              if not item.automatic}  # fmt: skip
    admission.decide_admissibility(candidature, coordinator, True, manual)
    assignment.assign(candidature, evaluator, coordinator)
    give_totp(evaluator)  # cell members need their second factor (accounts.mfa)
    client.force_login(evaluator)
    page = client.get(reverse("review_edit", args=[candidature.pk])).content.decode()
    assert "Surface du lieu (m²)" in page and "Le tiers-lieu du bourg" in page
    assert "Utilité pour le territoire" in page
    response = client.post(
        reverse("review_submit", args=[candidature.pk]),
        complete_data(criteria, scores=(8, 6, 10)),
    )
    assert response.status_code == 302
    review = Review.objects.get(candidature=candidature, evaluator=evaluator)
    # 100 × (40×8/10 + 35×6/10 + 25×10/10) / 100 = 32 + 21 + 25
    assert review.total == 78
