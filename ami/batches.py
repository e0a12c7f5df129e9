"""Held bulk sends (issue 16, item 5; pretalx's outbox): a send to several recipients started by
a person becomes an ``OutboxBatch`` whose emails wait (state *held*) until staff or the call's
CNA administrator preview them, edit one, discard some, and send the rest — exactly once: the
batch's row is locked and its state checked, and each message moves from *held* to *queued*
with a conditional update. A batch that was sent or abandoned can no longer change.

Who may act on a batch is decided by the caller through ``can_manage`` (a registry filled by
higher apps: the CNA administrator of the call is known to ``evaluation``, DESIGN §6)."""

from collections.abc import Callable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from .models import BatchState, OutboxBatch, OutboxMessage, OutboxState
from .outbox import _enqueue_after_commit

# Predicates (user, batch) -> bool registered by higher apps (AppConfig.ready()).
MANAGERS: list[Callable] = []

CLOSED = "Cet envoi groupé est déjà {state} : il ne peut plus être modifié."


def can_manage(user, batch) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    if user.is_staff:
        return True
    return any(rule(user, batch) for rule in MANAGERS)


def _check(user, batch):
    if not can_manage(user, batch):
        raise PermissionDenied(
            "Seuls l'équipe Coorace et l'administrateur de la CNA de l'appel "
            "gèrent les envois groupés."
        )


def start(label: str, event: str, actor, call=None) -> OutboxBatch:
    label = label if len(label) <= 200 else label[:199] + "…"
    return OutboxBatch.objects.create(label=label, event=event, call=call, created_by=actor)


def _lock_held(batch) -> OutboxBatch:
    locked = OutboxBatch.objects.select_for_update().get(pk=batch.pk)
    if locked.state != BatchState.HELD:
        raise ValidationError(CLOSED.format(state=locked.get_state_display()))
    return locked


def edit(message: OutboxMessage, actor, *, subject: str, text: str) -> OutboxMessage:
    """Rewrite one held email (its plain text; the HTML alternative is dropped so that the
    recipient reads what was written)."""
    if message.batch_id is None:
        raise ValidationError("Ce courriel ne fait pas partie d'un envoi groupé.")
    _check(actor, message.batch)
    if not (subject or "").strip() or not (text or "").strip():
        raise ValidationError("L'objet et le texte du courriel sont obligatoires.")
    with transaction.atomic():
        _lock_held(message.batch)
        updated = OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.HELD).update(
            subject=subject.strip()[:300], body_text=text, body_html="", edited_by=actor
        )
        if not updated:
            raise ValidationError("Ce courriel a été écarté : il ne peut plus être modifié.")
    message.refresh_from_db()
    return message


def discard(message: OutboxMessage, actor) -> None:
    _check(actor, message.batch)
    with transaction.atomic():
        _lock_held(message.batch)
        OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.HELD).update(
            state=OutboxState.DISCARDED, edited_by=actor
        )


def send(batch: OutboxBatch, actor) -> int:
    """Send the kept emails of ``batch`` (once); returns how many were queued."""
    _check(actor, batch)
    with transaction.atomic():
        locked = _lock_held(batch)
        ids = list(
            OutboxMessage.objects.filter(batch=locked, state=OutboxState.HELD).values_list(
                "pk", flat=True
            )
        )
        OutboxMessage.objects.filter(pk__in=ids, state=OutboxState.HELD).update(
            state=OutboxState.QUEUED, created_at=timezone.now()
        )
        locked.state = BatchState.SENT
        locked.closed_by = actor
        locked.closed_at = timezone.now()
        locked.save(update_fields=["state", "closed_by", "closed_at"])
        for message_id in ids:
            _enqueue_after_commit(message_id)
    return len(ids)


def abandon(batch: OutboxBatch, actor) -> int:
    """Discard every email of the batch; returns how many."""
    _check(actor, batch)
    with transaction.atomic():
        locked = _lock_held(batch)
        count = OutboxMessage.objects.filter(batch=locked, state=OutboxState.HELD).update(
            state=OutboxState.DISCARDED
        )
        locked.state = BatchState.DISCARDED
        locked.closed_by = actor
        locked.closed_at = timezone.now()
        locked.save(update_fields=["state", "closed_by", "closed_at"])
    return count
