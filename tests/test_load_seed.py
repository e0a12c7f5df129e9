"""Keeps the deadline-rush load test (``make load``) from rotting: the seed makes submittable
drafts, the applicant journey Locust runs goes through the real pages (driven here by Django's
test client, CSRF checks on), and the runner's checks catch a lost value or a late submission."""

import csv
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.urls import resolve
from django.utils import timezone

from ami.models import Call
from bench import rush_seed
from bench.applicant_journey import Applicant, Browser, JourneyError, Response, run_journey
from candidatures.models import Candidature, CandidatureState

PASSWORD = "mot-de-passe-du-test-de-charge"
BENCH = Path(__file__).resolve().parent.parent / "bench"


class ClientBrowser(Browser):
    """The journey's HTTP side on Django's test client, enforcing CSRF like a real server."""

    base_url = "http://testserver"

    def __init__(self):
        self.client = Client(enforce_csrf_checks=True)
        self.sent = []  # (name, status)

    def send(self, method, path, *, name, data=None, headers=None, expect=None):
        headers = dict(headers or {})
        content_type = headers.pop("Content-Type", None)
        if method == "GET":
            raw = self.client.get(path, headers=headers)
        else:
            raw = self.client.post(path, data=data, content_type=content_type, headers=headers)
        response = Response(raw.status_code, raw.content.decode(), raw.headers.get("Location", ""))
        self.sent.append((name, response.status))
        error = expect(response) if expect else None
        if error:
            raise JourneyError(f"{name} : {error}")
        return response


def _paths(pk):
    from django.urls import reverse

    return {
        "login_path": reverse("account_login"),
        "first_step_path": reverse("candidature_step", args=[pk, "presentation"]),
        "recap_path": reverse("candidature_step", args=[pk, "recapitulatif"]),
        "autosave_path": reverse("candidature_autosave", args=[pk, "presentation"]),
        "submit_path": reverse("candidature_submit", args=[pk]),
    }


def _journey(applicant, records):
    browser = ClientBrowser()
    journey = Applicant(
        browser,
        records.append,
        email=applicant.email,
        password=PASSWORD,
        candidature=applicant.candidature_id,
        paths=_paths(applicant.candidature_id),
    )
    return journey, browser


@pytest.fixture
def seed(db):
    return rush_seed.seed_rush(
        applicants=3, late=1, closes_in=timedelta(minutes=10), password=PASSWORD
    )


def test_seed_makes_complete_drafts_and_credentials(seed, tmp_path):
    assert [a.kind for a in seed.applicants] == ["rush", "rush", "rush", "late"]
    assert rush_seed.check_seed(seed) == []
    assert seed.call.accepts_submissions()
    candidature = Candidature.objects.select_related("ptce").get(
        pk=seed.applicants[0].candidature_id
    )
    assert candidature.ptce.users.get().check_password(PASSWORD)
    assert candidature.documents.count() == seed.call.document_types.filter(mandatory=True).count()

    path = tmp_path / "applicants.csv"
    rush_seed.write_credentials(seed, path, PASSWORD)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [row["email"] for row in rows] == [a.email for a in seed.applicants]
    first = rows[0]
    assert resolve(first["autosave_path"]).url_name == "candidature_autosave"
    assert resolve(first["submit_path"]).url_name == "candidature_submit"
    assert resolve(first["first_step_path"]).url_name == "candidature_step"


def test_a_new_seed_replaces_the_previous_one(seed):
    again = rush_seed.seed_rush(applicants=2, closes_in=timedelta(minutes=5), password=PASSWORD)
    assert list(Call.objects.filter(slug__startswith="rush-")) == [again.call]
    assert Candidature.objects.count() == 2


def test_rush_journey_saves_every_typed_value_and_submits(seed):
    records = []
    for applicant in seed.applicants[:3]:
        journey, browser = _journey(applicant, records)
        assert run_journey(journey, "rush", autosaves_per_step=2), records[-1]
        autosaves = [s for name, s in browser.sent if name == "enregistrement automatique"]
        assert autosaves == [200] * 8  # 2 fields typed on each of the 4 steps with fields

    check = rush_seed.check_rush(seed.call, records)
    assert check.problems == []
    assert check.counts["journeys_done"] == 3
    assert check.counts["submissions_acknowledged"] == 3
    assert check.counts["submitted_in_database"] == 3
    assert check.counts["fields_checked"] == 3 * 8
    assert check.counts["saves_acknowledged"] == 3 * (8 + 4)  # autosaves, « continuer »
    typed = next(r for r in records if r["kind"] == "saved" and r["field"] == "summary")
    stored = Candidature.objects.get(pk=typed["candidature"])
    assert "[saisie " in stored.answers["summary"]
    assert stored.snapshot["answers"]["summary"] == stored.answers["summary"]


def test_the_checks_catch_a_lost_value_and_a_wrong_receipt(seed):
    records = []
    applicant = seed.applicants[0]
    journey, _browser = _journey(applicant, records)
    assert run_journey(journey, "rush")
    assert rush_seed.check_rush(seed.call, records).ok

    lost_answer = Candidature.objects.get(pk=applicant.candidature_id)
    lost_answer.answers["lever_research"] = "perdu"
    lost_answer.save(update_fields=["answers"])
    lost = [r for r in records if r["kind"] != "saved" or r["field"] != "lever_research"]
    lost.append(
        {"kind": "saved", "candidature": applicant.candidature_id, "field": "lever_research",
         "value": "tapé", "seq": 999, "via": "autosave"}
    )  # fmt: skip
    problems = rush_seed.check_rush(seed.call, lost).problems
    assert any("lever_research is not the last value" in p for p in problems)

    wrong = [
        {**r, "receipt": "PTCE-2000-000001"} if r["kind"] == "submitted" else r for r in records
    ]
    assert any("user saw" in p for p in rush_seed.check_rush(seed.call, wrong).problems)

    unsent = [r for r in records if r["kind"] not in ("submitting", "submitted")]
    assert any("never sent" in p for p in rush_seed.check_rush(seed.call, unsent).problems)


def test_after_the_deadline_every_attempt_is_refused(seed):
    Call.objects.filter(pk=seed.call.pk).update(closes_at=timezone.now() - timedelta(seconds=1))
    seed.call.refresh_from_db()
    late = seed.applicants[3]
    records = []
    journey, browser = _journey(late, records)
    assert run_journey(journey, "late"), records[-1]
    assert ("enregistrement automatique (après clôture)", 403) in browser.sent

    check = rush_seed.check_late(seed.call, [late.candidature_id], records)
    assert check.problems == []
    assert check.counts["submissions_refused"] == 1
    assert check.counts["autosaves_refused"] == 1
    assert Candidature.objects.get(pk=late.candidature_id).state == CandidatureState.DRAFT

    accepted = [{**r, "outcome": "accepted"} if r["kind"] == "late_submit" else r for r in records]
    assert not rush_seed.check_late(seed.call, [late.candidature_id], accepted).ok


def test_the_late_journey_fails_while_the_call_is_still_open(seed):
    records = []
    journey, _browser = _journey(seed.applicants[3], records)
    assert not run_journey(journey, "late")
    assert "propose encore le dépôt" in records[-1]["error"]


def test_the_locustfile_loads_its_users():
    """In a child process: importing Locust monkey-patches the standard library with gevent."""
    code = "import locustfile; print(locustfile.RushApplicant.kind, locustfile.LateApplicant.kind)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BENCH, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["rush", "late"]
