"""Object predicates for PTCEs and candidatures. Seeing is always ``visible_to``; acting on a
candidature as an applicant needs membership of its PTCE's team."""

from django.utils import timezone

from .complements import request_refusal
from .models import Candidature, CandidatureState, PtceMembership


def can_view_candidature(user, candidature) -> bool:
    return Candidature.objects.visible_to(user).filter(pk=candidature.pk).exists()


def is_ptce_member(user, ptce) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and PtceMembership.objects.filter(ptce=ptce, user=user).exists()
    )


def is_ptce_referent(user, ptce) -> bool:
    return bool(
        user.is_authenticated
        and user.is_active
        and PtceMembership.objects.filter(ptce=ptce, user=user, is_referent=True).exists()
    )


def can_edit_candidature(user, candidature, at=None) -> bool:
    """Applicants edit their draft while the call accepts submissions, and what a request for
    complements lists until its due date."""
    at = at or timezone.now()
    if candidature.state == CandidatureState.DRAFT:
        editable = candidature.call.accepts_submissions(at)
    elif candidature.state == CandidatureState.COMPLEMENTS_REQUESTED:
        editable = request_refusal(candidature, at) is None
    else:
        editable = False
    return editable and is_ptce_member(user, candidature.ptce)
