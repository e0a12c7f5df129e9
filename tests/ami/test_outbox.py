import smtplib
import socket
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

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
        raise smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"Boite inconnue")})

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", broken)
    assert outbox.send_message(message.pk) is False
    message.refresh_from_db()
    assert message.state == OutboxState.FAILED
    assert "Boite inconnue" in message.last_error
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


# --- Delivery: retries, permanent failures, sweep, rate limit ------------------------------------


@pytest.fixture
def smtp_error(monkeypatch):
    """Make every send raise the error given to the returned function."""
    raised = {}

    def broken(*args, **kwargs):
        raise raised["error"]

    monkeypatch.setattr("django.core.mail.message.EmailMessage.send", broken)

    def set_error(error):
        raised["error"] = error

    return set_error


@pytest.fixture
def broker(monkeypatch):
    """As with a real broker (not eager): record the tasks scheduled instead of sending them."""
    scheduled = []
    monkeypatch.setattr(outbox, "_eager", lambda: False)
    monkeypatch.setattr(
        send_outbox_message,
        "apply_async",
        lambda args, countdown: scheduled.append((args[0], countdown)),
    )
    return scheduled


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        socket.timeout("timed out"),  # noqa: UP041 - what smtplib raises, by its old name
        OSError(101, "Network is unreachable"),
        smtplib.SMTPServerDisconnected("Connection unexpectedly closed"),
        smtplib.SMTPResponseException(421, b"Service not available"),
        smtplib.SMTPSenderRefused(451, b"Try again later", "ne-pas-repondre@example.org"),
        smtplib.SMTPDataError(452, b"Insufficient storage"),
        smtplib.SMTPRecipientsRefused({"a@example.org": (450, b"Greylisted")}),
        smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"x"), "b@example.org": (451, b"y")}),
    ],
    ids=repr,
)
def test_temporary_errors(error):
    assert outbox.is_temporary(error)


@pytest.mark.parametrize(
    "error",
    [
        smtplib.SMTPResponseException(554, b"Transaction failed"),
        smtplib.SMTPSenderRefused(550, b"Sender rejected", "ne-pas-repondre@example.org"),
        smtplib.SMTPDataError(552, b"Message too big"),
        smtplib.SMTPAuthenticationError(535, b"Bad credentials"),
        smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"No such user")}),
        smtplib.SMTPNotSupportedError("STARTTLS extension not supported by server."),
        ValueError("programming error"),
    ],
    ids=repr,
)
def test_permanent_errors(error):
    assert not outbox.is_temporary(error)


def test_backoff_doubles_and_is_capped(settings):
    settings.OUTBOX_RETRY_BASE_SECONDS = 30
    settings.OUTBOX_RETRY_MAX_SECONDS = 1800
    assert [outbox.backoff_seconds(n) for n in range(1, 9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1800,
        1800,
    ]


def test_temporary_failure_requeues_with_backoff_and_schedules_a_retry(smtp_error, broker):
    message = _queue()
    smtp_error(ConnectionRefusedError(111, "Connection refused"))
    before = timezone.now()
    assert outbox.send_message(message.pk) is False
    message.refresh_from_db()
    assert message.state == OutboxState.QUEUED
    assert message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    assert before + timedelta(seconds=29) < message.next_attempt_at
    assert message.next_attempt_at < timezone.now() + timedelta(seconds=31)
    assert broker == [(message.pk, 30)]

    # The retry task arriving early (a duplicate message) does nothing.
    assert outbox.send_message(message.pk) is False
    message.refresh_from_db()
    assert message.attempts == 1 and message.state == OutboxState.QUEUED

    # When due, the second failure waits twice as long.
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    smtp_error(smtplib.SMTPResponseException(421, b"Too many connections"))
    assert outbox.send_message(message.pk) is False
    message.refresh_from_db()
    assert message.attempts == 2 and message.state == OutboxState.QUEUED
    assert "421" in message.last_error
    assert broker[-1] == (message.pk, 60)


def test_temporary_failure_in_eager_mode_leaves_the_retry_to_the_sweep(smtp_error):
    message = _queue()
    smtp_error(ConnectionRefusedError(111, "Connection refused"))
    assert outbox.send_message(message.pk) is False  # returns at once: no retry in the request
    message.refresh_from_db()
    assert message.state == OutboxState.QUEUED and message.attempts == 1
    assert message.next_attempt_at is not None


def test_permanent_failure_is_failed_at_once_with_the_error(smtp_error, broker):
    message = _queue()
    smtp_error(smtplib.SMTPRecipientsRefused({"a@example.org": (550, b"5.1.1 User unknown")}))
    assert outbox.send_message(message.pk) is False
    message.refresh_from_db()
    assert message.state == OutboxState.FAILED
    assert message.attempts == 1
    assert "SMTPRecipientsRefused" in message.last_error
    assert "User unknown" in message.last_error
    assert message.next_attempt_at is None
    assert broker == []  # not retried
    assert outbox.send_message(message.pk) is False
    message.refresh_from_db()
    assert message.attempts == 1


def test_the_last_attempt_fails_the_row(settings, smtp_error, broker):
    settings.OUTBOX_MAX_ATTEMPTS = 3
    message = _queue()
    smtp_error(TimeoutError("timed out"))
    for attempt in (1, 2, 3):
        OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=None)
        assert outbox.send_message(message.pk) is False
        message.refresh_from_db()
        assert message.attempts == attempt
    assert message.state == OutboxState.FAILED
    assert "TimeoutError" in message.last_error
    assert len(broker) == 2  # retries after attempts 1 and 2, none after the last


def test_success_after_retries_clears_the_error(smtp_error, monkeypatch):
    message = _queue()
    smtp_error(ConnectionRefusedError(111, "Connection refused"))
    outbox.send_message(message.pk)
    monkeypatch.undo()
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())
    assert outbox.send_message(message.pk) is True
    message.refresh_from_db()
    assert message.state == OutboxState.SENT
    assert message.attempts == 2
    assert message.last_error == "" and message.next_attempt_at is None
    assert len(mail.outbox) == 1


def _age(message, **delta):
    OutboxMessage.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(**delta)
    )


def test_sweep_reenqueues_lost_queued_rows_and_is_idempotent(
    settings, django_capture_on_commit_callbacks
):
    settings.OUTBOX_SWEEP_GRACE_SECONDS = 300
    lost = _queue()
    _age(lost, minutes=10)
    lost_retry = _queue()
    _age(lost_retry, hours=2)
    OutboxMessage.objects.filter(pk=lost_retry.pk).update(
        attempts=2, next_attempt_at=timezone.now() - timedelta(minutes=6)
    )
    recent = _queue()  # its task is probably still on its way
    _age(recent, minutes=2)
    waiting = _queue()  # an old row whose retry is not due yet
    _age(waiting, hours=1)
    OutboxMessage.objects.filter(pk=waiting.pk).update(
        next_attempt_at=timezone.now() + timedelta(minutes=1)
    )
    sent = _queue()
    _age(sent, hours=1)
    OutboxMessage.objects.filter(pk=sent.pk).update(state=OutboxState.SENT)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        result = outbox.sweep()
    assert sorted(result.requeued) == sorted([lost.pk, lost_retry.pk])
    assert len(callbacks) == 2
    # Eager mode: the re-enqueued tasks ran and sent them.
    assert sorted(m.extra_headers["X-AMI-Outbox-Id"] for m in mail.outbox) == sorted(
        [str(lost.pk), str(lost_retry.pk)]
    )
    assert OutboxMessage.objects.get(pk=lost.pk).state == OutboxState.SENT

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        again = outbox.sweep()
    assert again.requeued == [] and again.failed_stuck == []
    assert callbacks == []
    assert len(mail.outbox) == 2
    assert OutboxMessage.objects.get(pk=recent.pk).state == OutboxState.QUEUED
    assert OutboxMessage.objects.get(pk=waiting.pk).state == OutboxState.QUEUED


def test_sweep_does_not_enqueue_a_lost_row_again_before_the_grace_period(
    broker, django_capture_on_commit_callbacks
):
    lost = _queue()
    _age(lost, hours=1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert outbox.sweep().requeued == [lost.pk]
        assert outbox.sweep().requeued == []  # the task is on its way: leave it alone
    assert len(callbacks) == 1
    lost.refresh_from_db()
    assert lost.state == OutboxState.QUEUED and lost.next_attempt_at is not None


def test_sweep_fails_rows_stuck_in_sending_for_review(settings):
    settings.OUTBOX_SENDING_TIMEOUT_SECONDS = 900
    stuck = _queue()
    OutboxMessage.objects.filter(pk=stuck.pk).update(
        state=OutboxState.SENDING,
        attempts=1,
        sending_started_at=timezone.now() - timedelta(minutes=20),
    )
    busy = _queue()
    OutboxMessage.objects.filter(pk=busy.pk).update(
        state=OutboxState.SENDING, sending_started_at=timezone.now() - timedelta(seconds=10)
    )
    result = outbox.sweep()
    assert result.failed_stuck == [stuck.pk]
    stuck.refresh_from_db()
    assert stuck.state == OutboxState.FAILED
    assert "Vérifiez auprès du destinataire" in stuck.last_error
    assert OutboxMessage.objects.get(pk=busy.pk).state == OutboxState.SENDING
    assert outbox.sweep().failed_stuck == []
    assert mail.outbox == []  # never sent again without a staff decision


def test_sweep_command(django_capture_on_commit_callbacks, capsys):
    lost = _queue()
    _age(lost, hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("outbox_sweep")
    assert "1 courriel remis en file" in capsys.readouterr().out
    assert OutboxMessage.objects.get(pk=lost.pk).state == OutboxState.SENT


def test_sweep_runs_every_minute_from_beat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["outbox-sweep"]
    assert entry["task"] == "ami.outbox_sweep"
    assert entry["schedule"].minute == set(range(60))  # crontab(): every minute
    from ami.tasks import outbox_sweep

    assert outbox_sweep.name == "ami.outbox_sweep"


def test_rate_limiter_allows_n_per_minute_then_defers():
    messages = [_queue(to=f"p{i}@example.org") for i in range(4)]
    for message in messages[:3]:
        assert outbox.claim(message.pk, rate_per_minute=3).claimed
    over = outbox.claim(messages[3].pk, rate_per_minute=3)
    assert not over.claimed
    assert 1 <= over.defer_for <= 60 + 60 * 1 / 3
    row = OutboxMessage.objects.get(pk=messages[3].pk)
    assert row.state == OutboxState.QUEUED
    assert row.attempts == 0  # deferral is not an attempt
    assert row.next_attempt_at > timezone.now()

    # A minute later the window has slots again.
    OutboxMessage.objects.filter(pk__in=[m.pk for m in messages[:3]]).update(
        sending_started_at=timezone.now() - timedelta(seconds=61)
    )
    OutboxMessage.objects.filter(pk=row.pk).update(next_attempt_at=None)
    assert outbox.claim(row.pk, rate_per_minute=3).claimed


def test_rate_limited_task_is_rescheduled_without_counting_an_attempt(settings, broker):
    settings.OUTBOX_RATE_PER_MINUTE = 2
    messages = [_queue(to=f"p{i}@example.org") for i in range(3)]
    assert [outbox.send_message(m.pk) for m in messages] == [True, True, False]
    assert len(mail.outbox) == 2
    assert len(broker) == 1
    message_id, countdown = broker[0]
    assert message_id == messages[2].pk and countdown >= 1
    row = OutboxMessage.objects.get(pk=messages[2].pk)
    assert row.state == OutboxState.QUEUED and row.attempts == 0 and row.last_error == ""


def test_the_limiter_never_makes_an_eager_web_request_wait(settings):
    settings.OUTBOX_RATE_PER_MINUTE = 1
    messages = [_queue(to=f"p{i}@example.org") for i in range(3)]
    assert all(outbox.send_message(m.pk) for m in messages)
    assert len(mail.outbox) == 3


def test_requeue_clears_the_next_attempt(smtp_error):
    message = _queue()
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxState.FAILED, next_attempt_at=timezone.now() + timedelta(hours=1)
    )
    assert outbox.requeue(message, UserFactory(is_staff=True))
    message.refresh_from_db()
    assert message.state == OutboxState.QUEUED and message.next_attempt_at is None


def test_admin_list_shows_attempts_next_attempt_and_error(client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    message = _queue()
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxState.FAILED,
        attempts=8,
        last_error="SMTPRecipientsRefused: {'a@example.org': (550, b'User unknown')}",
    )
    client.force_login(staff)
    page = client.get("/admin/ami/outboxmessage/").content.decode()
    assert "User unknown" in page
    assert "prochaine tentative" in page.lower()
    assert "dernière erreur" in page.lower()
