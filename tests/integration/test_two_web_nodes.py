"""Stateless web nodes (issue 18): two gunicorn instances, as on two machines (each its own
temporary folder, nothing shared but PostgreSQL, Redis and the S3 bucket), behind nginx with the
repository's deploy/nginx.conf balancing between them. A session opened on one node works on
the other; a document uploaded through one is downloaded through the other; the failed-login
limit counts the attempts of both nodes together."""

import os
import re
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from django.urls import reverse

from candidatures.models import Document
from tests import factories as f
from tests import nginx
from tests.integration.conftest import database_url_of_test_db, redis_url_or_skip
from tests.s3 import new_bucket
from tests.test_deployment import free_port, nginx_binary

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BASE_DIR = Path(__file__).resolve().parent.parent.parent
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"
PASSWORD = "un mot de passe assez long"
TOO_MANY = "Trop de tentatives de connexion échouées"


def wait_until_up(port, process, log_path, path="/"):
    import requests

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(f"http://127.0.0.1:{port}{path}", timeout=30).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"127.0.0.1:{port} n'a pas démarré :\n" + Path(log_path).read_text()[-5000:])


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def web_node(name, tmp_path, env):
    """One gunicorn, as a machine of its own: its own temporary and private folders."""
    home = tmp_path / name
    (home / "tmp").mkdir(parents=True)
    port = free_port()
    log_path = home / "gunicorn.log"
    access_log = home / "access.log"
    node_env = {
        **os.environ,
        **env,
        "TMPDIR": str(home / "tmp"),
        "PRIVATE_MEDIA_ROOT": str(home / "private"),  # unused (the bucket); never shared
    }
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "ami.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "2",
                "--access-logfile",
                str(access_log),
                "--access-logformat",
                "%(m)s %(U)s %(s)s",
            ],  # fmt: skip
            cwd=BASE_DIR,
            env=node_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_up(port, process, log_path)
        yield port, access_log
    finally:
        stop(process)


@contextmanager
def balancer(tmp_path, ports):
    binary = nginx_binary()
    home = tmp_path / "nginx"
    home.mkdir()
    port = free_port()
    main = nginx.main_conf(home, [f"127.0.0.1:{p}" for p in ports], port)
    process = subprocess.Popen(
        [binary, "-c", str(main), "-e", str(home / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(port, process, home / "error.log", path="/healthz")
        yield port
    finally:
        stop(process)


def requests_of(access_log, method, path, at_least=0) -> int:
    """How many ``method path`` requests a node's access log shows, waiting a little for
    ``at_least`` (gunicorn writes the line once the response is sent)."""
    deadline = time.monotonic() + 5
    while True:
        lines = Path(access_log).read_text().splitlines() if Path(access_log).exists() else []
        count = sum(1 for line in lines if line.startswith(f"{method} {path} "))
        if count >= at_least or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def csrf_token(session, url) -> str:
    """The form's token of ``url`` (and the CSRF cookie, kept by the session)."""
    html = session.get(url, timeout=30).text
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def log_in(session, base, email, password, token=None):
    url = base + reverse("account_login")
    token = token or csrf_token(session, url)
    return session.post(
        url,
        data={"login": email, "password": password, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )


@pytest.fixture
def cluster(transactional_db, s3_endpoint, tmp_path):
    """Two web nodes and nginx in front; yields their base URLs, access logs, the bucket and
    the Redis key prefix of the shared cache."""
    redis_url = redis_url_or_skip()
    nginx_binary()
    bucket = new_bucket(s3_endpoint)
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    env = {
        "DJANGO_SETTINGS_MODULE": "ami.settings.dev",
        "DATABASE_URL": database_url_of_test_db(),
        "CACHE_URL": redis_url,
        "CACHE_KEY_PREFIX": prefix,
        "AMI_ANTIVIRUS_ENABLED": "false",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        **bucket.env,
    }
    env.pop("CELERY_BROKER_URL", None)
    with ExitStack() as stack:
        a_port, a_log = stack.enter_context(web_node("noeud-a", tmp_path, env))
        b_port, b_log = stack.enter_context(web_node("noeud-b", tmp_path, env))
        proxy_port = stack.enter_context(balancer(tmp_path, [a_port, b_port]))
        yield {
            "a": f"http://127.0.0.1:{a_port}",
            "b": f"http://127.0.0.1:{b_port}",
            "proxy": f"http://127.0.0.1:{proxy_port}",
            "logs": {"a": a_log, "b": b_log},
            "bucket": bucket,
            "redis_url": redis_url,
            "prefix": prefix,
        }
    import redis

    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


def applicant_with_a_draft(settings):
    """An applicant (password hashed with a hasher the nodes know) and a draft candidature
    asking for one PDF."""
    settings.PASSWORD_HASHERS = ["accounts.hashers.Argon2idPasswordHasher"]
    user = f.UserFactory()
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    candidature = f.CandidatureFactory(ptce=f.PtceMembershipFactory(user=user).ptce)
    statuts = f.DocumentTypeFactory(call=candidature.call, label="Statuts", allowed_formats=["pdf"])
    return user, candidature, statuts


def test_two_web_nodes_behind_nginx_share_sessions_files_and_rate_limits(cluster, settings):
    import requests

    user, candidature, statuts = applicant_with_a_draft(settings)
    a, b, proxy, logs = cluster["a"], cluster["b"], cluster["proxy"], cluster["logs"]
    browser = requests.Session()

    # Logged in through node A…
    response = log_in(browser, a, user.email, PASSWORD)
    assert response.status_code == 302, response.text[-2000:]
    assert requests_of(logs["a"], "POST", reverse("account_login"), at_least=1) == 1

    # …the document is uploaded through node B with the same session…
    pieces = reverse("candidature_step", args=[candidature.pk, "pieces"])
    token = csrf_token(browser, b + pieces)
    upload = reverse("document_upload", args=[candidature.pk, statuts.pk])
    response = browser.post(
        b + upload,
        data={"csrfmiddlewaretoken": token},
        files={"file": ("Statuts 2025.pdf", PDF, "application/pdf")},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(pieces)
    assert requests_of(logs["b"], "POST", upload, at_least=1) == 1
    assert requests_of(logs["a"], "POST", upload) == 0
    document = Document.objects.get(candidature=candidature)
    assert cluster["bucket"].keys() == [document.file.name]

    # …and downloaded through node A, then through nginx (either node), never by someone else.
    download = reverse("document_download", args=[candidature.pk, document.pk])
    for base in (a, proxy, proxy):
        response = browser.get(base + download, timeout=30)
        assert response.status_code == 200
        assert response.content == PDF
        assert response.headers["Cache-Control"] == "private, no-store"
    assert requests_of(logs["a"], "GET", download, at_least=2) >= 2
    assert requests_of(logs["b"], "GET", download, at_least=1) >= 1  # one of nginx's two
    stranger = requests.Session()
    other = f.UserFactory()
    other.set_password(PASSWORD)
    other.save(update_fields=["password"])
    assert log_in(stranger, b, other.email, PASSWORD).status_code == 302
    assert stranger.get(a + download, timeout=30).status_code == 404

    # Five failed logins of one account through nginx, spread over both nodes…
    target = f.UserFactory()
    target.set_password(PASSWORD)
    target.save(update_fields=["password"])
    attacker = requests.Session()
    login_path = reverse("account_login")
    before = {node: requests_of(logs[node], "POST", login_path) for node in ("a", "b")}
    token = csrf_token(attacker, proxy + login_path)  # one page, then nginx alternates POSTs
    for _ in range(5):
        response = log_in(attacker, proxy, target.email, "pas le bon mot de passe", token)
        assert response.status_code == 200
    deadline = time.monotonic() + 5
    while True:  # gunicorn writes each line once the response is sent
        spread = {node: requests_of(logs[node], "POST", login_path) - before[node] for node in logs}
        if sum(spread.values()) >= 5 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sum(spread.values()) == 5
    assert all(1 <= count < 5 for count in spread.values()), spread
    # …so neither node saw five, yet both now refuse even the right password: the counter is
    # shared. (Through nginx, as the clients' Host is part of allauth's key.)
    for _ in range(2):
        response = log_in(attacker, proxy, target.email, PASSWORD, token)
        assert response.status_code == 200, "logged in despite the limit"
        assert TOO_MANY in response.text
    deadline = time.monotonic() + 5
    while True:
        refused = {
            node: requests_of(logs[node], "POST", login_path) - before[node] - spread[node]
            for node in logs
        }
        if sum(refused.values()) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert refused == {"a": 1, "b": 1}
    # The counters are in Redis, under the nodes' key prefix.
    import redis

    client = redis.Redis.from_url(cluster["redis_url"])
    assert list(client.scan_iter(f"{cluster['prefix']}:*"))
    client.close()
