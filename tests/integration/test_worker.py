"""The web side queues a task; a real Celery worker process on Redis runs it."""

import os
import time

import pytest
from django.core import mail
from django.db import transaction

from ami.models import OutboxMessage, OutboxState
from ami.outbox import queue_email

pytestmark = pytest.mark.integration


def _wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_outbox_email_is_sent_by_a_real_worker(celery_worker_process):
    with transaction.atomic():
        message = queue_email(
            to="porteur@example.org",
            subject="Accusé de réception",
            text="Votre candidature a bien été déposée.",
            event="test.worker",
        )
        # Nothing is queued to the broker before the transaction commits.
        assert OutboxMessage.objects.get(pk=message.pk).state == OutboxState.QUEUED

    def sent():
        return OutboxMessage.objects.filter(pk=message.pk, state=OutboxState.SENT).exists()

    assert _wait_for(sent), "not sent; worker log:\n" + celery_worker_process.read_log()
    # It ran in the worker process, not here: this process's test mailbox is empty and the
    # worker's file backend wrote the email.
    assert mail.outbox == []
    files = list(celery_worker_process.email_dir.iterdir())
    assert len(files) == 1
    assert "Votre candidature a bien été déposée." in files[0].read_text()
    assert "Task ami.send_outbox_message[" in celery_worker_process.read_log()
    assert celery_worker_process.process.pid != os.getpid()


def test_reference_territory_is_there_in_transactional_tests(transactional_db):
    from ami.models import Department, Region

    assert Region.objects.count() == 18
    assert Department.objects.count() == 101
