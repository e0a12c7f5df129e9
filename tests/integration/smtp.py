"""A real SMTP server (aiosmtpd) on the loopback that keeps what it receives, and the environment
that points a Celery worker's Django SMTP backend at it. Shared by the delivery test and the
browser test of a whole edition."""

import email
import logging
import socket
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy

from aiosmtpd.controller import Controller


@dataclass(frozen=True)
class Received:
    """One message accepted by the server."""

    outbox_id: str | None  # the X-AMI-Outbox-Id header: one per outbox row
    recipients: tuple[str, ...]  # the SMTP envelope's RCPT TO
    subject: str  # decoded, whitespace collapsed


class Mailbox:
    """aiosmtpd handler that keeps every message accepted."""

    def __init__(self):
        self._received: list[Received] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        outbox_id = message["X-AMI-Outbox-Id"]
        received = Received(
            outbox_id=str(outbox_id) if outbox_id is not None else None,
            recipients=tuple(envelope.rcpt_tos),
            # Unfolded: a long subject is folded on several lines of the header.
            subject=" ".join(str(message["Subject"] or "").split()),
        )
        with self._lock:
            self._received.append(received)
        return "250 Message accepted for delivery"

    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def counts(self) -> Counter:
        """How many times each outbox row was received."""
        return Counter(message.outbox_id for message in self.received())

    def to(self, recipient: str) -> list[Received]:
        return [message for message in self.received() if recipient in message.recipients]

    def wait_for(self, predicate, timeout: float = 30) -> bool:
        """Poll until ``predicate(self)`` is true, for at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.2)
        return predicate(self)


class SmtpServer:
    """A real SMTP server on 127.0.0.1 that can be stopped and started again on the same port."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.mailbox = Mailbox()
        self.controller = None

    def start(self):
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@contextmanager
def loopback_smtp_server():
    """A server, not started yet, with aiosmtpd's INFO log of every SMTP command silenced
    (hundreds of emails of that slow a test down); stopped at the end."""
    logger = logging.getLogger("mail.log")
    level = logger.level
    logger.setLevel(logging.WARNING)
    server = SmtpServer()
    try:
        yield server
    finally:
        server.stop()
        logger.setLevel(level)


def smtp_worker_env(server: SmtpServer, **overrides: str) -> dict[str, str]:
    """Environment of a worker whose Django SMTP backend sends to ``server``, retrying every
    second so that a test is quick."""
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(server.port),
        "EMAIL_USE_TLS": "false",
        "EMAIL_USE_SSL": "false",
        "EMAIL_HOST_USER": "",
        "EMAIL_HOST_PASSWORD": "",
        "EMAIL_TIMEOUT": "5",
        "OUTBOX_RETRY_BASE_SECONDS": "1",
        "OUTBOX_RETRY_MAX_SECONDS": "2",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }
