"""Routes of the consolidation screens."""

from django.urls import path

from ..views import consolidation as views
from ..views import region_export

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
    # The region's ZIP of dossiers (evaluation.region_export)
    path(
        "cellules/<int:cell_pk>/export-dossiers/",
        region_export.region_exports,
        name="region_exports",
    ),
    path(
        "cellules/<int:cell_pk>/export-dossiers/<int:export_pk>/",
        region_export.region_export_status,
        name="region_export_status",
    ),
    path(
        "cellules/<int:cell_pk>/export-dossiers/<int:export_pk>/telecharger/",
        region_export.region_export_download,
        name="region_export_download",
    ),
]
