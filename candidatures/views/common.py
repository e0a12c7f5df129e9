"""Lookups shared by the applicant views: every object goes through a scoping queryset, and
anything out of scope is a 404 (never a 403 that would confirm it exists)."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User
from ami.compiled import CompiledLookup
from ami.scoping import get_visible_or_404

from ..models import LOCK_OF, Candidature, Ptce, PtceMembership, share_lock_call
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


def _own_candidature(lock: bool):
    def build(user_pk, pk):
        queryset = Candidature.objects.of_applicant(User(pk=user_pk, is_active=True))
        queryset = queryset.select_related("call", "ptce", "region").filter(pk=pk)
        return queryset.select_for_update(of=LOCK_OF) if lock else queryset

    return CompiledLookup(build, arity=2)


# The applicant's lookup runs on every step page, autosave and step save of the deadline rush:
# its SQL is compiled once per process (ami.compiled), from the queryset just above, for a
# stand-in active user: ``of_applicant`` must depend on nothing of the user but its id (and its
# being active, checked in ``own_candidature_or_404``); ``tests/ami/test_compiled.py``.
_OWN_CANDIDATURE = {False: _own_candidature(False), True: _own_candidature(True)}


def own_candidature_or_404(user, pk, *, lock=False) -> Candidature:
    """A candidature of one of the user's PTCEs (the applicant acting on it). ``lock``: inside
    the caller's transaction, its rows locked for a write as ``models.lock_for_write`` does, so
    that ``drafting.save_step(…, row_locked=True)`` need not read it again."""
    if not (user.is_authenticated and user.is_active):
        raise Http404  # of_applicant: nothing
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404 from None
    if lock:
        share_lock_call(pk)  # before the read, as models.lock_for_write
    candidature = _OWN_CANDIDATURE[lock].get(user.pk, pk)
    if candidature is None:
        raise Http404
    candidature._locked_for_update = lock
    remember_member(candidature.ptce, user)  # of_applicant just checked it
    return candidature
