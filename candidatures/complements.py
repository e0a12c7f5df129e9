"""Requests for complements (DESIGN §4): the coordinator sends the candidature back with a
message, the fields and documents concerned and a due date; the applicant changes only those
and resubmits before the due date; the coordinator sees exactly what changed."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import RegionalCellMembership, RegionalRole
from ami.formats import paris_datetime

from . import questionnaire
from .errors import TransitionRefused
from .models import CandidatureState, ComplementRequest
from .notify import notify_team
from .submission import build_snapshot

REMINDER_BEFORE = timedelta(days=2)


def field_choices(call):
    """The answers an applicant may be asked to complete (by name), and the budget lines."""
    return questionnaire.complement_choices(call)


def open_request(candidature) -> ComplementRequest | None:
    if candidature.state == CandidatureState.DRAFT:
        return None  # requests are made on submitted candidatures, and none goes back to draft
    return candidature.complement_requests.filter(answered_at__isnull=True).first()


def editable_scope(candidature) -> tuple[set[str] | None, set[int] | None]:
    """(fields, document type ids) the applicant may change now; None means « all »."""
    if candidature.state == CandidatureState.COMPLEMENTS_REQUESTED:
        request = open_request(candidature)
        if request is None:
            return set(), set()
        return set(request.fields), set(request.document_types.values_list("pk", flat=True))
    return None, None


def request_refusal(candidature, at=None) -> str | None:
    """Why complements cannot be given now, or None."""
    request = open_request(candidature)
    if request is None:
        return "Aucune demande de compléments n'est en cours pour cette candidature."
    if (at or timezone.now()) >= request.due_at:
        due = paris_datetime(request.due_at)
        return (
            f"La date limite des compléments ({due}, heure de Paris) est passée : contactez la "
            "cellule régionale."
        )
    return None


# --- Rules of the transitions (used by the table in ``workflow``) -----------------------------


def check_requested(candidature, actor, comment, at):
    if open_request(candidature) is None:
        raise TransitionRefused(
            "Une demande de compléments doit préciser un message, les éléments concernés et une "
            "date limite.",
            code="no_request",
        )


def check_resubmission(candidature, actor, comment, at):
    refusal = request_refusal(candidature, at)
    if refusal:
        raise TransitionRefused(refusal, code="complements")


def diff_snapshots(before: dict, after: dict) -> dict:
    """What changed between two snapshots: answers, amount, co-financing, documents."""
    changes = {}
    for name, value in after["answers"].items():
        if before.get("answers", {}).get(name) != value:
            changes[name] = {"before": before.get("answers", {}).get(name, ""), "after": value}
    for key in ("requested_amount", "cofinancing"):
        if before.get(key) != after.get(key):
            changes[key] = {"before": before.get(key), "after": after.get(key)}
    old_docs = {d["type"]: d for d in before.get("documents", [])}
    for document in after.get("documents", []):
        previous = old_docs.get(document["type"])
        if previous is None or previous["sha256"] != document["sha256"]:
            changes[f"document:{document['type']}"] = {
                "before": previous["name"] if previous else None,
                "after": document["name"],
                "sha256": document["sha256"],
            }
    return changes


def apply_resubmission(candidature, actor, comment, at):
    request = open_request(candidature)
    after = build_snapshot(candidature)
    request.changes = diff_snapshots(candidature.snapshot or {}, after)
    request.answered_at = at
    request.save(update_fields=["changes", "answered_at"])
    candidature.snapshot = after


def _coordinators(candidature):
    return list(
        RegionalCellMembership.objects.filter(
            cell__call=candidature.call_id,
            cell__region=candidature.region_id,
            role=RegionalRole.COORDINATOR,
            user__is_active=True,
        ).values_list("user__email", flat=True)
    )


def notify_requested(candidature, actor, event):
    notify_team(
        candidature,
        "complements_requested",
        "candidature.complements_requested",
        {"request": open_request(candidature)},
    )


def notify_resubmitted(candidature, actor, event):
    notify_team(
        candidature,
        "complements_received",
        "candidature.complements_received",
        {"request": candidature.complement_requests.order_by("-answered_at").first()},
        also=_coordinators(candidature),
    )


def send_due_reminders(now=None) -> int:
    """Remind applicants whose complements are due within ``REMINDER_BEFORE``. Idempotent: a
    conditional update claims each request once, whatever the number of runs or workers."""
    now = now or timezone.now()
    due = ComplementRequest.objects.filter(
        answered_at__isnull=True,
        reminder_sent_at__isnull=True,
        due_at__gt=now,
        due_at__lte=now + REMINDER_BEFORE,
        candidature__state=CandidatureState.COMPLEMENTS_REQUESTED,
    ).values_list("pk", flat=True)
    sent = 0
    for pk in list(due):
        with transaction.atomic():
            claimed = ComplementRequest.objects.filter(pk=pk, reminder_sent_at__isnull=True).update(
                reminder_sent_at=now
            )
            if not claimed:
                continue
            request = ComplementRequest.objects.select_related("candidature__ptce").get(pk=pk)
            candidature = request.candidature
            notify_team(
                candidature,
                "complements_reminder",
                "candidature.complements_reminder",
                {"request": request},
            )
            sent += 1
    return sent
