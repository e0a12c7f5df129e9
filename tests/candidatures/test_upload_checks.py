"""Checks every uploaded document goes through before it is stored (ami.upload_checks): archive
bombs, and a real ClamAV daemon (clamd) with a one-signature database written here (the EICAR
test string), no download."""

import io
import logging
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from ami.upload_checks import UNAVAILABLE, check_upload
from candidatures.documents import store_document
from candidatures.models import Document
from tests import factories as f
from tests.candidatures.test_documents import (
    ALL_FORMATS,
    CONTENT_TYPES_XML,
    docx_bytes,
    pdf_bytes,
    stored_names,
    upload,
)


@pytest.fixture
def applicant(db):
    return f.UserFactory()


@pytest.fixture
def candidature(applicant):
    return f.CandidatureFactory(ptce=f.PtceMembershipFactory(user=applicant).ptce)


@pytest.fixture
def statuts(candidature):
    return f.DocumentTypeFactory(call=candidature.call, label="Statuts", allowed_formats=["pdf"])


@pytest.fixture
def any_format(candidature):
    return f.DocumentTypeFactory(
        call=candidature.call, label="Annexe", allowed_formats=ALL_FORMATS, mandatory=False
    )


CLAMD = "/usr/sbin/clamd"
# The EICAR test file: every antivirus detects it, it does nothing.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SIGNATURE = "Ami.Test.EICAR"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- Archive bombs --------------------------------------------------------------------------


def docx_with(part: bytes) -> bytes:
    """A DOCX whose document part is ``part``, deflated."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES_XML)
        archive.writestr("_rels/.rels", "<Relationships/>")
        archive.writestr("word/document.xml", part)
    return buffer.getvalue()


def test_a_docx_compressed_too_many_times_is_refused(candidature, any_format, applicant):
    bomb = docx_with(b"\0" * (4 * 1024 * 1024))  # 4 MiB of zeros: about 4 KiB once deflated
    with pytest.raises(ValidationError) as error:
        store_document(candidature, any_format, upload(bomb, "rapport.docx", DOCX), applicant)
    assert "anormalement volumineuses" in error.value.messages[0]
    assert "rapport.docx" in error.value.messages[0]
    assert not Document.objects.exists()
    assert stored_names() == []


def test_a_docx_expanding_beyond_the_limit_is_refused(candidature, any_format, applicant, settings):
    settings.AMI_UPLOAD_MAX_UNCOMPRESSED_BYTES = 256 * 1024
    noise = os.urandom(300 * 1024)  # does not compress: the ratio stays near 1
    with pytest.raises(ValidationError) as error:
        store_document(
            candidature, any_format, upload(docx_with(noise), "gros.docx", DOCX), applicant
        )
    assert "anormalement volumineuses" in error.value.messages[0]
    assert not Document.objects.exists()


def test_an_ordinary_docx_passes(candidature, any_format, applicant):
    store_document(candidature, any_format, upload(docx_bytes(), "lettre.docx", DOCX), applicant)
    assert Document.objects.count() == 1


# --- Antivirus (real clamd) -----------------------------------------------------------------


def _clamd_or_skip() -> str:
    found = shutil.which("clamd") or (CLAMD if os.access(CLAMD, os.X_OK) else None)
    if found is None:
        message = "clamd absent : apt-get install clamav-daemon"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="module")
def clamd_socket():
    """A clamd of our own on a Unix socket in a temporary folder, with one signature (EICAR as
    a hex body signature, so that it is found inside any file), stopped after the module."""
    binary = _clamd_or_skip()
    folder = Path(tempfile.mkdtemp(prefix="ami-clamd-"))
    database = folder / "db"
    database.mkdir()
    (database / "ami-test.ndb").write_text(f"{SIGNATURE}:0:*:{EICAR.hex()}\n")
    socket_path = folder / "clamd.sock"
    config = folder / "clamd.conf"
    config.write_text(
        f"LocalSocket {socket_path}\n"
        "Foreground yes\n"
        f"DatabaseDirectory {database}\n"
        f"TemporaryDirectory {folder}\n"
        f"LogFile {folder / 'clamd.log'}\n" + ("User root\n" if os.geteuid() == 0 else "")
        # Started as root, Debian's clamd would switch to the « clamav » user, who cannot read
        # this folder.
    )
    process = subprocess.Popen(
        [binary, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(300):
            if socket_path.exists() or process.poll() is not None:
                break
            time.sleep(0.1)
        if not socket_path.exists():
            log = (folder / "clamd.log").read_text() if (folder / "clamd.log").exists() else ""
            pytest.fail(f"clamd did not start:\n{log}")
        yield str(socket_path)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def antivirus(settings, clamd_socket):
    settings.AMI_ANTIVIRUS_ENABLED = True
    settings.AMI_ANTIVIRUS_FAIL_OPEN = False
    settings.CLAMD_SOCKET = clamd_socket
    settings.CLAMD_TIMEOUT = 10
    return clamd_socket


def infected_pdf() -> bytes:
    return pdf_bytes().replace(b"%%EOF", b"% " + EICAR + b"\n%%EOF")


@pytest.mark.integration
def test_clean_file_is_scanned_and_stored(antivirus, candidature, statuts, applicant):
    document = store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    assert document.pk
    assert len(stored_names()) == 1


@pytest.mark.integration
def test_infected_file_is_refused_logged_and_not_stored(
    antivirus, candidature, statuts, applicant, caplog
):
    with caplog.at_level(logging.WARNING, logger="ami.upload_checks"):
        with pytest.raises(ValidationError) as error:
            store_document(candidature, statuts, upload(infected_pdf(), "statuts.pdf"), applicant)
    assert error.value.messages == [
        f"Le fichier « statuts.pdf » contient un virus ou un logiciel malveillant "
        f"({SIGNATURE}.UNOFFICIAL) : il a été refusé et n'a pas été enregistré. Analysez votre "
        "poste avec votre antivirus, puis déposez un fichier sain."
    ]
    assert not Document.objects.exists()
    assert stored_names() == []
    [record] = [r for r in caplog.records if r.name == "ami.upload_checks"]
    assert record.levelno == logging.WARNING
    assert SIGNATURE in record.getMessage()


@pytest.mark.integration
def test_infected_file_through_the_upload_view(antivirus, client, candidature, statuts, applicant):
    from django.contrib.messages import get_messages
    from django.urls import reverse

    client.force_login(applicant)
    url = reverse("document_upload", args=[candidature.pk, statuts.pk])
    response = client.post(url, {"file": upload(infected_pdf(), "statuts.pdf")})
    assert response.status_code == 302
    [message] = [str(m) for m in get_messages(response.wsgi_request)]
    assert "contient un virus" in message
    assert not Document.objects.exists()


@pytest.mark.integration
def test_daemon_down_refuses_the_upload(settings, clamd_socket, candidature, statuts, applicant):
    settings.AMI_ANTIVIRUS_ENABLED = True
    settings.AMI_ANTIVIRUS_FAIL_OPEN = False
    settings.CLAMD_SOCKET = clamd_socket + ".absent"  # nobody listens there
    with pytest.raises(ValidationError) as error:
        store_document(candidature, statuts, upload(pdf_bytes()), applicant)
    assert error.value.messages == [UNAVAILABLE]
    assert "réessayez plus tard" in UNAVAILABLE
    assert not Document.objects.exists()
    assert stored_names() == []


def test_fail_open_accepts_with_a_warning_when_the_daemon_is_down(settings, caplog, tmp_path):
    """Development only (the --deploy check refuses it)."""
    settings.AMI_ANTIVIRUS_ENABLED = True
    settings.AMI_ANTIVIRUS_FAIL_OPEN = True
    settings.CLAMD_SOCKET = str(tmp_path / "absent.sock")
    with caplog.at_level(logging.WARNING, logger="ami.upload_checks"):
        check_upload(io.BytesIO(pdf_bytes()), "statuts.pdf")
    assert "sans analyse" in caplog.text


def test_daemon_down_is_refused_without_starting_clamd(settings, tmp_path):
    settings.AMI_ANTIVIRUS_ENABLED = True
    settings.AMI_ANTIVIRUS_FAIL_OPEN = False
    settings.CLAMD_SOCKET = str(tmp_path / "absent.sock")
    with pytest.raises(ValidationError) as error:
        check_upload(io.BytesIO(pdf_bytes()), "statuts.pdf")
    assert error.value.messages == [UNAVAILABLE]


# --- Deployment check -----------------------------------------------------------------------


def test_deploy_check_refuses_a_disabled_or_fail_open_antivirus(settings):
    from ami.checks import antivirus_check

    settings.AMI_ANTIVIRUS_ENABLED = True
    settings.AMI_ANTIVIRUS_FAIL_OPEN = False
    assert antivirus_check(None) == []
    settings.AMI_ANTIVIRUS_FAIL_OPEN = True
    assert [error.id for error in antivirus_check(None)] == ["ami.E002"]
    settings.AMI_ANTIVIRUS_ENABLED = False
    settings.AMI_ANTIVIRUS_FAIL_OPEN = False
    assert [error.id for error in antivirus_check(None)] == ["ami.E001"]


def test_missing_clamd_skips_with_the_hint_and_fails_under_ci(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install clamav-daemon"):
        _clamd_or_skip()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="apt-get install clamav-daemon"):
        _clamd_or_skip()
