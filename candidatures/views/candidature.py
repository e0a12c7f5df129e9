"""The applicant's candidature: start, steps with autosave, completeness, submission, receipt,
timeline and withdrawal. Views are thin: rules live in drafting, submission and workflow."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import is_national_administrator, is_regional_coordinator
from ami.models import Call

from .. import decisions, drafting, messaging, questionnaire, workflow
from ..complements import editable_scope, field_choices, open_request
from ..errors import TransitionRefused
from ..forms import StartForm, WithdrawForm
from ..models import Candidature, CandidatureState
from ..receipt import submitted_answers
from ..step_forms import CofinancingLineForm, show_read_only
from ..submission import budget_summary, completeness_problems
from .common import member_ptce_or_404, own_candidature_or_404, visible_candidature_or_404


def _step_url(candidature, slug):
    return reverse("candidature_step", args=[candidature.pk, slug])


def resume_url(candidature, *, look_up=True) -> str:
    """Where the applicant resumes: the last step opened, else the first one. Lists pass
    ``look_up=False`` (no query per row): the ``candidature_resume`` route finds the step."""
    step = candidature.current_step
    if not look_up:
        if step:
            return _step_url(candidature, step)
        return reverse("candidature_resume", args=[candidature.pk])
    if not step or questionnaire.get_step(candidature.call, step) is None:
        step = questionnaire.first_step(candidature.call)
    return _step_url(candidature, step)


@login_required
def candidature_resume(request, pk):
    return redirect(resume_url(own_candidature_or_404(request.user, pk)))


@login_required
@require_http_methods(["GET", "POST"])
def candidature_start(request, pk, call_slug):
    ptce = member_ptce_or_404(request.user, pk)
    call = get_object_or_404(Call.objects.visible_to(request.user), slug=call_slug)
    existing = Candidature.objects.filter(ptce=ptce, call=call).first()
    if existing:
        return redirect(resume_url(existing))
    previous = list(Candidature.objects.filter(ptce=ptce).exclude(call=call).select_related("call"))
    chosen = request.POST.get("from")
    if chosen and all(str(c.pk) != chosen for c in previous):
        raise Http404  # another PTCE's candidature, or none
    form = StartForm(request.POST if request.method == "POST" else None, previous=previous)
    if request.method == "POST" and form.is_valid():
        try:
            candidature = drafting.start_candidature(
                ptce, call, request.user, from_candidature=form.source()
            )
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))
            return redirect("applicant_dashboard")
        messages.success(request, f"Votre candidature à « {call.name} » est ouverte.")
        return redirect(resume_url(candidature))
    return render(
        request,
        "candidatures/start.html",
        {"ptce": ptce, "call": call, "previous": previous, "form": form},
    )


@login_required
def candidature_detail(request, pk):
    candidature = visible_candidature_or_404(request.user, pk)
    events = candidature.events.select_related("actor")
    return render(
        request,
        "candidatures/detail.html",
        {
            "candidature": candidature,
            "events": events,
            "is_applicant": candidature.ptce.memberships.filter(user=request.user).exists(),
            "can_withdraw": CandidatureState.WITHDRAWN
            in workflow.allowed_targets(candidature, request.user),
            "resume_url": resume_url(candidature),
            "is_coordinator": is_regional_coordinator(
                request.user, candidature.call, candidature.region
            ),
            "is_national_administrator": is_national_administrator(request.user, candidature.call),
            "decision": decisions.published_decision(candidature),
            "has_thread": messaging.has_thread(candidature),
            "can_read_notes": messaging.has_thread(candidature)
            and messaging.can_read_notes(request.user, candidature),
        },
    )


def _step_context(candidature, step, user, *, form=None, errors=None):
    editable_refusal = drafting.editing_refusal(candidature, user)
    call = candidature.call
    steps = questionnaire.steps(call)
    previous, following = questionnaire.neighbours(call, step.slug)
    context = {
        "candidature": candidature,
        "step": step,
        "steps": steps,
        "step_number": [s.slug for s in steps].index(step.slug) + 1,
        "first_step": steps[0].slug,
        "preview": None,
        "previous_step": previous,
        "next_step": following,
        "editable": editable_refusal is None,
        "refusal": editable_refusal,
        "errors": errors or {},
    }
    fields_in_scope, types_in_scope = editable_scope(candidature)
    context["complement_request"] = request = open_request(candidature)
    if request:
        labels = dict(field_choices(call))
        context["request_labels"] = [labels.get(name, name) for name in request.fields]
    if step.has_form:
        context["form"] = form or questionnaire.step_form(step, candidature)
        if editable_refusal is not None:
            show_read_only(context["form"])
        elif fields_in_scope is not None:
            out_of_scope = [name for name in context["form"].fields if name not in fields_in_scope]
            show_read_only(context["form"], out_of_scope)
    if step.kind == questionnaire.BUDGET_STEP:
        lines = list(candidature.cofinancing_lines.all())
        context["lines"] = [
            (line, CofinancingLineForm(instance=line, prefix=drafting.line_prefix(line)))
            for line in lines
        ]
        context["lines_editable"] = editable_refusal is None and (
            fields_in_scope is None or questionnaire.COFINANCING in fields_in_scope
        )
        if not context["lines_editable"]:
            for _line, line_form in context["lines"]:
                show_read_only(line_form)
        context["budget"] = budget_summary(candidature, lines)
    if step.slug == questionnaire.DOCUMENTS_STEP:
        documents = {d.document_type_id: d for d in candidature.documents.all()}
        context["document_rows"] = [
            (document_type, documents.get(document_type.pk))
            for document_type in call.document_types.all()
        ]
        context["can_edit"] = editable_refusal is None
        context["editable_type_ids"] = sorted(types_in_scope or [])
    if step.slug == questionnaire.SUMMARY_STEP:
        context["problems"] = completeness_problems(candidature)
        context["budget"] = budget_summary(candidature)
        context["members"] = list(candidature.ptce.members.all())
        context["answers"] = questionnaire.flat_rows(
            call, questionnaire.snapshot_answers(candidature), with_title=True
        )
        context["documents"] = list(candidature.documents.select_related("document_type"))
    return context


def _step_or_404(candidature, slug):
    current = questionnaire.get_step(candidature.call, slug)
    if current is None:
        raise Http404
    return current


@login_required
@require_http_methods(["GET", "POST"])
def candidature_step(request, pk, step):
    if request.method == "GET":
        candidature = own_candidature_or_404(request.user, pk)
        current = _step_or_404(candidature, step)
        if candidature.state == CandidatureState.DRAFT and candidature.current_step != step:
            Candidature.objects.filter(pk=candidature.pk).update(current_step=step)
        return render(
            request, "candidatures/step.html", _step_context(candidature, current, request.user)
        )
    try:
        with transaction.atomic():  # read once, locked for the save
            candidature = own_candidature_or_404(request.user, pk, lock=True)
            current = _step_or_404(candidature, step)
            result = drafting.save_step(
                candidature, step, request.POST, request.user, row_locked=True
            )
        if "add_line" in request.POST:
            drafting.add_line(candidature, request.user)
            return redirect(_step_url(candidature, step) + "#cofinancements")
        if request.POST.get("delete_line"):
            drafting.delete_line(candidature, request.POST["delete_line"], request.user)
            messages.success(request, "La ligne de cofinancement a été supprimée.")
            return redirect(_step_url(candidature, step) + "#cofinancements")
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
        return redirect(_step_url(candidature, step))
    if not result.ok:
        form = None
        if current.has_form:
            form = questionnaire.step_form(current, candidature, request.POST)
            form.is_valid()
        context = _step_context(candidature, current, request.user, form=form,
                                errors=result.errors)  # fmt: skip
        return render(request, "candidatures/step.html", context, status=422)
    target = request.POST.get("go")
    if target and questionnaire.get_step(candidature.call, target):
        return redirect(_step_url(candidature, target))
    messages.success(request, "Vos réponses sont enregistrées.")
    return redirect(_step_url(candidature, step))


@require_POST
def candidature_autosave(request, pk, step):
    """htmx autosave of a step's fields: answers with a small status fragment."""

    def status(message, code, level):
        html = render_to_string(
            "candidatures/_autosave_status.html", {"message": message, "level": level}
        )
        return HttpResponse(html, status=code)

    if not request.user.is_authenticated:
        return status(
            "Votre session a expiré : vos dernières saisies sont gardées sur cet appareil. "
            "Reconnectez-vous dans un autre onglet, elles seront enregistrées ensuite.",
            401,
            "error",
        )
    try:
        with transaction.atomic():  # read once, locked for the save
            candidature = own_candidature_or_404(request.user, pk, lock=True)
            current = _step_or_404(candidature, step)
            result = drafting.save_step(
                candidature, step, request.POST, request.user, row_locked=True
            )
    except PermissionDenied as refusal:
        return status(str(refusal), 403, "error")
    html = render_to_string(
        "candidatures/_autosave_status.html",
        {"saved_at": result.saved_at, "errors": result.labelled_errors(), "level": "saved"},
    )
    if (
        current.kind == questionnaire.BUDGET_STEP
    ):  # keep the financing plan in step with what was just saved
        html += render_to_string(
            "candidatures/_budget_table.html",
            {"candidature": candidature, "budget": budget_summary(candidature), "oob": True},
        )
    return HttpResponse(html)


@login_required
def candidature_completeness(request, pk):
    candidature = own_candidature_or_404(request.user, pk)
    refusal = drafting.editing_refusal(candidature, request.user)
    return render(
        request,
        "candidatures/completeness.html",
        {
            "candidature": candidature,
            "problems": completeness_problems(candidature),
            "editable": refusal is None,
            "refusal": refusal or "",
        },
    )


@login_required
@require_POST
def candidature_submit(request, pk):
    """Submit a draft, or send the complements back (same target state)."""
    candidature = own_candidature_or_404(request.user, pk)
    answering_complements = candidature.state == CandidatureState.COMPLEMENTS_REQUESTED
    try:
        workflow.transition(candidature, CandidatureState.SUBMITTED, request.user)
    except TransitionRefused as refusal:
        state = Candidature.objects.filter(pk=candidature.pk).values_list("state", flat=True)[0]
        if state not in (CandidatureState.DRAFT, CandidatureState.COMPLEMENTS_REQUESTED):
            messages.info(request, "Cette candidature est déjà déposée.")
            return redirect("candidature_receipt", pk=candidature.pk)
        messages.error(request, refusal.message)
        if state == CandidatureState.COMPLEMENTS_REQUESTED:
            return redirect(_step_url(candidature, "recapitulatif"))
        return redirect("candidature_completeness", pk=candidature.pk)
    if answering_complements:
        messages.success(request, "Vos compléments sont transmis à la cellule régionale. Merci.")
        return redirect("candidature_detail", pk=candidature.pk)
    messages.success(
        request,
        f"Votre candidature est déposée sous le numéro {candidature.receipt_number}. "
        "Un accusé de réception vous a été envoyé par courriel.",
    )
    return redirect("candidature_receipt", pk=candidature.pk)


def _submitted_own_candidature_or_404(user, pk):
    candidature = own_candidature_or_404(user, pk)
    if not candidature.submitted_at:
        raise Http404
    return candidature


@login_required
def candidature_receipt(request, pk):
    candidature = _submitted_own_candidature_or_404(request.user, pk)
    return render(
        request,
        "candidatures/receipt.html",
        {
            "candidature": candidature,
            "snapshot": candidature.snapshot,
            "answer_sections": submitted_answers(candidature),
        },
    )


@login_required
def candidature_receipt_pdf(request, pk):
    from ..receipt import receipt_pdf

    candidature = _submitted_own_candidature_or_404(request.user, pk)
    response = HttpResponse(receipt_pdf(candidature), content_type="application/pdf")
    filename = f"attestation-de-depot-{candidature.receipt_number}.pdf"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def candidature_withdraw(request, pk):
    candidature = own_candidature_or_404(request.user, pk)
    if CandidatureState.WITHDRAWN not in workflow.allowed_targets(candidature, request.user):
        messages.error(request, "Cette candidature ne peut plus être retirée.")
        return redirect("candidature_detail", pk=candidature.pk)
    form = WithdrawForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            workflow.transition(
                candidature,
                CandidatureState.WITHDRAWN,
                request.user,
                comment=form.cleaned_data["reason"].strip(),
            )
        except TransitionRefused as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(request, "Votre candidature a été retirée.")
        return redirect("candidature_detail", pk=candidature.pk)
    return render(
        request,
        "candidatures/withdraw.html",
        {"candidature": candidature, "form": form},
        status=422 if form.errors else 200,
    )
