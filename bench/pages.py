"""Server time and SQL queries of the main pages at national scale, on the bench call of
``manage.py seed_bench`` (10 000 candidatures by default).

Run: make bench   (seeds the bench call first if it is missing)
  or .venv/bin/python bench/pages.py [--call-slug SLUG] [--runs N]

For each page: the median of N runs (10 by default; 3 for the XLSX export and the selection
assistant, which take seconds) after a warm-up, the mean CPU time of a run (Django's process and
its PostgreSQL backend: the figure to compare on a shared machine) and the SQL query count of
one more run; then
whether the page meets its budget: at most 25 queries, list pages under 150 ms median (the
national dashboard under 100 ms, issue 18), the national export of every row under 10 s. Server
side only (Django test client, ``DEBUG=False``). The scenarios the assistant creates are deleted
at the end.

The national dashboard keeps its figures and the order of its rows in the cache
(``evaluation.national_cache``): the runs after the warm-up read them from there, as every
request does until something changes. The line « first request after a change » forgets them
before each run (``national_cache.changed``), as an opinion saved or a region handed over does.

``--only TEXT`` measures only the pages whose name contains TEXT (e.g. « national dashboard »).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ami.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # no per-query bookkeeping in the timings

from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from accounts.models import NationalRole, RegionalCell, RegionalRole, User  # noqa: E402
from candidatures.models import Candidature  # noqa: E402
from evaluation import national_cache  # noqa: E402
from evaluation.models import Assignment, SelectionScenario  # noqa: E402
from wiring.demo.bench import BENCH_SLUG, bench_call  # noqa: E402

MAX_QUERIES = 25
LIST_MS = 150
DOSSIER_MS = 100
NATIONAL_MS = 100  # the national dashboard, issue 18
EXPORT_MS = 10_000
SLOW_RUNS = 3


def measure(request, runs):
    """``request()`` returns a response; (median ms, query count, last response, CPU ms). The
    CPU time is the mean per request of this process (Django) and of its PostgreSQL backend
    (read from ``/proc``, same machine; None elsewhere): unlike the wall time, it hardly depends
    on what else runs on the machine."""
    request()  # warm-up
    timings = []
    cpu_before = _cpu_seconds()
    for _ in range(runs):
        start = time.perf_counter()
        response = request()
        timings.append((time.perf_counter() - start) * 1000)
    cpu_after = _cpu_seconds()
    cpu = None
    if cpu_before is not None and cpu_after is not None:
        cpu = (cpu_after - cpu_before) * 1000 / runs
    with CaptureQueriesContext(connection) as queries:
        response = request()
    return statistics.median(timings), len(queries.captured_queries), response, cpu


def _cpu_seconds():
    """CPU seconds used so far by this process and by its database connection's backend."""
    own = time.process_time()
    connection.ensure_connection()
    pid = getattr(connection.connection.info, "backend_pid", None)
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime, fields 14 and 15 of proc(5), in clock ticks.
    return own + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def client_for(user):
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def get(client, url, params=None, status=200):
    def request():
        response = client.get(url, params or {})
        assert response.status_code == status, (url, response.status_code)
        return response

    return request


def people(call):
    """The bench's actors: a CNA member, the coordinator of the biggest region, its most
    loaded evaluator and an applicant."""
    biggest = (
        Candidature.objects.filter(call=call)
        .values("region_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "region_id")
        .first()
    )
    cell = RegionalCell.objects.get(call=call, region_id=biggest["region_id"])
    coordinator = User.objects.filter(
        regional_memberships__cell=cell, regional_memberships__role=RegionalRole.COORDINATOR
    ).order_by("email")[0]
    busiest = (
        Assignment.objects.filter(candidature__call=call, candidature__region=cell.region_id)
        .values("evaluator")
        .annotate(n=Count("pk"))
        .order_by("-n", "evaluator")
        .first()
    )
    member = User.objects.filter(
        national_memberships__cell__call=call, national_memberships__role=NationalRole.MEMBER
    ).order_by("email")[0]
    candidature = (
        Candidature.objects.filter(call=call).select_related("ptce").order_by("pk").first()
    )
    applicant = candidature.ptce.users.order_by("pk").first()
    # The coordinator's dossier page: a submitted candidature of their region.
    dossier = (
        Candidature.objects.filter(call=call, region=cell.region_id, submitted_at__isnull=False)
        .order_by("pk")
        .first()
    )
    return {
        "dossier": dossier,
        "cell": cell,
        "count": biggest["n"],
        "coordinator": coordinator,
        "evaluator": User.objects.get(pk=busiest["evaluator"]),
        "assignments": busiest["n"],
        "member": member,
        "applicant": applicant,
        "candidature": candidature,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--call-slug", default=BENCH_SLUG)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--only", default="", help="only the pages whose name contains this")
    options = parser.parse_args()
    call = bench_call(options.call_slug)
    if call is None:
        sys.exit(f"No bench call « {options.call_slug} »: run manage.py seed_bench first.")
    total = call.candidatures.count()
    who = people(call)
    runs = options.runs
    print(
        f"{call.name}: {total} candidatures; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f}; median of {runs} runs ({SLOW_RUNS} for the slow ones)"
    )
    print(
        f"applicant {who['applicant'].email}; coordinator and evaluator of region "
        f"{who['cell'].region_id} ({who['count']} candidatures, {who['assignments']} "
        f"assignments); CNA member {who['member'].email}"
    )
    applicant = client_for(who["applicant"])
    evaluator = client_for(who["evaluator"])
    coordinator = client_for(who["coordinator"])
    member = client_for(who["member"])
    candidature, cell = who["candidature"], who["cell"]
    national = reverse("national_dashboard", args=[call.pk])
    rows = [
        # (page, client request, runs, time budget in ms or None)
        ("applicant dashboard", get(applicant, reverse("applicant_dashboard")), runs, LIST_MS),
        (
            "step « présentation »",
            get(applicant, reverse("candidature_step", args=[candidature.pk, "presentation"])),
            runs,
            None,
        ),
        (
            "step « récapitulatif »",
            get(applicant, reverse("candidature_step", args=[candidature.pk, "recapitulatif"])),
            runs,
            None,
        ),
        ("evaluator worklist", get(evaluator, reverse("evaluator_worklist")), runs, LIST_MS),
        (
            f"dossier ({who['dossier'].documents.count()} documents)",
            get(coordinator, reverse("dossier", args=[who["dossier"].pk])),
            runs,
            DOSSIER_MS,
        ),
        (
            "regional consolidation list",
            get(coordinator, reverse("consolidation_list", args=[cell.pk])),
            runs,
            LIST_MS,
        ),
        ("national dashboard", get(member, national), runs, NATIONAL_MS),
        (
            "national dashboard, filtered",
            get(member, national, {"region": cell.region_id, "rural": "oui"}),
            runs,
            NATIONAL_MS,
        ),
        (
            "national dashboard, sorted",
            get(member, national, {"tri": "-ecart"}),
            runs,
            NATIONAL_MS,
        ),
        (
            "national dashboard, page 100",
            get(member, national, {"tri": "nom", "page": "100"}),
            runs,
            NATIONAL_MS,
        ),
        (
            "national dashboard, first request after a change",
            after_a_change(call, get(member, national)),
            runs,
            None,
        ),
        (
            f"national XLSX export ({total} rows)",
            get(member, reverse("national_export", args=[call.pk])),
            SLOW_RUNS,
            EXPORT_MS,
        ),
        (
            "selection assistant (form)",
            get(member, reverse("selection_assistant", args=[call.pk])),
            runs,
            None,
        ),
    ]
    created = []
    assistant = reverse("selection_assistant", args=[call.pk])

    def create_scenario():
        name = f"Banc d'essai {time.time_ns()}"
        response = member.post(
            assistant, {"name": name, "basis": "normalised", "funding_floor": 100}
        )
        assert response.status_code == 302, response.status_code
        created.append(SelectionScenario.objects.get(call=call, name=name))
        return response

    rows.append(
        (f"selection assistant (POST, {total} candidates)", create_scenario, SLOW_RUNS, None)
    )
    rows = [row for row in rows if options.only in row[0]]
    print(f"{'page':<48}{'median ms':>10}{'CPU ms':>8}{'queries':>9}  budget")
    try:
        for name, request, count, budget in rows:
            median, queries, _response, cpu = measure(request, count)
            print(line(name, median, queries, budget, cpu))
            if request is create_scenario:
                solver = statistics.median(s.solve_seconds for s in created) * 1000
                print(f"{'  of which the solver (HiGHS)':<48}{solver:>10.1f}")
        if created:
            scenario = created[-1]
            url = reverse("scenario_detail", args=[scenario.pk])
            median, queries, _response, cpu = measure(get(member, url), runs)
            name = f"scenario page ({scenario.lines.count()} lines)"
            print(line(name, median, queries, LIST_MS, cpu))
    finally:
        SelectionScenario.objects.filter(pk__in=[s.pk for s in created]).delete()


def after_a_change(call, request):
    """``request`` with nothing kept in the cache for the call, as after any change."""

    def cold():
        national_cache.changed(call.pk)
        return request()

    return cold


def line(name, median, queries, budget, cpu=None):
    met = queries <= MAX_QUERIES and (budget is None or median <= budget)
    limits = f"≤ {MAX_QUERIES} queries" + (f", ≤ {budget} ms" if budget else "")
    cpu = "—" if cpu is None else f"{cpu:.1f}"
    verdict = "met" if met else "MISSED"
    return f"{name:<48}{median:>10.1f}{cpu:>8}{queries:>9}  {verdict} ({limits})"


if __name__ == "__main__":
    main()
