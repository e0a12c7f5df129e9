"""Checks every uploaded file goes through before it is stored, whatever it is attached to
(candidature documents today, message attachments tomorrow): archive bombs, then the antivirus.

``check_upload(file, name)`` raises ``ValidationError`` with a French message saying what to do;
it returns quietly when the file may be stored. The file's format is the caller's business
(``candidatures.documents`` checks it by content before calling this).

The antivirus is ClamAV's daemon, ``clamd``, reached through ``clamav-client`` (a maintained fork
of python-clamd) on a Unix socket (``CLAMD_SOCKET``) or TCP (``CLAMD_HOST``/``CLAMD_PORT``): the
file is streamed to it (INSTREAM), never written anywhere first. The scan fails closed: when clamd
cannot answer, the upload is refused, unless ``AMI_ANTIVIRUS_FAIL_OPEN`` (development only; the
``--deploy`` system check refuses it) lets it through with a warning in the logs.
"""

import logging
import zipfile
import zlib

from clamav_client.clamd import ClamdError, ClamdNetworkSocket, ClamdUnixSocket
from django.conf import settings
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

ZIP_MAGIC = b"PK\x03\x04"
# Below this much declared content an archive cannot be a bomb, whatever its ratio (a tiny
# XML part may well compress 200 times).
RATIO_FLOOR_BYTES = 1024 * 1024

UNAVAILABLE = "L'analyse antivirus est momentanément indisponible : réessayez plus tard."


class ScannerUnavailable(Exception):
    """clamd could not be reached or did not give a verdict."""


# --- Archive bombs -------------------------------------------------------------------------


def check_archive_expansion(file, name: str) -> None:
    """Refuse a ZIP container (DOCX, XLSX, ODT, ODS…) that would expand beyond
    ``AMI_UPLOAD_MAX_UNCOMPRESSED_BYTES`` or with an overall compression ratio above
    ``AMI_UPLOAD_MAX_COMPRESSION_RATIO``. Only the central directory is read (the sizes each
    entry declares); nothing is decompressed. Not a ZIP: nothing to check."""
    file.seek(0)
    if file.read(len(ZIP_MAGIC)) != ZIP_MAGIC:
        return
    try:
        file.seek(0)
        with zipfile.ZipFile(file) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError):
        return  # not an archive we can read: the format check refuses it
    expanded = sum(entry.file_size for entry in entries)
    compressed = sum(entry.compress_size for entry in entries)
    too_big = expanded > settings.AMI_UPLOAD_MAX_UNCOMPRESSED_BYTES
    ratio = expanded / max(compressed, 1)
    too_dense = expanded > RATIO_FLOOR_BYTES and ratio > settings.AMI_UPLOAD_MAX_COMPRESSION_RATIO
    if too_big or too_dense:
        logger.warning(
            "Archive refusée (%s) : %d octets décompressés, taux de compression %.0f",
            name,
            expanded,
            ratio,
        )
        raise ValidationError(
            f"Le fichier « {name} » contient des données compressées anormalement volumineuses "
            "(plus de {limit} Mo une fois décompressé, ou compressées plus de {ratio} fois) : "
            "il est refusé par précaution. Enregistrez à nouveau le document depuis votre "
            "logiciel de bureautique, puis déposez-le.".format(
                limit=settings.AMI_UPLOAD_MAX_UNCOMPRESSED_BYTES // (1024 * 1024),
                ratio=settings.AMI_UPLOAD_MAX_COMPRESSION_RATIO,
            )
        )


# --- Antivirus -----------------------------------------------------------------------------


def _client():
    timeout = settings.CLAMD_TIMEOUT
    if settings.CLAMD_SOCKET:
        return ClamdUnixSocket(path=settings.CLAMD_SOCKET, timeout=timeout)
    return ClamdNetworkSocket(host=settings.CLAMD_HOST, port=settings.CLAMD_PORT, timeout=timeout)


def scan(file) -> str | None:
    """The name of the signature clamd found in the file, or None when it is clean. Raises
    ``ScannerUnavailable`` when clamd cannot be reached or answers anything else."""
    file.seek(0)
    try:
        result = _client().instream(file)
    except (ClamdError, OSError) as error:  # OSError: the connection dropped while streaming
        raise ScannerUnavailable(str(error)) from error
    finally:
        file.seek(0)
    status, signature = result.get("stream", (None, None))
    if status == "OK":
        return None
    if status == "FOUND":
        return signature or "inconnue"
    raise ScannerUnavailable(f"réponse inattendue de clamd : {result!r}")


def check_antivirus(file, name: str) -> None:
    """Refuse an infected file, and any file when the antivirus cannot answer (fail closed)."""
    if not settings.AMI_ANTIVIRUS_ENABLED:
        return
    try:
        signature = scan(file)
    except ScannerUnavailable as error:
        if settings.AMI_ANTIVIRUS_FAIL_OPEN:
            logger.warning(
                "Antivirus injoignable, fichier %s accepté sans analyse : %s", name, error
            )
            return
        logger.error("Antivirus injoignable, fichier %s refusé : %s", name, error)
        raise ValidationError(UNAVAILABLE) from error
    if signature is not None:
        logger.warning("Fichier infecté refusé (%s) : signature %s", name, signature)
        raise ValidationError(
            f"Le fichier « {name} » contient un virus ou un logiciel malveillant ({signature}) : "
            "il a été refusé et n'a pas été enregistré. Analysez votre poste avec votre "
            "antivirus, puis déposez un fichier sain."
        )


def check_upload(file, name: str) -> None:
    """Every check an uploaded file goes through before it is stored."""
    check_archive_expansion(file, name)
    check_antivirus(file, name)
    file.seek(0)
