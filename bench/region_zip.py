"""Wall time and peak memory of the region's ZIP of dossiers (evaluation.region_export) for the
largest region of the bench call (``manage.py seed_bench``: about 1 680 candidatures in
Île-de-France out of 10 000).

Run: .venv/bin/python bench/region_zip.py [--database-url URL] [--call-slug SLUG]

It runs the Celery task's body (``region_export.build``) in this process, as a worker would:
for each candidature, the dossier PDF (WeasyPrint, answers only: the documents sit beside it in
the folder) and its documents copied from the storage in 1 MiB chunks into a temporary ZIP,
then the ZIP saved to the storage. Printed: the number of dossiers and files, the ZIP's size,
wall time, and the process's peak resident memory (``resource.getrusage``) before and after.

What it measures honestly: the bench seed stores one small PDF per mandatory document type
(about 600 bytes), shared by every candidature; they are rewritten, byte for byte (same
SHA-256), into a temporary storage folder (``--media-root``, removed at the end) so that every
document is really read and copied. Real documents weigh megabytes: the copy is streamed, so
memory does not grow with them, but time does (disk or network bound). The only rows written
to the database are the export's own (``RegionExport``); its file is deleted at the end.

``--broker redis://…``: the parts (``region_export.PART_SIZE`` dossiers each) go to the Celery
workers started beforehand on that broker, the same database and ``--media-root``, e.g.
``CELERY_BROKER_URL=… DATABASE_URL=… PRIVATE_MEDIA_ROOT=… celery -A ami worker -c 2``;
the wall time is then until the export is ready (polled), and the peak memory is the workers'.
"""

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ami_bench_dossier"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--call-slug", default=None)
    parser.add_argument(
        "--limit", type=int, default=None, help="only the first N dossiers (then extrapolated)"
    )
    parser.add_argument("--media-root", default=None, help="storage folder (default: temporary)")
    parser.add_argument("--broker", default=None, help="Celery broker of running workers")
    options = parser.parse_args()
    if options.broker:
        os.environ["CELERY_BROKER_URL"] = options.broker
    media_root = options.media_root or tempfile.mkdtemp(prefix="ami-bench-zip-")
    os.environ["DATABASE_URL"] = options.database_url
    os.environ["PRIVATE_MEDIA_ROOT"] = media_root
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ami.settings.dev")

    import django

    django.setup()

    from django.conf import settings
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db.models import Count

    from accounts.models import RegionalCell, RegionalRole, User
    from candidatures.models import Candidature, Document
    from evaluation import region_export
    from evaluation.models import RegionExport
    from wiring.demo.bench import BENCH_SLUG, bench_call
    from wiring.demo.candidatures import demo_pdf

    settings.DEBUG = False
    call = bench_call(options.call_slug or BENCH_SLUG)
    if call is None:
        sys.exit("No bench call: run manage.py seed_bench first.")
    biggest = (
        Candidature.objects.filter(call=call, submitted_at__isnull=False)
        .values("region_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "region_id")
        .first()
    )
    cell = RegionalCell.objects.select_related("call", "region").get(
        call=call, region_id=biggest["region_id"]
    )
    coordinator = User.objects.filter(
        regional_memberships__cell=cell, regional_memberships__role=RegionalRole.COORDINATOR
    ).order_by("email")[0]
    documents = Document.objects.filter(candidature__call=call, candidature__region=cell.region)
    rewritten = 0
    for name, label in (
        documents.values_list("file", "document_type__label").distinct().order_by("file")
    ):
        if not default_storage.exists(name):
            saved = default_storage.save(name, ContentFile(demo_pdf(f"{label} - banc d'essai")))
            assert saved == name, (saved, name)
            rewritten += 1
    print(
        f"{call.name}: region {cell.region.name}, {biggest['n']} dossiers, "
        f"{documents.count()} documents ({rewritten} shared bench files written to {media_root}); "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )
    before = peak_mib()
    export = RegionExport.objects.create(cell=cell, created_by=coordinator)
    start = time.perf_counter()
    export = region_export.build(export, limit=options.limit)
    while export.status == "running":  # parts queued to the workers (--broker)
        time.sleep(1)
        export.refresh_from_db()
    wall = time.perf_counter() - start
    after = peak_mib()
    try:
        assert export.status == "ready", (export.status, export.error)
        with default_storage.open(export.file.name, "rb") as file:
            entries = len(zipfile.ZipFile(file).namelist())
        print(
            f"ZIP: {export.done} dossiers, {entries} files, {export.size / 1024 / 1024:.1f} MiB; "
            f"wall time {wall:.1f} s ({wall / max(export.done, 1) * 1000:.0f} ms per dossier); "
            f"peak RSS {before:.0f} MiB before, {after:.0f} MiB after"
        )
        if export.done < biggest["n"]:
            print(
                f"extrapolated to the {biggest['n']} dossiers: "
                f"{wall / export.done * biggest['n'] / 60:.0f} min"
            )
    finally:
        if export.file:
            default_storage.delete(export.file.name)
        if not options.media_root:
            shutil.rmtree(media_root, ignore_errors=True)


if __name__ == "__main__":
    main()
