"""Held bulk sends (issue 16, item 5): the publication's letters wait in a batch that the CNA
administrator previews, edits per recipient, discards or sends — exactly the kept ones go out,
once; a batch edited after it was sent is refused; automatic emails go out on their own."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from ami import batches
from ami.models import BatchState, OutboxMessage, OutboxState
from ami.outbox import queue_email
from evaluation import publication
from tests.form_errors import assert_field_error

from .national_helpers import fix_list, national_edition, publish

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(django_capture_on_commit_callbacks):
    edition = national_edition({"11": [80, 70], "53": [75]})
    fix_list(edition, {edition.candidatures[0]: "50000"})
    with django_capture_on_commit_callbacks(execute=True):
        assert publish(edition, send=False) == 3
    return edition, publication.publication_batch(edition.call)


def test_publication_holds_every_email(held, mailoutbox):
    edition, batch = held
    assert batch is not None and batch.state == BatchState.HELD
    assert not mailoutbox
    assert set(batch.messages.values_list("state", flat=True)) == {OutboxState.HELD}
    assert batch.messages.filter(event__startswith="decision.").count() == 3


def test_preview_edit_discard_and_send_exactly_the_kept_ones_once(
    client, held, mailoutbox, django_capture_on_commit_callbacks
):
    edition, batch = held
    url = reverse("batch_detail", args=[edition.call.pk, batch.pk])
    client.force_login(edition.admin)
    page = client.get(url).content.decode()
    letters = list(batch.messages.filter(event__startswith="decision.").order_by("pk"))
    for letter in letters:
        assert letter.recipient in page
    edited, dropped = letters[0], letters[1]
    client.post(
        url,
        {"action": "edit", "message": edited.pk, "subject": "Objet revu", "text": "Texte revu."},
    )
    client.post(url, {"action": "discard", "message": dropped.pk})
    kept = batch.messages.filter(state=OutboxState.HELD).count()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "send"})
    sent = {message.to[0]: message for message in mailoutbox}
    assert len(mailoutbox) == kept
    assert dropped.recipient not in sent
    assert sent[edited.recipient].subject == "Objet revu"
    assert sent[edited.recipient].body == "Texte revu."
    # Sent: no second send, no edit.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"action": "send"}, follow=True)
    assert "déjà envoyé" in response.content.decode()
    assert len(mailoutbox) == kept
    batch.refresh_from_db()
    with pytest.raises(ValidationError, match="ne peut plus être modifié"):
        batches.edit(edited, edition.admin, subject="Trop tard", text="Trop tard.")
    assert OutboxMessage.objects.get(pk=dropped.pk).state == OutboxState.DISCARDED


def test_only_the_calls_administrator_or_staff_manage_it(client, held):
    edition, batch = held
    url = reverse("batch_detail", args=[edition.call.pk, batch.pk])
    client.force_login(edition.member)
    assert client.get(url).status_code == 404
    with pytest.raises(PermissionDenied):
        batches.send(batch, edition.member)


def test_automatic_emails_are_not_held_and_are_listed(client, held):
    edition, _batch = held
    message = queue_email(
        to="porteur@example.org",
        subject="Rappel",
        text="Rappel.",
        event="draft.reminder",
        call=edition.call,
    )
    assert message.state == OutboxState.QUEUED and message.batch is None
    client.force_login(edition.admin)
    page = client.get(reverse("batch_list", args=[edition.call.pk])).content.decode()
    assert "draft.reminder" in page and "Publication des résultats" in page


def test_an_email_edited_without_subject_shows_the_error_next_to_the_field(client, held):
    edition, batch = held
    letter = batch.messages.filter(event__startswith="decision.").first()
    client.force_login(edition.admin)
    response = client.post(
        reverse("batch_detail", args=[edition.call.pk, batch.pk]),
        {"action": "edit", "message": letter.pk, "subject": " ", "text": "Texte revu."},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert_field_error(page, f"courriel-{letter.pk}-subject", "Écrivez l'objet du courriel.")
    assert "Texte revu.</textarea>" in page
    letter.refresh_from_db()
    assert letter.subject != " "
