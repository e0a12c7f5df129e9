"""The hard cap on a request body (ami.middleware.RequestSizeLimitMiddleware): above
``MAX_UPLOAD_REQUEST_BYTES`` nothing is read nor stored, and the answer is a French 413."""

from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from candidatures.models import Document
from tests.candidatures.helpers import PDF_BYTES, submittable

pytestmark = pytest.mark.django_db

LIMIT = 4096


@pytest.fixture
def small_limit(settings):
    settings.MAX_UPLOAD_REQUEST_BYTES = LIMIT


@pytest.fixture
def draft(client):
    candidature, user = submittable()
    client.force_login(user)
    Document.objects.filter(candidature=candidature).delete()
    return candidature


def upload(client, candidature, size, **headers):
    document_type = candidature.call.document_types.get()
    content = PDF_BYTES + b"%" * (size - len(PDF_BYTES))
    return client.post(
        reverse("document_upload", args=[candidature.pk, document_type.pk]),
        {"file": SimpleUploadedFile("statuts.pdf", content, content_type="application/pdf")},
        headers=headers,
    )


def test_an_upload_over_the_cap_is_refused_before_anything_reads_it(client, draft, small_limit):
    response = upload(client, draft, LIMIT * 2)

    assert response.status_code == 413
    page = unescape(response.content.decode())
    assert "Envoi trop volumineux" in page
    assert "dépasse la taille maximale acceptée par la plateforme (4\u00a0Ko)" in page
    assert "rien n'a été enregistré" in page
    assert not Document.objects.filter(candidature=draft).exists()
    # A page of the platform like any other: its layout and its headers.
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_an_upload_under_the_cap_goes_through(client, draft, small_limit):
    response = upload(client, draft, LIMIT // 2)

    assert response.status_code == 302
    assert Document.objects.filter(candidature=draft).count() == 1


def test_any_request_is_capped_not_only_uploads(client, draft, small_limit):
    response = client.post(
        reverse("candidature_autosave", args=[draft.pk, "presentation"]),
        {"title": "x" * (LIMIT * 2)},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 413
    # htmx gets a short line for the autosave status, not a whole page.
    assert response.content.decode().startswith('<span class="fr-error-text">L\'envoi dépasse')
    draft.refresh_from_db()
    assert draft.title != "x" * (LIMIT * 2)


def test_back_link_only_to_this_site(client, draft, small_limit):
    here = "http://testserver" + reverse("candidature_step", args=[draft.pk, "pieces"])
    page = upload(client, draft, LIMIT * 2, referer=here).content.decode()
    assert f'href="{here}"' in page and "Revenir à la page précédente" in page

    page = upload(client, draft, LIMIT * 2, referer="https://ailleurs.example/").content.decode()
    assert "ailleurs.example" not in page and "Revenir à la page précédente" not in page


def test_default_cap_is_above_every_document_limit_of_the_demo(settings):
    """25 MiB: the same as the reverse proxy's (tests/test_deployment.py), and above the
    per-type limits the demo call uses."""
    from wiring.demo.seed import DOCUMENTS

    assert settings.MAX_UPLOAD_REQUEST_BYTES == 25 * 1024 * 1024
    assert max(size for *_rest, size in DOCUMENTS) * 1024 * 1024 < settings.MAX_UPLOAD_REQUEST_BYTES
