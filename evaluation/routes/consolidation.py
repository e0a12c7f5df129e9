"""Routes of the consolidation screens."""

from django.urls import path

from ..views import consolidation as views

urlpatterns = [
    path(
        "cellules/<int:cell_pk>/consolidation/",
        views.consolidation_list,
        name="consolidation_list",
    ),
    path("cellules/<int:cell_pk>/classement/", views.regional_ranking, name="regional_ranking"),
    path("cellules/<int:cell_pk>/transmettre/", views.region_handover, name="region_handover"),
    path(
        "cellules/<int:cell_pk>/export.xlsx",
        views.consolidation_export,
        name="consolidation_export",
    ),
    path("candidatures/<int:pk>/avis-regional/", views.regional_opinion, name="regional_opinion"),
    path("candidatures/<int:pk>/pieces.zip", views.documents_zip, name="documents_zip"),
]
