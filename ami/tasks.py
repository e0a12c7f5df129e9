from celery import shared_task

from . import outbox


@shared_task(name=outbox.SEND_TASK)
def send_outbox_message(message_id: int) -> bool:
    return outbox.send_message(message_id)


@shared_task(name="ami.outbox_sweep")
def outbox_sweep() -> dict:
    """Every minute (beat): re-enqueue outbox rows whose task was lost, fail stuck ones."""
    result = outbox.sweep()
    return {"requeued": len(result.requeued), "failed_stuck": len(result.failed_stuck)}
