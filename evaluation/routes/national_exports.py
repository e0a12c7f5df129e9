"""Routes of the national review's downloads: the national table and the procès-verbal."""

from django.urls import path

from ..views import national_exports as views

urlpatterns = [
    path("national/<int:call_pk>/export.xlsx", views.national_export, name="national_export"),
    path("national/<int:call_pk>/deliberation/pv.pdf", views.pv_pdf, name="pv_pdf"),
    path("national/<int:call_pk>/deliberation/pv.xlsx", views.pv_xlsx, name="pv_xlsx"),
    path(
        "candidatures/<int:pk>/notification-attribution.pdf",
        views.notification_pdf,
        name="notification_pdf",
    ),
]
