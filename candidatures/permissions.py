"""Object predicates for PTCEs and candidatures; each delegates scoping to ``visible_to``."""

from .models import Candidature, PtceMembership


def can_view_candidature(user, candidature) -> bool:
    return Candidature.objects.visible_to(user).filter(pk=candidature.pk).exists()


def is_ptce_member(user, ptce) -> bool:
    return user.is_authenticated and PtceMembership.objects.filter(ptce=ptce, user=user).exists()
