"""The embedded PostgreSQL is started (and its database created) by one process at a time:
pytest-xdist's workers start together."""

import fcntl
import subprocess
import sys

from django.conf import settings

JOIN = (
    "import sys; from pathlib import Path; from ami.embedded_db import embedded_database_settings;"
    " embedded_database_settings(Path(sys.argv[1])); print('joined')"
)


def test_a_process_waits_for_the_lock_before_starting_or_joining_the_server(tmp_path):
    (tmp_path / ".local").mkdir()
    with open(tmp_path / ".local" / "embedded-db.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process is starting the server
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-c", JOIN, str(tmp_path)],
            cwd=settings.BASE_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            waiting = True
        else:
            waiting = False
        finally:
            process.kill()
            output = process.communicate()[0]
    assert waiting, output
    assert not (tmp_path / ".local" / "pgdata").exists()
