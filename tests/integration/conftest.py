"""Real external processes: a Celery worker on Redis."""

import os
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlparse

import pytest
from django.conf import settings
from django.db import connection

BASE_DIR = Path(settings.BASE_DIR)


def _reachable(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=2):
            return True
    except OSError:
        return False


def redis_url_or_skip() -> str:
    """The broker's URL; skips the test when Redis is unreachable (fails it under ``CI=true``).
    Also called by the browser test of a whole edition, outside this folder."""
    url = os.environ.get("CELERY_BROKER_URL") or "redis://127.0.0.1:6379/0"
    if not _reachable(url):
        message = f"Redis injoignable à {url} : lancez redis-server ou définissez CELERY_BROKER_URL"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return url


@pytest.fixture
def redis_url():
    return redis_url_or_skip()


def database_url_of_test_db() -> str:
    """The URL of the database the test is using, for a child process."""
    db = connection.settings_dict
    host = db["HOST"] or "localhost"
    host = quote(host, safe="") if host.startswith("/") else host
    port = f":{db['PORT']}" if db["PORT"] else ""
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{host}{port}/{db['NAME']}"


def _reset_producers(app):
    """Drop the Celery app's cached routing (default queue) and broker connections so that a
    configuration change takes effect in this process."""
    from kombu import pools

    pools.reset()  # kombu's global producer and connection pools, keyed by connection
    app._pool = None
    app.__dict__.pop("amqp", None)


@contextmanager
def running_worker(redis_url, log_path, env, *worker_args):
    """Run ``celery -A ami worker`` on a queue of its own, pointed at the test database, with
    ``env`` added to the environment; meanwhile the test process's Celery app sends to it
    instead of running tasks eagerly. Yields an object with ``process``, ``queue`` and
    ``read_log()``."""
    import redis

    from ami.celery import app

    queue = f"test-{uuid.uuid4().hex[:10]}"
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "ami.settings.dev",
        "DATABASE_URL": database_url_of_test_db(),
        "CELERY_BROKER_URL": redis_url,
        "CELERY_QUEUE": queue,
        **env,
    }
    log = open(log_path, "w+")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "celery", "-A", "ami", "worker", *worker_args,
               "--without-gossip", "--without-mingle", "--without-heartbeat",
               "-Q", queue, "-n", f"{queue}@%h", "--loglevel", "INFO"]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=BASE_DIR, env=full_env, stdout=log, stderr=subprocess.STDOUT
    )
    keys = ("task_always_eager", "broker_url", "task_default_queue")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(task_always_eager=False, broker_url=redis_url, task_default_queue=queue)
    _reset_producers(app)

    def read_log():
        log.seek(0)
        return log.read()

    worker = SimpleNamespace(process=process, queue=queue, read_log=read_log)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in read_log():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Le worker Celery n'a pas démarré :\n" + read_log())
            time.sleep(0.2)
        yield worker
    finally:
        app.conf.update(saved)
        _reset_producers(app)
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        client = redis.Redis.from_url(redis_url)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()


@pytest.fixture
def celery_worker_process(transactional_db, redis_url, tmp_path):
    """A solo worker whose emails go to files in ``email_dir``."""
    email_dir = tmp_path / "emails"
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(email_dir),
    }
    with running_worker(redis_url, tmp_path / "worker.log", env, "--pool", "solo") as worker:
        worker.email_dir = email_dir
        yield worker
