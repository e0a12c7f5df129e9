"""Documents (pièces justificatives) of a candidature: checking, storing, replacing, deleting and
opening them for download. Plain functions over model instances and the acting user (DESIGN §6).

Files are checked on the server by their content, never by the browser's word: the name and the
``Content-Type`` sent with the upload are ignored except to show the user's file name back.
They live in the private default storage under an opaque name (``document_upload_path``) and are
only ever served through a permission-checked view (DESIGN §3).
"""

import hashlib
import logging
import os
import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from ami.audit import audited
from ami.formats import format_filesize
from ami.models import FileFormat
from ami.storage import delete_quietly, open_stream
from ami.upload_checks import check_upload

from .complements import editable_scope
from .drafting import editing_refusal
from .models import Candidature, Document, Message

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
MAX_NAME_LENGTH = 150
HEAD_SIZE = 16  # enough for every signature below

CONTENT_TYPES = {
    FileFormat.PDF: "application/pdf",
    FileFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    FileFormat.ODT: "application/vnd.oasis.opendocument.text",
    FileFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    FileFormat.ODS: "application/vnd.oasis.opendocument.spreadsheet",
    FileFormat.PNG: "image/png",
    FileFormat.JPEG: "image/jpeg",
}
# File name extensions of each format; the first one is added when the name has none of them.
EXTENSIONS = {
    FileFormat.PDF: (".pdf",),
    FileFormat.DOCX: (".docx",),
    FileFormat.ODT: (".odt",),
    FileFormat.XLSX: (".xlsx",),
    FileFormat.ODS: (".ods",),
    FileFormat.PNG: (".png",),
    FileFormat.JPEG: (".jpg", ".jpeg", ".jpe", ".jfif"),
}
# « n'est pas {noun} valide », « est {noun} »
NOUNS = {
    FileFormat.PDF: "un PDF",
    FileFormat.DOCX: "un document Word (.docx)",
    FileFormat.ODT: "un document OpenDocument texte (.odt)",
    FileFormat.XLSX: "un classeur Excel (.xlsx)",
    FileFormat.ODS: "un classeur OpenDocument tableur (.ods)",
    FileFormat.PNG: "une image PNG",
    FileFormat.JPEG: "une image JPEG",
}

# --- Detection by content -------------------------------------------------------------------
#
# Why our own sniffer rather than python-magic: libmagic is a system library (one more thing to
# install on every machine and in the Dockerfile) that knows thousands of formats, while we accept
# exactly seven, each with an unambiguous signature: PDF, PNG and JPEG by their first bytes, and
# the four office formats, which are all ZIP archives, by the archive's own table of contents (and
# for OpenDocument the tiny uncompressed ``mimetype`` entry the standard puts first). libmagic does
# the same for these (and often answers only « Zip archive » or « Microsoft OOXML »). Anything
# else (an executable, a script, HTML, an archive of something else) is refused. The content is
# not parsed further: the files are never opened on the server, they are served as attachments
# with their detected type, ``nosniff`` and a CSP that forbids everything.

PDF_MAGIC = b"%PDF-"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
JPEG_MAGIC = b"\xff\xd8\xff"
ZIP_MAGIC = b"PK\x03\x04"
ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": FileFormat.ODT,
    b"application/vnd.oasis.opendocument.spreadsheet": FileFormat.ODS,
}
MAX_MIMETYPE_SIZE = 100  # the ODF ``mimetype`` entry is ~46 bytes


def detect_format(head: bytes, file) -> str | None:
    """The ``FileFormat`` code of the file judged by its content, or None.

    ``head`` is the start of the file (at least 8 bytes); ``file`` a seekable binary file object,
    only read for ZIP-based formats (its position is left anywhere)."""
    if head.startswith(PDF_MAGIC):
        return FileFormat.PDF
    if head.startswith(PNG_MAGIC):
        return FileFormat.PNG
    if head.startswith(JPEG_MAGIC):
        return FileFormat.JPEG
    if head.startswith(ZIP_MAGIC):
        return _detect_zip_format(file)
    return None


def _detect_zip_format(file) -> str | None:
    """Tell the office formats apart by the archive's table of contents. Nothing is extracted:
    only the central directory is read (its size is bounded by the upload's), plus at most
    ``MAX_MIMETYPE_SIZE`` decompressed bytes of the ODF ``mimetype`` entry (no zip bomb)."""
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if "[Content_Types].xml" in names:
                return _ooxml_format(names)
            if "mimetype" in names:
                return _odf_format(archive)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError):
        # RuntimeError: encrypted entry; NotImplementedError is a RuntimeError (unknown method).
        return None
    return None


def _ooxml_format(names) -> str | None:
    word = any(name.startswith("word/") for name in names)
    excel = any(name.startswith("xl/") for name in names)
    # Macro-enabled documents (.docm, .xlsm) carry a VBA project: refused, they are not what the
    # type asks for and a macro is code.
    macros = any(name.lower().endswith("vbaproject.bin") for name in names)
    if macros or word == excel:
        return None
    return FileFormat.DOCX if word else FileFormat.XLSX


def _odf_format(archive) -> str | None:
    info = archive.getinfo("mimetype")
    if info.file_size > MAX_MIMETYPE_SIZE or info.compress_size > MAX_MIMETYPE_SIZE:
        return None
    with archive.open(info) as entry:
        mimetype = entry.read(MAX_MIMETYPE_SIZE + 1).strip()
    return ODF_MIMETYPES.get(mimetype)


# --- File names ----------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[/\\]")
_SPACES = re.compile(r"\s+")


def _is_space(char: str) -> bool:
    """Tabs and line breaks become spaces; other control characters are dropped."""
    return char in "\t\n\r\v\f" or unicodedata.category(char) in ("Zs", "Zl", "Zp")


def sanitize_filename(name) -> str:
    """The user's file name made safe to show and to send back in ``Content-Disposition``: base
    name only, NFC, no control or format characters (bidi overrides included), no path
    separators, single spaces, accents kept, at most 150 characters with the extension kept."""
    name = unicodedata.normalize("NFC", str(name or ""))
    name = _SEPARATORS.split(name)[-1]
    name = "".join(
        " " if _is_space(char) else char
        for char in name
        if _is_space(char) or not unicodedata.category(char).startswith("C")
    )
    name = _SPACES.sub(" ", name).strip(" .")
    if not name:
        return "document"
    return _truncate(name)


def _truncate(name: str) -> str:
    if len(name) <= MAX_NAME_LENGTH:
        return name
    stem, extension = os.path.splitext(name)
    if len(extension) > 10:  # not a real extension
        stem, extension = name, ""
    return stem[: MAX_NAME_LENGTH - len(extension)].rstrip(" .") + extension


def _with_extension(name: str, file_format: str) -> str:
    """Make the name end with an extension of the detected format, so that a saved download is
    opened by the right program (and a PDF never lands on a disk named ``x.html``)."""
    extensions = EXTENSIONS[file_format]
    if name.lower().endswith(extensions):
        return name
    return _truncate(name + extensions[0])


# --- Storing and deleting ------------------------------------------------------------------


def _check_can_edit(candidature, actor, document_type=None):
    refusal = editing_refusal(candidature, actor)
    if refusal:
        raise PermissionDenied(refusal)
    _fields, types_in_scope = editable_scope(candidature)
    if document_type is not None and types_in_scope is not None:
        if document_type.pk not in types_in_scope:
            raise PermissionDenied(
                f"La pièce « {document_type.label} » ne fait pas partie des compléments demandés."
            )


def _storage():
    return Document._meta.get_field("file").storage


def _format_refusal(name, document_type, detected) -> str:
    accepted = document_type.allowed_formats_display
    if detected is not None:
        return (
            f"Le fichier « {name} » est {NOUNS[detected]} : ce format n'est pas accepté pour "
            f"« {document_type.label} » ({accepted}). Enregistrez-le dans l'un de ces formats "
            "puis déposez-le à nouveau."
        )
    _stem, extension = os.path.splitext(name.lower())
    claimed = next((code for code, exts in EXTENSIONS.items() if extension in exts), None)
    what = f"n'est pas {NOUNS[claimed]} valide" if claimed else "n'est pas dans un format reconnu"
    return (
        f"Le fichier « {name} » {what} : son contenu ne correspond à aucun des formats acceptés "
        f"pour « {document_type.label} » ({accepted}). Vérifiez le fichier puis déposez-le à "
        "nouveau."
    )


def _size_refusal(name, document_type, size) -> str:
    return (
        f"Le fichier « {name} » pèse {format_filesize(size, round_up=True)} : la limite pour "
        f"« {document_type.label} » est de {document_type.max_size_mb} Mo. Réduisez-le (PDF "
        "compressé, images moins lourdes) puis déposez-le à nouveau."
    )


def _hash_and_size(uploaded_file) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    uploaded_file.seek(0)
    for chunk in uploaded_file.chunks():
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


@dataclass(frozen=True)
class CheckedFile:
    """An uploaded file that passed every check: its safe name (with the extension of its
    format), size, SHA-256, format and the content type it is served with."""

    name: str
    size: int
    sha256: str
    file_format: str

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES[self.file_format]


def check_file(uploaded_file, rules) -> CheckedFile:
    """The checks of every file a person uploads (a document, a message's attachment), judged
    by its content: size, emptiness, format, archive bombs and the antivirus. ``rules`` says
    what is accepted (``label``, ``allowed_formats``, ``allowed_formats_display``,
    ``max_size_mb``: a ``DocumentType`` or the same attributes). Raises ValidationError with a
    French message saying what to do."""
    name = sanitize_filename(getattr(uploaded_file, "name", ""))
    limit = rules.max_size_mb * MIB
    declared = getattr(uploaded_file, "size", None)
    if declared is not None and declared > limit:  # before reading a byte of a huge file
        raise ValidationError(_size_refusal(name, rules, declared))
    sha256, size = _hash_and_size(uploaded_file)
    if size == 0:
        raise ValidationError(
            f"Le fichier « {name} » est vide. Vérifiez le fichier puis déposez-le à nouveau."
        )
    if size > limit:
        raise ValidationError(_size_refusal(name, rules, size))
    uploaded_file.seek(0)
    detected = detect_format(uploaded_file.read(HEAD_SIZE), uploaded_file)
    if detected is None or detected not in rules.allowed_formats:
        raise ValidationError(_format_refusal(name, rules, detected))
    # Archive bombs and the antivirus (clamd), before a byte reaches the storage.
    check_upload(uploaded_file, name)
    uploaded_file.seek(0)
    return CheckedFile(_with_extension(name, detected), size, sha256, detected)


@audited
def store_document(candidature, document_type, uploaded_file, actor) -> Document:
    """Check an uploaded file and attach it to the candidature as its document of that type,
    replacing the previous one. Raises PermissionDenied (the actor may not edit the candidature)
    or ValidationError (French message saying what to do)."""
    _check_can_edit(candidature, actor, document_type)
    if document_type.call_id != candidature.call_id:
        raise ValidationError(
            "Ce type de pièce n'est pas demandé par l'appel de cette candidature."
        )
    checked = check_file(uploaded_file, document_type)

    storage = _storage()
    new_name = None
    try:
        with transaction.atomic():
            locked = (
                Candidature.objects.select_for_update(of=("self",))
                .select_related("call", "ptce")
                .get(pk=candidature.pk)
            )
            _check_can_edit(locked, actor, document_type)  # the state may have changed since
            document = Document.objects.filter(
                candidature=locked, document_type=document_type
            ).first() or Document(candidature=locked, document_type=document_type)
            old_name = document.file.name if document.pk else None
            uploaded_file.seek(0)
            # the stored name is opaque (upload_to)
            document.file.save(checked.name, uploaded_file, save=False)
            new_name = document.file.name
            document.original_name = checked.name
            document.size = checked.size
            document.content_type = checked.content_type
            document.sha256 = checked.sha256
            document.uploaded_by = actor
            document.uploaded_at = timezone.now()
            document.save()
            if old_name and old_name != new_name:
                transaction.on_commit(partial(delete_quietly, storage, old_name), robust=True)
    except BaseException:
        if new_name:
            delete_quietly(storage, new_name)
        raise
    return document


@audited
def delete_document(document, actor) -> None:
    """Remove a document of a draft candidature; its file leaves the storage after commit."""
    _check_can_edit(document.candidature, actor, document.document_type)
    storage = _storage()
    with transaction.atomic():
        locked = (
            Candidature.objects.select_for_update(of=("self",))
            .select_related("call", "ptce")
            .get(pk=document.candidature_id)
        )
        _check_can_edit(locked, actor, document.document_type)
        name = document.file.name
        Document.objects.filter(pk=document.pk).delete()
        if name:
            transaction.on_commit(partial(delete_quietly, storage, name), robust=True)


def open_for_download(document, actor):
    """The document's file, opened for reading, if the actor may see its candidature (DESIGN §3:
    ``visible_to`` is the one rule). Raises PermissionDenied otherwise, FileNotFoundError when the
    file is missing from the storage."""
    if not Candidature.objects.visible_to(actor).filter(pk=document.candidature_id).exists():
        raise PermissionDenied("Vous n'avez pas accès à cette pièce.")
    return open_stream(document.file.storage, document.file.name)


def referenced_files(names: list[str]) -> set[str]:
    """Which of these stored names a document or a message attachment still references (the
    orphan sweep of the private storage, ``ami.orphans``)."""
    return set(Document.objects.filter(file__in=names).values_list("file", flat=True)) | set(
        Message.objects.filter(attachment__in=names).values_list("attachment", flat=True)
    )
