"""Object predicates for PTCEs and candidatures. Seeing is always ``visible_to``; acting on a
candidature as an applicant needs membership of its PTCE's team."""

from django.utils import timezone

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
    """Applicants edit their draft while the call accepts submissions."""
    return (
        candidature.state == CandidatureState.DRAFT
        and candidature.call.accepts_submissions(at or timezone.now())
        and is_ptce_member(user, candidature.ptce)
    )
