import pytest
from django.core import mail
from django.db import transaction

from ami import outbox
from ami.models import OutboxMessage, OutboxState
from ami.tasks import send_outbox_message
from tests.factories import CallFactory, UserFactory

pytestmark = pytest.mark.django_db


def _queue(**kwargs):
    defaults = {"to": "a@example.org", "subject": "Objet", "text": "Bonjour", "event": "test"}
    return outbox.queue_email(**{**defaults, **kwargs})


def test_row_is_written_in_the_transaction_and_sent_after_commit(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = _queue(html="<p>Bonjour</p>")
        assert len(mail.outbox) == 0  # nothing leaves before commit
    assert len(callbacks) == 1
    message.refresh_from_db()
    assert message.state == OutboxState.SENT
    assert message.attempts == 1
    assert message.sent_at is not None
    assert len(mail.outbox) == 1
    sent = mail.outbox[0]
    assert sent.to == ["a@example.org"]
    assert sent.alternatives[0][1] == "text/html"
    assert sent.extra_headers["X-AMI-Outbox-Id"] == str(message.pk)


def test_rolled_back_change_leaves_no_row_and_sends_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            _queue()
            raise RuntimeError("the change that caused the email failed")
    assert callbacks == []
    assert OutboxMessage.objects.count() == 0
    assert mail.outbox == []


def test_a_row_is_never_sent_twice_even_if_the_task_runs_twice():
    message = _queue()  # on_commit never fires inside the test transaction
    assert send_outbox_message(message.pk) is True
    assert send_outbox_message(message.pk) is False
    assert send_outbox_message.apply(args=[message.pk]).get() is False
    assert len(mail.outbox) == 1
    message.refresh_from_db()
    assert message.attempts == 1


def test_a_row_claimed_by_another_worker_is_not_sent():
    message = _queue()
    OutboxMessage.objects.filter(pk=message.pk).update(state=OutboxState.SENDING)
    assert outbox.send_message(message.pk) is False
    assert mail.outbox == []


def test_failure_is_recorded_and_failed_rows_can_be_requeued(settings, monkeypatch):
    message = _queue()

    def broken(*args, **kwargs):
        raise ConnectionRefusedError("serveur SMTP injoignable")

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", broken)
    assert outbox.send_message(message.pk) is False
    message.refresh_from_db()
    assert message.state == OutboxState.FAILED
    assert "serveur SMTP injoignable" in message.last_error
    monkeypatch.undo()

    staff = UserFactory(is_staff=True)
    assert outbox.requeue(message, staff) is True
    message.refresh_from_db()
    assert message.state == OutboxState.QUEUED
    assert outbox.send_message(message.pk) is True
    message.refresh_from_db()
    assert message.state == OutboxState.SENT
    assert message.attempts == 2
    # A sent row is never put back in the queue.
    assert outbox.requeue(message, staff) is False


def test_related_object_and_call_are_kept():
    call = CallFactory()
    user = UserFactory()
    message = _queue(related=user, call=call)
    assert message.related == user
    assert message.call == call


def test_admin_resend_action(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    failed = _queue()
    OutboxMessage.objects.filter(pk=failed.pk).update(state=OutboxState.FAILED, last_error="x")
    client.force_login(staff)
    response = client.post(
        "/admin/ami/outboxmessage/",
        {"action": "resend", "_selected_action": [failed.pk]},
        follow=True,
    )
    assert response.status_code == 200
    failed.refresh_from_db()
    assert failed.state == OutboxState.QUEUED
    listing = client.get("/admin/ami/outboxmessage/")
    assert "en attente : 1" in listing.content.decode()
