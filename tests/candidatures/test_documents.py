"""Documents of a candidature: detection by content, names, sizes, storage, replacement,
deletion, the right to edit, and the permission-checked download."""

import hashlib
import io
import random
import re
import struct
import zipfile
import zlib
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from ami.formats import format_filesize
from ami.models import FileFormat, Phase
from ami.templatetags.ami_format import filesize
from candidatures.documents import (
    delete_document,
    detect_format,
    open_for_download,
    sanitize_filename,
    store_document,
)
from candidatures.forms import DocumentUploadForm
from candidatures.models import CandidatureState, Document
from tests import factories as f
from tests.form_errors import assert_field_error
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, assert_outcome, client_as

MIB = 1024 * 1024
ALL_FORMATS = [code for code, _label in FileFormat.choices]

# --- Small real files -------------------------------------------------------------------------


def pdf_bytes(padding: int = 0) -> bytes:
    body = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
    return body + b"%" + b"0" * padding + b"\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def png_bytes() -> bytes:
    def chunk(kind, data):
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    pixels = zlib.compress(b"\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\xff\xd9"


def zip_bytes(entries: dict, first: tuple | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if first:
            archive.writestr(zipfile.ZipInfo(first[0]), first[1], compress_type=zipfile.ZIP_STORED)
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


CONTENT_TYPES_XML = '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/"/>'


def docx_bytes() -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": CONTENT_TYPES_XML,
            "_rels/.rels": "<Relationships/>",
            "word/document.xml": "<w:document><w:body><w:p/></w:body></w:document>",
        }
    )


def xlsx_bytes() -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": CONTENT_TYPES_XML,
            "_rels/.rels": "<Relationships/>",
            "xl/workbook.xml": "<workbook><sheets/></workbook>",
            "xl/worksheets/sheet1.xml": "<worksheet/>",
        }
    )


def odf_bytes(mimetype: str) -> bytes:
    return zip_bytes(
        {
            "content.xml": "<office:document-content/>",
            "META-INF/manifest.xml": "<manifest:manifest/>",
        },
        first=("mimetype", mimetype),
    )


def odt_bytes() -> bytes:
    return odf_bytes("application/vnd.oasis.opendocument.text")


def ods_bytes() -> bytes:
    return odf_bytes("application/vnd.oasis.opendocument.spreadsheet")


def exe_bytes() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 200


def upload(data: bytes, name: str = "statuts.pdf", content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, data, content_type=content_type)


# --- Detection by content ---------------------------------------------------------------------


def _detect(data: bytes):
    file = io.BytesIO(data)
    return detect_format(file.read(16), file)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (pdf_bytes(), "pdf"),
        (png_bytes(), "png"),
        (jpeg_bytes(), "jpeg"),
        (docx_bytes(), "docx"),
        (xlsx_bytes(), "xlsx"),
        (odt_bytes(), "odt"),
        (ods_bytes(), "ods"),
    ],
    ids=["pdf", "png", "jpeg", "docx", "xlsx", "odt", "ods"],
)
def test_detect_accepted_formats(data, expected):
    assert _detect(data) == expected


def _bomb_mimetype() -> bytes:
    """An ODF-looking archive whose ``mimetype`` entry inflates to 20 MB."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", b"application/vnd.oasis.opendocument.text" + b" " * 20 * MIB)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "data",
    [
        exe_bytes(),
        b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64,
        b"<!DOCTYPE html><html><script>alert(1)</script></html>",
        b"#!/bin/sh\nrm -rf /\n",
        b"",
        b"PK\x03\x04" + b"\x00" * 100,  # truncated archive
        zip_bytes({"readme.txt": "hello"}),  # an archive of something else
        zip_bytes({"[Content_Types].xml": CONTENT_TYPES_XML, "ppt/presentation.xml": "<p/>"}),
        zip_bytes(  # macro-enabled workbook (.xlsm)
            {
                "[Content_Types].xml": CONTENT_TYPES_XML,
                "xl/workbook.xml": "<workbook/>",
                "xl/vbaProject.bin": "macro",
            }
        ),
        odf_bytes("application/vnd.oasis.opendocument.presentation"),
        _bomb_mimetype(),
    ],
    ids=[
        "exe",
        "elf",
        "html",
        "script",
        "empty",
        "broken-zip",
        "plain-zip",
        "pptx",
        "xlsm",
        "odp",
        "zip-bomb",
    ],
)
def test_detect_refuses_anything_else(data):
    assert _detect(data) is None


# --- Names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\moi\\Statuts signés.pdf", "Statuts signés.pdf"),
        ("sta\x00tu\x1fts\x7f.pdf", "statuts.pdf"),
        ("facture\u202efdp.exe", "facturefdp.exe"),  # right-to-left override dropped
        ("  Budget \t prévisionnel\n2025.xlsx  ", "Budget prévisionnel 2025.xlsx"),
        ("Re\u0301sume\u0301.odt", "Résumé.odt"),  # NFD → NFC
        ("", "document"),
        (None, "document"),
        ("..", "document"),
        ("/", "document"),
    ],
)
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


def test_sanitize_filename_keeps_extension_when_truncating():
    name = sanitize_filename("é" * 300 + ".pdf")
    assert len(name) == 150
    assert name.endswith("éé.pdf")


# --- Sizes in French --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0\u00a0octet"),
        (512, "512\u00a0octets"),
        (850 * 1024, "850\u00a0Ko"),
        (13_002_342, "12,4\u00a0Mo"),
        (10 * MIB, "10\u00a0Mo"),
        (None, ""),
    ],
)
def test_filesize(value, expected):
    assert filesize(value) == expected


def test_filesize_rounds_up_for_limits():
    assert format_filesize(MIB + 1) == "1\u00a0Mo"
    assert format_filesize(MIB + 1, round_up=True) == "1,1\u00a0Mo"


# --- Storing ----------------------------------------------------------------------------------


@pytest.fixture
def applicant(db):
    return f.UserFactory()


@pytest.fixture
def candidature(applicant):
    membership = f.PtceMembershipFactory(user=applicant)
    return f.CandidatureFactory(ptce=membership.ptce)


@pytest.fixture
def statuts(candidature):
    return f.DocumentTypeFactory(call=candidature.call, label="Statuts", allowed_formats=["pdf"])


@pytest.fixture
def any_format(candidature):
    return f.DocumentTypeFactory(
        call=candidature.call, label="Annexe", allowed_formats=ALL_FORMATS, mandatory=False
    )


def stored_names():
    """Every file in the (temporary, private) storage."""
    root = Path(default_storage.location)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("data", "name", "content_type", "stored_name"),
    [
        (pdf_bytes(), "statuts.pdf", "application/pdf", "statuts.pdf"),
        (png_bytes(), "plan.png", "image/png", "plan.png"),
        (jpeg_bytes(), "photo.JPG", "image/jpeg", "photo.JPG"),
        (
            docx_bytes(),
            "lettre.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "lettre.docx",
        ),
        (
            xlsx_bytes(),
            "budget.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "budget.xlsx",
        ),
        (odt_bytes(), "note.odt", "application/vnd.oasis.opendocument.text", "note.odt"),
        (ods_bytes(), "bilan", "application/vnd.oasis.opendocument.spreadsheet", "bilan.ods"),
    ],
    ids=["pdf", "png", "jpeg", "docx", "xlsx", "odt", "ods"],
)
def test_store_accepted_formats(
    candidature, any_format, applicant, data, name, content_type, stored_name
):
    document = store_document(candidature, any_format, upload(data, name, "text/html"), applicant)
    document.refresh_from_db()
    assert document.content_type == content_type  # from the content, not from the browser
    assert document.size == len(data)
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.original_name == stored_name
    assert document.uploaded_by == applicant
    assert document.file.name.startswith(f"candidatures/{candidature.pk}/")
    assert name.split(".")[0] not in document.file.name  # opaque name on disk
    with default_storage.open(document.file.name, "rb") as stored:
        assert stored.read() == data


def test_store_refuses_renamed_executable(candidature, statuts, applicant):
    with pytest.raises(ValidationError) as error:
        store_document(candidature, statuts, upload(exe_bytes(), "setup.pdf"), applicant)
    assert error.value.messages == [
        "Le fichier « setup.pdf » n'est pas un PDF valide : son contenu ne correspond à aucun "
        "des formats acceptés pour « Statuts » (PDF). Vérifiez le fichier puis déposez-le à "
        "nouveau."
    ]
    assert not Document.objects.exists()
    assert stored_names() == []


def test_store_refuses_a_valid_file_of_another_format(candidature, statuts, applicant):
    with pytest.raises(ValidationError) as error:
        store_document(candidature, statuts, upload(png_bytes(), "scan.png"), applicant)
    assert "est une image PNG : ce format n'est pas accepté pour « Statuts » (PDF)" in str(
        error.value
    )
    assert not Document.objects.exists()


def test_store_refuses_unknown_content_with_unknown_extension(candidature, statuts, applicant):
    with pytest.raises(ValidationError) as error:
        store_document(candidature, statuts, upload(b"<html></html>", "page.html"), applicant)
    assert "« page.html » n'est pas dans un format reconnu" in str(error.value)


def test_store_refuses_oversized_file(candidature, applicant):
    small = f.DocumentTypeFactory(call=candidature.call, label="Statuts", max_size_mb=1)
    data = pdf_bytes()
    data += b"0" * (MIB + 1 - len(data))
    assert len(data) == MIB + 1
    with pytest.raises(ValidationError) as error:
        store_document(candidature, small, upload(data), applicant)
    assert error.value.messages == [
        "Le fichier « statuts.pdf » pèse 1,1\u00a0Mo : la limite pour « Statuts » est de 1 Mo. "
        "Réduisez-le (PDF compressé, images moins lourdes) puis déposez-le à nouveau."
    ]
    assert not Document.objects.exists()
    assert stored_names() == []


def test_store_accepts_file_exactly_at_the_limit(candidature, applicant):
    small = f.DocumentTypeFactory(call=candidature.call, max_size_mb=1)
    data = pdf_bytes()
    data += b"0" * (MIB - len(data))
    document = store_document(candidature, small, upload(data), applicant)
    assert document.size == MIB


def test_store_refuses_empty_file(candidature, statuts, applicant):
    with pytest.raises(ValidationError) as error:
        store_document(candidature, statuts, upload(b"", "vide.pdf"), applicant)
    assert "« vide.pdf » est vide" in str(error.value)
    assert not Document.objects.exists()


def test_store_refuses_type_of_another_call(candidature, applicant):
    other_type = f.DocumentTypeFactory()
    with pytest.raises(ValidationError):
        store_document(candidature, other_type, upload(pdf_bytes()), applicant)
    assert not Document.objects.exists()


def test_store_sanitises_the_name(candidature, statuts, applicant):
    document = store_document(
        candidature, statuts, upload(pdf_bytes(), "../../etc/passwd"), applicant
    )
    # The base name only, and the extension of what the content really is.
    assert document.original_name == "passwd.pdf"
    document = store_document(
        candidature, statuts, upload(pdf_bytes(), "Sta\x00tuts\u202e signés.pdf"), applicant
    )
    assert document.original_name == "Statuts signés.pdf"


def test_replace_keeps_one_row_and_removes_old_file(
    candidature, statuts, applicant, django_capture_on_commit_callbacks
):
    first = store_document(candidature, statuts, upload(pdf_bytes(), "v1.pdf"), applicant)
    old_name = first.file.name
    with django_capture_on_commit_callbacks(execute=True):
        second = store_document(
            candidature, statuts, upload(pdf_bytes(padding=10), "v2.pdf"), applicant
        )
    assert Document.objects.filter(candidature=candidature).count() == 1
    assert second.pk == first.pk
    second.refresh_from_db()
    assert second.original_name == "v2.pdf"
    assert second.sha256 == hashlib.sha256(pdf_bytes(padding=10)).hexdigest()
    assert not default_storage.exists(old_name)
    assert default_storage.exists(second.file.name)
    assert stored_names() == [second.file.name]


def test_refused_replacement_keeps_the_current_document(candidature, statuts, applicant):
    first = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    with pytest.raises(ValidationError):
        store_document(candidature, statuts, upload(exe_bytes(), "v2.pdf"), applicant)
    first.refresh_from_db()
    assert first.original_name == "statuts.pdf"
    assert default_storage.exists(first.file.name)


def test_delete_removes_row_and_file(
    candidature, statuts, applicant, django_capture_on_commit_callbacks
):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    name = document.file.name
    with django_capture_on_commit_callbacks(execute=True):
        delete_document(document, applicant)
    assert not Document.objects.exists()
    assert not default_storage.exists(name)


def _submit(candidature):
    candidature.state = CandidatureState.SUBMITTED
    candidature.submitted_at = timezone.now()
    candidature.save()


def _close_call(call):
    call.closes_at = timezone.now() - timedelta(minutes=1)
    call.save()


@pytest.mark.parametrize(
    "change", [_submit, lambda c: _close_call(c.call)], ids=["submitted", "closed"]
)
def test_no_upload_nor_delete_once_not_editable(candidature, statuts, applicant, change):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    change(candidature)
    candidature.refresh_from_db()
    with pytest.raises(PermissionDenied):
        store_document(candidature, statuts, upload(pdf_bytes(padding=5), "v2.pdf"), applicant)
    with pytest.raises(PermissionDenied):
        delete_document(document, applicant)
    document.refresh_from_db()
    assert document.original_name == "statuts.pdf"
    assert stored_names() == [document.file.name]


def test_no_upload_when_call_phase_is_over(candidature, statuts, applicant):
    candidature.call.phase = Phase.REGIONAL_REVIEW
    candidature.call.save()
    with pytest.raises(PermissionDenied):
        store_document(candidature, statuts, upload(pdf_bytes()), applicant)


def test_no_upload_by_someone_outside_the_team(candidature, statuts):
    with pytest.raises(PermissionDenied):
        store_document(candidature, statuts, upload(pdf_bytes()), f.UserFactory())
    assert not Document.objects.exists()


def test_open_for_download_checks_visibility(candidature, statuts, applicant):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    with open_for_download(document, applicant) as file:
        assert file.read() == pdf_bytes()
    with pytest.raises(PermissionDenied):
        open_for_download(document, f.UserFactory())


# --- Views ------------------------------------------------------------------------------------


def pieces_url(candidature):
    return reverse("candidature_step", args=[candidature.pk, "pieces"])


def upload_url(candidature, document_type):
    return reverse("document_upload", args=[candidature.pk, document_type.pk])


def message_list(response):
    return [(m.level, str(m)) for m in get_messages(response.wsgi_request)]


def test_upload_view_stores_and_redirects(client, candidature, statuts, applicant):
    client.force_login(applicant)
    response = client.post(
        upload_url(candidature, statuts), {"file": upload(pdf_bytes(), "Statuts 2025.pdf")}
    )
    assert response.status_code == 302
    assert response["Location"] == pieces_url(candidature)
    document = Document.objects.get()
    assert document.original_name == "Statuts 2025.pdf"
    assert message_list(response) == [
        (messages.SUCCESS, "« Statuts » : le fichier « Statuts 2025.pdf » a été déposé.")
    ]


def test_upload_view_replaces(client, candidature, statuts, applicant):
    client.force_login(applicant)
    client.post(upload_url(candidature, statuts), {"file": upload(pdf_bytes(), "v1.pdf")})
    response = client.post(
        upload_url(candidature, statuts), {"file": upload(pdf_bytes(), "v2.pdf")}
    )
    assert Document.objects.get().original_name == "v2.pdf"
    assert "a remplacé le précédent" in message_list(response)[-1][1]


def test_upload_view_reports_refusal(client, candidature, statuts, applicant):
    client.force_login(applicant)
    response = client.post(
        upload_url(candidature, statuts), {"file": upload(exe_bytes(), "setup.pdf")}
    )
    assert response.status_code == 302
    assert response["Location"] == pieces_url(candidature)
    assert not Document.objects.exists()
    [(level, text)] = message_list(response)
    assert level == messages.ERROR
    assert "n'est pas un PDF valide" in text


def test_upload_view_without_file(client, candidature, statuts, applicant):
    client.force_login(applicant)
    response = client.post(upload_url(candidature, statuts), {})
    assert response.status_code == 302
    assert message_list(response) == [
        (messages.ERROR, "Choisissez un fichier à déposer pour « Statuts ».")
    ]


def test_upload_view_refused_after_submission(client, candidature, statuts, applicant):
    _submit(candidature)
    client.force_login(applicant)
    response = client.post(upload_url(candidature, statuts), {"file": upload(pdf_bytes())})
    assert response.status_code == 302
    assert not Document.objects.exists()
    [(level, text)] = message_list(response)
    assert level == messages.ERROR
    assert "ne peut plus être modifiée" in text


def test_upload_view_needs_post_and_login(client, candidature, statuts, applicant):
    url = upload_url(candidature, statuts)
    response = client.post(url, {"file": upload(pdf_bytes())})
    assert response.status_code == 302
    assert response["Location"].startswith("/compte/login/")
    client.force_login(applicant)
    assert client.get(url).status_code == 405
    assert not Document.objects.exists()


def test_upload_view_404_for_another_ptce_and_another_call(client, candidature, statuts):
    other = f.PtceMembershipFactory().user
    client.force_login(other)
    response = client.post(upload_url(candidature, statuts), {"file": upload(pdf_bytes())})
    assert response.status_code == 404
    client.force_login(candidature.ptce.memberships.get().user)
    foreign_type = f.DocumentTypeFactory()
    response = client.post(upload_url(candidature, foreign_type), {"file": upload(pdf_bytes())})
    assert response.status_code == 404
    assert not Document.objects.exists()


def test_delete_view(client, candidature, statuts, applicant, django_capture_on_commit_callbacks):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    client.force_login(applicant)
    url = reverse("document_delete", args=[candidature.pk, document.pk])
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)
    assert response.status_code == 302
    assert response["Location"] == pieces_url(candidature)
    assert not Document.objects.exists()
    assert not default_storage.exists(document.file.name)
    assert message_list(response) == [
        (messages.SUCCESS, "« Statuts » : le fichier « statuts.pdf » a été supprimé.")
    ]


def test_delete_view_refused_after_submission_and_for_others(
    client, candidature, statuts, applicant
):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    url = reverse("document_delete", args=[candidature.pk, document.pk])
    client.force_login(f.PtceMembershipFactory().user)
    assert client.post(url).status_code == 404
    _submit(candidature)
    client.force_login(applicant)
    response = client.post(url)
    assert response.status_code == 302
    assert message_list(response)[0][0] == messages.ERROR
    assert Document.objects.filter(pk=document.pk).exists()


def test_download_as_attachment(client, candidature, statuts, applicant):
    document = store_document(
        candidature, statuts, upload(pdf_bytes(), "Statuts signés.pdf"), applicant
    )
    client.force_login(applicant)
    response = client.get(reverse("document_download", args=[candidature.pk, document.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == pdf_bytes()
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment; ")
    assert "filename*=utf-8''Statuts%20sign%C3%A9s.pdf" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"
    assert response["Content-Length"] == str(len(pdf_bytes()))


def test_download_of_a_document_of_another_candidature_is_404(
    client, candidature, statuts, applicant
):
    mine = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    other_user = f.UserFactory()
    other = f.CandidatureFactory(ptce=f.PtceMembershipFactory(user=other_user).ptce)
    client.force_login(other_user)
    # Own candidature in the URL, someone else's document id.
    response = client.get(reverse("document_download", args=[other.pk, mine.pk]))
    assert response.status_code == 404


def test_download_missing_file_is_404(client, candidature, statuts, applicant):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    default_storage.delete(document.file.name)
    client.force_login(applicant)
    response = client.get(reverse("document_download", args=[candidature.pk, document.pk]))
    assert response.status_code == 404


def _attach(candidature, document_type, data=None, name="statuts.pdf"):
    """A document on a candidature of any state (bypassing the right to edit)."""
    data = data or pdf_bytes()
    stored = default_storage.save(f"candidatures/{candidature.pk}/x", io.BytesIO(data))
    return Document.objects.create(
        candidature=candidature,
        document_type=document_type,
        file=stored,
        original_name=name,
        size=len(data),
        content_type="application/pdf",
        sha256=hashlib.sha256(data).hexdigest(),
    )


# Who may download a document of a submitted candidature of region A (DESIGN §3).
DOWNLOAD_SUBMITTED = {
    "anonymous": LOGIN,
    "applicant": OK,
    "other_applicant": NOT_FOUND,
    "cra_evaluator": OK,
    "cra_coordinator": OK,
    "other_region_evaluator": NOT_FOUND,
    "cna_member": OK,
    "cna_admin": OK,
    "staff": OK,
}
# … and of a draft: nobody but its team (none in the world) and staff.
DOWNLOAD_DRAFT = {
    role: (LOGIN if role == "anonymous" else OK if role == "staff" else NOT_FOUND) for role in ROLES
}


@pytest.mark.parametrize("role", ROLES)
def test_download_permissions(client, world, role):
    document_type = f.DocumentTypeFactory(call=world.call)
    for candidature, expected in (
        (world.candidature_a, DOWNLOAD_SUBMITTED),
        (world.draft_a, DOWNLOAD_DRAFT),
    ):
        document = _attach(candidature, document_type)
        url = reverse("document_download", args=[candidature.pk, document.pk])
        response = client_as(client, world, role).get(url)
        assert_outcome(response, expected[role], url, role)
        if response.status_code == 200:
            assert response["Content-Disposition"].startswith("attachment; ")
            assert response["X-Content-Type-Options"] == "nosniff"
            assert b"".join(response.streaming_content) == pdf_bytes()


# --- Template ---------------------------------------------------------------------------------


def _render(candidature, applicant, rows, can_edit):
    request = RequestFactory().get("/")
    request.user = applicant
    return render_to_string(
        "candidatures/documents/_list.html",
        {"document_rows": rows, "candidature": candidature, "can_edit": can_edit},
        request=request,
    )


def test_list_template(candidature, statuts, any_format, applicant):
    document = store_document(
        candidature, statuts, upload(pdf_bytes(padding=2000), "Statuts.pdf"), applicant
    )
    html = _render(candidature, applicant, [(statuts, document), (any_format, None)], True)
    ids = re.findall(r'\sid="([^"]+)"', html)
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert html.count('class="fr-upload-group"') == 2
    assert html.count('enctype="multipart/form-data"') == 2
    assert html.count("csrfmiddlewaretoken") == 3  # two uploads, one delete
    assert f'for="piece-fichier-{statuts.pk}"' in html
    assert 'accept=".pdf"' in html
    assert 'accept=".pdf,.docx,.odt,.xlsx,.ods,.png,.jpg,.jpeg"' in html
    assert reverse("document_download", args=[candidature.pk, document.pk]) in html
    assert reverse("document_delete", args=[candidature.pk, document.pk]) in html
    assert "2\u00a0Ko" in html
    assert document.sha256 in html
    assert document.sha256[:12] + "…" in html
    assert "Obligatoire" in html and "Facultative" in html
    assert "Aucun fichier déposé." in html


def test_list_template_read_only(candidature, statuts, applicant):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    html = _render(candidature, applicant, [(statuts, document)], False)
    assert "<form" not in html
    assert reverse("document_download", args=[candidature.pk, document.pk]) in html
    assert "Cet appel ne demande aucune" in _render(candidature, applicant, [], False)


def test_large_upload_streamed_to_disk(client, candidature, any_format, applicant):
    """Above FILE_UPLOAD_MAX_MEMORY_SIZE the upload is a temporary file on disk: sniffed, hashed
    and moved into the storage all the same."""
    data = zip_bytes(
        {
            "[Content_Types].xml": CONTENT_TYPES_XML,
            "word/document.xml": "<w:document/>",
            "word/media/image1.bin": random_bytes(6 * MIB),
        }
    )
    assert len(data) > 6 * MIB
    client.force_login(applicant)
    response = client.post(
        upload_url(candidature, any_format), {"file": upload(data, "Dossier complet.docx")}
    )
    assert response.status_code == 302
    document = Document.objects.get()
    assert document.content_type.endswith("wordprocessingml.document")
    assert document.sha256 == hashlib.sha256(data).hexdigest()
    with default_storage.open(document.file.name, "rb") as stored:
        assert stored.read() == data


def random_bytes(size: int) -> bytes:
    return random.Random(0).randbytes(size)  # incompressible, reproducible


def test_pieces_step_page_shows_the_list(client, candidature, statuts, any_format, applicant):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    client.force_login(applicant)
    response = client.get(pieces_url(candidature))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="piece-fichier-{statuts.pk}"' in html
    assert f'id="piece-fichier-{any_format.pk}"' in html
    assert reverse("document_download", args=[candidature.pk, document.pk]) in html


def test_upload_form_error_in_french_next_to_the_field(statuts):
    """The upload field is drawn by the one field template; its « required » error names the
    piece (the view shows the same text in a message, back on the « Pièces » step)."""
    form = DocumentUploadForm({}, {}, document_type=statuts)
    assert not form.is_valid()
    html = render_to_string("includes/form_errors.html", {"form": form})
    html += form["file"].as_field_group()
    assert_field_error(
        html,
        f"piece-{statuts.pk}-file",
        "Choisissez un fichier à déposer pour « Statuts ».",
        target=f"piece-fichier-{statuts.pk}",
    )
