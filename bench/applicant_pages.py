"""Server time and SQL queries of the applicant's pages on the demo data.

Run: .venv/bin/python bench/applicant_pages.py   (after `manage.py seed_demo`)
Prints, for each page, the median of 10 runs after a warm-up and the query count.
"""

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
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from candidatures.models import Candidature, CandidatureState  # noqa: E402


def measure(client, url, runs=10):
    client.get(url)  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return statistics.median(timings), len(queries.captured_queries)


def main():
    client = Client(HTTP_HOST="127.0.0.1")
    owner = Candidature.objects.filter(state=CandidatureState.SUBMITTED).select_related("ptce")
    candidature = owner.first()
    user = candidature.ptce.users.first()
    client.force_login(user)
    pages = [("home", reverse("home")), ("applicant dashboard", reverse("applicant_dashboard"))]
    pages += [
        (f"step {step}", reverse("candidature_step", args=[candidature.pk, step]))
        for step in ("presentation", "budget", "pieces", "recapitulatif")
    ]
    pages += [
        ("candidature detail", reverse("candidature_detail", args=[candidature.pk])),
        ("receipt", reverse("candidature_receipt", args=[candidature.pk])),
    ]
    print(f"{'page':<28}{'median ms':>10}{'queries':>9}")
    for name, url in pages:
        median, queries = measure(client, url)
        print(f"{name:<28}{median:>10.1f}{queries:>9}")
    start = time.perf_counter()
    client.get(reverse("candidature_receipt_pdf", args=[candidature.pk]))
    print(f"{'receipt PDF (1 run)':<28}{(time.perf_counter() - start) * 1000:>10.1f}")


if __name__ == "__main__":
    main()
