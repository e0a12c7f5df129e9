"""The header navigation, by role, and what « Mon espace » says about each role."""

from collections.abc import Callable

from django.db.models import Prefetch
from django.urls import reverse

from ami.models import Call, Phase

from .models import NationalCellMembership, RegionalCell, RegionalCellMembership
from .permissions import request_cell_roles


def navigation_for(user) -> list[dict]:
    items = [{"label": "Accueil", "url": reverse("home")}]
    if not user.is_authenticated:
        return items
    items.append({"label": "Mon espace", "url": reverse("dashboard")})
    items.append({"label": "Mes candidatures", "url": reverse("applicant_dashboard")})
    roles = request_cell_roles(user)  # read by the second-factor middleware already
    if roles.regional:
        items.append({"label": "Mes évaluations", "url": reverse("evaluator_worklist")})
    if roles.coordinated_cell:
        cell_home = reverse("cell_home", args=[roles.coordinated_cell])
        items.append({"label": "Cellule régionale", "url": cell_home})
    if roles.national_call:
        items.append(
            {
                "label": "Instruction nationale",
                "url": reverse("national_dashboard", args=[roles.national_call]),
            }
        )
    if user.is_staff:
        items.append({"label": "Administration", "url": reverse("admin:index")})
    return items


# How far each regional cell's review is, for the CNA's « Mon espace »: functions
# ``(cell ids) -> {cell id: French label of its group}`` registered by the app that knows
# (evaluation, in its ``AppConfig.ready()``: this app imports no higher one). A cell no function
# names is still « en instruction régionale ».
_CELL_STAGES: list[Callable[[list[int]], dict[int, str]]] = []
IN_REGIONAL_REVIEW = "Régions en instruction régionale"


def register_cell_stage(function: Callable[[list[int]], dict[int, str]]) -> None:
    if function not in _CELL_STAGES:
        _CELL_STAGES.append(function)


def group_cells_by_stage(national_memberships) -> None:
    """Give each national membership ``cell_groups``: its call's regional cells grouped by the
    stage of their review, [(label, cells)], regions in review last; one query for them all."""
    cells = [c for m in national_memberships for c in m.cell.call.regional_cells.all()]
    stages: dict[int, str] = {}
    if cells:
        for function in _CELL_STAGES:
            stages.update(function([cell.pk for cell in cells]))
    for membership in national_memberships:
        groups: dict[str, list] = {}
        for cell in membership.cell.call.regional_cells.all():
            groups.setdefault(stages.get(cell.pk, IN_REGIONAL_REVIEW), []).append(cell)
        membership.cell_groups = sorted(
            groups.items(), key=lambda item: (item[0] == IN_REGIONAL_REVIEW, item[0])
        )


def roles_of(user) -> dict:
    """Everything the dashboard says about the user's roles, in a fixed number of queries."""
    national = list(
        NationalCellMembership.objects.filter(user=user)
        .select_related("cell__call")
        .prefetch_related(
            Prefetch(
                "cell__call__regional_cells",
                queryset=RegionalCell.objects.select_related("region").order_by("region__name"),
            )
        )
        .order_by("-cell__call__year")
    )
    group_cells_by_stage(national)
    return {
        "ptces": list(user.ptces.order_by("name")),
        "regional": list(
            RegionalCellMembership.objects.filter(user=user)
            .select_related("cell__call", "cell__region")
            .order_by("-cell__call__year", "cell__region__name")
        ),
        "national": national,
    }


def site_map_sections() -> list[dict]:
    """The « Plan du site »: every public page, then each role's entries (title, and links as
    label/url; an entry without url is reached from « Mon espace », its address naming a cell or
    a call). Routes of higher apps are reversed by name."""
    laureates = [
        {
            "label": f"Lauréats de l'édition {call.year} ({call.name})",
            "url": reverse("call_laureates", args=[call.slug]),
        }
        for call in Call.objects.filter(phase__in=[Phase.PUBLISHED, Phase.ARCHIVED]).order_by(
            "-year", "-pk"
        )
    ]
    current = Call.objects.current()
    call_page = (
        [
            {
                "label": f"L'appel en cours : {current.name}",
                "url": reverse("call_detail", args=[current.slug]),
            }
        ]
        if current
        else []
    )
    return [
        {
            "title": "Pages publiques",
            "entries": [
                {"label": "Accueil", "url": reverse("home")},
                *call_page,
                *laureates,
                {"label": "Mentions légales", "url": reverse("legal")},
                {"label": "Déclaration d'accessibilité", "url": reverse("accessibility")},
                {"label": "Données personnelles", "url": reverse("personal_data")},
                {"label": "Plan du site", "url": reverse("site_map")},
            ],
        },
        {
            "title": "Compte",
            "entries": [
                {"label": "Se connecter", "url": reverse("account_login")},
                {"label": "Créer un compte", "url": reverse("account_signup")},
                {"label": "Mot de passe oublié", "url": reverse("account_reset_password")},
                {"label": "Préférences de courriel", "url": reverse("email_preferences")},
                {"label": "Mes données personnelles", "url": reverse("my_data")},
            ],
        },
        {
            "title": "Porteur de PTCE",
            "entries": [
                {"label": "Mon espace", "url": reverse("dashboard")},
                {"label": "Mes candidatures", "url": reverse("applicant_dashboard")},
                {"label": "Déclarer un PTCE", "url": reverse("ptce_create")},
            ],
        },
        {
            "title": "Cellule régionale d'animation (CRA)",
            "entries": [
                {"label": "Mes évaluations (évaluateurs)", "url": reverse("evaluator_worklist")},
                {"label": "Accueil de la cellule régionale (coordination), depuis « Mon espace »"},
            ],
        },
        {
            "title": "Cellule nationale d'animation (CNA)",
            "entries": [
                {"label": "Instruction nationale de chaque édition, depuis « Mon espace »"},
            ],
        },
        {
            "title": "Équipe Coorace",
            "entries": [{"label": "Administration", "url": reverse("admin:index")}],
        },
    ]
