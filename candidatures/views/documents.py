"""Document upload, deletion and download. Thin views over ``candidatures.documents``: the rules
(right to edit, formats, sizes, storage) live there."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from ami.models import DocumentType
from ami.scoping import get_visible_or_404
from ami.storage import download_response

from ..documents import delete_document, open_for_download, store_document
from ..forms import DocumentUploadForm
from ..models import Document
from .common import own_candidature_or_404

logger = logging.getLogger(__name__)


def _pieces_url(candidature):
    return reverse("candidature_step", args=[candidature.pk, "pieces"])


@login_required
@require_POST
def document_upload(request, pk, type_pk):
    candidature = own_candidature_or_404(request.user, pk)
    document_type = get_object_or_404(DocumentType, pk=type_pk, call_id=candidature.call_id)
    form = DocumentUploadForm(request.POST, request.FILES, document_type=document_type)
    if not form.is_valid():
        for message in form.errors["file"]:
            messages.error(request, message)
        return redirect(_pieces_url(candidature))
    uploaded_file = form.cleaned_data["file"]
    replacing = candidature.documents.filter(document_type=document_type).exists()
    try:
        document = store_document(candidature, document_type, uploaded_file, request.user)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    except PermissionDenied as error:
        messages.error(request, str(error) or "Cette candidature ne peut plus être modifiée.")
    else:
        verb = "remplacé le précédent" if replacing else "été déposé"
        messages.success(
            request,
            f"« {document_type.label} » : le fichier « {document.original_name} » a {verb}.",
        )
    return redirect(_pieces_url(candidature))


@login_required
@require_POST
def document_delete(request, pk, document_pk):
    candidature = own_candidature_or_404(request.user, pk)
    document = get_object_or_404(
        candidature.documents.select_related("document_type"), pk=document_pk
    )
    try:
        delete_document(document, request.user)
    except PermissionDenied as error:
        messages.error(request, str(error) or "Cette candidature ne peut plus être modifiée.")
    else:
        messages.success(
            request,
            f"« {document.document_type.label} » : le fichier « {document.original_name} » a "
            "été supprimé.",
        )
    return redirect(_pieces_url(candidature))


@login_required
@require_GET
def document_download(request, pk, document_pk):
    document = get_visible_or_404(Document, request.user, pk=document_pk, candidature=pk)
    try:
        file = open_for_download(document, request.user)
    except PermissionDenied:
        raise Http404 from None
    except FileNotFoundError:
        logger.error("Fichier absent du stockage pour la pièce %s (%s)", document.pk, document.file)
        raise Http404 from None
    return download_response(
        file, filename=document.original_name, content_type=document.content_type
    )
