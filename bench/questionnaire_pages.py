"""The applicant's step page and its autosave with a 30-question section, at national scale.

Run after `make bench` (or `manage.py seed_bench`), on the same database:

    .venv/bin/python bench/questionnaire_pages.py [--runs 20]

It adds, once, a call « banc d'essai — questionnaire de 30 questions » copied from the bench call
(same dates and amounts) with one section of 30 questions of every kind, and one draft of a bench
PTCE on it; then prints the median server time (in-process client, DEBUG off) and the query
count of the step page and of an autosave of one field, with the load average.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ami.settings.dev")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402

settings.DEBUG = False  # no per-query bookkeeping in the timings

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from ami.calls import set_phase  # noqa: E402
from ami.models import Call, Phase, QuestionKind, SectionKind  # noqa: E402
from candidatures import questionnaire  # noqa: E402
from candidatures.models import Candidature, PtceMembership  # noqa: E402
from wiring.demo.bench import BENCH_SLUG  # noqa: E402

SLUG = "banc-questionnaire-30"
KINDS = [
    {"kind": QuestionKind.SHORT_TEXT},
    {"kind": QuestionKind.LONG_TEXT, "max_length": 3000},
    {"kind": QuestionKind.INTEGER},
    {"kind": QuestionKind.AMOUNT},
    {"kind": QuestionKind.YES_NO},
    {"kind": QuestionKind.SINGLE_CHOICE, "choices": "Un\nDeux\nTrois"},
    {"kind": QuestionKind.MULTIPLE_CHOICE, "choices": "Rural\nUrbain\nQPV"},
    {"kind": QuestionKind.DATE},
    {"kind": QuestionKind.URL},
    {"kind": QuestionKind.EMAIL},
]


@transaction.atomic
def questionnaire_call() -> Call:
    """The 30-question call, open for submissions now (the bench call itself is past them)."""
    now = timezone.now()
    dates = {"opens_at": now - timedelta(days=1), "closes_at": now + timedelta(days=30)}
    existing = Call.objects.filter(slug=SLUG).first()
    if existing is not None:
        Call.objects.filter(pk=existing.pk).update(**dates)
        return Call.objects.get(pk=existing.pk)
    call = Call.objects.get(slug=BENCH_SLUG)
    call.pk = None
    call._state.adding = True
    call.slug, call.name, call.phase = SLUG, "Banc d'essai — questionnaire de 30 questions", "draft"
    call.opens_at, call.closes_at = dates["opens_at"], dates["closes_at"]
    call.save()
    specs = [
        {"slug": f"q{n:02d}", "label": f"Question {n}", "required": n % 2 == 0, **KINDS[n % 10]}
        for n in range(1, 31)
    ]
    questionnaire.build(call, [("questions", "Trente questions", SectionKind.QUESTIONS, specs)])
    set_phase(call, Phase.OPEN, None, comment="Banc d'essai du questionnaire.")
    return call


def draft(call) -> tuple[Candidature, object]:
    membership = PtceMembership.objects.select_related("ptce", "user").order_by("pk").first()
    candidature, _ = Candidature.objects.get_or_create(
        ptce=membership.ptce,
        call=call,
        defaults={
            "region_id": membership.ptce.region_id,
            "title": "Banc d'essai",
            "answers": questionnaire.sample_answers(call, 1),
        },
    )
    return candidature, membership.user


def measure(send, runs):
    send()  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        response = send()
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        send()
    return statistics.median(timings), len(queries.captured_queries)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    runs = parser.parse_args().runs
    call = questionnaire_call()
    candidature, user = draft(call)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    step_url = reverse("candidature_step", args=[candidature.pk, "questions"])
    autosave_url = reverse("candidature_autosave", args=[candidature.pk, "questions"])
    print(f"candidatures in the database: {Candidature.objects.count()}")
    print(f"questions on the step: {call.questions.count()}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page':<34}{'median ms':>10}{'queries':>9}")
    for name, send in [
        ("step page (30 questions)", lambda: client.get(step_url)),
        (
            "autosave of one answer",
            lambda: client.post(autosave_url, {"q01": "Réponse"}, HTTP_HX_REQUEST="true"),
        ),
    ]:
        median, queries = measure(send, runs)
        print(f"{name:<34}{median:>10.1f}{queries:>9}")


if __name__ == "__main__":
    main()
