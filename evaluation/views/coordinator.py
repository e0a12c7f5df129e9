"""The coordinator's screens of a regional cell: home, members, admissibility, complements,
assignments; and the CNA administrator's change of region. Thin views: the rules live in
``evaluation.cells``, ``evaluation.admission`` and ``evaluation.assignment``. Anything out of the
user's scope is a 404."""

from datetime import datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import RegionalCell, RegionalCellMembership, RegionalRole, User
from accounts.permissions import is_national_administrator
from ami.models import Region
from ami.templatetags.ami_format import euros
from candidatures import questionnaire
from candidatures.complements import field_choices, open_request
from candidatures.models import Candidature, CandidatureState, FundingStatus

from .. import admission, assignment, cells, conflicts
from ..models import AdmissibilityCheck, Assignment, ConflictOfInterest, Review, ReviewState
from ..permissions import can_coordinate, cell_of, region_handed_over

PARIS = ZoneInfo("Europe/Paris")
PAGE_SIZE = 50


# --- Lookups ---------------------------------------------------------------------------------


def coordinated_cell_or_404(user, cell_pk) -> RegionalCell:
    """A cell the user coordinates."""
    return get_object_or_404(
        RegionalCell.objects.filter(
            memberships__user=user, memberships__role=RegionalRole.COORDINATOR
        ).select_related("call", "region"),
        pk=cell_pk,
    )


def coordinated_candidature_or_404(user, pk) -> Candidature:
    """A candidature the user sees and coordinates (no conflict on it)."""
    candidature = get_object_or_404(
        Candidature.objects.visible_to(user).select_related("call", "ptce", "region"), pk=pk
    )
    if not candidature.submitted_at or not can_coordinate(user, candidature):
        raise Http404
    return candidature


def _posted_pk(request, name) -> int:
    value = request.POST.get(name, "")
    if not value.isdigit():
        raise Http404
    return int(value)


def _errors_of(error: ValidationError) -> dict:
    """Field errors by name; errors without a field under ``general`` (templates cannot read
    ``__all__``)."""
    errors = error.message_dict if hasattr(error, "error_dict") else {"general": error.messages}
    return {("general" if key == NON_FIELD_ERRORS else key): v for key, v in errors.items()}


def _flash(request, error: ValidationError):
    for text in error.messages:
        messages.error(request, text)


# --- Cell home -------------------------------------------------------------------------------


@login_required
def cell_home(request, cell_pk):
    cell = coordinated_cell_or_404(request.user, cell_pk)
    candidatures = Candidature.objects.visible_to(request.user).filter(
        call=cell.call_id, region=cell.region_id, submitted_at__isnull=False
    )
    counts = dict(
        candidatures.order_by().values("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    states = [
        (value, label, counts.get(value, 0))
        for value, label in CandidatureState.choices
        if value != CandidatureState.DRAFT
    ]
    state = request.GET.get("etat", "")
    if state in counts:
        candidatures = candidatures.filter(state=state)
    else:
        state = ""
    page = Paginator(
        candidatures.select_related("ptce").order_by("ptce__name", "pk"), PAGE_SIZE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "evaluation/coordinator/cell_home.html",
        {
            "cell": cell,
            "states": states,
            "total": sum(counts.values()),
            "state": state,
            "page": page,
            "handed_over": region_handed_over(cell.call_id, cell.region_id),
        },
    )


# --- Members ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def cell_members(request, cell_pk):
    cell = coordinated_cell_or_404(request.user, cell_pk)
    errors, posted = {}, {"email": "", "role": RegionalRole.EVALUATOR}
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "add":
                posted = {
                    "email": request.POST.get("email", ""),
                    "role": request.POST.get("role", ""),
                }
                membership = cells.add_member(cell, posted["email"], posted["role"], request.user)
                messages.success(
                    request,
                    f"{membership.user.email} fait désormais partie de la cellule "
                    f"({membership.get_role_display()}) ; un courriel l'en informe.",
                )
            elif action in ("role", "remove"):
                membership = get_object_or_404(
                    cell.memberships.select_related("user", "cell"),
                    pk=_posted_pk(request, "membership"),
                )
                if action == "role":
                    membership = cells.change_role(
                        membership, request.POST.get("role"), request.user
                    )
                    messages.success(
                        request,
                        f"{membership.user} est désormais {membership.get_role_display()}.",
                    )
                    if (
                        membership.user_id == request.user.pk
                        and membership.role != RegionalRole.COORDINATOR
                    ):
                        return redirect("dashboard")  # no longer coordinator of the cell
                else:
                    withdrawn = cells.remove_member(membership, request.user)
                    text = f"{membership.user} ne fait plus partie de la cellule."
                    if withdrawn:
                        text += (
                            f" {withdrawn} attribution(s) sans évaluation rendue lui ont été "
                            "retirées."
                        )
                    messages.success(request, text)
                    if membership.user_id == request.user.pk:
                        return redirect("dashboard")
            else:
                raise Http404
        except ValidationError as error:
            if action != "add":
                _flash(request, error)
                return redirect("cell_members", cell_pk=cell.pk)
            errors = _errors_of(error)
        else:
            return redirect("cell_members", cell_pk=cell.pk)
    memberships = cell.memberships.select_related("user").order_by(
        "role", "user__last_name", "user__first_name", "user__email"
    )
    return render(
        request,
        "evaluation/coordinator/members.html",
        {
            "cell": cell,
            "memberships": memberships,
            "roles": RegionalRole.choices,
            "errors": errors,
            "posted": posted,
        },
        status=422 if errors else 200,
    )


# --- Admissibility ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def admissibility(request, pk):
    candidature = coordinated_candidature_or_404(request.user, pk)
    errors, posted = {}, {"decision": "", "points": set(), "motivation": ""}
    if request.method == "POST":
        decision = request.POST.get("decision")
        ticked = set(request.POST.getlist("points"))
        posted = {
            "decision": decision,
            "points": ticked,
            "motivation": request.POST.get("motivation", ""),
        }
        if decision not in ("admissible", "inadmissible"):
            errors = {"decision": ["Choisissez : recevable ou irrecevable."]}
        else:
            try:
                admission.decide_admissibility(
                    candidature,
                    request.user,
                    admissible=decision == "admissible",
                    answers=dict.fromkeys(ticked, True),
                    motivation=posted["motivation"],
                )
            except ValidationError as error:
                errors = _errors_of(error)
            else:
                messages.success(
                    request,
                    f"La candidature est déclarée {candidature.get_state_display()} ; le porteur "
                    "en est informé par courriel.",
                )
                return redirect("admissibility", pk=candidature.pk)
    check = AdmissibilityCheck.objects.filter(candidature=candidature).first()
    ptce = candidature.ptce
    return render(
        request,
        "evaluation/coordinator/admissibility.html",
        {
            "candidature": candidature,
            "cell": cell_of(candidature),
            "items": admission.admissibility_checklist(candidature),
            "check": check,
            "frozen": list(check.answers.values()) if check else [],
            "documents": list(candidature.documents.select_related("document_type")),
            "members": list(ptce.members.all()),
            "can_decide": candidature.state == CandidatureState.SUBMITTED
            and not region_handed_over(candidature.call_id, candidature.region_id),
            "errors": errors,
            "posted": posted,
        },
        status=422 if errors else 200,
    )


# --- Complements -----------------------------------------------------------------------------


def parse_due_at(day: str, hour: str):
    """A date (YYYY-MM-DD as the date input sends it, or DD/MM/YYYY as typed where the browser
    has no date picker) and an optional time (HH:MM, noon by default), in Paris time."""
    parsed_day = None
    for pattern in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            parsed_day = datetime.strptime(day.strip(), pattern).date()
            break
        except ValueError:
            continue
    try:
        parsed_time = (
            datetime.strptime(hour.strip(), "%H:%M").time() if hour.strip() else time(12, 0)
        )
    except ValueError:
        return None
    if parsed_day is None:
        return None
    return datetime.combine(parsed_day, parsed_time, tzinfo=PARIS)


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
    document_types = list(candidature.call.document_types.all())
    errors = {}
    posted = {
        "message": "",
        "fields": set(),
        "document_types": set(),
        "due_date": "",
        "due_time": "12:00",
    }
    if request.method == "POST":
        posted = {
            "message": request.POST.get("message", ""),
            "fields": set(request.POST.getlist("fields")),
            "document_types": set(request.POST.getlist("document_types")),
            "due_date": request.POST.get("due_date", ""),
            "due_time": request.POST.get("due_time", ""),
        }
        due_at = parse_due_at(posted["due_date"], posted["due_time"])
        try:
            if due_at is None:
                raise ValidationError({"due_at": "Indiquez une date limite valide."})
            admission.ask_complements(
                candidature,
                request.user,
                message=posted["message"],
                fields=sorted(posted["fields"]),
                document_types=[t for t in document_types if str(t.pk) in posted["document_types"]],
                due_at=due_at,
            )
        except ValidationError as error:
            errors = _errors_of(error)
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
    can_request = (
        candidature.state in (CandidatureState.SUBMITTED, CandidatureState.ADMISSIBLE)
        and open_request(candidature) is None
        and not region_handed_over(candidature.call_id, candidature.region_id)
    )
    return render(
        request,
        "evaluation/coordinator/complements.html",
        {
            "candidature": candidature,
            "cell": cell_of(candidature),
            "field_choices": field_choices(candidature.call),
            "document_types": document_types,
            "history": history,
            "can_request": can_request,
            "errors": errors,
            "posted": posted,
        },
        status=422 if errors else 200,
    )


# --- Assignments -----------------------------------------------------------------------------


def _assignment_post(request, cell):
    action = request.POST.get("action")
    if action == "auto":
        result = assignment.auto_assign(cell, request.user)
        if result.created:
            messages.success(
                request, f"{len(result.created)} attribution(s) créée(s) ; chacun est prévenu."
            )
        else:
            messages.info(request, "Rien à attribuer : chaque candidature est déjà pourvue.")
        if result.understaffed:
            names = [f"{c.ptce.name} (manque {n})" for c, n in result.understaffed[:10]]
            more = len(result.understaffed) - len(names)
            messages.warning(
                request,
                f"{len(result.understaffed)} candidature(s) n'ont pas pu être entièrement "
                "pourvues, faute d'évaluateurs sans conflit d'intérêts : "
                + ", ".join(names)
                + (f" et {more} autre(s)" if more > 0 else "")
                + ".",
            )
        return
    if action == "assign":
        candidature = coordinated_candidature_or_404(
            request.user, _posted_pk(request, "candidature")
        )
        if (candidature.call_id, candidature.region_id) != (cell.call_id, cell.region_id):
            raise Http404
        evaluator = get_object_or_404(User, pk=_posted_pk(request, "evaluator"))
        assignment.assign(candidature, evaluator, request.user)
        messages.success(request, f"« {candidature.ptce.name} » est attribuée à {evaluator}.")
        return
    if action == "unassign":
        row = get_object_or_404(
            Assignment.objects.select_related("evaluator", "candidature__call"),
            pk=_posted_pk(request, "assignment"),
            candidature__call=cell.call_id,
            candidature__region=cell.region_id,
        )
        coordinated_candidature_or_404(request.user, row.candidature_id)
        assignment.unassign(row, request.user)
        messages.success(request, f"L'attribution à {row.evaluator} est retirée.")
        return
    if action in ("confirm_conflict", "dismiss_conflict"):
        conflict = get_object_or_404(
            ConflictOfInterest.objects.select_related("evaluator", "candidature__ptce"),
            pk=_posted_pk(request, "conflict"),
            candidature__call=cell.call_id,
            candidature__region=cell.region_id,
        )
        coordinated_candidature_or_404(request.user, conflict.candidature_id)
        confirm = action == "confirm_conflict"
        conflicts.settle_conflict(conflict, request.user, confirm=confirm)
        messages.success(
            request,
            f"Conflit d'intérêts de {conflict.evaluator} sur « {conflict.candidature.ptce.name} » "
            + ("confirmé : la candidature lui est retirée." if confirm else "écarté."),
        )
        return
    raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def cell_assignments(request, cell_pk):
    cell = coordinated_cell_or_404(request.user, cell_pk)
    if request.method == "POST":
        try:
            _assignment_post(request, cell)
        except ValidationError as error:
            _flash(request, error)
        except PermissionDenied as refusal:
            messages.error(request, str(refusal))
        return redirect("cell_assignments", cell_pk=cell.pk)

    wanted = cell.call.reviews_per_candidature
    admissible = Candidature.objects.visible_to(request.user).filter(
        call=cell.call_id, region=cell.region_id, state=CandidatureState.ADMISSIBLE
    )
    summary = admissible.order_by().aggregate(
        total=Count("pk"),
        understaffed=Count("pk", filter=Q(pk__in=_understaffed(admissible, wanted))),
    )
    page = Paginator(
        admissible.select_related("ptce")
        .prefetch_related(
            Prefetch(
                "assignments",
                queryset=Assignment.objects.select_related("evaluator").order_by(
                    "evaluator__last_name", "evaluator__first_name", "pk"
                ),
            ),
            Prefetch(
                "conflicts",
                queryset=ConflictOfInterest.objects.select_related("evaluator").order_by("pk"),
            ),
            Prefetch(
                "reviews",
                queryset=Review.objects.filter(state=ReviewState.SUBMITTED).only(
                    "pk", "candidature_id", "evaluator_id"
                ),
                to_attr="submitted_reviews",
            ),
        )
        .order_by("ptce__name", "pk"),
        PAGE_SIZE,
    ).get_page(request.GET.get("page"))
    memberships = list(
        RegionalCellMembership.objects.filter(cell=cell, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__last_name", "user__first_name", "user__email")
    )
    member_ids = [m.user_id for m in memberships]
    load = assignment.loads(cell.call_id, member_ids)
    done = dict(
        Review.objects.filter(
            candidature__call=cell.call_id, evaluator__in=member_ids, state=ReviewState.SUBMITTED
        )
        .values("evaluator")
        .annotate(n=Count("pk"))
        .values_list("evaluator", "n")
    )
    rows = []
    for candidature in page.object_list:
        submitted = {review.evaluator_id for review in candidature.submitted_reviews}
        assigned = list(candidature.assignments.all())
        assigned_ids = {a.evaluator_id for a in assigned}
        conflicts = list(candidature.conflicts.all())
        blocked = {c.evaluator_id for c in conflicts if c.blocks}
        rows.append(
            {
                "candidature": candidature,
                "assignments": [(a, a.evaluator_id not in submitted) for a in assigned],
                "conflicts": conflicts,
                "options": [m for m in memberships if m.user_id not in assigned_ids | blocked],
                "missing": max(0, wanted - len(assigned)),
            }
        )
    return render(
        request,
        "evaluation/coordinator/assignments.html",
        {
            "cell": cell,
            "wanted": wanted,
            "summary": summary,
            "page": page,
            "rows": rows,
            "members": [(m, load[m.user_id], done.get(m.user_id, 0)) for m in memberships],
            "handed_over": region_handed_over(cell.call_id, cell.region_id),
        },
    )


def _understaffed(candidatures, wanted):
    return (
        candidatures.order_by().annotate(n=Count("assignments")).filter(n__lt=wanted).values("pk")
    )


# --- Region move (CNA administrator) ---------------------------------------------------------


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
            errors = _errors_of(error)
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
