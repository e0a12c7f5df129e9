"""Object predicates for PTCEs and candidatures. Seeing is always ``visible_to``; acting on a
candidature as an applicant needs membership of its PTCE's team."""

from django.utils import timezone

from .complements import request_refusal
from .models import Candidature, CandidatureState, PtceMembership


def can_view_candidature(user, candidature) -> bool:
    return Candidature.objects.visible_to(user).filter(pk=candidature.pk).exists()


# Set on a PTCE object by a lookup that already proved the user is in its team in the same
# query (``views.common.own_candidature_or_404``): the user ids known to be members, so that the
# request asks the database only once.
KNOWN_MEMBERS_ATTRIBUTE = "_known_team_members"


def remember_member(ptce, user) -> None:
    known = getattr(ptce, KNOWN_MEMBERS_ATTRIBUTE, frozenset())
    setattr(ptce, KNOWN_MEMBERS_ATTRIBUTE, known | {user.pk})


def is_ptce_member(user, ptce) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user.pk in getattr(ptce, KNOWN_MEMBERS_ATTRIBUTE, ()):
        return True
    return PtceMembership.objects.filter(ptce=ptce, user=user).exists()


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
