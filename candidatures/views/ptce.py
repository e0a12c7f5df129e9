"""PTCE profile, members (legal persons), team and invitations, company lookup. Thin views: the
rules are in ``candidatures.ptce``; every PTCE is reached through ``member_ptce_or_404``."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from ami.forms import add_errors
from ami.identifiers import normalize_siret, validate_siret
from ami.models import Qpv
from ami.territory import lookup_commune

from .. import ptce as domain
from ..company_lookup import UNAVAILABLE_MESSAGE, CompanyLookupUnavailable, lookup_siret
from ..forms import (
    CompanyLookupForm,
    InvitationForm,
    PtceForm,
    PtceMemberForm,
)
from ..models import MemberCategory, PtceInvitation
from ..permissions import is_ptce_member, is_ptce_referent
from .common import member_ptce_or_404

FORM_TEMPLATE = "candidatures/ptce/form.html"


# --- Profile ---------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def ptce_create(request):
    lookup = None
    if request.method == "POST":
        form = PtceForm(request.POST)
        if form.is_valid():
            try:
                ptce = domain.create_ptce(request.user, **form.cleaned_data)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    f"Le PTCE « {ptce.name} » est enregistré et vous êtes référent de son "
                    "équipe. Ajoutez maintenant ses membres et invitez vos collègues.",
                )
                return redirect("ptce_detail", pk=ptce.pk)
    else:
        lookup, initial = _lookup_from_query(request)
        form = PtceForm(initial=initial)
    return render(request, FORM_TEMPLATE, _form_context(request, form, None, lookup))


@login_required
@require_http_methods(["GET", "POST"])
def ptce_edit(request, pk):
    ptce = member_ptce_or_404(request.user, pk)
    lookup = None
    if request.method == "POST":
        form = PtceForm(request.POST, instance=ptce)
        if form.is_valid():
            try:
                domain.update_ptce(ptce, request.user, **form.cleaned_data)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(request, "Les informations du PTCE sont enregistrées.")
                return redirect("ptce_detail", pk=ptce.pk)
    else:
        lookup, initial = _lookup_from_query(request)
        form = PtceForm(instance=ptce, initial=initial)
    return render(request, FORM_TEMPLATE, _form_context(request, form, ptce, lookup))


def _form_context(request, form, ptce, lookup) -> dict:
    """The PTCE form's page: the form, and above it the SIRET search (its GET form)."""
    lookup_form = CompanyLookupForm(request.GET if lookup else None)
    return {"form": form, "ptce": ptce, "lookup": lookup, "lookup_form": lookup_form}


@login_required
@require_GET
def ptce_detail(request, pk):
    ptce = member_ptce_or_404(request.user, pk)
    territory = list(
        ptce.territory_communes.select_related("department").prefetch_related(
            Prefetch("qpvs", queryset=Qpv.objects.order_by("code"))
        )
    )
    territory_qpvs = {}
    for commune in territory:
        for qpv in commune.qpvs.all():
            territory_qpvs[qpv.code] = qpv
    context = {
        "ptce": ptce,
        "region": ptce.region,
        "seat": lookup_commune(ptce.seat_commune_id) if ptce.seat_commune_id else None,
        "territory": territory,
        "territory_rural_count": sum(1 for commune in territory if commune.is_rural),
        "territory_qpvs": sorted(territory_qpvs.values(), key=lambda qpv: qpv.code),
        "members": list(ptce.members.all()),
        "team": _team(ptce),
        "invitations": _pending_invitations(ptce),
        "candidatures": list(ptce.candidatures.select_related("call").order_by("-call__year")),
        "is_referent": is_ptce_referent(request.user, ptce),
    }
    return render(request, "candidatures/ptce/detail.html", context)


# --- Company lookup --------------------------------------------------------------------------


@login_required
@require_GET
def company_lookup(request):
    """The htmx fragment answering « Rechercher » next to the SIRET. When the company is found,
    the fragment also carries the PTCE form's inputs filled with what the directory knows — the
    SIRET included — swapped out of band into the form (``?ptce=`` names the PTCE being edited,
    whose locked SIRET is then left alone)."""
    result = _company_lookup(request.GET.get("siret", ""))
    if result["status"] == "found":
        ptce_pk = request.GET.get("ptce", "")
        ptce = member_ptce_or_404(request.user, ptce_pk) if ptce_pk.isdigit() else None
        values = {k: v for k, v in result["company"].form_values.items() if v}
        form = PtceForm(instance=ptce, initial=values)
        result["filled_inputs"] = [
            form[name].as_widget(attrs={"hx-swap-oob": "true"})
            for name in values
            if not form.fields[name].disabled
        ]
        result["prefilled"] = bool(result["filled_inputs"])
    return render(request, "candidatures/ptce/_company_lookup.html", {"lookup": result})


def _lookup_from_query(request) -> tuple[dict | None, dict]:
    """Without JavaScript « Rechercher » (``?siret=…&lookup=1``) and, with it, « Préremplir »
    (``?siret=…&prefill=1``) both reload the form prefilled from the directory."""
    if not ({"lookup", "prefill"} & set(request.GET)):
        return None, {}
    result = _company_lookup(request.GET.get("siret", ""))
    initial = {"siret": normalize_siret(request.GET.get("siret", ""))}
    if result["status"] == "found":
        result["prefilled"] = True
        initial.update({k: v for k, v in result["company"].form_values.items() if v})
    return result, initial


def _company_lookup(siret: str) -> dict:
    siret = normalize_siret(siret)
    result = {
        "status": "",
        "message": "",
        "company": None,
        "siret": siret,
        "prefilled": False,
        "filled_inputs": [],
    }
    if not siret:
        return {
            **result,
            "status": "invalid",
            "message": "Saisissez le SIRET (14 chiffres) de la structure à rechercher.",
        }
    try:
        validate_siret(siret)
    except ValidationError as error:
        return {**result, "status": "invalid", "message": error.messages[0]}
    try:
        company = lookup_siret(siret)
    except CompanyLookupUnavailable:
        return {**result, "status": "unavailable", "message": UNAVAILABLE_MESSAGE}
    if company is None:
        return {
            **result,
            "status": "not_found",
            "message": "Aucune entreprise ne correspond à ce SIRET dans le répertoire Sirene : "
            "vérifiez-le, ou saisissez les informations à la main.",
        }
    return {**result, "status": "found", "company": company}


# --- Members (legal persons) -----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def ptce_members(request, pk):
    ptce = member_ptce_or_404(request.user, pk)
    form = PtceMemberForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = domain.add_member(ptce, request.user, **form.cleaned_data)
        except ValidationError as error:
            add_errors(form, error)
        else:
            messages.success(request, f"« {member.name} » est ajouté aux membres du PTCE.")
            return redirect("ptce_members", pk=ptce.pk)
    members = list(ptce.members.all())
    categories = {member.category for member in members}
    missing = []
    if MemberCategory.ESS_ENTERPRISE not in categories:
        missing.append("une entreprise de l'économie sociale et solidaire")
    if MemberCategory.NON_ESS_ENTERPRISE not in categories:
        missing.append("une entreprise hors ESS")
    if not categories - {MemberCategory.ESS_ENTERPRISE, MemberCategory.NON_ESS_ENTERPRISE}:
        missing.append("un autre acteur (collectivité, recherche, formation…)")
    context = {"ptce": ptce, "members": members, "form": form, "missing_categories": missing}
    return render(request, "candidatures/ptce/members.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def ptce_member_delete(request, pk, member_pk):
    ptce = member_ptce_or_404(request.user, pk)
    member = get_object_or_404(ptce.members, pk=member_pk)
    if request.method == "POST":
        domain.remove_member(member, request.user)
        messages.success(request, f"« {member.name} » ne fait plus partie des membres du PTCE.")
        return redirect("ptce_members", pk=ptce.pk)
    return render(
        request, "candidatures/ptce/member_confirm_delete.html", {"ptce": ptce, "member": member}
    )


# --- Team (people) and invitations -----------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def ptce_team(request, pk):
    ptce = member_ptce_or_404(request.user, pk)
    form = InvitationForm()
    if request.method == "POST" and request.POST.get("action") == "referent":
        membership = get_object_or_404(ptce.memberships, pk=request.POST.get("membership"))
        make_referent = request.POST.get("value") == "1"
        try:
            domain.set_referent(membership, request.user, make_referent)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            name = membership.user.get_full_name() or membership.user.email
            messages.success(
                request,
                f"{name} est désormais référent du PTCE."
                if make_referent
                else f"{name} n'est plus référent du PTCE.",
            )
        return redirect("ptce_team", pk=ptce.pk)
    if request.method == "POST":
        form = InvitationForm(request.POST)
        if form.is_valid():
            try:
                invitation = domain.invite(ptce, form.cleaned_data["email"], request.user)
            except ValidationError as error:
                add_errors(form, error)
            else:
                messages.success(
                    request,
                    f"Invitation envoyée à {invitation.email}. Le lien reste valable jusqu'au "
                    f"{timezone.localtime(invitation.expires_at):%d/%m/%Y}.",
                )
                return redirect("ptce_team", pk=ptce.pk)
    context = {
        "ptce": ptce,
        "team": _team(ptce),
        "invitations": _pending_invitations(ptce),
        "form": form,
        "is_referent": is_ptce_referent(request.user, ptce),
    }
    return render(request, "candidatures/ptce/team.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def ptce_team_remove(request, pk, membership_pk):
    ptce = member_ptce_or_404(request.user, pk)
    membership = get_object_or_404(ptce.memberships.select_related("user"), pk=membership_pk)
    leaving = membership.user_id == request.user.pk
    if request.method == "POST":
        try:
            domain.remove_team_member(membership, request.user)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("ptce_team", pk=ptce.pk)
        if leaving:
            messages.success(request, f"Vous avez quitté l'équipe du PTCE « {ptce.name} ».")
            return redirect("dashboard")
        name = membership.user.get_full_name() or membership.user.email
        messages.success(request, f"{name} ne fait plus partie de l'équipe du PTCE.")
        return redirect("ptce_team", pk=ptce.pk)
    if not leaving and not is_ptce_referent(request.user, ptce):
        raise PermissionDenied(domain.REFERENTS_ONLY)
    context = {"ptce": ptce, "membership": membership, "leaving": leaving}
    return render(request, "candidatures/ptce/team_confirm_remove.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def invitation_accept(request, token):
    invitation = get_object_or_404(
        PtceInvitation.objects.select_related("ptce", "invited_by"), token=token
    )
    if request.method == "POST":
        try:
            membership = domain.accept_invitation(invitation, request.user)
        except (ValidationError, PermissionDenied):
            # The page tells why (the same check as the domain's).
            return redirect("invitation_accept", token=token)
        messages.success(
            request, f"Vous faites partie de l'équipe du PTCE « {invitation.ptce.name} »."
        )
        return redirect("ptce_detail", pk=membership.ptce_id)
    context = {
        "invitation": invitation,
        "ptce": invitation.ptce,
        "already_member": is_ptce_member(request.user, invitation.ptce),
        "refusal": domain.invitation_refusal(invitation, request.user),
    }
    return render(request, "candidatures/ptce/invitation.html", context)


# --- Helpers ---------------------------------------------------------------------------------


def _team(ptce):
    return list(
        ptce.memberships.select_related("user").order_by(
            "-is_referent", "user__last_name", "user__first_name", "user__email"
        )
    )


def _pending_invitations(ptce):
    return list(
        ptce.invitations.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())
        .select_related("invited_by")
        .order_by("email")
    )
