"""The CNA administrator's move of a candidature to another region's cell
(``evaluation.admission.move_region``), among the national screens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.permissions import is_national_administrator
from ami.forms import add_errors
from candidatures.models import Candidature

from .. import admission
from ..forms import RegionMoveForm


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
    form = RegionMoveForm(
        request.POST if request.method == "POST" else None, candidature=candidature
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            move = admission.move_region(candidature, data["region"], request.user, data["reason"])
        except ValidationError as error:
            add_errors(form, error)
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
            "moves": candidature.region_moves.select_related("from_region", "to_region", "actor"),
            "form": form,
        },
        status=422 if form.errors else 200,
    )
