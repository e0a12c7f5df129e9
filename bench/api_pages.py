"""The read API's list pages at national scale: 100 candidatures a page, for a CNA administrator
(every candidature of the bench call) and the coordinator of the largest region.

Run after `make bench` (or `manage.py seed_bench`), on the same database:

    .venv/bin/python bench/api_pages.py [--runs 10]

Prints the median server time (in-process client, DEBUG off) and the query count of the first
page, of a later page (following the cursor five times) and of the regional opinions' list, with
the load average. The tokens it creates are revoked at the end.
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
settings.API_RATE_LIMIT = "1000000/min"  # a benchmark, not a client

from django.db import connection  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import NationalRole, RegionalRole  # noqa: E402
from api.models import ApiToken  # noqa: E402
from api.tokens import create_token  # noqa: E402
from candidatures.models import Candidature  # noqa: E402
from wiring.demo.bench import bench_call  # noqa: E402


def measure(client, url, headers, runs):
    client.get(url, headers=headers)  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:200])
    with CaptureQueriesContext(connection) as queries:
        client.get(url, headers=headers)
    return statistics.median(timings), len(queries.captured_queries)


def later_page(client, url, headers, hops=5):
    for _ in range(hops):
        following = client.get(url, headers=headers).json().get("next")
        if not following:
            break
        url = following.replace("http://127.0.0.1", "")
    return url


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    runs = parser.parse_args().runs
    call = bench_call()
    admin = call.national_cell.memberships.filter(role=NationalRole.ADMINISTRATOR).first().user
    largest = (
        Candidature.objects.filter(call=call)
        .values("region_id")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    coordinator = (
        call.regional_cells.get(region_id=largest["region_id"])
        .memberships.filter(role=RegionalRole.COORDINATOR)
        .first()
        .user
    )
    client = Client(HTTP_HOST="127.0.0.1")
    print(f"candidatures of the bench call: {Candidature.objects.filter(call=call).count()}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page (100 rows)':<58}{'median ms':>10}{'queries':>9}")
    tokens = []
    try:
        for label, user in [
            ("CNA administrator", admin),
            (f"coordinator of region {largest['region_id']} ({largest['n']})", coordinator),
        ]:
            token = create_token(user, "banc d'essai", 30)
            tokens.append(token.token)
            headers = {"Authorization": f"Bearer {token.secret}"}
            first = f"/api/v1/candidatures/?call={call.slug}&taille=100"
            pages = [
                ("candidatures, first page", first),
                ("candidatures, sixth page", later_page(client, first, headers)),
                ("regional opinions", f"/api/v1/avis-regionaux/?call={call.slug}&taille=100"),
            ]
            for name, url in pages:
                median, queries = measure(client, url, headers, runs)
                print(f"{label + ' — ' + name:<58}{median:>10.1f}{queries:>9}")
    finally:
        ApiToken.objects.filter(pk__in=[t.pk for t in tokens]).update(revoked_at=timezone.now())


if __name__ == "__main__":
    main()
