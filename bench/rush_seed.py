"""Data of the deadline-rush load test (``bench/deadline_rush.py``), on the Django side:

- ``seed_rush``: an open call closing in a few minutes and N applicants, each with a PTCE and a
  complete draft candidature (answers, members, one co-financing line, every mandatory document),
  ready to submit; written with bulk inserts and one password hash;
- ``write_credentials``: the CSV the Locust users read (email, password, candidature, paths);
- ``check_rush`` and ``check_late``: what the simulated users reported (one JSON object per line,
  see ``bench/applicant_journey.py``) checked against the database: every acknowledged autosave is
  there, every acknowledged submission is ``submitted`` with its receipt number, snapshot, event and
  email; after the deadline nothing was accepted.

Everything it creates is marked (call slug ``rush-…``, emails ``@rush.ami-ptce.test``) and
``clear_rush_data`` removes the previous run's data first. Django must be set up before import.
"""

import csv
import hashlib
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path

from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import make_password
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from ami.identifiers import luhn_ok
from ami.models import Call, CallPhaseChange, Commune, DocumentType, OutboxMessage, Phase
from candidatures import questionnaire
from candidatures.models import (
    Candidature,
    CandidatureEvent,
    CandidatureState,
    CofinancingLine,
    Document,
    MemberCategory,
    Ptce,
    PtceMember,
    PtceMembership,
)
from candidatures.submission import completeness_problems
from wiring.demo.candidatures import demo_pdf
from wiring.demo.seed import DOCUMENTS

DOMAIN = "rush.ami-ptce.test"
SLUG_PREFIX = "rush-"
RUSH, LATE = "rush", "late"
CSV_FIELDS = [
    "kind", "email", "password", "candidature", "login_path", "first_step_path", "recap_path",
    "autosave_path", "submit_path",
]  # fmt: skip
MEMBERS = [
    ("Scop du bassin", MemberCategory.ESS_ENTERPRISE),
    ("SARL du bâtiment", MemberCategory.NON_ESS_ENTERPRISE),
    ("Communauté de communes", MemberCategory.LOCAL_AUTHORITY),
]


@dataclass
class Applicant:
    kind: str  # RUSH (submits before the deadline) or LATE (tries after it)
    email: str
    candidature_id: int


@dataclass
class RushSeed:
    call: Call
    applicants: list[Applicant]


def clear_rush_data() -> None:
    """Delete what a previous seed created (calls ``rush-…``, users ``@rush.ami-ptce.test``)."""
    calls = Call.objects.filter(slug__startswith=SLUG_PREFIX)
    candidatures = Candidature.objects.filter(call__in=calls)
    with transaction.atomic():
        OutboxMessage.objects.filter(call__in=calls).delete()
        CandidatureEvent.objects.filter(candidature__in=candidatures).delete()
        candidatures.delete()
        Ptce.objects.filter(created_by__email__endswith=f"@{DOMAIN}").delete()
        User.objects.filter(email__endswith=f"@{DOMAIN}").delete()
        CallPhaseChange.objects.filter(call__in=calls).delete()
        calls.update(phase=Phase.DRAFT)  # a call's grid and documents go with it in draft only
        calls.delete()


def _siret(rng) -> str:
    def complete(digits):
        return next(digits + last for last in "0123456789" if luhn_ok(digits + last))

    siren = complete("".join(rng.choice("0123456789") for _ in range(8)))
    return complete(siren + "".join(rng.choice("0123456789") for _ in range(4)))


def _communes() -> list[Commune]:
    communes = list(Commune.objects.select_related("department").order_by("code"))
    if not communes:
        from ami.territory import load_demo_territory

        load_demo_territory()
        communes = list(Commune.objects.select_related("department").order_by("code"))
    return communes


def _answers(call, number: int, place: str) -> dict:
    return {
        "title": f"Coopérations du bassin de {place} (rush {number:04d})",
        "answers": questionnaire.sample_answers(call, number, place),
    }


def _create_call(closes_in: timedelta) -> Call:
    now = timezone.now()
    call = Call.objects.create(
        name=f"AMI PTCE – rush à la clôture {timezone.localtime(now):%d/%m %H:%M:%S}",
        slug=f"{SLUG_PREFIX}{now:%Y%m%d%H%M%S%f}",
        year=timezone.localdate().year,
        phase=Phase.DRAFT,  # configured first, then opened
        opens_at=now - timedelta(days=30),
        closes_at=now + closes_in,
        regional_review_deadline=now + closes_in + timedelta(days=30),
        national_review_deadline=now + closes_in + timedelta(days=60),
        envelope=Decimal("500000"),
        min_amount=Decimal("30000"),
        max_amount=Decimal("80000"),
    )
    DocumentType.objects.bulk_create(
        DocumentType(
            call=call,
            label=label,
            mandatory=mandatory,
            allowed_formats=list(formats),
            max_size_mb=size,
            order=order,
        )
        for order, (label, mandatory, formats, size) in enumerate(DOCUMENTS, start=1)
    )
    questionnaire.build(call, questionnaire.AMI_PTCE)
    Call.objects.filter(pk=call.pk).update(phase=Phase.OPEN)
    call.phase = Phase.OPEN
    return call


def seed_rush(
    *, applicants: int, late: int = 0, closes_in: timedelta, password: str, seed: int = 2026
) -> RushSeed:
    """A call closing in ``closes_in`` and ``applicants + late`` applicants (one user, one PTCE,
    one complete draft each), all sharing ``password`` (hashed once)."""
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    clear_rush_data()
    communes = _communes()
    password_hash = make_password(password)
    total = applicants + late
    with transaction.atomic():
        call = _create_call(closes_in)
        document_types = [t for t in call.document_types.all() if t.mandatory]
        stored = {}  # one small PDF per document type, shared by every candidature
        for document_type in document_types:
            content = demo_pdf(document_type.label)
            name = default_storage.save(
                f"candidatures/{call.slug}/{document_type.order}.pdf", ContentFile(content)
            )
            stored[document_type.pk] = (name, content)
        users = User.objects.bulk_create(
            User(
                email=f"porteur-{number:04d}@{DOMAIN}",
                password=password_hash,
                first_name="Porteur",
                last_name=f"Rush {number:04d}",
            )
            for number in range(1, total + 1)
        )
        EmailAddress.objects.bulk_create(
            EmailAddress(user=user, email=user.email, verified=True, primary=True) for user in users
        )
        seats = [communes[(number * 7) % len(communes)] for number in range(1, total + 1)]
        ptces = Ptce.objects.bulk_create(
            Ptce(
                name=f"PTCE de {seat.name} (rush {number:04d})",
                siret=_siret(rng),
                legal_form="SCIC SAS",
                address=f"{number} rue de la Coopération",
                seat_commune=seat,
                region_id=seat.department.region_id,
                year_created=2015,
                description="PTCE du test de charge.",
                created_by=user,
            )
            for number, (user, seat) in enumerate(zip(users, seats, strict=True), start=1)
        )
        PtceMembership.objects.bulk_create(
            PtceMembership(ptce=ptce, user=user, is_referent=True)
            for ptce, user in zip(ptces, users, strict=True)
        )
        PtceMember.objects.bulk_create(
            PtceMember(ptce=ptce, name=f"{label} {index}", category=category)
            for ptce in ptces
            for index, (label, category) in enumerate(MEMBERS, start=1)
        )
        candidatures = Candidature.objects.bulk_create(
            Candidature(
                ptce=ptce,
                call=call,
                region_id=ptce.region_id,
                requested_amount=Decimal("50000"),
                current_step=questionnaire.first_step(call),
                **_answers(call, number, seat.name),
            )
            for number, (ptce, seat) in enumerate(zip(ptces, seats, strict=True), start=1)
        )
        CofinancingLine.objects.bulk_create(
            CofinancingLine(
                candidature=candidature, funder="Région", status="requested", amount=20000
            )
            for candidature in candidatures
        )
        Document.objects.bulk_create(
            Document(
                candidature=candidature,
                document_type=document_type,
                file=stored[document_type.pk][0],
                original_name=f"{document_type.label}.pdf",
                size=len(stored[document_type.pk][1]),
                content_type="application/pdf",
                sha256=hashlib.sha256(stored[document_type.pk][1]).hexdigest(),
                uploaded_by=user,
            )
            for candidature, user in zip(candidatures, users, strict=True)
            for document_type in document_types
        )
    result = [
        Applicant(RUSH if index < applicants else LATE, user.email, candidature.pk)
        for index, (user, candidature) in enumerate(zip(users, candidatures, strict=True))
    ]
    return RushSeed(call=call, applicants=result)


def write_credentials(seed: RushSeed, path: Path, password: str) -> None:
    """One line per applicant: what a Locust user needs to log in and find its candidature."""
    path.parent.mkdir(parents=True, exist_ok=True)
    login_path = reverse("account_login")
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for applicant in seed.applicants:
            pk = applicant.candidature_id
            writer.writerow(
                {
                    "kind": applicant.kind,
                    "email": applicant.email,
                    "password": password,
                    "candidature": pk,
                    "login_path": login_path,
                    "first_step_path": reverse("candidature_step", args=[pk, "presentation"]),
                    "recap_path": reverse("candidature_step", args=[pk, "recapitulatif"]),
                    "autosave_path": reverse("candidature_autosave", args=[pk, "presentation"]),
                    "submit_path": reverse("candidature_submit", args=[pk]),
                }
            )


# --- Checks ---------------------------------------------------------------------------------


@dataclass
class Check:
    """What was checked, in numbers, and every discrepancy found (empty: all good)."""

    counts: dict = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, message: str) -> None:
        self.problems.append(message)


def _stored(candidature, name: str):
    """What the candidature holds for an answer sent by a user (typed column or answer)."""
    if name in questionnaire.CORE_FIELDS:
        return getattr(candidature, name)
    return (candidature.answers or {}).get(name)


def _same(field_name: str, sent: str, stored) -> bool:
    if field_name == "requested_amount":
        try:
            return Decimal("".join(sent.split()).replace(",", ".")) == stored
        except InvalidOperation:
            return False
    return sent == (stored or "")


def _expected_values(records) -> dict:
    """(candidature, field) → (the value of the last acknowledged save, the values of later
    saves that were sent but never acknowledged: any of them may have replaced it)."""
    acknowledged, sent = {}, {}
    for record in records:
        if record.get("kind") not in ("saved", "sending"):
            continue
        key = (record["candidature"], record["field"])
        if record["kind"] == "sending":
            sent.setdefault(key, []).append((record["seq"], record["value"]))
        elif key not in acknowledged or record["seq"] > acknowledged[key][0]:
            acknowledged[key] = (record["seq"], record["value"])
    return {
        key: (value, {v for later, v in sent.get(key, []) if later > seq})
        for key, (seq, value) in acknowledged.items()
    }


def check_rush(call: Call, records: list[dict]) -> Check:
    """Nothing lost before the deadline:

    - the last value the server acknowledged for every field a user typed is in the database
      (or a later value of that user whose save got no answer, e.g. cut by the end of the run);
    - every submission the server acknowledged is ``submitted`` with the receipt number the user
      was shown;
    - every submitted candidature of the call has its receipt number, a snapshot equal to its
      answers, a time before the deadline, exactly one « draft → submitted » event and one
      receipt email in the outbox; and a submission was sent for it by its user.
    """
    check = Check()
    expected = _expected_values(records)
    submitted = {r["candidature"]: r["receipt"] for r in records if r.get("kind") == "submitted"}
    sent = {r["candidature"] for r in records if r.get("kind") == "submitting"}
    journeys = Counter(r["outcome"] for r in records if r.get("kind") == "journey")
    candidatures = Candidature.objects.filter(call=call).in_bulk()
    check.counts.update(
        {
            "journeys_done": journeys["done"],
            "journeys_failed": journeys["failed"],
            "journeys_stopped": journeys["stopped"],
            "saves_acknowledged": len(
                {(r["candidature"], r["seq"]) for r in records if r.get("kind") == "saved"}
            ),
            "fields_checked": len(expected),
            "fields_replaced_by_unanswered_save": 0,
            "submissions_acknowledged": len(submitted),
        }
    )
    for pk in ({pk for pk, _field in expected} | set(submitted)) - set(candidatures):
        check.problem(f"candidature {pk} reported by a user is not in the call")
    for (pk, name), (value, later) in expected.items():
        candidature = candidatures.get(pk)
        if candidature is None:
            continue
        stored = _stored(candidature, name)
        if _same(name, value, stored):
            continue
        if any(_same(name, other, stored) for other in later):
            check.counts["fields_replaced_by_unanswered_save"] += 1
        else:
            check.problem(f"candidature {pk}: {name} is not the last value saved ({value!r})")
    events = Counter(
        CandidatureEvent.objects.filter(
            candidature__call=call, from_state=CandidatureState.DRAFT, to_state="submitted"
        ).values_list("candidature_id", flat=True)
    )
    emails = Counter(
        OutboxMessage.objects.filter(
            call=call,
            event="candidature.submitted",
            related_type=ContentType.objects.get_for_model(Candidature),
        ).values_list("related_id", flat=True)
    )
    for pk in submitted:
        candidature = candidatures.get(pk)
        if candidature is not None and candidature.state != CandidatureState.SUBMITTED:
            check.problem(f"candidature {pk}: acknowledged but « {candidature.state} »")
    in_database = [c for c in candidatures.values() if c.state == CandidatureState.SUBMITTED]
    check.counts["submitted_in_database"] = len(in_database)
    check.counts["submitted_unanswered"] = 0
    for candidature in in_database:
        pk = candidature.pk
        if pk in submitted:
            if candidature.receipt_number != submitted[pk]:
                check.problem(
                    f"candidature {pk}: receipt {candidature.receipt_number!r}, "
                    f"user saw {submitted[pk]!r}"
                )
        elif pk in sent:
            check.counts["submitted_unanswered"] += 1  # the answer was cut (time-out, end)
        else:
            check.problem(f"candidature {pk}: submitted, but its user never sent it")
        if not candidature.receipt_number:
            check.problem(f"candidature {pk}: submitted without a receipt number")
        if not candidature.snapshot:
            check.problem(f"candidature {pk}: submitted without a snapshot")
        else:
            answers = candidature.snapshot["answers"]
            for name, value in questionnaire.snapshot_answers(candidature).items():
                if answers.get(name) != value:
                    check.problem(f"candidature {pk}: the snapshot's {name} differs")
            if Decimal(candidature.snapshot["requested_amount"]) != candidature.requested_amount:
                check.problem(f"candidature {pk}: the snapshot's amount differs")
        if not candidature.submitted_at or candidature.submitted_at >= call.closes_at:
            check.problem(f"candidature {pk}: submitted at {candidature.submitted_at}")
        if events[pk] != 1:
            check.problem(f"candidature {pk}: {events[pk]} submission events")
        if emails[str(pk)] != 1:
            check.problem(f"candidature {pk}: {emails[str(pk)]} receipt emails queued")
    return check


def check_late(call: Call, late_ids: list[int], records: list[dict]) -> Check:
    """After the deadline: every autosave and submission attempt was refused, none of the late
    candidatures changed state or got an event, and no refused value reached the database."""
    check = Check()
    attempts = [r for r in records if r.get("kind") in ("late_autosave", "late_submit")]
    outcomes = Counter((r["kind"], r["outcome"]) for r in attempts)
    tries = Counter(r["kind"] for r in attempts)
    journeys = Counter(r["outcome"] for r in records if r.get("kind") == "journey")
    check.counts.update(
        {
            "journeys_done": journeys["done"],
            "journeys_failed": journeys["failed"],
            "journeys_stopped": journeys["stopped"],
            "submissions_tried": tries["late_submit"],
            "submissions_refused": outcomes["late_submit", "refused"],
            "autosaves_tried": tries["late_autosave"],
            "autosaves_refused": outcomes["late_autosave", "refused"],
            "attempts_unanswered": sum(1 for r in attempts if r["outcome"] == "no answer"),
        }
    )
    for record in attempts:
        if record["outcome"] == "accepted":
            check.problem(f"candidature {record['candidature']}: {record['kind']} accepted")
    tried = {r["candidature"] for r in attempts if r["kind"] == "late_submit"}
    for pk in sorted(set(late_ids) - tried):
        check.problem(f"candidature {pk}: no submission was tried after the deadline")
    late = Candidature.objects.filter(call=call, pk__in=late_ids).in_bulk()
    if len(late) != len(set(late_ids)):
        check.problem("some late candidatures are missing")
    for pk, candidature in late.items():
        if candidature.state != CandidatureState.DRAFT or candidature.submitted_at:
            check.problem(f"candidature {pk}: « {candidature.state} » after the deadline")
        if candidature.receipt_number or candidature.snapshot:
            check.problem(f"candidature {pk}: got a receipt after the deadline")
    for record in attempts:
        if record["kind"] == "late_autosave":
            candidature = late.get(record["candidature"])
            stored = _stored(candidature, record["field"]) if candidature else None
            if candidature and _same(record["field"], record["value"], stored):
                check.problem(f"candidature {candidature.pk}: a refused value was saved")
    events = CandidatureEvent.objects.filter(candidature_id__in=late_ids).count()
    if events:
        check.problem(f"{events} events on the late candidatures")
    submitted_after = Candidature.objects.filter(call=call, submitted_at__gte=call.closes_at)
    check.counts["submitted_after_deadline"] = submitted_after.count()
    if check.counts["submitted_after_deadline"]:
        check.problem(f"{check.counts['submitted_after_deadline']} submitted after the deadline")
    return check


def outbox_states(call: Call) -> dict[str, int]:
    """How many of the call's emails are in each outbox state."""
    return dict(Counter(OutboxMessage.objects.filter(call=call).values_list("state", flat=True)))


def check_seed(seed: RushSeed) -> list[str]:
    """Why a seeded candidature could not be submitted (empty when all are ready)."""
    problems = []
    queryset = Candidature.objects.filter(
        pk__in=[a.candidature_id for a in seed.applicants]
    ).select_related("call", "ptce")
    for candidature in queryset:
        if candidature.state != CandidatureState.DRAFT:
            problems.append(f"candidature {candidature.pk} is « {candidature.state} »")
        problems += [f"candidature {candidature.pk}: {p.message}" for p in
                     completeness_problems(candidature)]  # fmt: skip
    return problems
