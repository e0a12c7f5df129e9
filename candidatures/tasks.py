"""Celery wrappers of the candidatures app: they call the domain code."""

from celery import shared_task

from .reminders import send_draft_reminders as _send_draft_reminders
from .retention import purge_documents as _purge_documents


@shared_task(name="candidatures.send_draft_reminders")
def send_draft_reminders() -> int:
    return _send_draft_reminders()


@shared_task(name="candidatures.purge_documents")
def purge_documents() -> dict:
    """The scheduled retention purge (wet run): see candidatures.retention."""
    report = _purge_documents(wet_run=True)
    return {"documents": report.documents, "size": report.size, "failed": report.failed}
