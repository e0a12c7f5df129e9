"""The coordinator's home of a regional cell (its worklist: search, filters, sort, due dates,
each member's progress; ``evaluation.worklists``) and the cell's members (add, invite, change a
role, remove). The rules live in ``evaluation.cells`` and ``accounts.invitations``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts import invitations
from accounts.models import (
    CellInvitation,
    RegionalRole,
)
from ami.formats import plural
from ami.forms import add_errors
from candidatures.messaging import unread_count
from candidatures.models import CandidatureState

from .. import cells, worklists
from ..filters import CellHomeFilter
from ..forms import AddMemberForm, MemberRoleForm
from ..permissions import region_handed_over, regional_phase_refusal
from . import listing
from .errors import flash_errors
from .lookups import coordinated_cell_or_404, posted_pk

PAGE_SIZE = 50


# Columns of the cell's worklist: label, sort key of ``CellHomeFilter.tri`` (or None), and
# whether the first click sorts from the highest value.
COLUMNS = (
    ("PTCE", "nom", False),
    ("Département", "departement", False),
    ("Priorités", None, False),
    ("État", "etat", False),
    ("Évaluations rendues / attribuées", "evaluations", False),
    ("Échéance", "complements", False),
    ("Actions", None, False),
)


@login_required
def cell_home(request, cell_pk):
    cell = coordinated_cell_or_404(request.user, cell_pk)
    candidatures = worklists.cell_candidatures(cell, request.user)
    counts = dict(
        candidatures.order_by().values("state").annotate(n=Count("pk")).values_list("state", "n")
    )
    states = [
        (value, label, counts.get(value, 0))
        for value, label in CandidatureState.choices
        if value != CandidatureState.DRAFT
    ]
    filterset = CellHomeFilter(
        request.GET,
        queryset=candidatures.annotate(unread_messages=unread_count(request.user)).order_by(
            "sort_name", "pk"
        ),
        cell=cell,
    )
    page = listing.paginate(filterset.qs, request.GET.get("page"), PAGE_SIZE)
    params = request.GET.copy()
    regional_open = worklists.is_regional_open(cell)
    return render(
        request,
        "evaluation/coordinator/cell_home.html",
        {
            "cell": cell,
            "states": states,
            "total": sum(counts.values()),
            "form": filterset.form,
            "filtered": any(params.get(name) for name in filterset.form.fields if name != "tri"),
            "page": page,
            "rows": worklists.decorate(list(page.object_list), cell),
            "headers": listing.headers(params, COLUMNS),
            "current_sort": params.get("tri", ""),
            "members": worklists.member_progress(cell),
            "regional_open": regional_open,
            "phase_refusal": regional_phase_refusal(cell.call),
            "handed_over": region_handed_over(cell.call_id, cell.region_id),
            "closes_at": cell.call.closes_at,
            "regional_deadline": cell.call.regional_review_deadline,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def cell_members(request, cell_pk):
    """The cell's members (a role form in each row), its pending invitations, and the form that
    adds or invites a member. A refused change is shown on its form (422); a refused button of a
    row (remove, resend, revoke) as a message."""
    cell = coordinated_cell_or_404(request.user, cell_pk)
    add_form, role_form = AddMemberForm(), None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "add":
            add_form = AddMemberForm(request.POST)
            if add_form.is_valid() and _add(request, cell, add_form):
                return redirect("cell_members", cell_pk=cell.pk)
        elif action == "role":
            membership = get_object_or_404(
                cell.memberships.select_related("user", "cell"),
                pk=posted_pk(request, "membership"),
            )
            role_form = MemberRoleForm(request.POST, membership=membership)
            if role_form.is_valid():
                try:
                    membership = cells.change_role(
                        membership, role_form.cleaned_data["role"], request.user
                    )
                except ValidationError as error:
                    add_errors(role_form, error)
                else:
                    messages.success(
                        request,
                        f"{membership.user} est désormais {membership.get_role_display()}.",
                    )
                    if (
                        membership.user_id == request.user.pk
                        and membership.role != RegionalRole.COORDINATOR
                    ):
                        return redirect("dashboard")  # no longer coordinator of the cell
                    return redirect("cell_members", cell_pk=cell.pk)
        elif action in ("resend", "revoke", "remove"):
            try:
                leaving = _row_action(request, cell, action)
            except ValidationError as error:
                flash_errors(request, error)
            else:
                if leaving:
                    return redirect("dashboard")
            return redirect("cell_members", cell_pk=cell.pk)
        else:
            raise Http404
    memberships = list(
        cell.memberships.select_related("user").order_by(
            "role", "user__last_name", "user__first_name", "user__email"
        )
    )
    for membership in memberships:
        bound = role_form is not None and role_form.membership.pk == membership.pk
        membership.role_form = role_form if bound else MemberRoleForm(membership=membership)
    pending = cell.invitations.filter(accepted_at=None, revoked_at=None).order_by("email")
    return render(
        request,
        "evaluation/coordinator/members.html",
        {
            "cell": cell,
            "memberships": memberships,
            "invitations": pending,
            "form": add_form,
        },
        status=422 if add_form.errors or (role_form is not None and role_form.errors) else 200,
    )


def _add(request, cell, form) -> bool:
    """Add or invite the person of the valid ``form``; False with the refusal on the form."""
    try:
        added = cells.add_or_invite(
            cell, form.cleaned_data["email"], form.cleaned_data["role"], request.user
        )
    except ValidationError as error:
        add_errors(form, error)
        return False
    if isinstance(added, CellInvitation):
        messages.success(
            request,
            f"Aucun compte n'existe encore avec l'adresse {added.email} : une "
            f"invitation ({added.get_role_display()}) lui a été envoyée, valable "
            f"jusqu'au {timezone.localtime(added.expires_at):%d/%m/%Y}. La personne "
            "rejoindra la cellule en créant son compte avec cette adresse.",
        )
    else:
        messages.success(
            request,
            f"{added.user.email} fait désormais partie de la cellule "
            f"({added.get_role_display()}) ; un courriel l'en informe.",
        )
    return True


def _row_action(request, cell, action) -> bool:
    """Resend or revoke an invitation, remove a member; True when the user left the cell."""
    if action in ("resend", "revoke"):
        invitation = get_object_or_404(
            CellInvitation.objects.filter(regional_cell=cell),
            pk=posted_pk(request, "invitation"),
        )
        if action == "resend":
            invitation = invitations.resend(invitation, request.user)
            messages.success(
                request,
                f"Invitation renvoyée à {invitation.email}, valable jusqu'au "
                f"{timezone.localtime(invitation.expires_at):%d/%m/%Y}.",
            )
        else:
            invitation = invitations.revoke(invitation, request.user)
            messages.success(request, f"L'invitation de {invitation.email} est révoquée.")
        return False
    membership = get_object_or_404(
        cell.memberships.select_related("user", "cell"), pk=posted_pk(request, "membership")
    )
    withdrawn = cells.remove_member(membership, request.user)
    text = f"{membership.user} ne fait plus partie de la cellule."
    if withdrawn:
        text += f" {plural(withdrawn, 'attribution', 'attributions')} sans évaluation rendue " + (
            "lui a été retirée." if withdrawn == 1 else "lui ont été retirées."
        )
    messages.success(request, text)
    return membership.user_id == request.user.pk
