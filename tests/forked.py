"""Processes that start Django from nothing, cheaper: one helper process imports the libraries
that read no setting nor environment at import, then forks a child per run. The child takes the
run's environment and runs the code as ``python -c`` / ``python manage.py`` would (its own exit
status, stdout and stderr); Django itself and the project are imported by the child only. Spares
each run the seconds of importing those libraries (tests/test_deployment.py starts the production
settings a dozen times)."""

import json
import subprocess
import sys
from contextlib import contextmanager

FORK_SERVER = r"""
import importlib, json, os, runpy, sys, tempfile, traceback

for name in %r:
    try:
        importlib.import_module(name)
    except Exception:
        pass
protocol = os.fdopen(os.dup(1), "w")
for line in sys.stdin:
    case = json.loads(line)
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    pid = os.fork()
    if pid == 0:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        os.environ.clear()
        os.environ.update(case["env"])
        status = 0
        try:
            if case["code"] is not None:
                sys.argv = ["-c"]
                exec(compile(case["code"], "<string>", "exec"), {"__name__": "__main__"})
            else:
                sys.argv = case["argv"]
                runpy.run_path(case["argv"][0], run_name="__main__")
        except SystemExit as exit:
            if exit.code is None or isinstance(exit.code, int):
                status = exit.code or 0
            else:
                print(exit.code, file=sys.stderr)
                status = 1
        except BaseException:
            traceback.print_exc()
            status = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    _, wait_status = os.waitpid(pid, 0)
    out.seek(0)
    err.seek(0)
    result = {
        "returncode": os.waitstatus_to_exitcode(wait_status),
        "stdout": out.read().decode(),
        "stderr": err.read().decode(),
    }
    protocol.write(json.dumps(result) + "\n")
    protocol.flush()
"""
# Libraries imported by the settings, the apps and their views that read neither the settings
# nor the environment at import (a module that does fails here and is left to the child).
PRELOADED = (
    "pypdf", "pygments", "numpy", "openpyxl", "pydantic", "psycopg", "urllib3", "fido2",
    "jinja2", "botocore", "cryptography", "fontTools", "xlsxwriter", "PIL", "kombu",
)  # fmt: skip


@contextmanager
def fork_server(cwd, env):
    """``run(env, code=…)`` or ``run(env, argv=["manage.py", …])``: a CompletedProcess of a
    fresh child with that environment, its working directory ``cwd``. ``env``: the helper's
    own environment (no DJANGO_SETTINGS_MODULE, so that nothing configures Django in it)."""
    server = subprocess.Popen(
        [sys.executable, "-c", FORK_SERVER % (PRELOADED,)],
        cwd=cwd,
        env={name: value for name, value in env.items() if name != "DJANGO_SETTINGS_MODULE"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )

    def run(env, code=None, argv=None):
        server.stdin.write(json.dumps({"env": env, "code": code, "argv": argv}) + "\n")
        server.stdin.flush()
        result = json.loads(server.stdout.readline())
        return subprocess.CompletedProcess(argv or ["-c", code], **result)

    try:
        yield run
    finally:
        server.stdin.close()
        server.wait(timeout=60)
