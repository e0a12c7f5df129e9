"""Public pages of a call's results: the laureates and the SCDL open-data file. Thin views over
``evaluation.opendata``; before any decision of the call is published, both are a 404."""

from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from .. import opendata
from ..permissions import can_view_national


def _published_call_or_404(slug):
    """The call, when it is public and has published results; a 404 otherwise."""
    call = get_object_or_404(opendata.public_calls(), slug=slug)
    if not opendata.has_published_results(call):
        raise Http404("Les résultats de cet appel ne sont pas encore publiés.")
    return call


@require_GET
def call_laureates(request, slug):
    call = _published_call_or_404(slug)
    laureates = list(opendata.published_laureates(call))
    export = opendata.scdl_export(call, laureates)
    return render(
        request,
        "evaluation/public/laureates.html",
        {
            "call": call,
            "laureates": laureates,
            "laureate_count": len(laureates),
            "total_granted": sum((d.granted_amount for d in laureates), start=0),
            "export": export,
            # The CNA and the staff see what keeps laureates out of the open-data file.
            "show_export_problems": can_view_national(request.user, call),
        },
    )


@require_GET
def call_subsidies_csv(request, slug):
    call = _published_call_or_404(slug)
    if opendata.settings_problems(call):
        raise Http404("Les données des subventions de cet appel ne sont pas encore disponibles.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{opendata.csv_filename(call)}"'
    response["X-Content-Type-Options"] = "nosniff"
    opendata.write_csv(opendata.scdl_rows(call), response)
    return response
