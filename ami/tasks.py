from celery import shared_task
from django.conf import settings

from . import orphans, outbox


@shared_task(name=outbox.SEND_TASK)
def send_outbox_message(message_id: int) -> bool:
    return outbox.send_message(message_id)


@shared_task(name="ami.outbox_sweep")
def outbox_sweep() -> dict:
    """Every minute (beat): re-enqueue outbox rows whose task was lost, fail stuck ones."""
    result = outbox.sweep()
    return {"requeued": len(result.requeued), "failed_stuck": len(result.failed_stuck)}


@shared_task(name="ami.sweep_orphans")
def sweep_orphans() -> dict:
    """Daily (beat): list the private storage's unreferenced files (logged); delete them only
    when ``ORPHAN_SWEEP_DELETE`` is set."""
    report = orphans.sweep(delete=settings.ORPHAN_SWEEP_DELETE)
    return {"orphans": len(report.orphans), "deleted": report.deleted, "failed": report.failed}
