import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import close_old_connections
from django.urls import reverse
from django.utils import timezone

from ami.models import OutboxMessage
from candidatures import workflow
from candidatures.errors import TransitionRefused
from candidatures.models import Candidature, CandidatureEvent, CandidatureState, MemberCategory
from candidatures.submission import completeness_problems
from tests import factories as f
from tests.form_errors import assert_field_error

from .helpers import submittable

pytestmark = pytest.mark.django_db


def test_complete_candidature_has_no_problem():
    candidature, _ = submittable()
    assert completeness_problems(candidature) == []


def test_completeness_lists_each_problem_with_the_page_that_fixes_it(client):
    candidature, user = submittable()
    candidature.ptce.members.filter(category=MemberCategory.ESS_ENTERPRISE).delete()
    candidature.requested_amount = Decimal("90000")
    candidature.answers.pop("summary")
    candidature.save()
    candidature.documents.all().delete()
    problems = completeness_problems(candidature)
    messages = [p.message for p in problems]
    assert any("au moins 3 personnes morales" in m for m in messages)
    assert any("Aucune entreprise de l'économie sociale et solidaire" in m for m in messages)
    assert any("compris entre 30\u202f000\u00a0€ et 80\u202f000\u00a0€" in m for m in messages)
    assert any("« Résumé du projet » est vide" in m for m in messages)
    assert any("Pièce obligatoire manquante : Statuts" in m for m in messages)
    steps = {p.step for p in problems}
    assert steps == {"membres", "budget", "presentation", "pieces"}

    client.force_login(user)
    html = client.get(reverse("candidature_completeness", args=[candidature.pk])).content.decode()
    assert "5 points à compléter" in html
    assert reverse("candidature_step", args=[candidature.pk, "budget"]) in html
    assert reverse("ptce_members", args=[candidature.ptce.pk]) in html
    assert "Déposer la candidature" not in html


def test_submission_freezes_snapshot_gives_receipt_and_queues_email(client):
    candidature, user = submittable()
    client.force_login(user)
    response = client.post(reverse("candidature_submit", args=[candidature.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("candidature_receipt", args=[candidature.pk])
    candidature.refresh_from_db()
    assert candidature.state == CandidatureState.SUBMITTED
    assert candidature.receipt_number == f"PTCE-{candidature.call.year}-{candidature.pk:06d}"
    assert candidature.snapshot["answers"]["title"] == "Réponse title"
    document = candidature.documents.get()
    assert candidature.snapshot["documents"][0]["sha256"] == document.sha256
    event = CandidatureEvent.objects.get(candidature=candidature)
    assert (event.from_state, event.to_state, event.actor) == ("draft", "submitted", user)
    email = OutboxMessage.objects.get(event="candidature.submitted")
    assert email.recipient == user.email
    assert candidature.receipt_number in email.subject
    receipt = client.get(reverse("candidature_receipt", args=[candidature.pk])).content.decode()
    assert candidature.receipt_number in receipt and document.sha256 in receipt
    pdf = client.get(reverse("candidature_receipt_pdf", args=[candidature.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "attachment" in pdf["Content-Disposition"]


def test_email_is_sent_after_commit(django_capture_on_commit_callbacks):
    candidature, user = submittable()
    with django_capture_on_commit_callbacks(execute=True):
        workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    assert len(mail.outbox) == 1
    assert "Accusé de réception" in mail.outbox[0].subject


def test_submission_a_second_after_closing_is_refused():
    candidature, user = submittable()
    closes = timezone.now() - timedelta(seconds=1)
    call = candidature.call
    call.opens_at = closes - timedelta(days=30)
    call.closes_at = closes
    call.save()
    with pytest.raises(TransitionRefused, match="Le dépôt est clos depuis le"):
        workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    candidature.refresh_from_db()
    assert candidature.state == CandidatureState.DRAFT
    assert candidature.submitted_at is None


def test_submission_just_before_closing_is_accepted():
    candidature, user = submittable()
    at = candidature.call.closes_at - timedelta(seconds=1)
    workflow.transition(candidature, CandidatureState.SUBMITTED, user, at=at)
    assert candidature.submitted_at == at


def test_closed_call_page_says_so_and_nothing_is_lost(client):
    candidature, user = submittable()
    call = candidature.call
    call.closes_at = timezone.now() - timedelta(seconds=1)
    call.opens_at = call.closes_at - timedelta(days=30)
    call.save()
    client.force_login(user)
    response = client.post(reverse("candidature_submit", args=[candidature.pk]), follow=True)
    page = response.content.decode()
    assert "Le dépôt est clos depuis le" in page
    assert Candidature.objects.get(pk=candidature.pk).title == "Réponse title"
    # The completeness page and the summary no longer offer to submit (issue 12, defect 9).
    summary = client.get(reverse("candidature_step", args=[candidature.pk, "recapitulatif"]))
    for html in (page, summary.content.decode()):
        assert "Vous pouvez la déposer" not in html
        assert "Le dépôt des candidatures est clos" in html
        assert "Déposer la candidature" not in html


def test_summary_of_a_submitted_candidature_does_not_offer_to_submit(client):
    candidature, user = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    client.force_login(user)
    for url in (
        reverse("candidature_step", args=[candidature.pk, "recapitulatif"]),
        reverse("candidature_completeness", args=[candidature.pk]),
    ):
        html = client.get(url).content.decode()
        assert "Vous pouvez la déposer" not in html
        assert "elle ne peut plus être modifiée" in html


def test_incomplete_submission_is_refused_with_the_reasons(client):
    candidature, user = submittable()
    candidature.title = ""
    candidature.save()
    client.force_login(user)
    response = client.post(reverse("candidature_submit", args=[candidature.pk]), follow=True)
    assert "L&#x27;intitulé du projet est vide." in response.content.decode()
    assert Candidature.objects.get(pk=candidature.pk).state == CandidatureState.DRAFT


def test_double_click_gives_one_submission(client):
    candidature, user = submittable()
    client.force_login(user)
    url = reverse("candidature_submit", args=[candidature.pk])
    client.post(url)
    second = client.post(url, follow=True)
    assert "déjà déposée" in second.content.decode()
    assert CandidatureEvent.objects.filter(candidature=candidature).count() == 1
    assert OutboxMessage.objects.filter(event="candidature.submitted").count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submissions_on_postgresql_give_one():
    candidature, user = submittable()
    barrier = threading.Barrier(2)
    outcomes = []

    def submit():
        close_old_connections()
        try:
            barrier.wait()
            workflow.transition(Candidature.objects.get(pk=candidature.pk),
                                CandidatureState.SUBMITTED, user)  # fmt: skip
            outcomes.append("submitted")
        except TransitionRefused:
            outcomes.append("refused")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "submitted"]
    assert CandidatureEvent.objects.filter(to_state=CandidatureState.SUBMITTED).count() == 1
    assert OutboxMessage.objects.filter(event="candidature.submitted").count() == 1


@pytest.mark.parametrize("role", ["other_applicant", "cra_evaluator", "anonymous"])
def test_receipt_is_only_for_the_applicant(client, role):
    candidature, owner = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, owner)
    if role == "other_applicant":
        client.force_login(f.PtceMembershipFactory().user)
    elif role == "cra_evaluator":
        cell = f.RegionalCellFactory(call=candidature.call, region=candidature.region)
        client.force_login(f.RegionalMembershipFactory(cell=cell).user)
    for name in ("candidature_receipt", "candidature_receipt_pdf"):
        response = client.get(reverse(name, args=[candidature.pk]))
        if role == "anonymous":
            assert response.status_code == 302
        else:
            assert response.status_code == 404


def test_withdrawal_needs_confirmation_and_is_logged(client):
    candidature, user = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    client.force_login(user)
    url = reverse("candidature_withdraw", args=[candidature.pk])
    assert "Je confirme" in client.get(url).content.decode()
    client.post(url, {"reason": "Projet reporté"})
    assert Candidature.objects.get(pk=candidature.pk).state == CandidatureState.SUBMITTED
    client.post(url, {"reason": "Projet reporté", "confirm": "oui"})
    candidature.refresh_from_db()
    assert candidature.state == CandidatureState.WITHDRAWN
    event = candidature.events.last()
    assert event.comment == "Projet reporté" and event.actor == user
    assert OutboxMessage.objects.filter(event="candidature.withdrawn").exists()
    detail = client.get(reverse("candidature_detail", args=[candidature.pk])).content.decode()
    assert "Retirée" in detail and "Déposée" in detail
    # Once withdrawn, it cannot be withdrawn again.
    assert client.get(url).status_code == 302


def test_withdrawal_refused_after_decision():
    candidature, user = submittable()
    Candidature.objects.filter(pk=candidature.pk).update(state=CandidatureState.LAUREATE)
    candidature.refresh_from_db()
    assert CandidatureState.WITHDRAWN not in workflow.allowed_targets(candidature, user)
    with pytest.raises(TransitionRefused):
        workflow.transition(candidature, CandidatureState.WITHDRAWN, user)


def test_only_the_team_may_submit():
    candidature, _ = submittable()
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        workflow.transition(candidature, CandidatureState.SUBMITTED, f.UserFactory())


def test_staff_admin_pages_for_candidatures(client):
    candidature, user = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    client.force_login(f.UserFactory(is_staff=True, is_superuser=True))
    for url in (
        reverse("admin:candidatures_candidature_changelist"),
        reverse("admin:candidatures_candidature_change", args=[candidature.pk]),
        reverse("admin:candidatures_ptce_change", args=[candidature.ptce.pk]),
        reverse("admin:candidatures_candidatureevent_changelist"),
    ):
        assert client.get(url).status_code == 200, url
    html = client.get(
        reverse("admin:candidatures_candidature_change", args=[candidature.pk])
    ).content.decode()
    document = candidature.documents.get()
    assert reverse("document_download", args=[candidature.pk, document.pk]) in html


def test_withdrawal_without_confirmation_shows_the_error_next_to_the_box(client):
    candidature, user = submittable()
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    client.force_login(user)
    url = reverse("candidature_withdraw", args=[candidature.pk])
    response = client.post(url, {"reason": "Projet reporté"})
    assert response.status_code == 422
    page = response.content.decode()
    assert_field_error(
        page, "id_confirm", "Cochez la case de confirmation pour retirer la candidature."
    )
    assert "Projet reporté</textarea>" in page
