"""The objects of the regional cell's screens, looked up within the user's scope: anything
else is a 404."""

from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import (
    RegionalCell,
    RegionalRole,
)
from candidatures.models import Candidature

from ..permissions import can_coordinate


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


def posted_pk(request, name) -> int:
    value = request.POST.get(name, "")
    if not value.isdigit():
        raise Http404
    return int(value)
