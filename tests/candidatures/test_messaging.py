"""The thread between the applicant's team and the cells, and the cells' internal notes
(issue 15, items 4 and 5)."""

import html
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts import personal_data
from accounts.models import RegionalRole
from ami import batches
from ami.models import OutboxMessage
from candidatures import bulk_messages, messaging
from candidatures.models import (
    Candidature,
    CandidatureState,
    ComplementRequest,
    InternalNote,
    Message,
)
from evaluation.models import Assignment
from tests import factories as f
from tests.accounts.test_personal_data import read_zip
from tests.candidatures.helpers import PDF_BYTES
from tests.form_errors import assert_field_error
from tests.roles import add_conflicted_evaluator

pytestmark = pytest.mark.django_db

SECRET = "Le budget prévisionnel doit être revu : ligne 4 surévaluée."


def _page(response) -> str:
    return html.unescape(response.content.decode())


def _thread(candidature):
    return reverse("candidature_messages", args=[candidature.pk])


def _notes(candidature):
    return reverse("candidature_notes", args=[candidature.pk])


def _pdf(name="devis.pdf"):
    return SimpleUploadedFile(name, PDF_BYTES, content_type="application/pdf")


def _set_state(candidature, state):
    candidature.state = state
    candidature.save(update_fields=["state"])


# --- Writing and the emails --------------------------------------------------------------------


def test_a_cell_message_emails_the_team_a_link_never_the_text(client, world):
    client.force_login(world.user("cra_coordinator"))
    candidature = world.candidature_a
    response = client.post(_thread(candidature), {"text": SECRET})
    message = Message.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{_thread(candidature)}#message-{message.pk}"
    assert message.side == "regional" and message.text == SECRET
    emails = OutboxMessage.objects.filter(event=messaging.EVENT_TO_TEAM)
    assert [e.recipient for e in emails] == [world.user("applicant").email]
    link = f"{_thread(candidature)}"
    for email in emails:
        assert link in email.body_text and link in email.body_html
        for body in (email.subject, email.body_text, email.body_html):
            assert "budget prévisionnel" not in body


def test_an_applicant_answer_with_an_attachment_emails_the_cell_that_sees_it(client, world):
    conflicted = add_conflicted_evaluator(world)
    client.force_login(world.user("applicant"))
    candidature = world.candidature_a
    response = client.post(_thread(candidature), {"text": SECRET, "attachment": _pdf()})
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.attachment_name == "devis.pdf"
    assert message.attachment_size == len(PDF_BYTES)
    assert message.attachment_type == "application/pdf"
    recipients = set(
        OutboxMessage.objects.filter(event=messaging.EVENT_TO_CELL).values_list(
            "recipient", flat=True
        )
    )
    assert recipients == {world.user("cra_coordinator").email, world.user("cra_evaluator").email}
    assert conflicted.email not in recipients
    for email in OutboxMessage.objects.filter(event=messaging.EVENT_TO_CELL):
        assert _thread(candidature) in email.body_text
        assert "budget" not in email.body_text and "devis" not in email.body_text

    url = reverse("message_attachment", args=[candidature.pk, message.pk])
    for role, status in [
        ("applicant", 200),
        ("cra_coordinator", 200),
        ("cna_member", 200),
        ("staff", 200),
        ("other_applicant", 404),
        ("other_region_evaluator", 404),
    ]:
        client.force_login(world.user(role))
        response = client.get(url)
        assert response.status_code == status, role
        if status == 200:
            assert response["Content-Disposition"].startswith("attachment")
            assert b"".join(response.streaming_content) == PDF_BYTES
    client.force_login(conflicted)
    assert client.get(url).status_code == 404
    # Another candidature's number in the URL: 404 even for someone who sees both.
    client.force_login(world.user("cna_member"))
    other = reverse("message_attachment", args=[world.candidature_b.pk, message.pk])
    assert client.get(other).status_code == 404


@pytest.mark.parametrize(
    "text, expected",
    [
        ("   ", "Écrivez votre message avant de l'envoyer."),
        ("x" * 5001, "Le message compte 5\u202f001 caractères : la limite est de 5\u202f000."),
    ],
)
def test_empty_or_too_long_messages_are_refused_in_french(client, world, text, expected):
    client.force_login(world.user("applicant"))
    response = client.post(_thread(world.candidature_a), {"text": text})
    assert response.status_code == 200
    assert expected in _page(response)
    assert not Message.objects.exists() and not OutboxMessage.objects.exists()


def test_an_attachment_failing_the_documents_checks_is_refused_with_their_message(client, world):
    client.force_login(world.user("applicant"))
    fake = SimpleUploadedFile("rapport.pdf", b"<html><script>alert(1)</script></html>")
    response = client.post(_thread(world.candidature_a), {"text": "Voici", "attachment": fake})
    page = _page(response)
    assert response.status_code == 200
    assert "Le fichier « rapport.pdf » n'est pas un PDF valide" in page
    empty = SimpleUploadedFile("vide.pdf", b"")
    response = client.post(_thread(world.candidature_a), {"text": "Voici", "attachment": empty})
    assert "Le fichier « vide.pdf » est vide." in _page(response)
    assert not Message.objects.exists() and not OutboxMessage.objects.exists()


def test_a_message_is_plain_text_shown_escaped(client, world):
    messaging.post_message(
        world.candidature_a, world.user("cra_coordinator"), "<b>gras</b>\nligne 2"
    )
    client.force_login(world.user("applicant"))
    raw = client.get(_thread(world.candidature_a)).content.decode()
    assert "&lt;b&gt;gras&lt;/b&gt;<br>ligne 2" in raw
    page = html.unescape(raw)
    # The applicant reads which cell wrote, not the evaluator's name.
    assert "Cellule régionale d'animation" in page
    assert world.user("cra_coordinator").last_name not in page


@pytest.mark.parametrize(
    "state", [CandidatureState.LAUREATE, CandidatureState.NOT_SELECTED, CandidatureState.WITHDRAWN]
)
def test_after_the_decision_the_thread_is_read_only(client, world, state):
    _set_state(world.candidature_a, state)
    client.force_login(world.user("applicant"))
    page = _page(client.get(_thread(world.candidature_a)))
    assert "lecture seule" in page and 'name="text"' not in page
    response = client.post(_thread(world.candidature_a), {"text": "Encore une question"})
    assert response.status_code == 403
    assert "la messagerie est désormais en lecture seule" in _page(response)
    assert not Message.objects.exists()
    with pytest.raises(PermissionDenied):
        messaging.post_message(world.candidature_a, world.user("cra_coordinator"), "Bonjour")


def test_the_cna_reads_and_writes_once_the_region_handed_over(client, world):
    client.force_login(world.user("cna_member"))
    page = _page(client.get(_thread(world.candidature_a)))
    assert "une fois l'avis régional transmis" in page
    assert client.post(_thread(world.candidature_a), {"text": "Bonjour"}).status_code == 403
    _set_state(world.candidature_a, CandidatureState.REGIONAL_REVIEW_DONE)
    assert client.post(_thread(world.candidature_a), {"text": "Bonjour"}).status_code == 302
    assert Message.objects.get().side == "national"


def test_a_cna_message_emails_the_team_and_the_regional_cell_a_link_only(client, world):
    conflicted = add_conflicted_evaluator(world)
    _set_state(world.candidature_a, CandidatureState.REGIONAL_REVIEW_DONE)
    client.force_login(world.user("cna_member"))
    assert client.post(_thread(world.candidature_a), {"text": SECRET}).status_code == 302
    team = OutboxMessage.objects.filter(event=messaging.EVENT_TO_TEAM)
    assert [e.recipient for e in team] == [world.user("applicant").email]
    cell = OutboxMessage.objects.filter(event=messaging.EVENT_TO_CELL)
    assert {e.recipient for e in cell} == {
        world.user("cra_coordinator").email,
        world.user("cra_evaluator").email,
    }
    assert conflicted.email not in {e.recipient for e in cell}
    for email in [*team, *cell]:
        assert _thread(world.candidature_a) in email.body_text
        for body in (email.subject, email.body_text, email.body_html):
            assert "budget prévisionnel" not in body
    for email in cell:
        assert "cellule nationale" in email.subject
        assert "La cellule nationale d'animation a écrit" in email.body_text


def test_a_regional_message_does_not_email_the_regional_cell(world):
    messaging.post_message(world.candidature_a, world.user("cra_coordinator"), "Bonjour")
    assert not OutboxMessage.objects.filter(event=messaging.EVENT_TO_CELL).exists()


def test_staff_read_the_thread_without_writing(client, world):
    client.force_login(world.user("staff"))
    assert client.get(_thread(world.candidature_a)).status_code == 200
    response = client.post(_thread(world.candidature_a), {"text": "Bonjour"})
    assert response.status_code == 403
    assert not Message.objects.exists()


def test_a_draft_has_no_thread(client, world):
    client.force_login(world.user("staff"))
    assert client.get(_thread(world.draft_a)).status_code == 404


def test_complement_requests_and_answers_appear_in_the_thread(client, world):
    coordinator = world.user("cra_coordinator")
    ComplementRequest.objects.create(
        candidature=world.candidature_a,
        message="Merci de joindre le bilan 2025.",
        due_at=timezone.now() + timedelta(days=10),
        requested_by=coordinator,
        answered_at=timezone.now(),
    )
    client.force_login(world.user("applicant"))
    page = _page(client.get(_thread(world.candidature_a)))
    assert "Demande de compléments de la cellule régionale" in page
    assert "Merci de joindre le bilan 2025." in page
    assert "Compléments transmis par le porteur" in page


# --- Unread counts -----------------------------------------------------------------------------


def _unread(user, candidature):
    return (
        Candidature.objects.filter(pk=candidature.pk)
        .annotate(unread=messaging.unread_count(user))
        .get()
        .unread
    )


def test_unread_counts_follow_each_persons_reading(client, world):
    applicant, coordinator = world.user("applicant"), world.user("cra_coordinator")
    candidature = world.candidature_a
    messaging.post_message(candidature, coordinator, "Premier")
    messaging.post_message(candidature, coordinator, "Second")
    assert _unread(applicant, candidature) == 2
    assert _unread(coordinator, candidature) == 0  # one's own messages are read
    assert messaging.unread_total(applicant) == 2
    client.force_login(applicant)
    client.get(_thread(candidature))
    assert _unread(applicant, candidature) == 0
    messaging.post_message(candidature, applicant, "Réponse")
    assert _unread(coordinator, candidature) == 1
    assert _unread(world.user("cra_evaluator"), candidature) == 3
    assert messaging.unread_total(world.user("other_applicant")) == 0


# --- Append-only -------------------------------------------------------------------------------


def test_messages_and_notes_are_never_changed_nor_deleted(world):
    message = messaging.post_message(world.candidature_a, world.user("cra_coordinator"), "Un")
    note = messaging.post_note(world.candidature_a, world.user("cra_coordinator"), "Deux")
    for model, pk in ((Message, message.pk), (InternalNote, note.pk)):
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(pk=pk).update(text="changé")
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(pk=pk).delete()
    assert Message.objects.get().text == "Un" and InternalNote.objects.get().text == "Deux"
    # The audit trail kept the insertion, with its author.
    event = message.audit_events.get()
    assert event.pgh_label == "insert"
    assert event.pgh_context["user"] == world.user("cra_coordinator").pk


def test_the_admin_lists_messages_read_only(client, world):
    message = messaging.post_message(world.candidature_a, world.user("cra_coordinator"), "Un")
    client.force_login(world.user("staff"))
    url = reverse("admin:candidatures_message_change", args=[message.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert 'name="text"' not in _page(response)
    assert client.post(url, {"text": "changé"}).status_code == 403
    delete = reverse("admin:candidatures_message_delete", args=[message.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert Message.objects.get().text == "Un"


# --- Internal notes ----------------------------------------------------------------------------


def test_notes_are_for_the_cells_only_and_never_emailed(client, world):
    coordinator = world.user("cra_coordinator")
    client.force_login(coordinator)
    page = _page(client.get(_notes(world.candidature_a)))
    assert "Note interne — jamais visible du porteur" in page
    response = client.post(_notes(world.candidature_a), {"text": SECRET})
    assert response.status_code == 302
    assert InternalNote.objects.get().text == SECRET
    assert not OutboxMessage.objects.exists()
    for role in ("cra_evaluator", "cna_member", "cna_admin"):
        client.force_login(world.user(role))
        assert "budget prévisionnel" in _page(client.get(_notes(world.candidature_a)))
    for role in ("applicant", "other_applicant", "other_region_evaluator", "staff"):
        client.force_login(world.user(role))
        assert client.get(_notes(world.candidature_a)).status_code == 404, role
        assert client.post(_notes(world.candidature_a), {"text": "x"}).status_code == 404, role
    client.force_login(world.user("applicant"))
    thread = _page(client.get(_thread(world.candidature_a)))
    assert "budget prévisionnel" not in thread and "Notes internes" not in thread
    assert InternalNote.objects.count() == 1


def test_an_empty_note_is_refused(client, world):
    client.force_login(world.user("cra_evaluator"))
    response = client.post(_notes(world.candidature_a), {"text": " "})
    assert "Écrivez votre note avant de l'enregistrer." in _page(response)
    assert not InternalNote.objects.exists()
    with pytest.raises(ValidationError):
        messaging.post_note(world.candidature_a, world.user("cra_evaluator"), "x" * 5001)


def test_a_cna_member_of_another_call_and_a_conflicted_evaluator_reach_nothing(client, world):
    conflicted = add_conflicted_evaluator(world)
    message = messaging.post_message(
        world.candidature_a, world.user("applicant"), "Bonjour", _pdf()
    )
    other_cna = f.NationalMembershipFactory(cell=f.NationalCellFactory()).user
    urls = [
        _thread(world.candidature_a),
        _notes(world.candidature_a),
        reverse("message_attachment", args=[world.candidature_a.pk, message.pk]),
    ]
    for user in (other_cna, conflicted):
        client.force_login(user)
        for url in urls:
            assert client.get(url).status_code == 404, (user, url)
            assert client.post(url, {"text": "x"}).status_code in (404, 405), (user, url)
    assert Message.objects.count() == 1 and not InternalNote.objects.exists()


def test_an_evaluator_writes_in_the_thread(world):
    evaluator = f.RegionalMembershipFactory(
        cell=f.RegionalCellFactory(call=world.call, region=world.region_a),
        role=RegionalRole.EVALUATOR,
    ).user
    message = messaging.post_message(world.candidature_a, evaluator, "Bonjour")
    assert message.side == "regional"
    assert OutboxMessage.objects.filter(
        Q(event=messaging.EVENT_TO_TEAM), recipient=world.user("applicant").email
    ).exists()


def test_a_pdf_attachment_is_stored_privately(world, settings):
    message = messaging.post_message(
        world.candidature_a, world.user("applicant"), "Bonjour", _pdf()
    )
    assert message.attachment.name.startswith(f"candidatures/{world.candidature_a.pk}/messages/")
    assert "devis" not in message.attachment.name
    with message.attachment.open("rb") as file:
        assert file.read() == PDF_BYTES


def test_unread_counts_are_shown_in_the_lists_and_in_my_space(client, world):
    candidature = world.candidature_a
    messaging.post_message(candidature, world.user("applicant"), "Un")
    messaging.post_message(candidature, world.user("cra_evaluator"), "Deux")
    messaging.post_message(candidature, world.user("cra_evaluator"), "Trois")
    client.force_login(world.user("applicant"))
    assert "2 non lus" in _page(client.get(reverse("applicant_dashboard")))
    my_space = _page(client.get(reverse("dashboard")))
    assert "Messages non lus" in my_space and "2 messages non lus" in my_space
    assert _thread(candidature) in my_space
    client.get(_thread(candidature))
    assert "non lu" not in _page(client.get(reverse("applicant_dashboard")))
    assert "Messages non lus" not in _page(client.get(reverse("dashboard")))

    coordinator = world.user("cra_coordinator")
    client.force_login(coordinator)
    cell = coordinator.regional_memberships.get().cell
    assert "3 non lus" in _page(client.get(reverse("cell_home", args=[cell.pk])))
    # The evaluator's worklist: their assigned candidatures, with the unread messages.
    evaluator = world.user("cra_evaluator")
    Assignment.objects.create(candidature=candidature, evaluator=evaluator, assigned_by=coordinator)
    messaging.post_message(candidature, world.user("applicant"), "Quatre")
    client.force_login(evaluator)
    worklist = _page(client.get(reverse("evaluator_worklist")))
    assert "1 non lu" in worklist and _thread(candidature) in worklist
    client.force_login(world.user("cna_member"))
    national = _page(client.get(reverse("national_dashboard", args=[world.call.pk])))
    assert "4 non lus" in national


def test_my_data_holds_my_own_messages_and_never_a_note(world):
    applicant, coordinator = world.user("applicant"), world.user("cra_coordinator")
    messaging.post_message(world.candidature_a, applicant, "Ma question", _pdf("plan.pdf"))
    messaging.post_message(world.candidature_a, coordinator, "La réponse de la cellule")
    messaging.post_note(world.candidature_a, coordinator, SECRET)

    data, files = read_zip(personal_data.export_user_data(applicant))
    [mine] = data["candidatures"]["messages_ecrits"]
    assert mine["texte"] == "Ma question" and mine["piece_jointe"] == "plan.pdf"
    assert files[mine["fichier_dans_l_archive"]] == PDF_BYTES
    dump = str(data)
    assert "La réponse de la cellule" not in dump and "budget prévisionnel" not in dump

    data, _files = read_zip(personal_data.export_user_data(coordinator))
    assert [m["texte"] for m in data["candidatures"]["messages_ecrits"]] == [
        "La réponse de la cellule"
    ]
    assert "budget prévisionnel" not in str(data)


# --- Bulk messages from staff (issue 16) -------------------------------------------------------


def test_a_bulk_message_lands_in_each_thread_once_its_batch_is_sent(client, world):
    staff = world.user("staff")
    chosen = Candidature.objects.filter(pk__in=[world.candidature_a.pk, world.candidature_b.pk])
    batch = bulk_messages.write_to_applicants(
        chosen, staff, subject="Réunion d'information", text="Le 12 janvier à 10 h."
    )
    assert Message.objects.filter(batch=batch).count() == 2
    client.force_login(world.user("applicant"))
    assert "Réunion d'information" not in _page(client.get(_thread(world.candidature_a)))
    assert messaging.unread_total(world.user("applicant")) == 0

    batches.send(batch, staff)
    for role, candidature in (
        ("applicant", world.candidature_a),
        ("other_applicant", world.candidature_b),
    ):
        client.force_login(world.user(role))
        assert messaging.unread_total(world.user(role)) == 1
        page = _page(client.get(_thread(candidature)))
        assert "Réunion d'information" in page and "Le 12 janvier à 10 h." in page
        assert "Équipe Coorace" in page
    # The bulk email is the notification: no second email for the thread.
    assert not OutboxMessage.objects.filter(event=messaging.EVENT_TO_TEAM).exists()


def test_an_abandoned_bulk_message_never_shows_in_the_threads(client, world):
    staff = world.user("staff")
    batch = bulk_messages.write_to_applicants(
        Candidature.objects.filter(pk=world.candidature_a.pk), staff, subject="Brouillon", text="x"
    )
    batches.abandon(batch, staff)
    client.force_login(world.user("applicant"))
    assert "Brouillon" not in _page(client.get(_thread(world.candidature_a)))
    assert messaging.unread_total(world.user("applicant")) == 0


def test_a_refused_message_shows_its_error_next_to_the_field_and_in_the_summary(client, world):
    client.force_login(world.user("applicant"))
    response = client.post(_thread(world.candidature_a), {"text": "  "})
    assert_field_error(_page(response), "id_text", "Écrivez votre message avant de l'envoyer.")
    fake = SimpleUploadedFile("rapport.pdf", b"<html></html>")
    response = client.post(_thread(world.candidature_a), {"text": "Voici", "attachment": fake})
    page = _page(response)
    assert_field_error(page, "id_attachment", "Le fichier « rapport.pdf » n'est pas un PDF valide")
    assert "Voici</textarea>" in page  # what was typed is kept


def test_a_refused_note_shows_its_error_next_to_the_field_and_in_the_summary(client, world):
    client.force_login(world.user("cra_evaluator"))
    response = client.post(_notes(world.candidature_a), {"text": "x" * 5001})
    assert_field_error(
        _page(response), "id_text", "La note compte 5\u202f001 caractères : la limite est de"
    )
