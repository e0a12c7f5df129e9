"""The region's ZIP of dossiers, for the cell's coordinators: ask for it, follow its progress
(htmx polling), download it while it lasts. Thin views over ``evaluation.region_export``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from ami.scoping import get_visible_or_404
from ami.storage import download_response

from .. import region_export
from ..models import RegionExport
from .lookups import coordinated_cell_or_404

RECENT = 5


@login_required
@require_http_methods(["GET", "POST"])
def region_exports(request, cell_pk):
    cell = coordinated_cell_or_404(request.user, cell_pk)
    if request.method == "POST":
        try:
            region_export.request_export(cell, request.user)
        except PermissionDenied as error:
            raise Http404 from error
        messages.success(
            request,
            "L'export est lancé : suivez sa progression ci-dessous, le lien de téléchargement "
            "apparaît quand il est prêt.",
        )
        return redirect("region_exports", cell_pk=cell.pk)
    exports = list(
        RegionExport.objects.visible_to(request.user)
        .filter(cell=cell)
        .select_related("created_by")[:RECENT]
    )
    return render(
        request,
        "evaluation/coordinator/region_exports.html",
        {
            "cell": cell,
            "exports": exports,
            "count": region_export.region_candidatures(cell, request.user).count(),
            "expiry_hours": int(region_export.EXPIRY.total_seconds() // 3600),
        },
    )


def _export_or_404(user, cell_pk, export_pk):
    cell = coordinated_cell_or_404(user, cell_pk)
    return get_visible_or_404(
        RegionExport.objects.select_related("created_by", "cell__region"),
        user,
        pk=export_pk,
        cell=cell,
    )


@login_required
@require_GET
def region_export_status(request, cell_pk, export_pk):
    """One export's line, polled by htmx while it is being built."""
    export = _export_or_404(request.user, cell_pk, export_pk)
    return render(
        request,
        "evaluation/coordinator/_region_export.html",
        {"export": export, "cell": export.cell},
    )


@login_required
@require_GET
def region_export_download(request, cell_pk, export_pk):
    export = _export_or_404(request.user, cell_pk, export_pk)
    file = region_export.open_ready(export)
    if file is None:
        raise Http404
    return download_response(
        file, filename=region_export.download_name(export), content_type="application/zip"
    )
