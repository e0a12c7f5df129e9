"""Public routes of a call's results (open data), mounted under /appels/<slug>/laureats/."""

from django.urls import path

from ..views import public as views

urlpatterns = [
    path("", views.call_laureates, name="call_laureates"),
    path("subventions.csv", views.call_subsidies_csv, name="call_subsidies_csv"),
]
