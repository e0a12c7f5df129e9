"""Admissibility, complements (coordinator side, end to end with the applicant), reminders and
the CNA's change of region."""

import hashlib
import logging
from datetime import datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalRole
from ami.models import OutboxMessage
from candidatures import workflow
from candidatures.models import Candidature, CandidatureState, ComplementRequest, RegionMove
from evaluation import admission
from evaluation.forms import ComplementsForm
from evaluation.models import AdmissibilityCheck, Assignment, RegionHandover
from evaluation.tasks import send_complement_reminders
from tests import factories as f
from tests.candidatures.helpers import add_document, submittable
from tests.form_errors import assert_field_error

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")
NEW_PDF = (
    b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%nouveau\ntrailer\n<< /Root 1 0 R >>\n"
    b"%%EOF\n"
)
MANUAL_KEYS = ["rule:1", "documents_readable", "legal_person", "three_members"]


@pytest.fixture
def case(db):
    """A complete candidature submitted to a call with two mandatory documents and one
    eligibility rule, its applicant, and the coordinator of its region's cell."""
    candidature, applicant = submittable(eligibility_rules="Territoire d'au moins 2 communes")
    budget = f.DocumentTypeFactory(call=candidature.call, label="Budget prévisionnel", order=2)
    add_document(candidature, budget, name="budget.pdf")
    workflow.transition(candidature, CandidatureState.SUBMITTED, applicant)
    cell = f.RegionalCellFactory(call=candidature.call, region=candidature.region)
    coordinator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR).user
    OutboxMessage.objects.all().delete()
    return {
        "candidature": candidature,
        "applicant": applicant,
        "coordinator": coordinator,
        "cell": cell,
        "statuts": candidature.call.document_types.get(label="Statuts"),
        "budget": budget,
    }


def admissibility_url(candidature):
    return reverse("admissibility", args=[candidature.pk])


def complements_url(candidature):
    return reverse("complements_request", args=[candidature.pk])


def state_of(candidature):
    return Candidature.objects.values_list("state", flat=True).get(pk=candidature.pk)


# --- Checklist and decision -------------------------------------------------------------------


def test_checklist_has_automatic_and_manual_points(case):
    items = admission.admissibility_checklist(case["candidature"])
    automatic = [item for item in items if item.automatic]
    assert [item.ok for item in automatic] == [True, True, True]
    assert automatic[1].label == "Pièce obligatoire présente : Statuts"
    assert automatic[1].document.original_name == "statuts.pdf"
    manual = [item for item in items if not item.automatic]
    assert [item.key for item in manual] == MANUAL_KEYS
    assert manual[0].label == "Territoire d'au moins 2 communes"
    assert "personne morale de droit privé" in manual[2].label


def test_checklist_reports_eligibility_problems_and_missing_documents(case):
    candidature = case["candidature"]
    candidature.ptce.members.first().delete()
    candidature.documents.get(document_type=case["budget"]).delete()
    items = {item.key: item for item in admission.admissibility_checklist(candidature)}
    assert items["eligibility"].ok is False
    assert any("au moins 3 personnes morales" in d for d in items["eligibility"].details)
    assert items[f"document:{case['budget'].pk}"].ok is False


def test_admissible_with_every_point_checked_notifies_the_applicant(client, case):
    candidature = case["candidature"]
    client.force_login(case["coordinator"])
    page = client.get(admissibility_url(candidature))
    html = page.content.decode()
    assert "Pièces lisibles et conformes" in html
    document = candidature.documents.get(document_type=case["statuts"])
    assert reverse("document_download", args=[candidature.pk, document.pk]) in html
    response = client.post(
        admissibility_url(candidature), {"decision": "admissible", "points": MANUAL_KEYS}
    )
    assert response.status_code == 302
    assert state_of(candidature) == CandidatureState.ADMISSIBLE
    check = AdmissibilityCheck.objects.get(candidature=candidature)
    assert check.checked_by == case["coordinator"]
    assert check.answers["legal_person"] == {
        "label": "Structure porteuse éligible (personne morale de droit privé)",
        "ok": True,
        "automatic": False,
        "details": [],
    }
    assert check.answers["eligibility"]["ok"] is True
    mail = OutboxMessage.objects.get(event="candidature.admissible")
    assert mail.recipient == case["applicant"].email
    # The frozen answers are shown afterwards; the decision form is gone.
    after = client.get(admissibility_url(candidature)).content.decode()
    assert "Vérification enregistrée" in after
    assert 'name="decision"' not in after


def test_admissible_needs_every_point(client, case):
    candidature = case["candidature"]
    client.force_login(case["coordinator"])
    response = client.post(
        admissibility_url(candidature), {"decision": "admissible", "points": MANUAL_KEYS[:2]}
    )
    assert response.status_code == 422
    assert "tous les points doivent être vérifiés" in response.content.decode()
    assert (
        "Restent : Structure porteuse éligible (personne morale de droit privé) ; PTCE réunissant"
        in response.content.decode()
    )
    assert state_of(candidature) == CandidatureState.SUBMITTED
    assert not AdmissibilityCheck.objects.exists()


def test_inadmissible_without_motivation_is_refused(client, case):
    candidature = case["candidature"]
    client.force_login(case["coordinator"])
    response = client.post(
        admissibility_url(candidature), {"decision": "inadmissible", "motivation": "   "}
    )
    assert response.status_code == 422
    assert "La motivation est obligatoire" in response.content.decode()
    assert state_of(candidature) == CandidatureState.SUBMITTED
    assert not OutboxMessage.objects.exists()
    with pytest.raises(ValidationError):
        admission.decide_admissibility(candidature, case["coordinator"], False, {}, "")


def test_inadmissible_with_motivation_notifies_and_the_applicant_reads_it(client, case):
    candidature = case["candidature"]
    motivation = "La structure porteuse est une collectivité : elle n'est pas éligible."
    client.force_login(case["coordinator"])
    response = client.post(
        admissibility_url(candidature),
        {"decision": "inadmissible", "points": ["documents_readable"], "motivation": motivation},
    )
    assert response.status_code == 302
    assert state_of(candidature) == CandidatureState.INADMISSIBLE
    mail = OutboxMessage.objects.get(event="candidature.inadmissible")
    assert motivation in mail.body_text
    assert AdmissibilityCheck.objects.get().answers["legal_person"]["ok"] is False
    client.force_login(case["applicant"])
    detail = client.get(reverse("candidature_detail", args=[candidature.pk]))
    assert "elle n&#x27;est pas éligible" in detail.content.decode()


def test_only_the_coordinator_decides(case):
    candidature = case["candidature"]
    evaluator = f.RegionalMembershipFactory(cell=case["cell"]).user
    for user in (evaluator, case["applicant"], f.UserFactory(is_staff=True)):
        with pytest.raises(PermissionDenied):
            admission.decide_admissibility(candidature, user, True, dict.fromkeys(MANUAL_KEYS, 1))


def test_no_decision_once_the_region_is_handed_over(case):
    RegionHandover.objects.create(cell=case["cell"], handed_over_by=case["coordinator"])
    with pytest.raises(ValidationError, match="transmise à la CNA"):
        admission.decide_admissibility(
            case["candidature"], case["coordinator"], True, dict.fromkeys(MANUAL_KEYS, True)
        )


# --- Complements, end to end ------------------------------------------------------------------


def test_complements_end_to_end(client, case):
    candidature, applicant = case["candidature"], case["applicant"]
    coordinator = case["coordinator"]
    statuts, budget = case["statuts"], case["budget"]
    due = timezone.localtime(timezone.now() + timedelta(days=10), PARIS)
    client.force_login(coordinator)
    form = client.get(complements_url(candidature)).content.decode()
    assert 'name="fields" value="summary"' in form
    assert f'name="document_types" value="{statuts.pk}"' in form
    response = client.post(
        complements_url(candidature),
        {
            "message": "Précisez le résumé et joignez les statuts signés.",
            "fields": ["summary"],
            "document_types": [str(statuts.pk)],
            "due_date": due.strftime("%Y-%m-%d"),
            "due_time": "18:30",
        },
    )
    assert response.status_code == 302
    request = ComplementRequest.objects.get()
    assert timezone.localtime(request.due_at, PARIS).strftime("%d/%m/%Y %H:%M") == (
        due.strftime("%d/%m/%Y") + " 18:30"
    )
    assert state_of(candidature) == CandidatureState.COMPLEMENTS_REQUESTED
    assert OutboxMessage.objects.filter(
        event="candidature.complements_requested", recipient=applicant.email
    ).exists()

    # The applicant: only the listed field and document may change.
    client.force_login(applicant)
    client.post(
        reverse("candidature_autosave", args=[candidature.pk, "presentation"]),
        {"title": "Titre changé en douce", "summary": "Un résumé précisé."},
        HTTP_HX_REQUEST="true",
    )
    candidature.refresh_from_db()
    assert candidature.title == "Réponse title"
    assert candidature.answers["summary"] == "Un résumé précisé."
    refused = client.post(
        reverse("document_upload", args=[candidature.pk, budget.pk]),
        {"file": SimpleUploadedFile("budget-v2.pdf", NEW_PDF, content_type="application/pdf")},
        follow=True,
    )
    assert "ne fait pas partie des compléments demandés" in refused.content.decode()
    client.post(
        reverse("document_upload", args=[candidature.pk, statuts.pk]),
        {"file": SimpleUploadedFile("statuts-signes.pdf", NEW_PDF, content_type="application/pdf")},
    )
    response = client.post(reverse("candidature_submit", args=[candidature.pk]))
    assert response.status_code == 302
    assert state_of(candidature) == CandidatureState.SUBMITTED
    request.refresh_from_db()
    assert request.answered_at is not None
    assert set(request.changes) == {"summary", "document:Statuts"}

    # The coordinator sees exactly what changed.
    client.force_login(coordinator)
    html = client.get(complements_url(candidature)).content.decode()
    assert "Ce qui a changé" in html
    assert "Réponse summary" in html and "Un résumé précisé." in html
    assert "statuts.pdf" in html and "statuts-signes.pdf" in html
    assert hashlib.sha256(NEW_PDF).hexdigest() in html
    assert "Titre changé en douce" not in html
    assert "Budget prévisionnel</th>" not in html


def test_complements_form_errors(client, case):
    candidature = case["candidature"]
    client.force_login(case["coordinator"])
    response = client.post(
        complements_url(candidature),
        {"message": "", "due_date": "2020-01-01", "due_time": "12:00"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Écrivez au porteur ce qui est attendu." in html
    assert "Indiquez au moins une rubrique ou une pièce" in html
    assert "La date limite doit être dans le futur." in html
    response = client.post(
        complements_url(candidature), {"message": "x", "fields": ["title"], "due_date": "demain"}
    )
    assert "Indiquez une date limite valide." in response.content.decode()

    # Typed by hand where the browser has no date picker: French order is understood.
    def parse_due_at(day, hour):
        data = {"message": "x", "fields": ["title"], "due_date": day, "due_time": hour}
        form = ComplementsForm(data, call=candidature.call)
        return form.cleaned_data["due_at"] if form.is_valid() else None

    assert parse_due_at("31/07/2031", "") == datetime(2031, 7, 31, 12, tzinfo=PARIS)
    assert parse_due_at("2031-07-31", "9:05") == datetime(2031, 7, 31, 9, 5, tzinfo=PARIS)
    assert parse_due_at("31/07/2031", "25:00") is None
    assert not ComplementRequest.objects.exists()


def test_resubmission_after_the_due_date_is_refused(client, case):
    candidature, applicant = case["candidature"], case["applicant"]
    admission.ask_complements(
        candidature,
        case["coordinator"],
        message="Précisez le résumé.",
        fields=["summary"],
        document_types=[],
        due_at=timezone.now() + timedelta(hours=1),
    )
    ComplementRequest.objects.update(due_at=timezone.now() - timedelta(minutes=1))
    client.force_login(applicant)
    response = client.post(reverse("candidature_submit", args=[candidature.pk]), follow=True)
    assert "La date limite des compléments" in response.content.decode()
    assert state_of(candidature) == CandidatureState.COMPLEMENTS_REQUESTED
    assert ComplementRequest.objects.get().answered_at is None


def test_reminder_is_sent_once_and_not_for_answered_requests(case):
    candidature = case["candidature"]
    admission.ask_complements(
        candidature,
        case["coordinator"],
        message="Précisez le résumé.",
        fields=["summary"],
        document_types=[],
        due_at=timezone.now() + timedelta(days=1),
    )
    # An answered request of another candidature, due soon as well: no reminder.
    other, other_applicant = submittable()
    workflow.transition(other, CandidatureState.SUBMITTED, other_applicant)
    f.RegionalMembershipFactory(
        cell=f.RegionalCellFactory(call=other.call, region=other.region),
        role=RegionalRole.COORDINATOR,
    )
    ComplementRequest.objects.create(
        candidature=other,
        message="Déjà répondu",
        fields=["summary"],
        due_at=timezone.now() + timedelta(days=1),
        requested_by=case["coordinator"],
        answered_at=timezone.now(),
    )
    out = StringIO()
    call_command("send_complement_reminders", stdout=out)
    call_command("send_complement_reminders", stdout=out)
    assert out.getvalue().splitlines() == [
        "1 rappel de compléments envoyé.",
        "0 rappel de compléments envoyé.",
    ]
    reminders = OutboxMessage.objects.filter(event="candidature.complements_reminder")
    assert [m.recipient for m in reminders] == [case["applicant"].email]
    assert send_complement_reminders.delay().get() == 0


def test_reminders_are_scheduled_every_hour():
    entry = settings.CELERY_BEAT_SCHEDULE["send-complement-reminders"]
    assert entry["task"] == "evaluation.send_complement_reminders"
    assert entry["schedule"].minute == {0}
    assert len(entry["schedule"].hour) == 24


# --- Change of region -------------------------------------------------------------------------


def test_cna_administrator_moves_a_candidature_with_a_reason(client, world, caplog):
    candidature = world.candidature_a
    coordinator = world.user("cra_coordinator")
    Assignment.objects.create(
        candidature=candidature, evaluator=world.user("cra_evaluator"), assigned_by=coordinator
    )
    admin = world.user("cna_admin")
    client.force_login(admin)
    url = reverse("region_move", args=[candidature.pk])
    assert world.region_b.name in client.get(url).content.decode()
    with caplog.at_level(logging.INFO, logger="evaluation.admission"):
        response = client.post(
            url, {"region": world.region_b.pk, "reason": "Le siège a déménagé à Rennes."}
        )
    assert response.status_code == 302
    candidature.refresh_from_db()
    assert candidature.region == world.region_b
    move = RegionMove.objects.get()
    assert (move.from_region, move.to_region, move.actor) == (world.region_a, world.region_b, admin)
    assert move.reason == "Le siège a déménagé à Rennes."
    assert "Le siège a déménagé à Rennes." in caplog.text
    assert not Assignment.objects.exists()
    assert OutboxMessage.objects.filter(
        event="cell.candidature_moved", recipient=coordinator.email
    ).exists()
    # Region A's coordinator no longer reaches it; the move is listed on the page.
    client.force_login(coordinator)
    assert client.get(admissibility_url(candidature)).status_code == 404
    client.force_login(admin)
    assert "Le siège a déménagé à Rennes." in client.get(url).content.decode()


def test_region_move_needs_a_reason_and_the_cna_administrator(client, world):
    candidature = world.candidature_a
    client.force_login(world.user("cna_admin"))
    response = client.post(
        reverse("region_move", args=[candidature.pk]), {"region": world.region_b.pk, "reason": ""}
    )
    assert response.status_code == 422
    assert "Indiquez le motif du changement de région." in response.content.decode()
    # Staff holding the permission to change candidatures move them from the admin instead
    # (tests/ami/test_admin.py).
    for role in ("cna_member", "cra_coordinator", "applicant"):
        with pytest.raises(PermissionDenied):
            admission.move_region(candidature, world.region_b, world.user(role), "Motif")
    client.force_login(world.user("cra_coordinator"))
    response = client.post(
        reverse("region_move", args=[candidature.pk]),
        {"region": world.region_b.pk, "reason": "Motif"},
    )
    assert response.status_code == 404
    assert not RegionMove.objects.exists()
    assert Candidature.objects.get(pk=candidature.pk).region == world.region_a


def test_region_move_refused_towards_a_handed_over_region(world):
    from accounts.models import RegionalCell

    cell_b = RegionalCell.objects.get(call=world.call, region=world.region_b)
    RegionHandover.objects.create(cell=cell_b, handed_over_by=world.user("staff"))
    with pytest.raises(ValidationError, match="déjà transmis"):
        admission.move_region(world.candidature_a, world.region_b, world.user("cna_admin"), "Motif")
    with pytest.raises(ValidationError, match="déjà instruite par cette région"):
        admission.move_region(world.candidature_a, world.region_a, world.user("cna_admin"), "Motif")
    assert not RegionMove.objects.exists()


def test_admissibility_errors_are_shown_at_their_fields_and_in_the_summary(client, case):
    candidature = case["candidature"]
    client.force_login(case["coordinator"])
    response = client.post(admissibility_url(candidature), {"motivation": "Rien"})
    assert response.status_code == 422
    html = response.content.decode()
    assert_field_error(html, "id_decision", "Choisissez : recevable ou irrecevable.")
    assert 'name="motivation"' in html and "Rien</textarea>" in html  # what was typed is kept
    # The rule's refusal goes to the points it names.
    response = client.post(admissibility_url(candidature), {"decision": "admissible"})
    assert_field_error(
        response.content.decode(), "id_points", "tous les points doivent être vérifiés"
    )


def test_complements_errors_are_shown_at_their_fields_and_in_the_summary(client, case):
    candidature = case["candidature"]
    client.force_login(case["coordinator"])
    response = client.post(
        complements_url(candidature),
        {"message": "Les statuts.", "fields": ["title"], "due_date": "31/02/2031"},
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert_field_error(html, "id_due_date", "Indiquez une date limite valide.")
    response = client.post(
        complements_url(candidature),
        {"message": "", "fields": ["title"], "due_date": "2020-01-01", "due_time": "7:00"},
    )
    html = response.content.decode()
    assert_field_error(html, "id_message", "Écrivez au porteur ce qui est attendu.")
    assert_field_error(html, "id_due_date", "La date limite doit être dans le futur.")
    assert not ComplementRequest.objects.exists()


def test_region_move_errors_are_shown_at_their_fields_and_in_the_summary(client, world):
    client.force_login(world.user("cna_admin"))
    response = client.post(
        reverse("region_move", args=[world.candidature_a.pk]), {"region": "", "reason": "Motif"}
    )
    assert response.status_code == 422
    assert_field_error(
        response.content.decode(), "id_region", "Choisissez la région de destination."
    )
    assert not RegionMove.objects.exists()
