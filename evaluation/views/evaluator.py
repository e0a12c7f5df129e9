"""The evaluator's screens: worklist, review on the grid (with autosave), conflict declaration,
and the coordinator's « reopen » action. Thin views over ``evaluation.reviews`` and
``evaluation.conflicts``; every candidature is looked up through ``visible_to`` (404 otherwise),
and only members of its regional cell get further than that."""

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Exists, OuterRef, Subquery
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from accounts.permissions import is_regional_coordinator, is_regional_member
from ami.forms import add_errors
from ami.scoping import get_visible_or_404
from candidatures import questionnaire
from candidatures.messaging import unread_count
from candidatures.models import Candidature, MemberCategory
from candidatures.submission import build_snapshot

from .. import conflicts, reviews
from ..forms import ConflictForm, ReviewForm, ReviewReopenForm
from ..models import (
    Assignment,
    ConflictOfInterest,
    ConflictStatus,
    RegionHandover,
    Review,
    ReviewState,
)
from ..permissions import (
    can_coordinate,
    can_review,
    can_see_reviews,
    region_handed_over,
    regional_phase_refusal,
    review_phase_refusal,
)

REVIEW_STATES = {None: "à faire", ReviewState.DRAFT: "en cours", ReviewState.SUBMITTED: "rendue"}


def _cell_candidature_or_404(user, pk) -> Candidature:
    """A candidature the user sees as a member of its regional cell (404 for anyone else,
    applicants and CNA members included: these are the regional review's screens)."""
    candidature = get_object_or_404(
        Candidature.objects.visible_to(user).select_related("call", "ptce", "region"), pk=pk
    )
    if not is_regional_member(user, candidature.call, candidature.region):
        raise Http404
    return candidature


# --- Worklist ---------------------------------------------------------------------------------


@login_required
def evaluator_worklist(request):
    """The user's assigned candidatures, per call and region, with the state of their review
    and the regional deadline. A fixed number of queries whatever the number of rows."""
    user = request.user
    own_review = Review.objects.filter(candidature=OuterRef("candidature"), evaluator=user)
    assignments = (
        Assignment.objects.filter(
            evaluator=user, candidature__in=Candidature.objects.visible_to(user)
        )
        .select_related("candidature__ptce", "candidature__call", "candidature__region")
        .annotate(
            review_state=Subquery(own_review.values("state")[:1]),
            review_updated_at=Subquery(own_review.values("updated_at")[:1]),
            unread_messages=unread_count(user, "candidature"),
            handed_over=Exists(
                RegionHandover.objects.filter(
                    cell__call=OuterRef("candidature__call"),
                    cell__region=OuterRef("candidature__region"),
                )
            ),
        )
        .order_by(
            "-candidature__call__year",
            "candidature__call__name",
            "candidature__region__name",
            "candidature__ptce__name",
            "pk",
        )
    )
    groups = []
    for assignment in assignments:
        candidature = assignment.candidature
        candidature.unread_messages = assignment.unread_messages
        key = (candidature.call_id, candidature.region_id)
        if not groups or groups[-1]["key"] != key:
            groups.append(
                {
                    "key": key,
                    "call": candidature.call,
                    "region": candidature.region,
                    "handed_over": assignment.handed_over,
                    "phase_refusal": review_phase_refusal(candidature.call),
                    "rows": [],
                    "to_do": 0,
                }
            )
        group = groups[-1]
        group["rows"].append(
            {
                "candidature": candidature,
                "state": assignment.review_state or "",
                "state_label": REVIEW_STATES[assignment.review_state],
                "updated_at": assignment.review_updated_at,
            }
        )
        if assignment.review_state != ReviewState.SUBMITTED:
            group["to_do"] += 1
    suspended = ConflictOfInterest.objects.filter(
        evaluator=user,
        status=ConflictStatus.PENDING,
        candidature__assignments__evaluator=user,
    ).count()
    return render(
        request,
        "evaluation/evaluator/worklist.html",
        {"groups": groups, "suspended": suspended},
    )


# --- Review -----------------------------------------------------------------------------------


def _frozen(candidature) -> dict:
    """What the applicant submitted: the snapshot taken at submission."""
    snapshot = candidature.snapshot or build_snapshot(candidature)
    answers = snapshot.get("answers", {})
    categories = dict(MemberCategory.choices)

    def amount(value):
        try:
            return Decimal(value)
        except (InvalidOperation, TypeError):
            return None

    return {
        "answers": questionnaire.flat_rows(candidature.call, answers, with_title=True),
        "members": [
            {
                "name": m.get("name", ""),
                "siret": m.get("siret", ""),
                "category": categories.get(m.get("category"), m.get("category", "")),
            }
            for m in snapshot.get("members", [])
        ],
        "requested_amount": amount(snapshot.get("requested_amount")),
        "budget_total": amount(snapshot.get("budget_total")),
        "cofinancing": [
            {
                "funder": line.get("funder", ""),
                "status": line.get("status", ""),
                "amount": amount(line.get("amount")),
            }
            for line in snapshot.get("cofinancing", [])
        ],
    }


def _comparison(criteria, review_list) -> list[dict]:
    """Rows of the side-by-side table: per criterion, each review's score and comment."""
    by_review = [{s.criterion_id: s for s in r.scores.all()} for r in review_list]
    return [
        {"criterion": criterion, "cells": [scores.get(criterion.pk) for scores in by_review]}
        for criterion in criteria
    ]


def _review_context(request, candidature, review, *, form=None, problems=None):
    """The review page; ``form``: the grid as posted (with its errors), otherwise the stored
    review's values."""
    user = request.user
    criteria = list(candidature.call.criteria.all())
    if review is None:
        refusal = reviews.review_refusal(candidature, user)
    else:
        refusal = reviews.review_refusal(candidature, user, review)
    editable = refusal is None
    if editable and form is None:
        form = ReviewForm(criteria=criteria, review=review)
    context = {
        "candidature": candidature,
        "frozen": _frozen(candidature),
        "documents": list(candidature.documents.select_related("document_type")),
        "criteria": criteria,
        "review": review,
        "total": review.total if review is not None else None,
        "editable": editable,
        "refusal": refusal,
        "form": form if editable else None,
        "grid": form.rows() if editable else [],
        "problems": problems or [],
        "handed_over": region_handed_over(candidature.call, candidature.region),
        "phase_refusal": review_phase_refusal(candidature.call),
        "can_coordinate": can_coordinate(user, candidature),
    }
    read_only_own = review is not None and not editable
    context["own_columns"] = [review] if read_only_own else []
    context["own_rows"] = _comparison(criteria, [review]) if read_only_own else []
    visible = can_see_reviews(user, candidature)
    others = []
    if visible:
        others = list(
            Review.objects.filter(candidature=candidature, state=ReviewState.SUBMITTED)
            .exclude(evaluator=user)
            .select_related("evaluator")
            .prefetch_related("scores")
            .order_by("submitted_at", "pk")
        )
    context["others"] = others
    context["other_rows"] = _comparison(criteria, others) if others else []
    context["can_see_reviews"] = visible
    reopenable = [
        r
        for r in ([review] if review is not None else []) + others
        if r.state == ReviewState.SUBMITTED
    ]
    if regional_phase_refusal(candidature.call):  # the phase closes the cell's decisions
        reopenable = []
    context["reopen_forms"] = [ReviewReopenForm(review=r) for r in reopenable]
    return context


def _own_review(candidature, user):
    return (
        Review.objects.filter(candidature=candidature, evaluator=user)
        .prefetch_related("scores")
        .first()
    )


@login_required
@require_http_methods(["GET", "POST"])
def review_edit(request, pk):
    """The review page; POST saves the whole grid (the page works without JavaScript)."""
    candidature = _cell_candidature_or_404(request.user, pk)
    review = _own_review(candidature, request.user)
    if review is None and not can_review(request.user, candidature):
        messages.error(request, reviews.review_refusal(candidature, request.user))
        return redirect("evaluator_worklist")
    if request.method == "GET":
        return render(
            request,
            "evaluation/evaluator/review.html",
            _review_context(request, candidature, review),
        )
    form = ReviewForm(request.POST, criteria=candidature.call.criteria.all())
    try:
        review = review or reviews.get_or_start_review(candidature, request.user)
        # The whole post: the values the form finds valid are kept, whatever the others.
        result = reviews.save_review(review, request.user, request.POST)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
        return redirect("review_edit", pk=candidature.pk)
    if not form.is_valid() or not result.ok:
        form.add_save_errors(result.errors)
        review = _own_review(candidature, request.user)
        context = _review_context(request, candidature, review, form=form)
        return render(request, "evaluation/evaluator/review.html", context, status=422)
    messages.success(request, "Votre évaluation est enregistrée.")
    return redirect("review_edit", pk=candidature.pk)


def _status(message, code):
    html = render_to_string(
        "evaluation/evaluator/_autosave_status.html", {"message": message, "level": "error"}
    )
    return HttpResponse(html, status=code)


@require_POST
def review_autosave(request, pk):
    """htmx autosave of the grid: answers with the status line and the current total."""
    if not request.user.is_authenticated:
        return _status(
            "Votre session a expiré : vos dernières saisies sont gardées sur cet appareil. "
            "Reconnectez-vous dans un autre onglet, elles seront enregistrées ensuite.",
            401,
        )
    candidature = _cell_candidature_or_404(request.user, pk)
    try:
        review = _own_review(candidature, request.user) or reviews.get_or_start_review(
            candidature, request.user
        )
        result = reviews.save_review(review, request.user, request.POST)
    except PermissionDenied as refusal:
        return _status(str(refusal), 403)
    html = render_to_string(
        "evaluation/evaluator/_autosave_status.html",
        {"saved_at": result.saved_at, "errors": result.labelled_errors(), "level": "saved"},
    )
    html += render_to_string(
        "evaluation/evaluator/_total.html", {"total": result.total, "oob": True}
    )
    return HttpResponse(html)


@login_required
@require_POST
def review_submit(request, pk):
    """Save what was posted (if anything), then submit the review."""
    candidature = _cell_candidature_or_404(request.user, pk)
    review = _own_review(candidature, request.user)
    try:
        review = review or reviews.get_or_start_review(candidature, request.user)
        if any(key != "csrfmiddlewaretoken" for key in request.POST):
            form = ReviewForm(request.POST, criteria=candidature.call.criteria.all())
            result = reviews.save_review(review, request.user, request.POST)
            if not form.is_valid() or not result.ok:
                form.add_save_errors(result.errors)
                review = _own_review(candidature, request.user)
                context = _review_context(request, candidature, review, form=form)
                return render(request, "evaluation/evaluator/review.html", context, status=422)
        reviews.submit_review(review, request.user)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
        return redirect("review_edit", pk=candidature.pk)
    except ValidationError as error:
        review = _own_review(candidature, request.user)
        context = _review_context(request, candidature, review, problems=error.messages)
        return render(request, "evaluation/evaluator/review.html", context, status=422)
    messages.success(
        request,
        "Votre évaluation est rendue. Elle ne peut plus être modifiée, sauf si un coordinateur "
        "de la cellule la rouvre.",
    )
    return redirect("review_edit", pk=candidature.pk)


# --- Conflicts of interest --------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def conflict_declare(request, pk):
    candidature = _cell_candidature_or_404(request.user, pk)
    form = ConflictForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            conflicts.declare_conflict(candidature, request.user, form.cleaned_data["reason"])
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))
            return redirect("evaluator_worklist")
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(
                request,
                f"Votre conflit d'intérêts sur la candidature de « {candidature.ptce.name} » "
                "est enregistré : vous ne la verrez plus, ni ses évaluations. La cellule "
                "régionale en est informée.",
            )
            return redirect("evaluator_worklist")
    assigned = Assignment.objects.filter(candidature=candidature, evaluator=request.user).exists()
    return render(
        request,
        "evaluation/evaluator/conflict.html",
        {"candidature": candidature, "form": form, "assigned": assigned},
        status=422 if form.errors else 200,
    )


# --- Coordinator: reopen a submitted review ---------------------------------------------------


@login_required
@require_POST
def review_reopen(request, review_pk):
    review = get_visible_or_404(
        Review.objects.select_related(
            "candidature__call", "candidature__region", "candidature__ptce", "evaluator"
        ),
        request.user,
        pk=review_pk,
    )
    candidature = review.candidature
    if not is_regional_member(request.user, candidature.call, candidature.region):
        raise Http404
    if not is_regional_coordinator(request.user, candidature.call, candidature.region):
        raise PermissionDenied
    try:
        form = ReviewReopenForm(request.POST, review=review)
        form.is_valid()  # a free message: always valid
        reviews.reopen_review(review, request.user, form.cleaned_data["message"])
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(
            request,
            f"L'évaluation de {review.evaluator} est rouverte : l'évaluateur en est informé par "
            "courriel.",
        )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("candidature_detail", args=[candidature.pk])
    return redirect(target)
