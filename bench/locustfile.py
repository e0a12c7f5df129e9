"""Locust users of the deadline rush (run by ``bench/deadline_rush.py``, ``make load``).

Each simulated user takes one applicant of the credentials CSV written by the seed
(``RUSH_CREDENTIALS``) and runs its journey once (``bench/applicant_journey.py``):

- ``RushApplicant`` (before the deadline): logs in through the login page, opens the steps, types
  in fields with an autosave after each (the htmx request of the step form), continues to the
  next step, then submits and reads its receipt;
- ``LateApplicant`` (after the deadline): checks that the pages no longer offer to save or submit,
  then tries both from a tab left open, and expects both to be refused.

What the server acknowledged is appended to ``RUSH_RECORDS`` (JSON lines) for the runner's checks.
When every user of the run has finished, Locust quits without waiting for ``--run-time``.
"""

import csv
import json
import os
import sys
from pathlib import Path

import gevent
from locust import FastHttpUser, between, events, task
from locust.exception import StopTest, StopUser

sys.path.insert(0, str(Path(__file__).resolve().parent))

from applicant_journey import (  # noqa: E402
    Applicant,
    Browser,
    JourneyError,
    Response,
    as_path,
    run_journey,
)

AUTOSAVES_PER_STEP = int(os.environ.get("RUSH_AUTOSAVES_PER_STEP", "2"))
_applicants = {}  # kind → iterator over the CSV rows of that kind
_records = None
_finished = 0


def _next_applicant(kind):
    if kind not in _applicants:
        path = Path(os.environ.get("RUSH_CREDENTIALS", ".local/load/applicants.csv"))
        with path.open(encoding="utf-8") as rows:
            _applicants[kind] = iter([row for row in csv.DictReader(rows) if row["kind"] == kind])
    return next(_applicants[kind], None)


def _record(entry):
    global _records
    if _records is None:
        _records = open(  # closed when the test stops
            os.environ.get("RUSH_RECORDS", ".local/load/records.jsonl"), "a", encoding="utf-8"
        )
    _records.write(json.dumps(entry, ensure_ascii=False) + "\n")
    _records.flush()


@events.test_stop.add_listener
def _close_records(**_kwargs):
    global _records
    if _records is not None:
        _records.close()
        _records = None


class LocustBrowser(Browser):
    """The journey's HTTP side on Locust's client: each request is timed under ``name`` and
    counted as failed when the journey's expectation is not met."""

    interruptions = (StopUser, StopTest, gevent.GreenletExit)  # the run ends

    def __init__(self, user, number):
        self.user = user
        self.base_url = user.host.rstrip("/")
        # Each applicant is a different client behind the TLS proxy (198.18.0.0/15: the range
        # reserved for benchmarks; only written in a header, never contacted).
        self.headers = {"X-Forwarded-For": f"198.18.{number // 250}.{number % 250 + 1}"}

    def send(self, method, path, *, name, data=None, headers=None, expect=None):
        with self.user.client.request(
            method,
            path,
            name=name,
            data=data,
            headers=headers,
            allow_redirects=False,
            catch_response=True,
        ) as raw:
            failed = None if raw.status_code else getattr(raw, "error", None)  # no answer
            response = Response(
                status=raw.status_code or 0,
                text=f"erreur réseau : {failed!r}" if failed else (raw.text or ""),
                location=as_path(raw.headers.get("location", "") if raw.headers else ""),
            )
            error = expect(response) if expect else None
            if error:
                raw.failure(error)
                raise JourneyError(f"{name} : {error}")
            raw.success()
        return response

    def think(self):
        self.user.wait()


class _Applicant(FastHttpUser):
    abstract = True
    wait_time = between(1, 4)  # between two fields typed, or two pages
    kind = ""

    @task
    def journey(self):
        global _finished
        row = _next_applicant(self.kind)
        if row is None:  # more users than applicants of that kind
            raise StopUser()
        applicant = Applicant(
            LocustBrowser(self, int(row["candidature"]) % 62500),
            _record,
            email=row["email"],
            password=row["password"],
            candidature=row["candidature"],
            paths=row,
        )
        options = {"autosaves_per_step": AUTOSAVES_PER_STEP} if self.kind == "rush" else {}
        try:
            run_journey(applicant, self.kind, **options)  # failures are recorded, not raised
        finally:
            _finished += 1
        if _finished >= (self.environment.parsed_options.num_users or 0):
            # A little later, so that the stats CSV (rewritten every second) has every request.
            gevent.spawn_later(3, self.environment.runner.quit)
        raise StopUser()


class RushApplicant(_Applicant):
    kind = "rush"


class LateApplicant(_Applicant):
    kind = "late"
