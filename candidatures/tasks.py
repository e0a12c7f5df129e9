"""Celery wrappers of the candidatures app: they call the domain code."""

from celery import shared_task

from .reminders import send_draft_reminders as _send_draft_reminders


@shared_task(name="candidatures.send_draft_reminders")
def send_draft_reminders() -> int:
    return _send_draft_reminders()
