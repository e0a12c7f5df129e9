"""What operators see of the running platform: a request id on every log line and response, JSON
logs in production, and the health of the services the platform depends on (``/sante/``).

The request id comes from the ``X-Request-ID`` header the reverse proxy may set (kept when it
looks like an id), else a new UUID. It lives in a context variable for the time of the request,
so that every log record emitted meanwhile, from any logger, carries it (``RequestIdFilter`` on
the handlers), and it is sent back as the response's ``X-Request-ID``: a user quoting it lets
support find the matching lines.
"""

import json
import logging
import re
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import connection

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
NO_REQUEST = "-"
_ACCEPTABLE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

request_id: ContextVar[str] = ContextVar("request_id", default=NO_REQUEST)


class RequestIdMiddleware:
    """Sets the request id (first middleware, so that every response carries it)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.headers.get(REQUEST_ID_HEADER, "")
        value = given if _ACCEPTABLE_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = value
        token = request_id.set(value)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response[REQUEST_ID_HEADER] = value
        return response


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record (``-`` outside a request: tasks, commands)."""

    def filter(self, record):
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


# Attributes every LogRecord has; anything else was passed through ``extra=`` and is kept.
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, request id, the
    ``extra`` fields and the traceback. Our own dozen lines rather than python-json-logger: the
    format is all we need and it is one dependency less to keep up to date."""

    def format(self, record):
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", NO_REQUEST),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


# --- Health ----------------------------------------------------------------------------------

OK = "ok"


def _check_database():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _check_cache():
    key = f"ami-sante-{uuid.uuid4().hex}"
    cache.set(key, OK, 10)
    if cache.get(key) != OK:
        raise RuntimeError("the cache did not give back what was written")
    cache.delete(key)


def _check_storage():
    """The private files' storage answers (the bucket: it exists, is reachable and accepts the
    keys): its top level listed, one request that writes nothing."""
    try:
        default_storage.listdir("")
    except FileNotFoundError:
        pass  # a local private folder not created yet: nothing was stored so far


def _check_broker():
    from ami.celery import app

    with app.connection_for_write(settings.CELERY_BROKER_URL) as broker:
        broker.ensure_connection(max_retries=0, timeout=settings.HEALTH_BROKER_TIMEOUT)


def health_report() -> dict[str, str]:
    """Each part the platform needs and its state: ``ok``, ``erreur`` or (the broker, when
    tasks run in-process) ``non configuré``. A failure is logged with its cause; the report
    itself names the part only (it is public)."""
    checks = {
        "base de données": _check_database,
        "cache": _check_cache,
        "stockage des fichiers": _check_storage,
    }
    if settings.CELERY_BROKER_URL and not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["file de tâches"] = _check_broker
    report = {}
    for name, check in checks.items():
        try:
            check()
        except Exception:
            logger.exception("Contrôle de santé en échec : %s", name)
            report[name] = "erreur"
        else:
            report[name] = OK
    if "file de tâches" not in report:
        report["file de tâches"] = "non configuré"
    return report
