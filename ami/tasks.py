from celery import shared_task

from . import outbox


@shared_task(name="ami.send_outbox_message")
def send_outbox_message(message_id: int) -> bool:
    return outbox.send_message(message_id)
