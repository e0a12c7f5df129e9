"""Lookups shared by the applicant views: every object goes through a scoping queryset, and
anything out of scope is a 404 (never a 403 that would confirm it exists)."""

from django.shortcuts import get_object_or_404

from ami.scoping import get_visible_or_404

from ..models import Candidature, Ptce, PtceMembership
from ..permissions import remember_member


def member_ptce_or_404(user, pk) -> Ptce:
    """A PTCE whose team the user is in."""
    return get_object_or_404(
        Ptce.objects.filter(pk__in=PtceMembership.objects.filter(user=user).values("ptce")),
        pk=pk,
    )


def visible_candidature_or_404(user, pk) -> Candidature:
    return get_visible_or_404(
        Candidature.objects.select_related("call", "ptce", "region"), user, pk=pk
    )


def own_candidature_or_404(user, pk) -> Candidature:
    """A candidature of one of the user's PTCEs (the applicant acting on it)."""
    candidature = get_object_or_404(
        Candidature.objects.of_applicant(user).select_related("call", "ptce", "region"), pk=pk
    )
    remember_member(candidature.ptce, user)  # of_applicant just checked it
    return candidature
