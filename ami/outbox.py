"""The notification outbox: every email is a row written in the transaction that caused it, then
sent after commit by a Celery task. A row is claimed with a conditional UPDATE before sending, so
it is sent at most once even if the task runs twice or on two workers."""

import logging

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from .models import OutboxMessage, OutboxState

logger = logging.getLogger(__name__)


def queue_email(
    *, to: str, subject: str, text: str, html: str = "", event: str, related=None, call=None
) -> OutboxMessage:
    """Save one email and send it once the surrounding transaction commits."""
    message = OutboxMessage.objects.create(
        recipient=to,
        subject=subject.strip()[:300],
        body_text=text,
        body_html=html,
        event=event,
        call=call,
        related_type=ContentType.objects.get_for_model(related) if related is not None else None,
        related_id=str(related.pk) if related is not None else "",
    )
    _enqueue_after_commit(message.pk)
    return message


def queue_templated_email(
    *, to: str, template: str, context: dict, event: str, related=None, call=None
) -> OutboxMessage:
    """Render ``emails/<template>_subject.txt``, ``.txt`` and ``.html`` and queue the result."""
    context = {"site_url": settings.SITE_URL, "call": call, **context}
    subject = " ".join(render_to_string(f"emails/{template}_subject.txt", context).split())
    text = render_to_string(f"emails/{template}.txt", context)
    html = render_to_string(f"emails/{template}.html", context)
    return queue_email(
        to=to, subject=subject, text=text, html=html, event=event, related=related, call=call
    )


def _enqueue_after_commit(message_id: int) -> None:
    from .tasks import send_outbox_message

    transaction.on_commit(lambda: send_outbox_message.delay(message_id))


def send_message(message_id: int) -> bool:
    """Send one queued row. Returns True when this call sent it, False when another run had
    already claimed it (or it is not queued any more)."""
    claimed = OutboxMessage.objects.filter(pk=message_id, state=OutboxState.QUEUED).update(
        state=OutboxState.SENDING, attempts=F("attempts") + 1, sending_started_at=timezone.now()
    )
    if not claimed:
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
        logger.warning("Outbox message %s failed: %s", message.pk, error)
        OutboxMessage.objects.filter(pk=message.pk).update(
            state=OutboxState.FAILED, last_error=f"{type(error).__name__}: {error}"[:2000]
        )
        return False
    OutboxMessage.objects.filter(pk=message.pk).update(
        state=OutboxState.SENT, sent_at=timezone.now(), last_error=""
    )
    return True


def requeue(message: OutboxMessage, user) -> bool:
    """Put a failed row back in the queue (staff action). Sent rows are never sent again."""
    with transaction.atomic():
        requeued = OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.FAILED).update(
            state=OutboxState.QUEUED
        )
        if requeued:
            logger.info("Outbox message %s requeued by %s", message.pk, user)
            _enqueue_after_commit(message.pk)
    return bool(requeued)
