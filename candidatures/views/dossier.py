"""The dossier (read-only, for everyone who judges the candidature and for its team once
submitted), its « dossier complet » PDF and the documents shown in the browser. Thin views over
``candidatures.dossier`` and ``candidatures.documents``."""

import logging
from tempfile import SpooledTemporaryFile

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ami.scoping import get_visible_or_404
from ami.storage import download_response

from .. import dossier, messaging
from ..documents import open_for_download
from ..models import Document

logger = logging.getLogger(__name__)

SPOOL_SIZE = 16 * 1024 * 1024  # in memory up to 16 Mo, then a temporary file


def _dossier_or_404(user, pk):
    return get_visible_or_404(dossier.submitted_candidatures(), user, pk=pk)


@login_required
@require_GET
def dossier_view(request, pk):
    candidature = _dossier_or_404(request.user, pk)
    context = dossier.dossier_context(candidature)
    context["is_applicant"] = any(m.user_id == request.user.pk for m in context["team"])
    context["can_read_notes"] = messaging.can_read_notes(request.user, candidature)
    return render(request, "candidatures/dossier.html", context)


def _private(response):
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_GET
def dossier_pdf(request, pk):
    candidature = _dossier_or_404(request.user, pk)
    output = SpooledTemporaryFile(max_size=SPOOL_SIZE)
    try:
        dossier.write_dossier_pdf(candidature, output)
    except BaseException:
        output.close()
        raise
    output.seek(0)
    response = FileResponse(
        output,
        as_attachment=True,
        filename=dossier.dossier_filename(candidature),
        content_type="application/pdf",
    )
    response["Content-Security-Policy"] = "default-src 'none'"
    return _private(response)


@login_required
@require_GET
def document_view(request, pk, document_pk):
    """A document shown by the browser itself: PDF and images inline, in a sandbox (no script,
    no form, an opaque origin), with the type detected at upload and ``nosniff``; any other
    type is downloaded. Same rule as the download (``open_for_download``)."""
    document = get_visible_or_404(Document, request.user, pk=document_pk, candidature=pk)
    try:
        file = open_for_download(document, request.user)
    except PermissionDenied:
        raise Http404 from None
    except FileNotFoundError:
        logger.error("Fichier absent du stockage pour la pièce %s (%s)", document.pk, document.file)
        raise Http404 from None
    inline = dossier.is_inline(document)
    response = download_response(
        file,
        as_attachment=not inline,
        filename=document.original_name,
        content_type=document.content_type if inline else "application/octet-stream",
    )
    response["Content-Security-Policy"] = "sandbox" if inline else "default-src 'none'; sandbox"
    return response
