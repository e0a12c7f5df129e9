"""The forms a candidature's templates draw per row (``{% load candidature_forms %}``)."""

from django import template

from ..forms import DocumentUploadForm

register = template.Library()


@register.filter
def upload_form(document_type, document=None):
    """The upload form of one document type (« Choisir le fichier » or, when ``document`` is
    already there, « Remplacer le fichier »), posted to ``document_upload``."""
    return DocumentUploadForm(document_type=document_type, replacing=document is not None)
