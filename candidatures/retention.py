"""Retention of documents (pièces justificatives): the files of candidatures that were not
selected are deleted ``settings.DOCUMENT_RETENTION_YEARS`` years after their call's results were
published (docs/operations.md « Personal data and retention » gives the reasoning).

What goes: the ``Document`` rows and their files, for every candidature of such a call that is
not a laureate — not selected, inadmissible, withdrawn, drafts never submitted, anything left
unfinished. What stays: the candidature, its answers, its history, and its snapshot at
submission, which records each document's name, size and SHA-256 (the « attestation de dépôt »
can still be checked against a copy). Laureates' documents are never touched.

``purge_documents`` is a dry run unless ``wet_run=True`` (DESIGN §8), and idempotent: a purged
document has no row left, so a second run finds nothing more. Each file leaves the storage (the
local folder or the bucket, ``ami.storage``) before its row: a file the storage could not delete
keeps its row, and the next run tries again, so no file is ever left behind without a row.
``manage.py purge_documents`` and the Celery task ``candidatures.purge_documents`` call it.

Message attachments follow the same rule (same candidatures, same delay): their files leave the
storage too. Messages are append-only (a database trigger refuses any update or delete); its one
exception is this purge: the attachment field blanked and ``attachment_purged_at`` stamped, once,
every other column unchanged. The thread then shows the attachment's name, size and SHA-256 with
the date it was deleted; the audit trail records the update."""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Min, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from ami.formats import plural
from ami.models import Call, CallPhaseChange, Phase
from ami.storage import delete_quietly

from .models import CandidatureState, Document, Message

logger = logging.getLogger(__name__)

BATCH_SIZE = 500
# Phases a call reaches once its results are published.
PUBLISHED_PHASES = (Phase.PUBLISHED, Phase.ARCHIVED)


def years_before(moment, years: int):
    """``moment`` moved back by whole calendar years (29 February → 28 February)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def cutoff(now=None, years: int | None = None):
    """Calls whose results were published before this moment have passed their retention."""
    years = settings.DOCUMENT_RETENTION_YEARS if years is None else years
    return years_before(now or timezone.now(), years)


def calls_past_retention(now=None, years: int | None = None):
    """Published calls (``published_on`` annotated): the first move to « résultats publiés » in
    the phase log, or, for a call published without that log (imported data), the end of its
    national review."""
    first_publication = (
        CallPhaseChange.objects.filter(call=OuterRef("pk"), to_phase=Phase.PUBLISHED)
        .order_by()
        .values("call")
        .annotate(first=Min("at"))
        .values("first")
    )
    return (
        Call.objects.filter(phase__in=PUBLISHED_PHASES)
        .annotate(published_on=Coalesce(Subquery(first_publication), F("national_review_deadline")))
        .filter(published_on__lt=cutoff(now, years))
    )


def _past_retention(queryset, now=None, years: int | None = None):
    """Rows of ``queryset`` (with a ``candidature``) past their retention: every candidature of
    those calls but the laureates (by state, and by decision in case a state was not updated)."""
    return (
        queryset.filter(candidature__call__in=calls_past_retention(now, years).values("pk"))
        .exclude(candidature__state=CandidatureState.LAUREATE)
        .exclude(candidature__decision__outcome="laureate")
    )


def purgeable_documents(now=None, years: int | None = None):
    """Documents past their retention."""
    return _past_retention(Document.objects.all(), now, years)


def purgeable_attachments(now=None, years: int | None = None):
    """Messages whose attachment file is past its retention and still stored."""
    return _past_retention(Message.objects.exclude(attachment=""), now, years)


@dataclass
class CallPurge:
    call: str
    published_on: object
    candidatures: int
    documents: int
    size: int


@dataclass
class PurgeReport:
    wet_run: bool
    cutoff: object
    calls: list[CallPurge] = field(default_factory=list)
    documents: int = 0
    size: int = 0
    failed: int = 0  # files the storage could not delete: their rows stay for the next run
    attachments: int = 0  # message attachments (files deleted, messages kept)
    attachments_size: int = 0

    @property
    def candidatures(self) -> int:
        return sum(line.candidatures for line in self.calls)


def _summary(documents, calls) -> list[CallPurge]:
    rows = (
        documents.order_by()
        .values("candidature__call")
        .annotate(
            candidatures=Count("candidature", distinct=True),
            documents=Count("pk"),
            size=Coalesce(Sum("size"), 0),
        )
    )
    by_call = {row["candidature__call"]: row for row in rows}
    return [
        CallPurge(
            call=call.name,
            published_on=call.published_on,
            candidatures=by_call[call.pk]["candidatures"],
            documents=by_call[call.pk]["documents"],
            size=by_call[call.pk]["size"],
        )
        for call in calls
        if call.pk in by_call
    ]


def _purge_attachments(attachments, report, now, batch_size) -> None:
    """Delete the attachment files, then blank each message's field (the one update its trigger
    allows). A file the storage failed to delete keeps its field for the next run."""
    storage = Message._meta.get_field("attachment").storage
    report.attachments = report.attachments_size = 0
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                attachments.filter(pk__gt=last_pk)
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("pk")
                .values_list("pk", "attachment", "attachment_size")[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1][0]
            deleted = [row for row in batch if delete_quietly(storage, row[1])]
            report.failed += len(batch) - len(deleted)
            Message.objects.filter(pk__in=[pk for pk, _name, _size in deleted]).update(
                attachment="", attachment_purged_at=now
            )
        report.attachments += len(deleted)
        report.attachments_size += sum(size or 0 for _pk, _name, size in deleted)


def purge_documents(
    *, wet_run: bool = False, now=None, years: int | None = None, batch_size: int = BATCH_SIZE
) -> PurgeReport:
    """Report, and with ``wet_run`` delete, the documents past their retention. Rows go in
    batches, each in its own transaction, once their files have left the storage; a file the
    storage failed to delete keeps its row until a later run (counted in ``report.failed``)."""
    now = now or timezone.now()
    calls = list(calls_past_retention(now, years).order_by("published_on", "pk"))
    documents = purgeable_documents(now, years)
    report = PurgeReport(wet_run=wet_run, cutoff=cutoff(now, years))
    report.calls = _summary(documents, calls)
    report.documents = sum(line.documents for line in report.calls)
    report.size = sum(line.size for line in report.calls)
    attachments = purgeable_attachments(now, years).order_by()
    totals = attachments.aggregate(count=Count("pk"), size=Coalesce(Sum("attachment_size"), 0))
    report.attachments, report.attachments_size = totals["count"], totals["size"]
    if not wet_run:
        return report
    _purge_attachments(attachments, report, now, batch_size)
    storage = Document._meta.get_field("file").storage
    report.documents = report.size = 0  # what is actually deleted, from here on
    last_pk = 0
    while True:
        with transaction.atomic():
            batch = list(
                documents.filter(pk__gt=last_pk)
                .select_for_update(of=("self",), skip_locked=True)
                .order_by("pk")
                .values_list("pk", "file", "size")[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1][0]
            deleted = [row for row in batch if not row[1] or delete_quietly(storage, row[1])]
            report.failed += len(batch) - len(deleted)
            Document.objects.filter(pk__in=[pk for pk, _name, _size in deleted]).delete()
        report.documents += len(deleted)
        report.size += sum(size for _pk, _name, size in deleted)
    logger.info(
        "Durée de conservation : %s de %s, %s octets ; %s de messages, %s octets",
        plural(report.documents, "pièce supprimée", "pièces supprimées"),
        plural(report.candidatures, "candidature"),
        report.size,
        plural(report.attachments, "pièce jointe supprimée", "pièces jointes supprimées"),
        report.attachments_size,
    )
    if report.failed:
        logger.error(
            "Durée de conservation : %s du stockage ; leurs pièces sont gardées pour la "
            "prochaine exécution",
            plural(
                report.failed,
                "fichier n'a pas pu être supprimé",
                "fichiers n'ont pas pu être supprimés",
            ),
        )
    return report
