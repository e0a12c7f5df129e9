"""Delivery end to end: a real Celery worker (prefork, two processes competing for the tasks) on
Redis sends the outbox through Django's SMTP backend to a real SMTP server (aiosmtpd) on the
loopback. Every email is counted by its X-AMI-Outbox-Id header, so a duplicate would show."""

import time
from collections import Counter

import pytest

from ami.models import OutboxMessage, OutboxState
from ami.tasks import send_outbox_message
from tests.evaluation.national_helpers import fix_list, national_edition, publish
from tests.integration.conftest import running_worker
from tests.integration.smtp import SmtpServer, loopback_smtp_server, smtp_worker_env

pytestmark = pytest.mark.integration

COUNT = 200


@pytest.fixture
def smtp_server():
    with loopback_smtp_server() as server:
        yield server


@pytest.fixture
def smtp_worker(transactional_db, redis_url, smtp_server, tmp_path):
    """Two prefork processes competing for the rows, Django's SMTP backend pointed at
    ``smtp_server``, and retries every second so the test is quick."""
    env = smtp_worker_env(
        smtp_server,
        OUTBOX_MAX_ATTEMPTS="50",
        # High enough not to slow the test down, but the shared limiter (advisory lock and
        # count) runs on every claim of both processes.
        OUTBOX_RATE_PER_MINUTE="100000",
    )
    args = ("--pool", "prefork", "--concurrency", "2")
    with running_worker(redis_url, tmp_path / "worker.log", env, *args) as worker:
        yield worker


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def _publish_results(count: int) -> list[int]:
    """The real publication of a call's results: ``count`` candidatures handed over by two
    regions, ten of them laureates, the list fixed then published by the CNA administrator —
    one decision letter per applicant, one email per regional cell, all queued in the one
    transaction of the publication. Returns the ids of every email it queued (the letters and
    the two regional emails)."""
    scores = [40 + (i % 50) for i in range(count)]
    edition = national_edition({"11": scores[: count // 2], "53": scores[count // 2 :]})
    best = sorted(edition.candidatures, key=lambda c: -c.regional_opinion.consolidated_score)
    fix_list(edition, dict.fromkeys(best[:10], "50000"))
    assert publish(edition) == count
    assert OutboxMessage.objects.filter(event__startswith="decision.").count() == count
    assert OutboxMessage.objects.filter(event="results.region").count() == 2
    return list(OutboxMessage.objects.values_list("pk", flat=True))


def _all_sent(ids):
    return lambda: (
        OutboxMessage.objects.filter(pk__in=ids, state=OutboxState.SENT).count() == len(ids)
    )


def _assert_each_received_once(server: SmtpServer, ids: list[int], worker):
    time.sleep(1.5)  # a duplicate would arrive now, not later: nothing is left to send
    counts = server.mailbox.counts()
    twice = {key: n for key, n in counts.items() if n > 1}
    assert not twice, f"sent more than once: {twice}"
    assert sorted(counts) == sorted(str(pk) for pk in ids), worker.read_log()[-5000:]
    assert sum(counts.values()) == len(ids)
    states = Counter(OutboxMessage.objects.filter(pk__in=ids).values_list("state", flat=True))
    assert states == {OutboxState.SENT: len(ids)}
    letters = OutboxMessage.objects.filter(pk__in=ids, event__startswith="decision.")
    letter_ids = {str(pk) for pk in letters.values_list("pk", flat=True)}
    assert sum(n for key, n in counts.items() if key in letter_ids) == COUNT


def test_publishing_200_decisions_delivers_200_letters(smtp_server, smtp_worker):
    smtp_server.start()
    started = time.monotonic()
    ids = _publish_results(COUNT)
    # A second task for every row, as a sweep or a redelivered message would send: the two
    # worker processes now compete for the same rows, and the claim lets only one send each.
    for pk in ids:
        send_outbox_message.delay(pk)
    print(f"queued in {time.monotonic() - started:.1f}s")
    assert _wait_for(_all_sent(ids), timeout=60), smtp_worker.read_log()[-5000:]
    elapsed = time.monotonic() - started
    _assert_each_received_once(smtp_server, ids, smtp_worker)
    assert set(OutboxMessage.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
    print(f"{COUNT} letters (and {len(ids) - COUNT} regional emails) delivered in {elapsed:.1f}s")


def test_emails_queued_while_the_smtp_server_is_down_are_delivered_once_when_it_is_back(
    smtp_server, smtp_worker
):
    started = time.monotonic()
    ids = _publish_results(COUNT)  # the SMTP server is not running: connection refused

    def all_failed_once():
        rows = OutboxMessage.objects.filter(pk__in=ids)
        return rows.filter(attempts__gte=1).count() == len(ids)

    assert _wait_for(all_failed_once, timeout=60), smtp_worker.read_log()[-5000:]
    rows = OutboxMessage.objects.filter(pk__in=ids)
    # Until one of them is retried against the closed port (it used to sleep 2 s for that).
    assert _wait_for(rows.filter(attempts__gte=2).exists, timeout=60), smtp_worker.read_log()
    assert not rows.filter(state__in=[OutboxState.SENT, OutboxState.FAILED]).exists()
    assert rows.filter(attempts__gte=2).exists()
    assert "ConnectionRefusedError" in rows.exclude(last_error="").first().last_error
    assert smtp_server.mailbox.counts() == Counter()

    down_for = time.monotonic() - started
    smtp_server.start()  # back, on the same port
    assert _wait_for(_all_sent(ids), timeout=60), smtp_worker.read_log()[-5000:]
    attempts = Counter(OutboxMessage.objects.filter(pk__in=ids).values_list("attempts", flat=True))
    delivered_in = time.monotonic() - started - down_for
    print(
        f"SMTP down for {down_for:.1f}s, then {COUNT} delivered in {delivered_in:.1f}s; "
        f"attempts per email: {sorted(attempts.items())}"
    )
    _assert_each_received_once(smtp_server, ids, smtp_worker)
    assert not OutboxMessage.objects.filter(pk__in=ids).exclude(last_error="").exists()
