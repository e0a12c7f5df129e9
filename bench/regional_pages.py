"""Server time and SQL queries of the regional review pages on the demo data.

Run: .venv/bin/python bench/regional_pages.py   (after `manage.py seed_demo`)
Prints, for each page, the median of 10 runs after a warm-up and the query count, as the demo
coordinator and evaluator of Île-de-France and the demo CNA member.
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

from accounts.models import RegionalCell, User  # noqa: E402
from ami.models import Call  # noqa: E402
from candidatures.models import Candidature, CandidatureState  # noqa: E402

DOMAIN = "demo.ami-ptce.fr"


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
    call = Call.objects.current()
    cell = RegionalCell.objects.get(call=call, region="11")
    candidature = Candidature.objects.filter(
        call=call, region="11", state=CandidatureState.ADMISSIBLE
    ).first()
    people = {
        "coordinator": f"cra-11-coordination@{DOMAIN}",
        "evaluator": f"cra-11-evaluation@{DOMAIN}",
        "CNA member": f"cna-membre@{DOMAIN}",
    }
    pages = [
        ("coordinator", "cell home", reverse("cell_home", args=[cell.pk])),
        ("coordinator", "assignments", reverse("cell_assignments", args=[cell.pk])),
        ("coordinator", "consolidation list", reverse("consolidation_list", args=[cell.pk])),
        (
            "coordinator",
            "opinion (side by side)",
            reverse("regional_opinion", args=[candidature.pk]),
        ),
        ("coordinator", "admissibility", reverse("admissibility", args=[candidature.pk])),
        ("coordinator", "XLSX export", reverse("consolidation_export", args=[cell.pk])),
        ("evaluator", "worklist", reverse("evaluator_worklist")),
        ("CNA member", "consolidation list", reverse("consolidation_list", args=[cell.pk])),
    ]
    print(f"{'who':<13}{'page':<26}{'median ms':>10}{'queries':>9}")
    for who, name, url in pages:
        client = Client(HTTP_HOST="127.0.0.1")
        client.force_login(User.objects.get(email=people[who]))
        median, queries = measure(client, url)
        print(f"{who:<13}{name:<26}{median:>10.1f}{queries:>9}")


if __name__ == "__main__":
    main()
