"""Daily digest to regional coordinators of what changed in their region (DESIGN §8: a scheduled
job, idempotent). The digest of day D covers the Paris day D-1 (00:00–24:00 Europe/Paris):
candidatures submitted, resubmitted after complements or withdrawn (``CandidatureEvent``),
reviews submitted, conflicts of interest declared or detected, for the cell's call and region.

One email per coordinator, cell and covered day, however often the job runs (guaranteed by
``ReminderSent``'s unique constraint: kind ``digest``, milestone the covered date
« YYYY-MM-DD », related the cell). Nothing changed: nothing sent. Only for coordinators who
accept digests; each email has the link to turn them off. A coordinator never reads about a
candidature on which they have a blocking conflict of interest: those lines are left out (and
if nothing else is left, no email). A fixed number of queries, whatever the number of cells or
candidatures (plus the inserts of the emails)."""

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalCell, RegionalCellMembership, RegionalRole
from accounts.preferences import DIGEST, allows, send_once
from ami.formats import PARIS
from ami.models import ReminderKind
from candidatures.models import CandidatureEvent, CandidatureState

from .models import BLOCKING_CONFLICT, ConflictOfInterest, Review, ReviewState

logger = logging.getLogger(__name__)

S = CandidatureState

SUBMITTED = "submitted"
RESUBMITTED = "resubmitted"
WITHDRAWN = "withdrawn"
REVIEWED = "reviewed"
CONFLICT = "conflict"
LABELS = {
    SUBMITTED: "candidature déposée",
    RESUBMITTED: "candidature redéposée après compléments",
    WITHDRAWN: "candidature retirée",
    REVIEWED: "évaluation rendue",
    CONFLICT: "conflit d'intérêts",
}


def covered_day(now) -> tuple[datetime, datetime]:
    """[start, end) of the Paris day before the Paris date of ``now``."""
    today = timezone.localtime(now, PARIS).date()
    day = today - timedelta(days=1)
    start = datetime.combine(day, time.min, tzinfo=PARIS)
    end = datetime.combine(today, time.min, tzinfo=PARIS)
    return start, end


@dataclass
class Line:
    kind: str
    at: datetime
    candidature: object
    detail: str = ""

    @property
    def label(self) -> str:
        return LABELS[self.kind]


@dataclass
class Changes:
    lines: list[Line] = field(default_factory=list)

    def visible_to(self, blocked: set[int]) -> list[Line]:
        return [line for line in self.lines if line.candidature.pk not in blocked]


def _event_kind(event) -> str | None:
    if event.to_state == S.WITHDRAWN:
        return WITHDRAWN
    if event.to_state == S.SUBMITTED:
        return RESUBMITTED if event.from_state == S.COMPLEMENTS_REQUESTED else SUBMITTED
    return None


def gather_changes(start, end) -> dict[tuple[int, int], Changes]:
    """What changed in [start, end), by (call id, region id). Three queries."""
    changes = defaultdict(Changes)
    events = (
        CandidatureEvent.objects.filter(
            at__gte=start, at__lt=end, to_state__in=[S.SUBMITTED, S.WITHDRAWN]
        )
        .select_related("candidature__ptce", "candidature__region")
        .order_by("at", "pk")
    )
    for event in events:
        kind = _event_kind(event)
        if kind:
            c = event.candidature
            changes[(c.call_id, c.region_id)].lines.append(Line(kind, event.at, c))
    reviews = (
        Review.objects.filter(
            state=ReviewState.SUBMITTED, submitted_at__gte=start, submitted_at__lt=end
        )
        .select_related("candidature__ptce", "candidature__region", "evaluator")
        .order_by("submitted_at", "pk")
    )
    for review in reviews:
        c = review.candidature
        detail = review.evaluator.get_full_name() or review.evaluator.email
        changes[(c.call_id, c.region_id)].lines.append(
            Line(REVIEWED, review.submitted_at, c, detail)
        )
    conflicts = (
        ConflictOfInterest.objects.filter(declared_at__gte=start, declared_at__lt=end)
        .select_related("candidature__ptce", "candidature__region", "evaluator")
        .order_by("declared_at", "pk")
    )
    for conflict in conflicts:
        c = conflict.candidature
        who = conflict.evaluator.get_full_name() or conflict.evaluator.email
        changes[(c.call_id, c.region_id)].lines.append(
            Line(CONFLICT, conflict.declared_at, c, f"{conflict.get_source_display()} – {who}")
        )
    for group in changes.values():
        group.lines.sort(key=lambda line: line.at)
    return changes


def counts(lines: list[Line]) -> list[dict]:
    """[{"label", "count"}] in the order of LABELS, only the kinds present."""
    by_kind = defaultdict(int)
    for line in lines:
        by_kind[line.kind] += 1
    return [{"label": LABELS[k], "count": by_kind[k]} for k in LABELS if by_kind[k]]


def send_coordinator_digests(now=None) -> int:
    """Send each coordinator who accepts digests the changes of the previous Paris day in their
    cells. Returns the number of emails queued (0 on a second run the same day)."""
    now = now or timezone.now()
    start, end = covered_day(now)
    milestone = start.date().isoformat()
    changes = gather_changes(start, end)
    if not changes:
        return 0
    cells = {
        cell.pk: cell
        for cell in RegionalCell.objects.filter(
            call_id__in={call for call, _ in changes},
            region_id__in={region for _, region in changes},
        ).select_related("call", "region")
        if (cell.call_id, cell.region_id) in changes
    }
    memberships = (
        RegionalCellMembership.objects.filter(
            cell__in=cells, role=RegionalRole.COORDINATOR, user__is_active=True
        )
        .select_related("user")
        .order_by("cell_id", "user_id")
    )
    memberships = [m for m in memberships if allows(m.user, DIGEST)]
    candidature_ids = {line.candidature.pk for group in changes.values() for line in group.lines}
    blocked = defaultdict(set)
    for user_id, candidature_id in ConflictOfInterest.objects.filter(
        BLOCKING_CONFLICT,
        evaluator__in={m.user_id for m in memberships},
        candidature__in=candidature_ids,
    ).values_list("evaluator_id", "candidature_id"):
        blocked[user_id].add(candidature_id)
    sent = 0
    for membership in memberships:
        cell, user = cells[membership.cell_id], membership.user
        lines = changes[(cell.call_id, cell.region_id)].visible_to(blocked[user.pk])
        if not lines:
            continue
        sent += send_once(
            user,
            preference=DIGEST,
            kind=ReminderKind.DIGEST,
            milestone=milestone,
            related=cell,
            now=now,
            template="coordinator_digest",
            event="evaluation.coordinator_digest",
            context={
                "cell": cell,
                "day": start.date(),
                "counts": counts(lines),
                "lines": lines,
                "cell_url": settings.SITE_URL + reverse("cell_home", args=[cell.pk]),
                "consolidation_url": settings.SITE_URL
                + reverse("consolidation_list", args=[cell.pk]),
            },
            call=cell.call,
        )
    if sent:
        logger.info("Coordinator digests: %s email(s) queued", sent)
    return sent
