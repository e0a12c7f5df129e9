"""Routes of the coordinator screens (and the CNA administrator's change of region)."""

from django.urls import path

from ..views import coordinator

urlpatterns = [
    path("cellules/<int:cell_pk>/", coordinator.cell_home, name="cell_home"),
    path("cellules/<int:cell_pk>/membres/", coordinator.cell_members, name="cell_members"),
    path(
        "cellules/<int:cell_pk>/attributions/",
        coordinator.cell_assignments,
        name="cell_assignments",
    ),
    path(
        "candidatures/<int:pk>/recevabilite/",
        coordinator.admissibility,
        name="admissibility",
    ),
    path(
        "candidatures/<int:pk>/complements/",
        coordinator.complements_request,
        name="complements_request",
    ),
    path(
        "candidatures/<int:pk>/changer-de-region/",
        coordinator.region_move,
        name="region_move",
    ),
]
