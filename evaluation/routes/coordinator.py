"""Routes of the regional cell's coordinator screens: home and members, admission
(admissibility, complements), assignments."""

from django.urls import path

from ..views import admission, assignments, members

urlpatterns = [
    path("cellules/<int:cell_pk>/", members.cell_home, name="cell_home"),
    path("cellules/<int:cell_pk>/membres/", members.cell_members, name="cell_members"),
    path(
        "cellules/<int:cell_pk>/attributions/",
        assignments.cell_assignments,
        name="cell_assignments",
    ),
    path(
        "candidatures/<int:pk>/recevabilite/",
        admission.admissibility,
        name="admissibility",
    ),
    path(
        "candidatures/<int:pk>/complements/",
        admission.complements_request,
        name="complements_request",
    ),
]
