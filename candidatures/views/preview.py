"""The staff's preview of a call's questionnaire: each step's form exactly as an applicant will
see it (same fields, labels, help texts and validation), on a blank candidature that is never
saved. Reached from the call's page in the admin."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from ami.models import Call

from .. import questionnaire
from ..models import Candidature, Ptce


@login_required
@require_GET
def questionnaire_preview(request, call_pk, step=None):
    if not request.user.is_staff:
        raise Http404  # Coorace staff's tool, like the admin it is reached from
    call = get_object_or_404(Call, pk=call_pk)
    steps = questionnaire.steps(call)
    current = questionnaire.get_step(call, step or steps[0].slug)
    if current is None:
        raise Http404
    blank = Candidature(call=call, ptce=Ptce(name="PTCE d'exemple"), answers={})
    form = None
    if current.has_form:
        data = request.GET if "verifier" in request.GET else None
        form = questionnaire.step_form(current, blank, data)
        if form.is_bound:
            form.is_valid()
    previous, following = questionnaire.neighbours(call, current.slug)
    return render(
        request,
        "candidatures/preview.html",
        {
            "preview": call,
            "call": call,
            "candidature": blank,
            "step": current,
            "steps": steps,
            "step_number": [s.slug for s in steps].index(current.slug) + 1,
            "previous_step": previous,
            "next_step": following,
            "form": form,
            "editable": True,
            "document_types": list(call.document_types.all()),
        },
    )
