"""Where private files live (documents, message attachments, generated ZIPs and PDFs).

Every private file goes through Django's storage API (``STORAGES["default"]``): ``save``,
``open``, ``delete``, ``exists`` — never a filesystem path (``.path``, ``os.path`` on the media
folder, ``open()`` of a stored name), so that the same code runs on a local private folder
(development, one machine) and on an S3-compatible bucket (several web nodes and workers).

``PRIVATE_STORAGE`` chooses the backend (read by the settings, ``ami/settings/base.py``):

- ``filesystem`` (default): a private folder, ``PRIVATE_MEDIA_ROOT``;
- ``s3``: a bucket of any S3-compatible service through django-storages (``AWS_*`` variables,
  docs/operations.md « Stockage des fichiers »).

Downloads are always answered by a permission-checked view that streams the file object
(``FileResponse``); the bucket is never exposed to browsers, so the signed URLs that
django-storages could build are not used (their expiry is kept short in case one ever is).
``download_response`` streams the object straight from the storage in chunks: on the bucket it
reads the object's HTTP body as it arrives (no copy on the web node's disk or memory, whatever the
file's size), on the filesystem it reads the file. Readers that must seek (pypdf appending the
documents to the dossier PDF) keep ``storage.open``, which hands a seekable copy."""

import logging

from botocore.exceptions import ClientError
from django.http import FileResponse
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

S3_BACKEND = "storages.backends.s3.S3Storage"
FILESYSTEM_BACKEND = "django.core.files.storage.FileSystemStorage"
# Seconds a signed URL of the bucket stays valid (none is handed out; see above).
SIGNED_URL_SECONDS = 60
# A file read from the bucket is held in memory up to this size, then in a temporary file.
READ_SPOOL_BYTES = 1024 * 1024


logger = logging.getLogger(__name__)


def delete_quietly(storage, name: str) -> bool:
    """Remove one stored file; False (and logged) when the storage refused or could not be
    reached — OSError locally, botocore's errors on a bucket. A file already gone counts as
    deleted. The callers keep their rows for a later try, or leave the file to the orphan
    sweep (``ami.orphans``)."""
    try:
        storage.delete(name)
    except Exception:  # any backend
        logger.exception("Impossible de supprimer le fichier %s du stockage", name)
        return False
    return True


def filesystem_storage(location: str) -> dict:
    """``STORAGES`` entry of a private local folder."""
    return {"BACKEND": FILESYSTEM_BACKEND, "OPTIONS": {"location": location}}


def s3_storage(
    *,
    bucket_name: str,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
    location: str = "",
    addressing_style: str | None = None,
    default_acl: str | None = "private",
) -> dict:
    """``STORAGES`` entry of a private S3-compatible bucket. Without keys, boto3 looks for
    credentials in its usual places (``AWS_ACCESS_KEY_ID``…, an instance role)."""
    return {
        "BACKEND": S3_BACKEND,
        "OPTIONS": {
            "bucket_name": bucket_name,
            "endpoint_url": endpoint_url,
            "region_name": region_name,
            "access_key": access_key,
            "secret_key": secret_key,
            "location": location,
            "addressing_style": addressing_style,
            "signature_version": "s3v4",
            # Objects readable by the platform's keys only; no public URL.
            "default_acl": default_acl,
            "querystring_auth": True,
            "querystring_expire": SIGNED_URL_SECONDS,
            # A name already taken gets a new one rather than replacing another file.
            "file_overwrite": False,
            "max_memory_size": READ_SPOOL_BYTES,
        },
    }


# Bytes read from the storage per chunk of a download.
STREAM_CHUNK_BYTES = 64 * 1024


class ObjectStream:
    """A bucket object's body, read forwards as it arrives from the S3 service. Neither ``tell``
    nor ``seek``: FileResponse then streams it chunk by chunk without measuring it (the size is
    known from the object's metadata)."""

    def __init__(self, body, size: int):
        self._body = body
        self.size = size

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def close(self) -> None:
        self._body.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_stream(storage, name: str):
    """The stored file ``name`` opened for one forward read: the object's streaming body on the
    bucket, the file itself on the filesystem. Raises FileNotFoundError when it is missing."""
    if isinstance(storage, S3Storage):
        key = storage._normalize_name(clean_name(name))
        try:
            answer = storage.bucket.Object(key).get()
        except ClientError as error:
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                raise FileNotFoundError(name) from None
            raise
        return ObjectStream(answer["Body"], answer["ContentLength"])
    return storage.open(name, "rb")


def download_response(
    file, *, filename: str, content_type: str, as_attachment: bool = True
) -> FileResponse:
    """The response of a private file opened by ``open_stream`` (or ``storage.open``): streamed
    in chunks, with its length, inert in the browser and never cached."""
    response = FileResponse(
        file, as_attachment=as_attachment, filename=filename, content_type=content_type
    )
    response.block_size = STREAM_CHUNK_BYTES
    if isinstance(file, ObjectStream):
        response["Content-Length"] = str(file.size)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
