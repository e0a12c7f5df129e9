"""Downloads of the national review: the national table (XLSX, with the dashboard's filters) and
the procès-verbal of the deliberation (PDF, XLSX) once the list is fixed. Thin views over
``evaluation.national_exports``; for anyone outside the CNA and the staff, and for a PV that
does not exist yet, a 404 (never a 403 that would confirm what exists)."""

import io

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from ami.spreadsheets import XLSX_CONTENT_TYPE
from candidatures.models import Candidature

from .. import national, national_exports, notification
from ..filters import NationalFilter
from ..models import Decision, Deliberation
from .consolidation import _no_store
from .national import call_or_404


def _attachment(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return _no_store(response)


def _fixed_deliberation_or_404(call) -> Deliberation:
    deliberation = Deliberation.objects.filter(call=call, fixed_at__isnull=False).first()
    if deliberation is None:
        raise Http404
    return deliberation


@login_required
@require_GET
def national_export(request, call_pk):
    call = call_or_404(request.user, call_pk)
    rows = national.national_rows(call, request.user, texts=True)
    filterset = NationalFilter(request.GET, queryset=rows)
    output = io.BytesIO()
    national_exports.national_workbook(call, request.user, output, queryset=filterset.qs)
    return _attachment(
        output.getvalue(), XLSX_CONTENT_TYPE, national_exports.national_filename(call)
    )


@login_required
@require_GET
def pv_pdf(request, call_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = _fixed_deliberation_or_404(call)
    content = national_exports.pv_pdf(deliberation, viewer=request.user)
    return _attachment(content, "application/pdf", national_exports.pv_filename(call, "pdf"))


@login_required
@require_GET
def pv_xlsx(request, call_pk):
    call = call_or_404(request.user, call_pk)
    deliberation = _fixed_deliberation_or_404(call)
    content = national_exports.pv_xlsx(deliberation, viewer=request.user)
    return _attachment(content, XLSX_CONTENT_TYPE, national_exports.pv_filename(call, "xlsx"))


@login_required
@require_GET
def notification_pdf(request, pk):
    """The laureate's « notification d'attribution », once the results are published: for the
    PTCE's team (and whoever may read the candidature); 404 for anyone else or before."""
    candidature = get_object_or_404(Candidature.objects.visible_to(request.user), pk=pk)
    try:
        decision = notification.notification_decision(candidature, request.user)
    except Decision.DoesNotExist as missing:
        raise Http404 from missing
    return _attachment(
        notification.notification_pdf(decision),
        "application/pdf",
        notification.notification_filename(decision),
    )
