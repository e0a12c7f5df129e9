"""The region's ZIP: every dossier of a regional cell's candidatures, one folder per
candidature holding its dossier PDF (``candidatures.dossier``: answers, budget, territory,
members, documents with their SHA-256, timeline) and its documents as uploaded.

A coordinator asks for it (``request_export``); a Celery task builds it (``build``) into a
local temporary file, written entry by entry (documents copied from the storage in 1 MiB
chunks, never whole in memory), then saves it to the private default storage (chunked again:
S3-compatible in production) and records its progress on the way for the page's htmx polling.
It expires after ``EXPIRY``: ``purge_expired`` (hourly, Celery beat) deletes the file.

A region of more than ``PART_SIZE`` dossiers is split into parts, one Celery task each
(``build_part``), so that several workers render its PDFs at once: each part writes its own ZIP
to the storage, the progress counts every dossier of every part, and the part that brings the
count to the total (it saved its ZIP before its last count) queues ``assemble``, which copies
the parts' entries, in order, into the final ZIP (streamed, entry by entry) and deletes them.
No result backend is needed (no chord): the database row is the meeting point.
"""

import io
import logging
import os
import shutil
import tempfile
import zipfile
from datetime import timedelta

from django.core.exceptions import PermissionDenied
from django.core.files import File
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.permissions import is_regional_coordinator
from ami import audit
from ami.celery import app
from ami.storage import delete_quietly, open_stream
from candidatures import dossier
from candidatures.documents import sanitize_filename

from .models import ExportStatus, RegionExport, region_export_path

logger = logging.getLogger(__name__)

EXPIRY = timedelta(hours=48)
# An export still « pending » or « running » after this long lost its worker (restarted,
# killed): it no longer stands in the way of a new one.
STALE_AFTER = timedelta(hours=6)
CHUNK = 1024 * 1024
BUILD_TASK = "evaluation.build_region_export"
PART_TASK = "evaluation.build_region_export_part"
ASSEMBLE_TASK = "evaluation.assemble_region_export"
# Dossiers per part: a few minutes of one worker; the largest region (1 680) makes 9 parts.
PART_SIZE = 200
MISSING_LIST = "fichiers-manquants.txt"


def region_candidatures(cell, user):
    """The dossiers of the cell's region and call that ``user`` may read (``visible_to``: a
    declared conflict still hides one), in a stable order."""
    return (
        dossier.dossier_queryset(user)
        .filter(call=cell.call_id, region=cell.region_id)
        .order_by("receipt_number", "pk")
    )


@audit.audited
def request_export(cell, actor) -> RegionExport:
    """A new export of the cell's region, queued after commit; the one already pending or
    running for this cell if there is one (no duplicate work), unless it is stale."""
    if not is_regional_coordinator(actor, cell.call, cell.region):
        raise PermissionDenied("Seuls les coordinateurs de la cellule exportent la région.")
    running = RegionExport.objects.filter(
        cell=cell,
        status__in=[ExportStatus.PENDING, ExportStatus.RUNNING],
        created_at__gte=timezone.now() - STALE_AFTER,
    ).first()
    if running:
        return running
    export = RegionExport.objects.create(cell=cell, created_by=actor)
    transaction.on_commit(lambda: app.tasks[BUILD_TASK].delay(export.pk))
    return export


def _unique(name: str, used: set[str]) -> str:
    stem, extension = os.path.splitext(name)
    candidate, number = name, 2
    while candidate.lower() in used:
        candidate = f"{stem} ({number}){extension}"
        number += 1
    used.add(candidate.lower())
    return candidate


def _folder_name(candidature, used) -> str:
    number = candidature.receipt_number or f"candidature-{candidature.pk}"
    return _unique(sanitize_filename(f"{number} - {candidature.ptce.name}")[:120], used)


def _write_candidature(archive, candidature, folder) -> None:
    pdf = io.BytesIO()
    dossier.write_dossier_pdf(candidature, pdf, append_documents=False)
    archive.writestr(f"{folder}/{dossier.dossier_filename(candidature)}", pdf.getvalue())
    used, missing = {dossier.dossier_filename(candidature).lower(), MISSING_LIST}, []
    for document in candidature.documents.select_related("document_type").order_by(
        "document_type__order", "document_type__pk", "pk"
    ):
        name = _unique(
            sanitize_filename(f"{document.document_type.label} - {document.original_name}"), used
        )
        try:
            source = document.file.storage.open(document.file.name, "rb")
        except (FileNotFoundError, OSError):
            logger.error("Fichier absent du stockage pour la pièce %s", document.pk)
            missing.append(name)
            continue
        info = zipfile.ZipInfo(
            f"{folder}/{name}", timezone.localtime(document.uploaded_at).timetuple()[:6]
        )
        info.compress_type = zipfile.ZIP_STORED  # PDF, images and office files are compressed
        with source, archive.open(info, "w", force_zip64=True) as target:
            shutil.copyfileobj(source, target, CHUNK)
    if missing:
        archive.writestr(
            f"{folder}/{MISSING_LIST}",
            "Ces pièces sont absentes du stockage ; signalez-le à l'équipe de la plateforme :\n"
            + "\n".join(missing)
            + "\n",
        )


def _storage():
    """Where the exports live (private; S3-compatible in production, shared by the workers)."""
    return RegionExport._meta.get_field("file").storage


def _part_name(export, index) -> str:
    return f"exports/regions/parts/{export.pk}/{index:04d}.zip"


def _count_done(export, number=1) -> int:
    """Adds ``number`` exported dossiers; the new count (row locked: concurrent parts wait)."""
    with transaction.atomic():
        RegionExport.objects.filter(pk=export.pk).update(done=F("done") + number)
        return RegionExport.objects.filter(pk=export.pk).values_list("done", flat=True).get()


def _fail(export, error) -> RegionExport:
    logger.exception("Export ZIP %s en échec", export.pk)
    with audit.acting(export.created_by):
        RegionExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.FAILED,
            finished_at=timezone.now(),
            error=f"{type(error).__name__} : {error}"[:500],
        )
    export.refresh_from_db()
    return export


def _finish(export, spool) -> RegionExport:
    """Saves the finished ZIP ``spool`` to the storage and marks the export ready."""
    size = spool.tell()
    spool.seek(0)
    name = export.file.storage.save(region_export_path(export, ""), File(spool, name="export.zip"))
    now = timezone.now()
    with audit.acting(export.created_by):
        RegionExport.objects.filter(pk=export.pk).update(
            status=ExportStatus.READY,
            file=name,
            size=size,
            finished_at=now,
            expires_at=now + EXPIRY,
        )
    export.refresh_from_db()
    return export


def build(export: RegionExport, *, limit: int | None = None) -> RegionExport:
    """Builds the ZIP of ``export`` (claimed once: a second run of the task does nothing), in
    this task for up to ``PART_SIZE`` dossiers, else in parts (``build_part``) queued for every
    worker. ``limit``: only the first dossiers (bench/region_zip.py on a loaded machine)."""
    claimed = RegionExport.objects.filter(pk=export.pk, status=ExportStatus.PENDING).update(
        status=ExportStatus.RUNNING
    )
    if not claimed:
        return export
    export.refresh_from_db()
    cell = export.cell
    candidatures = list(
        region_candidatures(cell, export.created_by).select_related("call", "ptce", "region")[
            :limit
        ]
    )
    RegionExport.objects.filter(pk=export.pk).update(total=len(candidatures))
    used = set()
    folders = [_folder_name(candidature, used) for candidature in candidatures]
    if len(candidatures) > PART_SIZE:
        for index, start in enumerate(range(0, len(candidatures), PART_SIZE)):
            pks = [candidature.pk for candidature in candidatures[start : start + PART_SIZE]]
            app.tasks[PART_TASK].delay(export.pk, index, pks, folders[start : start + PART_SIZE])
        export.refresh_from_db()
        return export
    try:
        with tempfile.TemporaryFile(suffix=".zip") as spool:
            with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for candidature, folder in zip(candidatures, folders, strict=True):
                    _write_candidature(archive, candidature, folder)
                    _count_done(export)
            return _finish(export, spool)
    except Exception as error:
        return _fail(export, error)


def build_part(export: RegionExport, index: int, pks: list, folders: list) -> None:
    """One part of a split export: its dossiers (still those the export's author may read) into
    its own ZIP in the storage; the part completing the count queues the assembly."""
    if export.status != ExportStatus.RUNNING:
        return
    visible = {
        candidature.pk: candidature
        for candidature in region_candidatures(export.cell, export.created_by)
        .select_related("call", "ptce", "region")
        .filter(pk__in=pks)
    }
    name = _part_name(export, index)
    try:
        with tempfile.TemporaryFile(suffix=".zip") as spool:
            with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for number, (pk, folder) in enumerate(zip(pks, folders, strict=True), 1):
                    if pk in visible:
                        _write_candidature(archive, visible[pk], folder)
                    if number < len(pks):  # the last one is counted once the part is saved
                        _count_done(export)
            spool.seek(0)
            _storage().delete(name)  # a retried part replaces its own file
            _storage().save(name, File(spool, name="part.zip"))
    except Exception as error:
        _fail(export, error)
        _delete_parts(export)  # the parts saved so far; those still running delete their own
        return
    if RegionExport.objects.filter(pk=export.pk, status=ExportStatus.FAILED).exists():
        _storage().delete(name)  # another part failed meanwhile: nobody will assemble this one
        return
    if _count_done(export) >= export.total:
        app.tasks[ASSEMBLE_TASK].delay(export.pk)


def _parts(export) -> list[str]:
    return [_part_name(export, index) for index in range(-(-export.total // PART_SIZE))]


def _delete_parts(export) -> None:
    for name in _parts(export):
        _storage().delete(name)


def assemble(export: RegionExport) -> RegionExport:
    """The final ZIP from the parts' entries, in order, each copied in chunks with its own
    compression; then the parts are deleted, whatever happens."""
    parts = _parts(export)
    try:
        if export.status != ExportStatus.RUNNING:
            return export
        with tempfile.TemporaryFile(suffix=".zip") as spool:
            with zipfile.ZipFile(spool, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
                for name in parts:
                    with _storage().open(name, "rb") as part, zipfile.ZipFile(part) as source:
                        for entry in source.infolist():
                            info = zipfile.ZipInfo(entry.filename, entry.date_time)
                            info.compress_type = entry.compress_type
                            with (
                                source.open(entry) as reader,
                                archive.open(info, "w", force_zip64=True) as target,
                            ):
                                shutil.copyfileobj(reader, target, CHUNK)
            return _finish(export, spool)
    except Exception as error:
        return _fail(export, error)
    finally:
        _delete_parts(export)


def download_name(export) -> str:
    when = timezone.localtime(export.created_at)
    region = sanitize_filename(export.cell.region.name)
    return f"dossiers-{region}-{when:%Y-%m-%d-%Hh%M}.zip"


def open_ready(export):
    """The file of a ready, unexpired export, opened through the storage (streamed by the
    view); None when it is not (or no longer) there."""
    if export.status != ExportStatus.READY or not export.file:
        return None
    if export.expires_at and export.expires_at <= timezone.now():
        return None
    try:
        return open_stream(export.file.storage, export.file.name)
    except (FileNotFoundError, OSError):
        logger.error("Fichier absent du stockage pour l'export %s", export.pk)
        return None


def purge_expired(now=None, *, wet_run=True) -> int:
    """Deletes the files of expired exports and marks them expired. Idempotent. Returns how
    many exports it expired (or would, without ``wet_run``)."""
    now = now or timezone.now()
    expired = list(
        RegionExport.objects.filter(status=ExportStatus.READY, expires_at__lte=now).only(
            "pk", "file"
        )
    )
    if not wet_run:
        return len(expired)
    for export in expired:
        if export.file and not delete_quietly(export.file.storage, export.file.name):
            continue
        with audit.acting(None):
            RegionExport.objects.filter(pk=export.pk).update(status=ExportStatus.EXPIRED, file="")
    return len(expired)


def referenced_files(names: list[str]) -> set[str]:
    """Which of these stored names an export still references (``ami.orphans``)."""
    return set(RegionExport.objects.filter(file__in=names).values_list("file", flat=True))
