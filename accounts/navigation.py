"""The header navigation, by role."""

from django.db.models import Prefetch
from django.urls import reverse

from .models import NationalCellMembership, RegionalCell, RegionalCellMembership, RegionalRole


def navigation_for(user) -> list[dict]:
    items = [{"label": "Accueil", "url": reverse("home")}]
    if not user.is_authenticated:
        return items
    items.append({"label": "Mon espace", "url": reverse("dashboard")})
    items.append({"label": "Mes candidatures", "url": reverse("applicant_dashboard")})
    if user.regional_memberships.exists():
        items.append({"label": "Mes évaluations", "url": reverse("evaluator_worklist")})
    coordinated = (
        RegionalCellMembership.objects.filter(user=user, role=RegionalRole.COORDINATOR)
        .order_by("-cell__call__year", "cell__region__name", "cell_id")
        .values_list("cell_id", flat=True)
        .first()
    )
    if coordinated:
        items.append(
            {"label": "Cellule régionale", "url": reverse("cell_home", args=[coordinated])}
        )
    national_call = (
        NationalCellMembership.objects.filter(user=user)
        .order_by("-cell__call__year", "-cell__call_id")
        .values_list("cell__call_id", flat=True)
        .first()
    )
    if national_call:
        items.append(
            {
                "label": "Instruction nationale",
                "url": reverse("national_dashboard", args=[national_call]),
            }
        )
    if user.is_staff:
        items.append({"label": "Administration", "url": reverse("admin:index")})
    return items


def roles_of(user) -> dict:
    """Everything the dashboard says about the user's roles, in a fixed number of queries."""
    return {
        "ptces": list(user.ptces.order_by("name")),
        "regional": list(
            RegionalCellMembership.objects.filter(user=user)
            .select_related("cell__call", "cell__region")
            .order_by("-cell__call__year", "cell__region__name")
        ),
        "national": list(
            NationalCellMembership.objects.filter(user=user)
            .select_related("cell__call")
            .prefetch_related(
                Prefetch(
                    "cell__call__regional_cells",
                    queryset=RegionalCell.objects.select_related("region").order_by("region__name"),
                )
            )
            .order_by("-cell__call__year")
        ),
    }
