"""CPU and queries per request of the deadline rush, in process (issue 18, item 5).

The Locust run (``make load``) measures latencies under load, on a machine it saturates; this
script measures what each request costs the web worker, one request at a time: it runs the very
journey Locust runs (``bench/applicant_journey.py``: login page and POST, « mon espace », each step
page, two htmx autosaves and « Enregistrer et continuer » per step, summary, submission, receipt)
with Django's test client (CSRF checks on) against the production settings of the load test
(``bench.load_settings``: DEBUG off, cached template loaders, the Redis cache, PostgreSQL), and
prints, per request kind, the median ``time.process_time()`` (CPU of this process: Python and the
database driver, not PostgreSQL's own work), the median wall time and the number of queries.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ami_load_rush \\
        .venv/bin/python bench/request_cpu.py [--applicants 12] [--profile "étape (page)"]

It seeds its own rush call (``bench/rush_seed.py``: removes the previous rush data of that
database), migrates first; never point it at a database you care about. ``--profile KIND`` prints
cProfile's top functions over every request of that kind (``--profile all``: of every request).
"""

import argparse
import cProfile
import os
import pstats
import secrets
import statistics
import sys
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULTS = {
    "DJANGO_SETTINGS_MODULE": "bench.load_settings",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/ami_load_rush",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11",
    "CACHE_URL": "redis://127.0.0.1:6379/13",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "testserver",
    "CSRF_TRUSTED_ORIGINS": "http://testserver",
    "SITE_URL": "http://testserver",
    "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    "PRIVATE_MEDIA_ROOT": str(ROOT / ".local" / "request_cpu" / "private"),
    "OUTBOX_RATE_PER_MINUTE": "0",
    "LOG_LEVEL": "WARNING",
}
PASSWORD = "mot-de-passe-du-banc-cpu"  # noqa: S105 - synthetic accounts


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--applicants", type=int, default=12, help="journeys (one each)")
    parser.add_argument("--warm-up", type=int, default=2, help="journeys not counted")
    parser.add_argument("--profile", default="", help="request kind to profile (cProfile), or all")
    parser.add_argument("--top", type=int, default=30, help="cProfile rows")
    parser.add_argument("--sql", default="", help="request kind whose last queries are printed")
    parser.add_argument("--no-migrate", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    for name, value in DEFAULTS.items():
        os.environ.setdefault(name, value)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from bench import rush_seed
    from bench.applicant_journey import Applicant, Browser, JourneyError, Response

    assert not settings.DEBUG
    if not args.no_migrate:
        call_command("migrate", "--noinput", verbosity=0)
    seed = rush_seed.seed_rush(
        applicants=args.applicants + args.warm_up,
        closes_in=timedelta(hours=2),
        password=PASSWORD,
    )
    samples = defaultdict(list)  # kind → [(cpu ms, wall ms, queries)]
    # CPU time, not wall time: waiting for PostgreSQL is not the web worker's CPU.
    profiler = cProfile.Profile(time.process_time) if args.profile else None
    last_sql = []

    class Counter:
        def __init__(self):
            self.count = 0
            self.sql = []

        def __call__(self, execute, sql, params, many, context):
            self.count += 1
            self.sql.append(sql)
            return execute(sql, params, many, context)

    class TimedBrowser(Browser):
        base_url = "http://testserver"

        def __init__(self, counted, number):
            self.client = Client(enforce_csrf_checks=True)
            self.counted = counted
            # Each user its own address behind the proxy, as in the Locust run (allauth limits
            # logins per address).
            self.headers = {
                "X-Forwarded-For": f"10.{number // 62500}.{number // 250 % 250}.{number % 250 + 1}"
            }

        def send(self, method, path, *, name, data=None, headers=None, expect=None):
            headers = dict(headers or {})
            content_type = headers.pop("Content-Type", None)
            counter = Counter()
            profiling = profiler is not None and self.counted and args.profile in (name, "all")
            with connection.execute_wrapper(counter):
                if profiling:
                    profiler.enable()
                wall, cpu = time.perf_counter(), time.process_time()
                if method == "GET":
                    raw = self.client.get(path, headers=headers)
                else:
                    raw = self.client.post(
                        path, data=data, content_type=content_type, headers=headers
                    )
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                if profiling:
                    profiler.disable()
            if self.counted and name == args.sql:
                last_sql[:] = counter.sql
            if self.counted:
                samples[name].append((cpu * 1000, wall * 1000, counter.count))
            response = Response(
                raw.status_code, raw.content.decode(), raw.headers.get("Location", "")
            )
            error = expect(response) if expect else None
            if error:
                raise JourneyError(f"{name} : {error}")
            return response

    for index, applicant in enumerate(seed.applicants):
        pk = applicant.candidature_id
        paths = {
            "login_path": reverse("account_login"),
            "first_step_path": reverse("candidature_step", args=[pk, "presentation"]),
            "recap_path": reverse("candidature_step", args=[pk, "recapitulatif"]),
            "autosave_path": reverse("candidature_autosave", args=[pk, "presentation"]),
            "submit_path": reverse("candidature_submit", args=[pk]),
        }
        browser = TimedBrowser(counted=index >= args.warm_up, number=index)
        Applicant(
            browser,
            lambda record: None,
            email=applicant.email,
            password=PASSWORD,
            candidature=pk,
            paths=paths,
        ).rush()

    print(f"{args.applicants} journeys ({args.warm_up} more for warm-up), medians per request:")
    print()
    print("| request | count | CPU ms | wall ms | queries |")
    print("|---|---:|---:|---:|---:|")
    total_cpu = total_count = 0
    for name, rows in samples.items():
        cpu = statistics.median(r[0] for r in rows)
        wall = statistics.median(r[1] for r in rows)
        queries = statistics.median(r[2] for r in rows)
        total_cpu += sum(r[0] for r in rows)
        total_count += len(rows)
        print(f"| {name} | {len(rows)} | {cpu:.1f} | {wall:.1f} | {queries:g} |")
    print(f"| **all (mean)** | {total_count} | {total_cpu / total_count:.1f} | | |")
    if last_sql:
        print()
        print(f"Queries of the last « {args.sql} »:")
        for sql in last_sql:
            print(" ", sql[:300])
    if profiler is not None:
        print()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
        own = f"^{ROOT}/(?!\\.venv)"  # the project's own functions
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(own, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
