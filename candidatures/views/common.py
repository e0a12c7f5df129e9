"""Lookups shared by the applicant views: every object goes through a scoping queryset, and
anything out of scope is a 404 (never a 403 that would confirm it exists)."""

from django.shortcuts import get_object_or_404

from ami.scoping import get_visible_or_404

from ..drafting import LOCK_OF
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


def own_candidature_or_404(user, pk, *, lock=False) -> Candidature:
    """A candidature of one of the user's PTCEs (the applicant acting on it). ``lock``: inside
    the caller's transaction, its rows locked for a write (``drafting.LOCK_OF``), so that
    ``drafting.save_step(…, row_locked=True)`` need not read it again."""
    queryset = Candidature.objects.of_applicant(user).select_related("call", "ptce", "region")
    if lock:
        queryset = queryset.select_for_update(of=LOCK_OF)
    candidature = get_object_or_404(queryset, pk=pk)
    candidature._locked_for_update = lock
    remember_member(candidature.ptce, user)  # of_applicant just checked it
    return candidature
