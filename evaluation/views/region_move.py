"""The CNA administrator's move of a candidature to another region's cell
(``evaluation.admission.move_region``), among the national screens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.permissions import is_national_administrator
from ami.models import Region
from candidatures.models import Candidature

from .. import admission
from .errors import errors_of


@login_required
@require_http_methods(["GET", "POST"])
def region_move(request, pk):
    candidature = get_object_or_404(
        Candidature.objects.visible_to(request.user).select_related("call", "ptce", "region"),
        pk=pk,
    )
    if not candidature.submitted_at or not is_national_administrator(
        request.user, candidature.call
    ):
        raise Http404
    regions = list(Region.objects.exclude(pk=candidature.region_id).order_by("name"))
    errors, posted = {}, {"region": "", "reason": ""}
    if request.method == "POST":
        posted = {
            "region": request.POST.get("region", ""),
            "reason": request.POST.get("reason", ""),
        }
        target = next((r for r in regions if r.pk == posted["region"]), None)
        try:
            move = admission.move_region(candidature, target, request.user, posted["reason"])
        except ValidationError as error:
            errors = errors_of(error)
        else:
            messages.success(
                request,
                f"La candidature est désormais instruite par la région {move.to_region.name} ; "
                "les coordinateurs des deux régions sont prévenus.",
            )
            return redirect("candidature_detail", pk=candidature.pk)
    return render(
        request,
        "evaluation/coordinator/region_move.html",
        {
            "candidature": candidature,
            "regions": regions,
            "moves": candidature.region_moves.select_related("from_region", "to_region", "actor"),
            "errors": errors,
            "posted": posted,
        },
        status=422 if errors else 200,
    )
