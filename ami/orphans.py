"""Orphan sweep of the private storage: files that no row references (an upload whose
transaction rolled back, a worker killed between writing a file and its row, a deletion whose
on-commit callback failed). They would otherwise stay in the folder or the bucket for ever, with
personal data in them.

Each app that stores files registers, in its ``AppConfig.ready()``, the prefix its files live
under and a lookup that says which of a batch of names its rows still reference (DESIGN §6:
``ami`` imports no app). ``sweep`` lists the objects under every registered prefix, keeps those
older than the grace period (an upload in progress writes its file before its row commits) and
not referenced, and deletes them only with ``delete=True``: ``manage.py sweep_orphans`` is a
dry run unless ``--supprimer``; Celery beat runs it daily, deleting only when
``ORPHAN_SWEEP_DELETE`` is set. Idempotent: a deleted orphan is not listed again.

Listing: one paginated LIST on the bucket (name, date and size of each object, no request per
object); ``listdir`` walked on the local folder."""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.storage import default_storage
from django.utils import timezone
from storages.backends.s3 import S3Storage

from .formats import plural

logger = logging.getLogger(__name__)

GRACE = timedelta(hours=24)
BATCH_SIZE = 500

# prefix ("candidatures/") → lookups: names → the subset that rows still reference.
REFERENCES: dict[str, list[Callable[[list[str]], set[str]]]] = {}


def register(prefix: str, lookup: Callable[[list[str]], set[str]]) -> None:
    """Declare that files under ``prefix`` belong to rows; ``lookup(names)`` returns the names of
    the batch that some row references. Several lookups may share a prefix."""
    lookups = REFERENCES.setdefault(prefix, [])
    if lookup not in lookups:
        lookups.append(lookup)


@dataclass(frozen=True)
class StoredObject:
    name: str
    modified: datetime
    size: int


def _s3_objects(storage, prefix: str) -> Iterator[StoredObject]:
    location = storage.location.strip("/")
    strip = f"{location}/" if location else ""
    for summary in storage.bucket.objects.filter(Prefix=strip + prefix):
        yield StoredObject(summary.key[len(strip) :], summary.last_modified, summary.size)


def _filesystem_objects(storage, folder: str) -> Iterator[StoredObject]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        path = f"{folder.rstrip('/')}/{name}"
        yield StoredObject(path, storage.get_modified_time(path), storage.size(path))
    for sub in sorted(folders):
        yield from _filesystem_objects(storage, f"{folder.rstrip('/')}/{sub}")


def stored_objects(storage, prefix: str) -> Iterator[StoredObject]:
    """Every object whose name starts with ``prefix`` (a folder, ending with « / »)."""
    if isinstance(storage, S3Storage):
        return _s3_objects(storage, prefix)
    return _filesystem_objects(storage, prefix)


@dataclass
class SweepReport:
    delete: bool
    older_than: datetime
    orphans: list[StoredObject] = field(default_factory=list)
    deleted: int = 0
    failed: int = 0
    scanned: int = 0

    @property
    def size(self) -> int:
        return sum(item.size for item in self.orphans)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def sweep(
    *,
    delete: bool = False,
    grace: timedelta | None = None,
    now=None,
    storage=None,
    batch_size=BATCH_SIZE,
) -> SweepReport:
    """List (and with ``delete`` remove) the unreferenced files older than ``grace`` (``GRACE``
    by default)."""
    storage = storage or default_storage
    grace = GRACE if grace is None else grace
    older_than = (now or timezone.now()) - grace
    report = SweepReport(delete=delete, older_than=older_than)
    for prefix, lookups in sorted(REFERENCES.items()):
        for batch in _batches(stored_objects(storage, prefix), batch_size):
            report.scanned += len(batch)
            old = [item for item in batch if item.modified < older_than]
            if not old:
                continue
            names = [item.name for item in old]
            referenced = set()
            for lookup in lookups:
                referenced |= lookup(names)
            report.orphans.extend(item for item in old if item.name not in referenced)
    for item in report.orphans:
        logger.info("Fichier orphelin du stockage : %s (%s octets)", item.name, item.size)
    if not delete:
        return report
    for item in report.orphans:
        try:
            storage.delete(item.name)
        except Exception:  # any backend: OSError locally, botocore's errors on a bucket
            logger.exception("Impossible de supprimer le fichier orphelin %s", item.name)
            report.failed += 1
        else:
            report.deleted += 1
    logger.info(
        "Fichiers orphelins : %s, %s en échec",
        plural(report.deleted, "supprimé", "supprimés"),
        report.failed,
    )
    return report
