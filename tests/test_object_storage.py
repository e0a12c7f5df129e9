"""Private files on an S3-compatible bucket (PRIVATE_STORAGE=s3, ami.storage), against a real
local S3 server (moto, tests/s3.py): the applicant's upload lands in the bucket, the download
stays permission-checked and streamed through the view, deletions and the retention job remove
the objects, and the personal-data export, the documents ZIP and the receipt work on it."""

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from botocore.exceptions import EndpointConnectionError
from django.conf import settings as django_settings
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from storages.backends.s3 import S3Storage

from accounts import personal_data
from ami import storage
from ami.models import CallPhaseChange, Phase
from candidatures import retention
from candidatures.documents import delete_document, store_document
from candidatures.models import CandidatureState, Document, Message, MessageSide
from evaluation import exports
from tests import factories as f
from tests import forked
from tests.candidatures.helpers import add_document, submittable

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def upload(data=PDF, name="statuts.pdf"):
    return SimpleUploadedFile(name, data, content_type="application/pdf")


@pytest.fixture
def applicant(db):
    return f.UserFactory()


@pytest.fixture
def candidature(applicant):
    return f.CandidatureFactory(ptce=f.PtceMembershipFactory(user=applicant).ptce)


@pytest.fixture
def statuts(candidature):
    return f.DocumentTypeFactory(call=candidature.call, label="Statuts", allowed_formats=["pdf"])


def download_url(document):
    return reverse("document_download", args=[document.candidature_id, document.pk])


# --- Settings ---------------------------------------------------------------------------------


def settings_of(fork_server, env) -> subprocess.CompletedProcess:
    """The default storage of the development settings started with ``env`` (a process of its
    own, forked from tests/forked.py's helper)."""
    code = (
        "import json; from django.conf import settings; "
        "print(json.dumps(settings.STORAGES['default']))"
    )
    return fork_server(
        # A database URL that is never connected to: no embedded PostgreSQL started.
        {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "ami.settings.dev",
            "DATABASE_URL": "postgres://ami@127.0.0.1:1/ami",
            **env,
        },
        code=f"import django; django.setup(); {code}",
    )


@pytest.fixture(scope="module")
def fork_server():
    with forked.fork_server(django_settings.BASE_DIR, os.environ) as run:
        yield run


@pytest.mark.slow
def test_the_environment_chooses_the_bucket(fork_server):
    result = settings_of(
        fork_server,
        {
            "PRIVATE_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": "ami-prive",
            "AWS_S3_ENDPOINT_URL": "http://minio:9000",
            "AWS_S3_REGION_NAME": "fr-par",
        },
    )
    assert result.returncode == 0, result.stderr
    storage = json.loads(result.stdout)
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    options = storage["OPTIONS"]
    assert options["bucket_name"] == "ami-prive"
    assert options["endpoint_url"] == "http://minio:9000"
    assert options["region_name"] == "fr-par"
    # Private objects, never overwritten, and any signed URL short-lived.
    assert options["default_acl"] == "private"
    assert options["file_overwrite"] is False
    assert options["querystring_auth"] is True
    assert options["querystring_expire"] <= 300

    default = json.loads(settings_of(fork_server, {"PRIVATE_STORAGE": ""}).stdout)
    assert default["BACKEND"] == "django.core.files.storage.FileSystemStorage"

    missing = settings_of(fork_server, {"PRIVATE_STORAGE": "s3", "AWS_STORAGE_BUCKET_NAME": ""})
    assert missing.returncode != 0
    assert "PRIVATE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME" in missing.stderr


# --- Upload and download ----------------------------------------------------------------------


def test_an_upload_through_the_applicant_screen_lands_in_the_bucket(
    s3_bucket, client, candidature, statuts, applicant, tmp_path
):
    client.force_login(applicant)
    response = client.post(
        reverse("document_upload", args=[candidature.pk, statuts.pk]),
        {"file": upload(name="Statuts 2025.pdf")},
    )
    assert response.status_code == 302
    document = Document.objects.get()
    assert isinstance(document.file.storage._wrapped, S3Storage)
    assert s3_bucket.keys() == [document.file.name]
    assert document.file.name.startswith(f"candidatures/{candidature.pk}/")
    assert s3_bucket.body(document.file.name) == PDF
    # Nothing on the web node's disk.
    assert not (tmp_path / "private").exists() or not any((tmp_path / "private").rglob("*.*"))


def test_the_download_is_checked_then_streamed_from_the_bucket(
    s3_bucket, client, candidature, statuts, applicant
):
    document = store_document(candidature, statuts, upload(name="Statuts signés.pdf"), applicant)

    client.force_login(applicant)
    response = client.get(download_url(document))
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == PDF
    assert response["Content-Length"] == str(len(PDF))
    assert "filename*=utf-8''Statuts%20sign%C3%A9s.pdf" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"

    # Another PTCE's member: 404, through the owner's URL or their own candidature's.
    other_user = f.UserFactory()
    other = f.CandidatureFactory(ptce=f.PtceMembershipFactory(user=other_user).ptce)
    client.force_login(other_user)
    assert client.get(download_url(document)).status_code == 404
    url = reverse("document_download", args=[other.pk, document.pk])
    assert client.get(url).status_code == 404
    # Not logged in: to the login page, never to the bucket.
    client.logout()
    response = client.get(download_url(document))
    assert response.status_code == 302 and "amazonaws" not in response["Location"]
    assert s3_bucket.endpoint_url not in response["Location"]


def test_a_large_download_streams_from_the_bucket_without_a_local_copy(
    s3_bucket, client, candidature, statuts, applicant, monkeypatch
):
    data = PDF + os.urandom(5 * 1024 * 1024)
    document = store_document(candidature, statuts, upload(data, name="gros.pdf"), applicant)

    def no_local_copy(*args, **kwargs):
        raise AssertionError("copie locale de l'objet avant l'envoi")

    # django-storages' S3File copies the whole object into this spool before the first read.
    monkeypatch.setattr("storages.backends.s3.tempfile.SpooledTemporaryFile", no_local_copy)
    client.force_login(applicant)
    response = client.get(download_url(document))
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Length"] == str(len(data))
    chunks = list(response.streaming_content)
    # Read chunk by chunk from the object's body: memory bounded by one chunk.
    assert len(chunks) > 1
    assert max(map(len, chunks)) <= storage.STREAM_CHUNK_BYTES
    assert b"".join(chunks) == data
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Security-Policy"] == "default-src 'none'"


def test_a_message_attachment_streams_from_the_bucket(
    s3_bucket, client, candidature, applicant, monkeypatch
):
    data = os.urandom(3 * 1024 * 1024)
    name = default_storage.save(f"candidatures/{candidature.pk}/messages/piece", io.BytesIO(data))
    message = Message.objects.create(
        candidature=candidature,
        author=applicant,
        side=MessageSide.APPLICANT,
        text="Le devis",
        attachment=name,
        attachment_name="devis.pdf",
        attachment_size=len(data),
        attachment_type="application/pdf",
    )

    def no_local_copy(*args, **kwargs):
        raise AssertionError("copie locale de l'objet avant l'envoi")

    monkeypatch.setattr("storages.backends.s3.tempfile.SpooledTemporaryFile", no_local_copy)
    client.force_login(applicant)
    response = client.get(reverse("message_attachment", args=[candidature.pk, message.pk]))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Type"] == "application/pdf"
    assert response["X-Content-Type-Options"] == "nosniff"
    chunks = list(response.streaming_content)
    assert max(map(len, chunks)) <= storage.STREAM_CHUNK_BYTES
    assert b"".join(chunks) == data


def test_the_filesystem_download_keeps_its_length(client, candidature, statuts, applicant):
    document = store_document(candidature, statuts, upload(name="statuts.pdf"), applicant)
    assert not isinstance(document.file.storage._wrapped, S3Storage)
    client.force_login(applicant)
    response = client.get(download_url(document))
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(PDF))
    assert b"".join(response.streaming_content) == PDF


def test_an_object_missing_from_the_bucket_is_404(
    s3_bucket, client, candidature, statuts, applicant
):
    document = store_document(candidature, statuts, upload(), applicant)
    s3_bucket.client.delete_object(Bucket=s3_bucket.name, Key=document.file.name)
    client.force_login(applicant)
    assert client.get(download_url(document)).status_code == 404


def test_replacing_and_deleting_remove_the_objects(
    s3_bucket, candidature, statuts, applicant, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = store_document(candidature, statuts, upload(name="v1.pdf"), applicant).file.name
    with django_capture_on_commit_callbacks(execute=True):
        second = store_document(candidature, statuts, upload(name="v2.pdf"), applicant)
    assert s3_bucket.keys() == [second.file.name] != [first]

    with django_capture_on_commit_callbacks(execute=True):
        delete_document(second, applicant)
    assert s3_bucket.keys() == []


# --- Retention --------------------------------------------------------------------------------


def past_retention_candidature():
    published = timezone.now() - timedelta(
        days=365 * (django_settings.DOCUMENT_RETENTION_YEARS + 1)
    )
    call = f.CallFactory(phase=Phase.PUBLISHED)
    CallPhaseChange.objects.create(
        call=call, from_phase=Phase.DELIBERATED, to_phase=Phase.PUBLISHED, at=published
    )
    candidature = f.CandidatureFactory(call=call, state=CandidatureState.NOT_SELECTED)
    add_document(candidature, f.DocumentTypeFactory(call=call))
    return candidature


def test_the_retention_job_removes_the_objects_from_the_bucket(s3_bucket):
    candidature = past_retention_candidature()
    laureate = f.CandidatureFactory(call=candidature.call, state=CandidatureState.LAUREATE)
    kept = add_document(laureate, f.DocumentTypeFactory(call=candidature.call))
    assert len(s3_bucket.keys()) == 2

    report = retention.purge_documents(wet_run=True)

    assert (report.documents, report.failed) == (1, 0)
    assert s3_bucket.keys() == [kept.file.name]
    assert list(Document.objects.all()) == [kept]


def test_a_file_the_bucket_could_not_delete_keeps_its_row_for_the_next_run(s3_bucket, monkeypatch):
    candidature = past_retention_candidature()
    [key] = s3_bucket.keys()

    def unreachable(self, name):
        raise EndpointConnectionError(endpoint_url=s3_bucket.endpoint_url)

    with monkeypatch.context() as patch:
        patch.setattr(S3Storage, "delete", unreachable)
        report = retention.purge_documents(wet_run=True)
        assert (report.documents, report.failed) == (0, 1)
        out, err = StringIO(), StringIO()
        call_command("purge_documents", "--wet-run", stdout=out, stderr=err)
    assert "Supprimé : 0 pièce de 1 candidature" in out.getvalue()
    assert "1 fichier n'a pas pu être supprimé du stockage" in err.getvalue()
    assert candidature.documents.count() == 1 and s3_bucket.keys() == [key]

    report = retention.purge_documents(wet_run=True)
    assert (report.documents, report.failed) == (1, 0)
    assert candidature.documents.count() == 0 and s3_bucket.keys() == []


# --- Files made from the stored ones ------------------------------------------------------------


def test_the_personal_data_export_reads_the_documents_from_the_bucket(s3_bucket, applicant):
    candidature = f.CandidatureFactory(
        ptce=f.PtceMembershipFactory(user=applicant).ptce,
        state=CandidatureState.SUBMITTED,
        submitted_at=timezone.now(),
    )
    add_document(candidature, f.DocumentTypeFactory(call=candidature.call), content=PDF)

    with zipfile.ZipFile(io.BytesIO(personal_data.export_user_data(applicant))) as archive:
        contents = [archive.read(name) for name in archive.namelist()]
    assert PDF in contents


def test_the_documents_zip_reads_from_the_bucket(s3_bucket, candidature, statuts, applicant):
    store_document(candidature, statuts, upload(name="statuts.pdf"), applicant)
    with (
        exports.documents_zip(candidature, applicant) as spool,
        zipfile.ZipFile(spool) as archive,
    ):
        assert archive.read("Statuts - statuts.pdf") == PDF


def test_submission_and_receipt_work_on_the_bucket(s3_bucket, client):
    candidature, user = submittable()
    document = candidature.documents.get()
    assert s3_bucket.keys() == [document.file.name]
    client.force_login(user)
    response = client.post(reverse("candidature_submit", args=[candidature.pk]))
    assert response.status_code == 302
    receipt = client.get(reverse("candidature_receipt", args=[candidature.pk])).content.decode()
    assert document.sha256 in receipt
    pdf = client.get(reverse("candidature_receipt_pdf", args=[candidature.pk]))
    assert pdf.content.startswith(b"%PDF")


# --- No filesystem path of a stored file --------------------------------------------------------

FILESYSTEM_ONLY = re.compile(
    r"storage\.path\(|\.(?:file|attachment|archive|pdf|zip)\.path\b|temporary_file_path\("
    r"|\bMEDIA_ROOT\b|\bPRIVATE_MEDIA_ROOT\b"
)


def test_no_code_reaches_a_stored_file_by_its_filesystem_path():
    """A bucket has no paths: every app goes through the storage API (open, save, delete)."""
    root = Path(django_settings.BASE_DIR)
    offending = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for app in ("ami", "accounts", "candidatures", "evaluation", "api", "wiring")
        for path in sorted((root / app).rglob("*.py"))
        if "settings" not in path.parts and path.name != "storage.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if FILESYSTEM_ONLY.search(line)
    ]
    assert offending == []


def test_without_moto_the_s3_tests_skip_saying_why_except_in_ci(monkeypatch):
    from _pytest.outcomes import Failed, Skipped

    from tests.s3 import moto_server_class

    monkeypatch.setitem(sys.modules, "moto.server", None)  # import fails as if not installed
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(Skipped, match="moto absent : installez les dépendances de développement"):
        moto_server_class()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(Failed, match="moto absent"):
        moto_server_class()
