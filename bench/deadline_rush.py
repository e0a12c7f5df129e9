"""Deadline rush (issue 8): hundreds of applicants autosaving and submitting in the last minutes
before the call closes, against gunicorn with several workers, the real PostgreSQL and a real
Celery worker; then the same after the deadline, where everything must be refused.

Run: ``make load`` (or ``.venv/bin/python bench/deadline_rush.py --help`` for the options).

1. migrates the load-test database (``LOAD_DATABASE_URL``, default ``ami_load`` on the local
   PostgreSQL; created if missing) and seeds a call closing a few minutes ahead with
   ``--users`` + ``--late`` applicants, each with a complete draft (``bench/rush_seed.py``);
2. starts gunicorn (``ami.wsgi``, ``bench.load_settings``: production settings, DEBUG off) behind
   nginx with the repository's ``deploy/nginx.conf`` (production's topology: the clients' keep-alive
   connections end at nginx, which keeps a few to gunicorn; ``--proxy none`` connects Locust
   straight to gunicorn) and a Celery worker on Redis (the outbox emails leave after commit,
   outside the requests);
3. phase « rush »: Locust, headless, ``RushApplicant`` users (``bench/locustfile.py``) log in,
   autosave, submit before the deadline; then checks the database against what they were told;
4. waits for the deadline, phase « après la clôture »: ``LateApplicant`` users try to save and
   submit; every attempt must be refused and nothing may change;
5. prints, for each phase, requests per second, median and 95th percentile per request type,
   the errors and the checks; writes them to ``.local/load/results.json`` and ``results.md``.

Exit status 1 when a check finds something lost or accepted after the deadline.
"""

import argparse
import csv
import http.client
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORK = ROOT / ".local" / "load"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ami_load"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/11"
DEFAULT_CACHE_URL = "redis://127.0.0.1:6379/12"
QUEUE = "ami-load"
SHM = "/dev/shm"  # noqa: S108 - gunicorn's heartbeat files in memory, as in the Dockerfile
PASSWORD = "charge-cloture-ami-ptce"  # noqa: S105 - throwaway accounts of the load test


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=300, help="applicants of the rush")
    parser.add_argument("--late", type=int, default=30, help="applicants after the deadline")
    parser.add_argument("--spawn-rate", type=float, default=1.5, help="new users per second")
    parser.add_argument(
        "--run-time", type=int, default=270, help="longest rush, in seconds (Locust --run-time)"
    )
    parser.add_argument(
        "--margin", type=int, default=15, help="seconds between the end of the rush and closing"
    )
    parser.add_argument("--late-run-time", type=int, default=120)
    parser.add_argument("--autosaves-per-step", type=int, default=2)
    # Sync workers behind nginx (it buffers the clients, so a worker never waits on the network):
    # on this 2-core machine 3 × 1 gave the lowest latencies of 2 × 1, 3 × 1, 4 × 1, 3 × 2 and
    # 4 × 4 (docs/performance.md, « Rush à la clôture », session 6).
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument(
        "--proxy",
        choices=["nginx", "none"],
        default="nginx",
        help="nginx (deploy/nginx.conf) in front of gunicorn, as in production, or none",
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("LOAD_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument(
        "--broker-url", default=os.environ.get("LOAD_BROKER_URL", DEFAULT_BROKER_URL)
    )
    parser.add_argument("--cache-url", default=os.environ.get("LOAD_CACHE_URL", DEFAULT_CACHE_URL))
    return parser.parse_args(argv)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_environment(args, port) -> dict:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DJANGO_SETTINGS_MODULE": "bench.load_settings",
        "DATABASE_URL": args.database_url,
        "CELERY_BROKER_URL": args.broker_url,
        "CACHE_URL": args.cache_url,
        "CELERY_QUEUE": QUEUE,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port}",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "PRIVATE_MEDIA_ROOT": str(WORK / "private"),
        "OUTBOX_RATE_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
        # Proxies in front of Django: the Locust users' X-Forwarded-For stands for the TLS
        # proxy's, and nginx adds its own entry (bench/load_settings.py).
        "ALLAUTH_TRUSTED_PROXY_COUNT": "2" if args.proxy == "nginx" else "1",
    }


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        exists = connection.execute("select 1 from pg_database where datname = %s", [name])
        if exists.fetchone() is None:
            connection.execute(f'create database "{name}"')


def start(command, log_name, env) -> subprocess.Popen:
    """Start a server in its own session: the kernel's autogroup scheduling then shares the CPU
    between it and Locust as between two machines' worth of processes, instead of one group."""
    log = (WORK / log_name).open("w")
    # Our own executables and arguments, never user input.
    return subprocess.Popen(  # noqa: S603
        command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def stop(process: subprocess.Popen | None) -> None:
    """End a process this script started (by its own handle), politely first."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def cpu_seconds(pid: int, *, children: bool) -> float:
    """User + system CPU time of a process (or of its direct children: gunicorn's workers), read
    from /proc: on a machine shared with other work, the server's own cost per request."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    if children:
        try:
            pids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        except OSError:
            return 0.0
    total = 0.0
    for each in pids:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine since boot, every core, from /proc/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / tick, sum(fields[:8]) / tick


def children_cpu() -> float:
    """User + system CPU of this process's children that have ended (Locust, once it exits)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def start_nginx(upstream_port: int, port: int, env) -> subprocess.Popen:
    """nginx on ``port`` in front of gunicorn, with production's site configuration; enough
    connections for every simulated user (each keeps one open, as a browser does)."""
    from tests import nginx

    binary = nginx.find_binary()
    if binary is None:
        sys.exit("nginx est absent (apt-get install nginx) ; ou bien --proxy none")
    home = WORK / "nginx"
    if home.exists():
        shutil.rmtree(home)
    main = nginx.main_conf(home, f"127.0.0.1:{upstream_port}", port, worker_connections=4096)
    return start([binary, "-c", str(main), "-e", str(home / "error.log")], "nginx.log", env)


def wait_until_serving(port: int, process, timeout=90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{Path(process.args[0]).name} s'est arrêté : voir les journaux dans {WORK}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/compte/login/", headers={"Host": "127.0.0.1"})
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    sys.exit("gunicorn ne répond pas")


def run_locust(args, phase, user_class, users, run_time, port, env, servers) -> dict:
    records = WORK / f"{phase}-records.jsonl"
    records.write_text("")
    command = [
        str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
        "--host", f"http://127.0.0.1:{port}", "--users", str(users),
        "--spawn-rate", str(args.spawn_rate), "--run-time", f"{run_time}s",
        "--stop-timeout", "10", "--csv", str(WORK / phase), "--only-summary",
        "--loglevel", "WARNING", user_class,
    ]  # fmt: skip
    locust_env = {
        **env,
        "RUSH_CREDENTIALS": str(WORK / "applicants.csv"),
        "RUSH_RECORDS": str(records),
        "RUSH_AUTOSAVES_PER_STEP": str(args.autosaves_per_step),
    }
    started = time.monotonic()
    cpu_before = [cpu_seconds(p.pid, children=c) if p else 0.0 for p, c in servers]
    locust_before, machine_before = children_cpu(), machine_cpu()
    with (WORK / f"locust-{phase}.log").open("w") as log:
        subprocess.run(  # noqa: S603 - our own command line
            command, cwd=ROOT, env=locust_env, stdout=log, stderr=subprocess.STDOUT
        )
    elapsed = time.monotonic() - started
    locust_cpu = children_cpu() - locust_before
    machine_busy = machine_cpu()[0] - machine_before[0]
    cpu = [
        (cpu_seconds(p.pid, children=c) if p else 0.0) - b
        for (p, c), b in zip(servers, cpu_before, strict=True)
    ]
    lines = [json.loads(line) for line in records.read_text().splitlines() if line.strip()]
    return {
        "stats": read_stats(WORK / f"{phase}_stats.csv"),
        "records": lines,
        "wall": elapsed,
        "web_cpu": cpu[0],
        "worker_cpu": cpu[1],
        "proxy_cpu": cpu[2],
        "locust_cpu": locust_cpu,
        "machine_cpu": machine_busy,
        "load": os.getloadavg()[0],
    }


def read_stats(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as stats:
        for row in csv.DictReader(stats):
            rows.append(
                {
                    "name": row["Name"] if row["Name"] != "Aggregated" else "total",
                    "method": row["Type"],
                    "requests": int(row["Request Count"]),
                    "failures": int(row["Failure Count"]),
                    "rps": float(row["Requests/s"]),
                    "median": float(row["50%"] if row["50%"] != "N/A" else 0),
                    "p95": float(row["95%"] if row["95%"] != "N/A" else 0),
                    "max": float(row["Max Response Time"] or 0),
                }
            )
    return rows


def read_failures(phase: str) -> list[str]:
    path = WORK / f"{phase}_failures.csv"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as failures:
        return [
            f"{row['Occurrences']} × {row['Method']} {row['Name']} : {row['Error']}"
            for row in csv.DictReader(failures)
        ]


def stats_table(stats: list[dict]) -> list[str]:
    lines = [
        "| requête | nombre | erreurs | req/s | médiane ms | p95 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in sorted(stats, key=lambda r: (r["name"] == "total", r["name"])):
        name = "**total**" if row["name"] == "total" else f"{row['method']} {row['name']}"
        lines.append(
            f"| {name} | {row['requests']} | {row['failures']} | {row['rps']:.1f} | "
            f"{row['median']:.0f} | {row['p95']:.0f} | {row['max']:.0f} |"
        )
    return lines


def cost_lines(phase: dict) -> list[str]:
    total = next((r for r in phase["stats"] if r["name"] == "total"), None)
    requests = total["requests"] if total else 0
    per_request = phase["web_cpu"] * 1000 / requests if requests else 0
    others = (
        phase["machine_cpu"]
        - phase["web_cpu"]
        - phase["worker_cpu"]
        - phase["proxy_cpu"]
        - phase["locust_cpu"]
    )
    cores = os.cpu_count() or 1
    return [
        f"- CPU du serveur web (workers gunicorn) : {phase['web_cpu']:.1f} s pour {requests} "
        f"requêtes, soit {per_request:.0f} ms par requête en moyenne ; worker Celery : "
        f"{phase['worker_cpu']:.1f} s ; nginx : {phase['proxy_cpu']:.1f} s ; "
        f"charge moyenne de la machine en fin de phase : "
        f"{phase['load']:.1f}",
        f"- CPU de toute la machine pendant la phase : {phase['machine_cpu']:.1f} s en "
        f"{phase['wall']:.0f} s, soit {phase['machine_cpu'] / phase['wall'] / cores:.0%} de ses "
        f"{cores} cœurs ; dont Locust (le générateur de charge) {phase['locust_cpu']:.1f} s, "
        f"PostgreSQL, Redis et le reste {others:.1f} s",
    ]


def check_lines(check) -> list[str]:
    lines = [f"- {name} : {value}" for name, value in check.counts.items()]
    from ami.formats import plural  # ROOT is on sys.path once main() has started

    verdict = "OK" if check.ok else plural(len(check.problems), "ÉCART", "ÉCARTS")
    lines.append(f"- vérification : {verdict}")
    lines += [f"  - {problem}" for problem in check.problems[:20]]
    return lines


def journey_errors(records) -> list[str]:
    failed = [r for r in records if r.get("kind") == "journey" and r["outcome"] == "failed"]
    return [f"candidature {r['candidature']} : {r['error']}" for r in failed[:10]]


def wait_for_outbox(call, expected: int, timeout=90) -> dict:
    from bench.rush_seed import outbox_states

    deadline = time.monotonic() + timeout
    states = outbox_states(call)
    while time.monotonic() < deadline and states.get("sent", 0) < expected:
        time.sleep(2)
        states = outbox_states(call)
    return states


def _terminate(signum, frame):
    raise SystemExit(f"signal {signum}")  # so that the servers are stopped on the way out


def main(argv=None):
    signal.signal(signal.SIGTERM, _terminate)
    args = parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    port = free_port()
    env = server_environment(args, port)
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    sys.path.insert(0, str(ROOT))

    print(f"Base : {args.database_url} — migrations…", flush=True)
    ensure_database(args.database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env,
        check=True,
    )  # fmt: skip

    import django

    django.setup()
    from django.db import connection, connections
    from django.utils import timezone

    from ami.celery import app as celery_app
    from bench import rush_seed

    load_before = os.getloadavg()
    closes_in = timedelta(seconds=20 + args.run_time + args.margin)
    seeded = time.monotonic()
    seed = rush_seed.seed_rush(
        applicants=args.users, late=args.late, closes_in=closes_in, password=PASSWORD
    )
    rush_seed.write_credentials(seed, WORK / "applicants.csv", PASSWORD)
    problems = rush_seed.check_seed(seed)
    if problems:
        sys.exit("Données de départ incomplètes : " + " ; ".join(problems[:5]))
    call = seed.call
    paris_close = timezone.localtime(call.closes_at)
    print(
        f"Appel « {call.name} » : {args.users} + {args.late} candidatures complètes en "
        f"{time.monotonic() - seeded:.1f} s, clôture à {paris_close:%H:%M:%S} (heure de Paris)",
        flush=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("show server_version")
        postgres_version = cursor.fetchone()[0]
    connections.close_all()
    celery_app.control.purge()

    gunicorn = worker = proxy = None
    upstream_port = free_port() if args.proxy == "nginx" else port
    try:
        worker = start(
            [
                str(BIN / "celery"), "-A", "ami", "worker", "--pool", "solo", "-Q", QUEUE,
                "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
                "-n", f"ami-load-{os.getpid()}@%h",
            ],
            "celery.log",
            env,
        )  # fmt: skip
        # Keep-alive as long as a TLS proxy's (75 s): with gunicorn's 2 s, connections close
        # during a user's pause and a request sent as one closes fails; a browser would retry
        # it, Locust does not.
        gunicorn = start(
            [
                str(BIN / "gunicorn"), "ami.wsgi:application",
                "--bind", f"127.0.0.1:{upstream_port}",
                "--workers", str(args.workers), "--threads", str(args.threads),
                "--timeout", "60", "--worker-tmp-dir", SHM, "--keep-alive", "75",
            ],
            "gunicorn.log",
            env,
        )  # fmt: skip
        wait_until_serving(upstream_port, gunicorn)
        if args.proxy == "nginx":
            proxy = start_nginx(upstream_port, port, env)
            wait_until_serving(port, proxy)
        left = (call.closes_at - timezone.now()).total_seconds()
        rush_time = int(min(args.run_time, left - args.margin))
        print(
            f"Phase « rush » : {args.users} utilisateurs, {args.spawn_rate}/s, au plus "
            f"{rush_time} s (clôture dans {left:.0f} s)…",
            flush=True,
        )
        servers = [(gunicorn, True), (worker, False), (proxy, False)]
        rush = run_locust(args, "rush", "RushApplicant", args.users, rush_time, port, env, servers)
        rush_check = rush_seed.check_rush(call, rush["records"])
        submitted = rush_check.counts["submitted_in_database"]
        outbox = wait_for_outbox(call, submitted)
        rush_check.counts["receipt_emails_sent"] = outbox.get("sent", 0)
        if outbox.get("sent", 0) < submitted:
            rush_check.problem(f"courriels d'accusé de réception : {outbox}")
        connections.close_all()

        wait = (call.closes_at - timezone.now()).total_seconds() + 1
        if wait > 0:
            print(f"Attente de la clôture ({wait:.0f} s)…", flush=True)
            time.sleep(wait)
        print(f"Phase « après la clôture » : {args.late} utilisateurs…", flush=True)
        late = run_locust(
            args, "late", "LateApplicant", args.late, args.late_run_time, port, env, servers
        )
        late_ids = [a.candidature_id for a in seed.applicants if a.kind == rush_seed.LATE]
        late_check = rush_seed.check_late(call, late_ids, late["records"])
    finally:
        stop(proxy)
        stop(gunicorn)
        stop(worker)

    given = sys.argv[1:] if argv is None else argv
    context = {
        "machine": f"{os.cpu_count()} cœurs, {platform.python_implementation()} "
        f"{platform.python_version()}, PostgreSQL {postgres_version}, charge moyenne avant "
        f"{load_before[0]:.1f}",
        "command": "make load" + (f' LOAD_ARGS="{" ".join(given)}"' if given else ""),
        "gunicorn": f"{args.workers} workers × {args.threads} threads"
        + (" derrière nginx (deploy/nginx.conf)" if args.proxy == "nginx" else ", sans proxy"),
    }
    report = [
        "## Rush à la clôture",
        "",
        f"{context['machine']} ; gunicorn {context['gunicorn']}, 1 worker Celery ; "
        f"commande : `{context['command']}`",
        "",
        f"### Avant la clôture : {args.users} candidats, {args.spawn_rate}/s, {rush['wall']:.0f} s",
        "",
        *stats_table(rush["stats"]),
        "",
        *cost_lines(rush),
        *check_lines(rush_check),
        *[f"- erreur : {line}" for line in read_failures("rush")[:10]],
        *[f"- parcours interrompu : {line}" for line in journey_errors(rush["records"])],
        "",
        f"### Après la clôture : {args.late} candidats, {late['wall']:.0f} s",
        "",
        *stats_table(late["stats"]),
        "",
        *cost_lines(late),
        *check_lines(late_check),
        *[f"- erreur : {line}" for line in read_failures("late")[:10]],
        *[f"- parcours interrompu : {line}" for line in journey_errors(late["records"])],
        "",
        f"Durée totale : {time.monotonic() - began:.0f} s",
    ]
    text = "\n".join(report)
    print("\n" + text)
    (WORK / "results.md").write_text(text + "\n", encoding="utf-8")
    (WORK / "results.json").write_text(
        json.dumps(
            {
                **context,
                "rush": {**{k: v for k, v in rush.items() if k != "records"},
                         "checks": rush_check.counts, "problems": rush_check.problems},
                "late": {**{k: v for k, v in late.items() if k != "records"},
                         "checks": late_check.counts, "problems": late_check.problems},
            },
            indent=2,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )  # fmt: skip
    return 0 if rush_check.ok and late_check.ok else 1


if __name__ == "__main__":
    sys.exit(main())
