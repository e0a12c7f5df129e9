"""Observability (ami.observability): the request id on responses and log records, JSON logs,
and the health endpoint /sante/."""

import json
import logging
from unittest import mock

import pytest
from django.db.utils import OperationalError
from django.urls import reverse

from ami.observability import JsonFormatter, RequestIdFilter

pytestmark = pytest.mark.django_db


class Collect(logging.Handler):
    """A handler with the request id filter, as the console handler of LOGGING has."""

    def __init__(self):
        super().__init__()
        self.records = []
        self.addFilter(RequestIdFilter())

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def collected():
    handler = Collect()
    logger = logging.getLogger("ami.observability")
    logger.addHandler(handler)
    yield handler.records
    logger.removeHandler(handler)


def test_health_answers_200_with_every_service(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "statut": "ok",
        "services": {
            "base de données": "ok",
            "cache": "ok",
            "stockage des fichiers": "ok",
            "file de tâches": "non configuré",
        },
    }
    assert "no-cache" in response["Cache-Control"]
    assert reverse("health") == "/sante/"


def test_health_answers_503_naming_the_database_when_it_is_down(client, collected):
    broken = mock.MagicMock()
    broken.cursor.side_effect = OperationalError("connection refused")
    with mock.patch("ami.observability.connection", broken):
        response = client.get(reverse("health"), headers={"X-Request-ID": "abc-123"})
    assert response.status_code == 503
    body = response.json()
    assert body["statut"] == "erreur"
    assert body["services"]["base de données"] == "erreur"
    assert body["services"]["cache"] == "ok"
    assert "connection refused" not in response.content.decode()  # causes go to the logs only
    [record] = collected
    assert record.levelno == logging.ERROR
    assert "base de données" in record.getMessage()
    assert record.request_id == "abc-123"


def test_health_answers_503_when_the_broker_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.HEALTH_BROKER_TIMEOUT = 1
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["services"]["file de tâches"] == "erreur"


def test_request_id_is_made_up_when_absent_and_returned(client):
    first = client.get(reverse("home"))["X-Request-ID"]
    second = client.get(reverse("home"))["X-Request-ID"]
    assert len(first) == 32 and first != second


def test_request_id_from_the_proxy_is_kept_when_it_looks_like_one(client):
    assert client.get("/", headers={"X-Request-ID": "req-42.a"})["X-Request-ID"] == "req-42.a"
    odd = client.get("/", headers={"X-Request-ID": "<script>"})["X-Request-ID"]
    assert odd != "<script>" and len(odd) == 32


def test_records_outside_a_request_get_a_dash():
    record = logging.makeLogRecord({"msg": "hello"})
    RequestIdFilter().filter(record)
    assert record.request_id == "-"


def test_json_formatter_writes_one_object_per_line():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "ami.test", logging.WARNING, __file__, 1, "Dépôt %s", ("refusé",), exc_info
    )
    record.request_id = "abc"
    record.signature = "Eicar"  # an ``extra=`` field
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "ami.test"
    assert entry["message"] == "Dépôt refusé"
    assert entry["request_id"] == "abc"
    assert entry["signature"] == "Eicar"
    assert entry["time"].endswith("+00:00")
    assert "ValueError: boom" in entry["exception"]


def test_health_answers_503_when_the_bucket_refuses(client, s3_bucket):
    assert client.get(reverse("health")).json()["services"]["stockage des fichiers"] == "ok"
    s3_bucket.client.delete_bucket(Bucket=s3_bucket.name)  # gone, or keys no longer accepted
    response = client.get(reverse("health"))
    assert response.status_code == 503
    assert response.json()["services"]["stockage des fichiers"] == "erreur"
