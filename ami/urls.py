from django.contrib import admin
from django.urls import include, path

from accounts import views as account_views

from . import views

admin.site.site_header = "Administration de l'AMI PTCE"
admin.site.site_title = "AMI PTCE"
admin.site.index_title = "Tableau de bord de l'équipe Coorace"

urlpatterns = [
    path("", views.home, name="home"),
    path("appels/<slug:slug>/", views.call_detail, name="call_detail"),
    path("appels/<slug:slug>/laureats/", include("evaluation.routes.public")),
    path("accessibilite/", views.page, {"template": "accessibility"}, name="accessibility"),
    path("mentions-legales/", views.page, {"template": "legal"}, name="legal"),
    path("donnees-personnelles/", views.page, {"template": "personal_data"}, name="personal_data"),
    path("mon-espace/", account_views.dashboard, name="dashboard"),
    path("mon-espace/organisation/", account_views.organisation_edit, name="organisation_edit"),
    path("candidatures/", include("candidatures.urls")),
    path("instruction/", include("evaluation.urls")),
    path("compte/preferences/", account_views.email_preferences, name="email_preferences"),
    path("compte/desabonnement/<str:token>/", account_views.unsubscribe, name="unsubscribe"),
    path("compte/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]

handler403 = "ami.views.error_403"
handler404 = "ami.views.error_404"
handler500 = "ami.views.error_500"
