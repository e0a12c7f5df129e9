"""Exports of the regional cell: its candidatures as an XLSX workbook (written by
``ami.spreadsheets``, formulas neutralised), and one candidature's documents as a ZIP archive
(the national ones are in ``national_exports``)."""

import logging
import os
import shutil
import zipfile
from tempfile import SpooledTemporaryFile

from django.db.models import Prefetch
from django.utils import timezone

from ami.spreadsheets import Sheet, write_xlsx
from candidatures import questionnaire
from candidatures.documents import open_for_download, sanitize_filename

from .consolidation import criterion_mean, opinion_label, submitted_reviews

logger = logging.getLogger(__name__)

MISSING_LIST = "fichiers-manquants.txt"
SPOOL_SIZE = 16 * 1024 * 1024  # a ZIP bigger than this goes to a temporary file on disk


# --- XLSX of the region -------------------------------------------------------------------------


def export_rows(queryset):
    """The rows of the export (from ``consolidation.with_consolidation``) with their submitted
    reviews and scores: three queries whatever the number of rows."""
    return queryset.prefetch_related(
        Prefetch("reviews", queryset=submitted_reviews(), to_attr="submitted_reviews")
    )


def _evaluators(rows) -> list:
    """Every evaluator with a submitted review among the rows, by name."""
    seen = {}
    for row in rows:
        for review in row.submitted_reviews:
            seen.setdefault(review.evaluator_id, review.evaluator)
    return sorted(seen.values(), key=lambda u: (u.last_name.lower(), u.first_name.lower(), u.email))


def _score_value(score):
    if score is None:
        return None
    if score.not_applicable:
        return "n/a"
    return score.score


def consolidation_table(cell, rows) -> tuple[list[str], list[list]]:
    """Header and rows of the export: PTCE, SIRET, state, requested amount, review statistics,
    per criterion of the call the mean score and each evaluator's score, the collegial
    opinion and the rank, then the title and one column per question of the call. Values are
    raw (numbers stay numbers); ``write_workbook`` formats."""
    criteria = list(cell.call.criteria.all())
    evaluators = _evaluators(rows)
    header = [
        "PTCE",
        "SIRET",
        "État",
        "Montant demandé",
        "Évaluations rendues",
        "Moyenne /100",
        "Médiane /100",
        "Minimum /100",
        "Maximum /100",
        "Écart",
        "Désaccord",
    ]
    for criterion in criteria:
        header.append(criterion_mean_header(criterion))
        header.extend(f"{criterion.label} – {evaluator}" for evaluator in evaluators)
    header += [
        "Note consolidée /100",
        "Avis collégial",
        "Justification de la note",
        "Motivation communicable au porteur",
        "Note interne",
        "Rang",
        "Intitulé du projet",
        *questionnaire.export_header(cell.call),
    ]
    table = []
    for row in rows:
        scores = {
            (review.evaluator_id, score.criterion_id): score
            for review in row.submitted_reviews
            for score in review.scores.all()
        }
        line = [
            row.ptce.name,
            row.ptce.siret,
            row.get_state_display(),
            row.requested_amount,
            row.review_count,
            row.score_mean,
            row.score_median,
            row.score_min,
            row.score_max,
            row.score_spread,
            "oui" if row.disagreement else "non",
        ]
        for criterion in criteria:
            on_criterion = [scores.get((e.pk, criterion.pk)) for e in evaluators]
            line.append(criterion_mean(on_criterion))
            line.extend(_score_value(score) for score in on_criterion)
        line += [
            row.collegial_score,
            opinion_label(row.collegial_opinion),
            row.collegial_justification or "",
            row.collegial_motivation or "",
            row.collegial_internal_note or "",
            row.collegial_rank,
        ]
        # The answers as submitted (the frozen snapshot), one column per question.
        answers = (row.snapshot or {}).get("answers") or questionnaire.snapshot_answers(row)
        line.append(answers.get("title") or "")
        line += questionnaire.export_values(cell.call, answers)
        table.append(line)
    return header, table


def criterion_mean_header(criterion) -> str:
    return f"{criterion.label} – moyenne (/{criterion.scale_max})"


def write_workbook(cell, rows, output) -> None:
    """Write the XLSX of the region to the binary file ``output``."""
    header, table = consolidation_table(cell, rows)
    write_xlsx(output, [Sheet("Consolidation", header, table, money=("Montant demandé",))])


def export_filename(cell) -> str:
    stamp = timezone.localdate().strftime("%Y%m%d")
    return f"consolidation-{cell.call.slug}-{cell.region_id}-{stamp}.xlsx"


# --- ZIP of a candidature's documents -------------------------------------------------------------


def _unique(name: str, used: set[str]) -> str:
    stem, extension = os.path.splitext(name)
    candidate, number = name, 2
    while candidate.lower() in used:
        candidate = f"{stem} ({number}){extension}"
        number += 1
    used.add(candidate.lower())
    return candidate


def documents_zip(candidature, actor):
    """The candidature's documents in a ZIP archive, each named ``<type> - <original name>``
    (sanitised, unique), every file opened through ``open_for_download`` (its rights). Returns
    a binary file positioned at its start (in memory up to 16 Mo, then on disk). A file missing
    from the storage is left out and listed in ``fichiers-manquants.txt``.
    Raises PermissionDenied when the actor may not see the candidature."""
    documents = candidature.documents.select_related("document_type").order_by(
        "document_type__order", "document_type__pk", "pk"
    )
    spool = SpooledTemporaryFile(max_size=SPOOL_SIZE)
    try:
        _write_zip(spool, documents, actor)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _write_zip(spool, documents, actor) -> None:
    used, missing = {MISSING_LIST}, []
    with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED) as archive:
        for document in documents:
            name = _unique(
                sanitize_filename(f"{document.document_type.label} - {document.original_name}"),
                used,
            )
            try:
                source = open_for_download(document, actor)
            except FileNotFoundError:
                logger.error("Fichier absent du stockage pour la pièce %s", document.pk)
                missing.append(name)
                continue
            info = zipfile.ZipInfo(name, timezone.localtime(document.uploaded_at).timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            with source, archive.open(info, "w") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)
        if missing:
            archive.writestr(
                MISSING_LIST,
                "Ces pièces sont absentes du stockage ; signalez-le à l'équipe de la "
                "plateforme :\n" + "\n".join(missing) + "\n",
            )


def zip_filename(candidature) -> str:
    return f"pieces-{candidature.receipt_number or candidature.pk}.zip"
