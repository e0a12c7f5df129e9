"""Sentry for the web processes and the Celery workers (production settings call this when
``SENTRY_DSN`` is set). No personal data is sent: no cookies, no user, no IP address, no request
body (the dossiers hold personal data; DESIGN §3)."""

import sentry_sdk
from sentry_sdk.integrations.celery import CeleryIntegration
from sentry_sdk.integrations.django import DjangoIntegration


def init_sentry(dsn: str, environment: str, release: str | None, traces_sample_rate: float):
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        traces_sample_rate=traces_sample_rate,
        send_default_pii=False,
        max_request_body_size="never",
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
    )
