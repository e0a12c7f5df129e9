"""The coordinator's admission of a candidature: the admissibility checklist and the request
for complements (with the before/after of what the applicant changed). The rules live in
``evaluation.admission``."""

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ami.formats import euros
from ami.forms import add_errors
from candidatures import questionnaire
from candidatures.complements import field_choices, open_request
from candidatures.models import CandidatureState, FundingStatus

from .. import admission
from ..forms import AdmissibilityForm, ComplementsForm
from ..models import AdmissibilityCheck
from ..permissions import cell_of, region_handed_over, regional_phase_refusal
from .lookups import coordinated_candidature_or_404


@login_required
@require_http_methods(["GET", "POST"])
def admissibility(request, pk):
    candidature = coordinated_candidature_or_404(request.user, pk)
    items = admission.admissibility_checklist(candidature)
    form = AdmissibilityForm(request.POST if request.method == "POST" else None, items=items)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            admission.decide_admissibility(
                candidature,
                request.user,
                admissible=data["decision"] == "admissible",
                answers=dict.fromkeys(data["points"], True),
                motivation=data["motivation"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                f"La candidature est déclarée {candidature.get_state_display()} ; le porteur "
                "en est informé par courriel.",
            )
            return redirect("admissibility", pk=candidature.pk)
    check = AdmissibilityCheck.objects.filter(candidature=candidature).first()
    ptce = candidature.ptce
    phase_refusal = regional_phase_refusal(candidature.call)
    return render(
        request,
        "evaluation/coordinator/admissibility.html",
        {
            "candidature": candidature,
            "cell": cell_of(candidature),
            "items": items,
            "check": check,
            "frozen": list(check.answers.values()) if check else [],
            "documents": list(candidature.documents.select_related("document_type")),
            "members": list(ptce.members.all()),
            "can_decide": candidature.state == CandidatureState.SUBMITTED
            and not phase_refusal
            and not region_handed_over(candidature.call_id, candidature.region_id),
            "phase_refusal": phase_refusal,
            "form": form,
        },
        status=422 if form.errors else 200,
    )


def _amount(value) -> str:
    try:
        return euros(Decimal(value))
    except (InvalidOperation, TypeError, ValueError):
        return "—"


def _lines(lines) -> list[str]:
    statuses = dict(FundingStatus.choices)
    return [
        f"{line.get('funder') or '—'} ({statuses.get(line.get('status'), '')}) : "
        f"{_amount(line.get('amount'))}"
        for line in lines or []
    ]


def describe_changes(call, changes: dict | None) -> list[dict]:
    """The ``changes`` of an answered request, ready to show as before / after."""
    labels = dict(field_choices(call))
    rows = []
    for key, change in (changes or {}).items():
        row = {"kind": "text", "label": labels.get(key, key), "sha256": ""}
        if key.startswith("document:"):
            row.update(
                kind="document",
                label=f"Pièce : {key.removeprefix('document:')}",
                before=change.get("before") or "(aucune pièce)",
                after=change.get("after") or "",
                sha256=change.get("sha256") or "",
            )
        elif key == "requested_amount":
            row.update(before=_amount(change.get("before")), after=_amount(change.get("after")))
        elif key == "cofinancing":
            row.update(
                kind="lines",
                before=_lines(change.get("before")),
                after=_lines(change.get("after")),
            )
        else:
            row.update(
                before=questionnaire.display_by_name(call, key, change.get("before")),
                after=questionnaire.display_by_name(call, key, change.get("after")),
            )
        rows.append(row)
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def complements_request(request, pk):
    candidature = coordinated_candidature_or_404(request.user, pk)
    form = ComplementsForm(
        request.POST if request.method == "POST" else None, call=candidature.call
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            admission.ask_complements(
                candidature,
                request.user,
                message=data["message"],
                fields=sorted(data["fields"]),
                document_types=list(data["document_types"]),
                due_at=data["due_at"],
            )
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                "La demande de compléments est envoyée au porteur ; la candidature lui est "
                "rendue jusqu'à la date limite.",
            )
            return redirect("complements_request", pk=candidature.pk)
    labels = dict(field_choices(candidature.call))
    history = [
        {
            "request": complement,
            "fields": [labels.get(name, name) for name in complement.fields],
            "changes": describe_changes(candidature.call, complement.changes),
        }
        for complement in candidature.complement_requests.select_related(
            "requested_by"
        ).prefetch_related("document_types")
    ]
    phase_refusal = regional_phase_refusal(candidature.call)
    can_request = (
        not phase_refusal
        and candidature.state in (CandidatureState.SUBMITTED, CandidatureState.ADMISSIBLE)
        and open_request(candidature) is None
        and not region_handed_over(candidature.call_id, candidature.region_id)
    )
    return render(
        request,
        "evaluation/coordinator/complements.html",
        {
            "candidature": candidature,
            "cell": cell_of(candidature),
            "history": history,
            "can_request": can_request,
            "phase_refusal": phase_refusal,
            "form": form,
        },
        status=422 if form.errors else 200,
    )
