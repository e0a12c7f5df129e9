"""The notification outbox: every email is a row written in the transaction that caused it, then
sent after commit by a Celery task. A row is claimed with a conditional UPDATE before sending, so
it is sent at most once even if the task runs twice or on two workers.

Delivery (docs/operations.md « Email delivery »):

- a temporary failure (SMTP 4xx, connection refused, timeout, disconnection, other network
  errors) puts the row back in the queue with ``next_attempt_at`` = now + an exponential backoff
  and schedules the task for then; after ``OUTBOX_MAX_ATTEMPTS`` attempts the row is failed;
- a permanent failure (SMTP 5xx, or anything that is not a network error) fails the row at once,
  with the error shown to staff, who can put it back in the queue;
- claims are limited to ``OUTBOX_RATE_PER_MINUTE`` over a sliding minute for all workers together
  (a PostgreSQL advisory lock serialises the count of recent claims and the claim itself); a task
  over the limit is rescheduled without counting an attempt;
- ``sweep()`` (task every minute, command ``outbox_sweep``) re-enqueues queued rows whose task
  message was lost and fails rows stuck in ``sending`` (a worker died mid-send) for staff review,
  rather than risk sending them twice.
"""

import contextvars
import logging
import random
import smtplib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import timezone

from .celery import app
from .models import OutboxBatch, OutboxMessage, OutboxState

logger = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock that serialises the rate limiter (any constant bigint).
RATE_LOCK_KEY = 0x414D490001
# Tolerance on ``next_attempt_at`` for a task that arrives a little early (clock skew between
# worker machines).
EARLY_TOLERANCE = timedelta(seconds=1)
STUCK_ERROR = (
    "Envoi interrompu (le processus d'envoi s'est arrêté) : le serveur SMTP a pu recevoir ce "
    "courriel ou non. Vérifiez auprès du destinataire avant de le renvoyer."
)


# The batch that emails queued in the current context are held in (``holding``).
_holding: contextvars.ContextVar[OutboxBatch | None] = contextvars.ContextVar(
    "outbox_holding", default=None
)


@contextmanager
def holding(batch: OutboxBatch):
    """Within this block, every email queued goes into ``batch``, held until it is sent
    (``ami.batches.send``) instead of being sent after commit: a bulk send started by a person.
    Automatic sends (reminders, digests) never run inside it and go out on their own."""
    token = _holding.set(batch)
    try:
        yield batch
    finally:
        _holding.reset(token)


def queue_email(
    *, to: str, subject: str, text: str, html: str = "", event: str, related=None, call=None
) -> OutboxMessage:
    """Save one email and send it once the surrounding transaction commits — or hold it in the
    batch of the current ``holding`` block."""
    batch = _holding.get()
    message = OutboxMessage.objects.create(
        batch=batch,
        state=OutboxState.HELD if batch is not None else OutboxState.QUEUED,
        recipient=to,
        subject=subject.strip()[:300],
        body_text=text,
        body_html=html,
        event=event,
        call=call,
        related_type=ContentType.objects.get_for_model(related) if related is not None else None,
        related_id=str(related.pk) if related is not None else "",
    )
    if batch is None:
        _enqueue_after_commit(message.pk)
    return message


def queue_templated_email(
    *, to: str, template: str, context: dict, event: str, related=None, call=None
) -> OutboxMessage:
    """Render ``emails/<template>_subject.txt``, ``.txt`` and ``.html`` and queue the result."""
    subject, text, html = render_templated_email(template, context, call=call)
    return queue_email(
        to=to, subject=subject, text=text, html=html, event=event, related=related, call=call
    )


def render_templated_email(template: str, context: dict, *, call=None) -> tuple[str, str, str]:
    """Subject, plain text and HTML of ``emails/<template>*`` — what is queued, and what staff
    preview before sending."""
    context = {"site_url": settings.SITE_URL, "call": call, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return subject, text, html


# The Celery task that sends one row (``ami.tasks``, a thin wrapper around ``send_message``),
# called by its registered name: the task module imports this one, never the reverse.
SEND_TASK = "ami.send_outbox_message"


def _send_task():
    return app.tasks[SEND_TASK]


def _enqueue_after_commit(message_id: int) -> None:
    transaction.on_commit(lambda: _send_task().delay(message_id))


def _eager() -> bool:
    """True when tasks run in-process (no broker: development, tests)."""
    return bool(app.conf.task_always_eager)


def _schedule(message_id: int, delay: float) -> None:
    """Run the send task again in ``delay`` seconds. Not in eager mode: there it would run at
    once, inside the web request; the row stays queued with its ``next_attempt_at`` and the sweep
    (``manage.py outbox_sweep``) sends it."""
    if _eager():
        return
    _send_task().apply_async(args=[message_id], countdown=max(delay, 0))


# --- Errors -------------------------------------------------------------------------------------


def is_temporary(error: BaseException) -> bool:
    """Whether sending again later may succeed. SMTP replies: 4xx temporary, 5xx permanent."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return not codes or any(code < 500 for code in codes)
    if isinstance(error, smtplib.SMTPResponseException):  # sender refused, data, helo, auth
        return error.smtp_code < 500
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(error, smtplib.SMTPException):  # e.g. STARTTLS or AUTH not supported: config
        return False
    # Connection refused or reset, timeouts (socket.timeout is TimeoutError), DNS, TLS handshake.
    return isinstance(error, OSError)


def backoff_seconds(attempts: int) -> float:
    """Wait after the ``attempts``-th failed attempt: base × 2^(attempts-1), capped."""
    base = settings.OUTBOX_RETRY_BASE_SECONDS
    return min(base * 2 ** max(attempts - 1, 0), settings.OUTBOX_RETRY_MAX_SECONDS)


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


# --- Claim and rate limit -----------------------------------------------------------------------


@dataclass
class Claim:
    claimed: bool
    defer_for: float | None = None  # seconds, when the rate limit is reached


def _due(now):
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + EARLY_TOLERANCE)


def claim(message_id: int, *, rate_per_minute: int | None = None) -> Claim:
    """Move the row from queued to sending if it is due and the shared rate allows it.

    ``rate_per_minute`` defaults to ``OUTBOX_RATE_PER_MINUTE``, and to no limit in eager mode so
    that a web request never waits. The limit counts the claims of the last 60 seconds (every
    worker's) under a transaction-level advisory lock, so two workers cannot both take the last
    slot."""
    if rate_per_minute is None:
        rate_per_minute = 0 if _eager() else settings.OUTBOX_RATE_PER_MINUTE
    now = timezone.now()
    row = OutboxMessage.objects.filter(Q(pk=message_id, state=OutboxState.QUEUED) & _due(now))
    claim_values = {
        "state": OutboxState.SENDING,
        "attempts": F("attempts") + 1,
        "sending_started_at": now,
        "next_attempt_at": None,
    }
    if rate_per_minute <= 0:
        return Claim(bool(row.update(**claim_values)))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [RATE_LOCK_KEY])
        now = timezone.now()  # after waiting for the lock
        if not row.exists():
            return Claim(False)
        window_start = now - timedelta(seconds=60)
        recent = OutboxMessage.objects.filter(sending_started_at__gt=window_start)
        if recent.count() >= rate_per_minute:
            defer_for = _rate_delay(recent, window_start, rate_per_minute, now)
            row.update(next_attempt_at=now + timedelta(seconds=defer_for))
            return Claim(False, defer_for=defer_for)
        claim_values["sending_started_at"] = now
        return Claim(bool(row.update(**claim_values)))


def _rate_delay(recent, window_start, rate_per_minute: int, now) -> float:
    """Seconds until a slot frees, plus a random spread proportional to the backlog so that
    10 000 deferred tasks do not all come back at the same second."""
    oldest = recent.order_by("sending_started_at").values_list("sending_started_at", flat=True)[0]
    frees_in = max((oldest - window_start).total_seconds(), 1.0)
    backlog = OutboxMessage.objects.filter(state=OutboxState.QUEUED).count()
    spread = min(60.0 * backlog / rate_per_minute, 600.0)
    return round(frees_in + random.uniform(0, spread), 3)


# --- Sending ------------------------------------------------------------------------------------


def send_message(message_id: int) -> bool:
    """Send one queued row. Returns True when this call sent it, False otherwise: another run had
    already claimed it, it is not queued or not due, the rate limit deferred it (rescheduled), or
    sending failed (recorded on the row, and rescheduled when temporary)."""
    result = claim(message_id)
    if result.defer_for is not None:
        _schedule(message_id, result.defer_for)
        return False
    if not result.claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    email = EmailMultiAlternatives(
        subject=message.subject,
        body=message.body_text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[message.recipient],
        headers={"X-AMI-Outbox-Id": str(message.pk)},
    )
    if message.body_html:
        email.attach_alternative(message.body_html, "text/html")
    try:
        email.send()
    except Exception as error:  # noqa: BLE001 - any failure is recorded on the row
        _record_failure(message, error)
        return False
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxState.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def _record_failure(message: OutboxMessage, error: BaseException) -> None:
    described = _describe(error)
    rows = OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.SENDING)
    if is_temporary(error) and message.attempts < settings.OUTBOX_MAX_ATTEMPTS:
        delay = backoff_seconds(message.attempts)
        logger.warning(
            "Outbox message %s: temporary failure (attempt %s), retry in %ss: %s",
            message.pk,
            message.attempts,
            delay,
            described,
        )
        if rows.update(
            state=OutboxState.QUEUED,
            last_error=described,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
        ):
            _schedule(message.pk, delay)
        return
    reason = "temporary, attempts exhausted" if is_temporary(error) else "permanent"
    logger.error(
        "Outbox message %s failed (%s, attempt %s): %s",
        message.pk,
        reason,
        message.attempts,
        described,
    )
    rows.update(state=OutboxState.FAILED, last_error=described, next_attempt_at=None)


def requeue(message: OutboxMessage, user) -> bool:
    """Put a failed row back in the queue (staff action). Sent rows are never sent again. The row
    keeps its attempts count: a temporary failure after the budget fails it again at once."""
    with transaction.atomic():
        requeued = OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.FAILED).update(
            state=OutboxState.QUEUED, next_attempt_at=None
        )
        if requeued:
            logger.info("Outbox message %s requeued by %s", message.pk, user)
            _enqueue_after_commit(message.pk)
    return bool(requeued)


# --- Sweep --------------------------------------------------------------------------------------


@dataclass
class SweepResult:
    requeued: list[int]
    failed_stuck: list[int]


def sweep(*, now=None) -> SweepResult:
    """Repair what a crash left behind. Idempotent; safe to run on several machines at once.

    (a) Queued rows whose due time (``next_attempt_at``, else ``created_at``) is older than
    ``OUTBOX_SWEEP_GRACE_SECONDS``: their task message was lost (worker or broker crash, broker
    flushed, eager mode). They get a new task, and ``next_attempt_at`` = now so that the next sweep
    leaves them alone for another grace period.

    (b) Rows in ``sending`` for longer than ``OUTBOX_SENDING_TIMEOUT_SECONDS``: the worker died
    during the SMTP conversation, and the server may or may not have accepted the message. They
    are failed with an explicit error for staff to review and resend, instead of being queued
    again, so that a row is never sent twice."""
    now = now or timezone.now()
    grace = timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)
    stuck_after = timedelta(seconds=settings.OUTBOX_SENDING_TIMEOUT_SECONDS)
    with transaction.atomic():
        lost = list(
            OutboxMessage.objects.annotate(due_at=Coalesce("next_attempt_at", "created_at"))
            .filter(state=OutboxState.QUEUED, due_at__lt=now - grace)
            .select_for_update(skip_locked=True, of=("self",))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        OutboxMessage.objects.filter(pk__in=lost, state=OutboxState.QUEUED).update(
            next_attempt_at=now
        )
        for message_id in lost:
            _enqueue_after_commit(message_id)
        stuck = list(
            OutboxMessage.objects.filter(
                state=OutboxState.SENDING, sending_started_at__lt=now - stuck_after
            )
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
        )
        OutboxMessage.objects.filter(pk__in=stuck, state=OutboxState.SENDING).update(
            state=OutboxState.FAILED, last_error=STUCK_ERROR
        )
    if lost or stuck:
        logger.warning(
            "Outbox sweep: %s lost row(s) re-enqueued, %s stuck row(s) failed for review",
            len(lost),
            len(stuck),
        )
    return SweepResult(requeued=lost, failed_stuck=stuck)
