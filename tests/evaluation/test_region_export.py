"""The region's ZIP of dossiers (issue 15 item 3): asked for by a coordinator, built by the
Celery task (eager here), one folder per candidature with its dossier PDF and documents, its
progress polled, downloaded while it lasts, then purged."""

import io
import zipfile
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import RegionalCell
from candidatures.models import Candidature
from evaluation import region_export
from evaluation.models import ExportStatus, RegionExport
from tests import factories as f
from tests.candidatures.helpers import add_document
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, add_conflicted_evaluator, assert_outcome

pytestmark = pytest.mark.django_db

COORDINATOR_ONLY = {
    role: (LOGIN if role == "anonymous" else OK if role == "cra_coordinator" else NOT_FOUND)
    for role in ROLES
}


def _cell(world):
    return RegionalCell.objects.get(call=world.call, region=world.region_a)


def _export(client, world, django_capture_on_commit_callbacks):
    cell = _cell(world)
    client.force_login(world.user("cra_coordinator"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("region_exports", args=[cell.pk]))
    assert response.status_code == 302
    return RegionExport.objects.get(cell=cell)


def test_the_task_builds_one_folder_per_candidature(
    client, world, django_capture_on_commit_callbacks
):
    statuts = f.DocumentTypeFactory(call=world.call, label="Statuts")
    add_document(world.candidature_a, statuts, name="statuts.pdf")
    add_document(world.candidature_a, f.DocumentTypeFactory(call=world.call), name="budget.pdf")
    second = f.CandidatureFactory(
        ptce=f.PtceFactory(region=world.region_a, name="Second PTCE"),
        call=world.call,
        state="submitted",
        submitted_at=timezone.now(),
        receipt_number="PTCE-2026-999999",
    )
    export = _export(client, world, django_capture_on_commit_callbacks)
    assert export.status == ExportStatus.READY
    assert (export.total, export.done, export.percent) == (2, 2, 100)
    assert export.expires_at == export.finished_at + timedelta(hours=48)
    assert not export.file.name.startswith("/") and "exports/" in export.file.name
    with default_storage.open(export.file.name, "rb") as file:
        archive = zipfile.ZipFile(io.BytesIO(file.read()))
    names = archive.namelist()
    folder_a = f"{world.candidature_a.receipt_number} - {world.ptce_a.name}"
    assert f"{folder_a}/dossier-{world.candidature_a.receipt_number}.pdf" in names
    assert f"{folder_a}/Statuts - statuts.pdf" in names
    assert any(name.startswith(f"{folder_a}/") and "budget.pdf" in name for name in names)
    assert "PTCE-2026-999999 - Second PTCE/dossier-PTCE-2026-999999.pdf" in names
    # Neither another region's candidature nor a draft.
    assert not any(world.ptce_b.name in name for name in names)
    assert not any(world.draft_a.ptce.name in name for name in names)
    pdf = PdfReader(
        io.BytesIO(archive.read(f"{folder_a}/dossier-{world.candidature_a.receipt_number}.pdf"))
    )
    assert world.ptce_a.name in pdf.pages[0].extract_text()
    # WeasyPrint's PDF as it is (no pypdf rewrite): the title comes from the template.
    assert pdf.metadata.title == f"Dossier complet – {world.ptce_a.name}"
    assert second.pk


def test_download_streams_the_file_then_it_expires(
    client, world, django_capture_on_commit_callbacks
):
    export = _export(client, world, django_capture_on_commit_callbacks)
    url = reverse("region_export_download", args=[export.cell_id, export.pk])
    response = client.get(url)
    assert response.status_code == OK
    assert response.streaming
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    assert zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    page = client.get(reverse("region_exports", args=[export.cell_id])).content.decode()
    assert url in page and "Disponible jusqu" in page
    # 48 hours later: the dry run counts, the hourly purge deletes the file.
    later = timezone.now() + timedelta(hours=49)
    assert region_export.purge_expired(later, wet_run=False) == 1
    assert default_storage.exists(export.file.name)
    assert region_export.purge_expired(later) == 1
    assert not default_storage.exists(export.file.name)
    export.refresh_from_db()
    assert export.status == ExportStatus.EXPIRED
    assert client.get(url).status_code == NOT_FOUND
    assert region_export.purge_expired(later) == 0  # idempotent


def test_progress_is_polled_while_the_export_runs(client, world):
    cell = _cell(world)
    coordinator = world.user("cra_coordinator")
    export = RegionExport.objects.create(
        cell=cell, created_by=coordinator, status=ExportStatus.RUNNING, total=40, done=10
    )
    client.force_login(coordinator)
    url = reverse("region_export_status", args=[cell.pk, export.pk])
    html = client.get(url).content.decode()
    assert 'hx-trigger="every 2s"' in html and f'hx-get="{url}"' in html
    assert "10 dossiers sur 40" in html and 'value="10"' in html
    RegionExport.objects.filter(pk=export.pk).update(status=ExportStatus.FAILED)
    html = client.get(url).content.decode()
    assert "hx-trigger" not in html and "L'export a échoué" in html


def test_a_second_request_while_one_runs_reuses_it_unless_stale(world):
    cell = _cell(world)
    coordinator = world.user("cra_coordinator")
    first = region_export.request_export(cell, coordinator)
    assert region_export.request_export(cell, coordinator) == first
    # A worker killed mid-way leaves it « running »: after a while it no longer blocks.
    RegionExport.objects.filter(pk=first.pk).update(
        status=ExportStatus.RUNNING, created_at=timezone.now() - timedelta(hours=7)
    )
    assert region_export.request_export(cell, coordinator) != first


def _submitted(world, name, number):
    return f.CandidatureFactory(
        ptce=f.PtceFactory(region=world.region_a, name=name),
        call=world.call,
        state="submitted",
        submitted_at=timezone.now(),
        receipt_number=number,
    )


def _entries(export):
    with default_storage.open(export.file.name, "rb") as file:
        archive = zipfile.ZipFile(io.BytesIO(file.read()))
    return archive, archive.namelist()


def _parts_left(export):
    storage, folder = region_export._storage(), f"exports/regions/parts/{export.pk}"
    return storage.listdir(folder)[1] if storage.exists(folder) else []


def test_a_large_region_is_built_in_parts_then_assembled_in_order(world, monkeypatch):
    """Above ``PART_SIZE`` dossiers, one task per part (several workers at once), the part
    completing the count queues the assembly; the ZIP is the same as in one task, the parts are
    deleted. Eager here: the parts run one after the other."""
    add_document(world.candidature_a, f.DocumentTypeFactory(call=world.call), name="budget.pdf")
    for number in range(2):
        _submitted(world, f"PTCE {number}", f"PTCE-2026-90000{number}")
    cell = _cell(world)
    coordinator = world.user("cra_coordinator")
    whole = region_export.build(RegionExport.objects.create(cell=cell, created_by=coordinator))
    monkeypatch.setattr(region_export, "PART_SIZE", 2)
    queued = []
    real_delay = region_export.app.tasks[region_export.PART_TASK].delay
    monkeypatch.setattr(
        region_export.app.tasks[region_export.PART_TASK],
        "delay",
        lambda *args: queued.append(args) or real_delay(*args),
    )
    export = region_export.build(RegionExport.objects.create(cell=cell, created_by=coordinator))
    export.refresh_from_db()
    assert [(index, len(pks)) for _, index, pks, _ in queued] == [(0, 2), (1, 1)]
    assert export.status == ExportStatus.READY
    assert (export.total, export.done) == (3, 3)
    archive, names = _entries(export)
    assert names == _entries(whole)[1]
    folder = f"{world.candidature_a.receipt_number} - {world.ptce_a.name}"
    assert f"{folder}/dossier-{world.candidature_a.receipt_number}.pdf" in names
    assert any(name.startswith(f"{folder}/") and "budget.pdf" in name for name in names)
    assert archive.testzip() is None
    assert _parts_left(export) == []


def test_a_failed_part_fails_the_export_and_leaves_no_part(world, monkeypatch):
    _submitted(world, "PTCE 0", "PTCE-2026-900000")
    monkeypatch.setattr(region_export, "PART_SIZE", 1)
    calls = []
    real = region_export._write_candidature

    def failing_second(archive, candidature, folder):
        calls.append(candidature.pk)
        if len(calls) == 2:
            raise OSError("disque plein")
        real(archive, candidature, folder)

    monkeypatch.setattr(region_export, "_write_candidature", failing_second)
    cell = _cell(world)
    export = region_export.build(
        RegionExport.objects.create(cell=cell, created_by=world.user("cra_coordinator"))
    )
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED
    assert "disque plein" in export.error and not export.file
    assert export.done < export.total
    assert _parts_left(export) == []


def test_a_conflicted_coordinator_does_not_get_the_hidden_dossier(world):
    """The ZIP holds what ``visible_to`` shows its author: a declared conflict hides one."""
    cell = _cell(world)
    conflicted = add_conflicted_evaluator(world)
    visible = set(region_export.region_candidatures(cell, conflicted))
    assert world.candidature_a not in visible
    assert set(region_export.region_candidatures(cell, world.user("cra_coordinator"))) == {
        world.candidature_a
    }
    assert Candidature.objects.filter(pk=world.draft_a.pk).exists()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("screen", ["region_exports", "region_export_status", "download"])
def test_permission_table(client, world, role, screen):
    cell = _cell(world)
    export = RegionExport.objects.create(
        cell=cell, created_by=world.user("cra_coordinator"), status=ExportStatus.RUNNING
    )
    url = {
        "region_exports": reverse("region_exports", args=[cell.pk]),
        "region_export_status": reverse("region_export_status", args=[cell.pk, export.pk]),
        "download": reverse("region_export_download", args=[cell.pk, export.pk]),
    }[screen]
    expected = COORDINATOR_ONLY[role]
    if screen == "download" and expected == OK:
        expected = NOT_FOUND  # not ready yet
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    assert_outcome(client.get(url), expected, url, role)
    if user is not None and role != "cra_coordinator":
        assert client.post(reverse("region_exports", args=[cell.pk])).status_code == NOT_FOUND
        assert RegionExport.objects.filter(cell=cell).count() == 1


def test_another_regions_coordinator_reaches_no_export(client, world):
    cell = _cell(world)
    export = RegionExport.objects.create(
        cell=cell, created_by=world.user("cra_coordinator"), status=ExportStatus.RUNNING
    )
    other_cell = RegionalCell.objects.get(call=world.call, region=world.region_b)
    other = f.RegionalMembershipFactory(cell=other_cell, role="coordinator").user
    client.force_login(other)
    for url in (
        reverse("region_export_status", args=[cell.pk, export.pk]),
        reverse("region_export_status", args=[other_cell.pk, export.pk]),
        reverse("region_export_download", args=[other_cell.pk, export.pk]),
    ):
        assert client.get(url).status_code == NOT_FOUND


def test_on_the_bucket_the_zip_is_stored_streamed_and_purged(
    client, world, s3_bucket, django_capture_on_commit_callbacks
):
    """With PRIVATE_STORAGE=s3 (issue 18, item 2): the task writes the ZIP as an object of the
    bucket, the coordinator's download streams it from there (its length given, no local
    copy), and the purge deletes the object."""
    export = _export(client, world, django_capture_on_commit_callbacks)
    assert export.status == ExportStatus.READY
    assert s3_bucket.keys() == [export.file.name]
    stored = s3_bucket.body(export.file.name)
    response = client.get(reverse("region_export_download", args=[export.cell_id, export.pk]))
    assert response.status_code == OK and response.streaming
    assert response["Content-Length"] == str(len(stored))
    assert b"".join(response.streaming_content) == stored
    assert zipfile.ZipFile(io.BytesIO(stored)).namelist()
    assert region_export.purge_expired(timezone.now() + timedelta(hours=49)) == 1
    assert s3_bucket.keys() == []
