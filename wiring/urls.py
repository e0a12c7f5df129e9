"""The root URLconf: the one place that knows every app's routes (DESIGN §6)."""

from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path
from hijack.views import ReleaseUserView

from accounts import views as account_views
from ami import views
from api import urls as api_urls

admin.site.site_header = "Administration de l'AMI PTCE"
admin.site.site_title = "AMI PTCE"
admin.site.index_title = "Tableau de bord de l'équipe Coorace"
# The admin's own login form would skip the second factor: staff log in through allauth.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", views.home, name="home"),
    path("sante/", views.health, name="health"),
    path("appels/<slug:slug>/", views.call_detail, name="call_detail"),
    path("appels/<slug:slug>/laureats/", include("evaluation.routes.public")),
    path("accessibilite/", views.page, {"template": "accessibility"}, name="accessibility"),
    path("mentions-legales/", views.page, {"template": "legal"}, name="legal"),
    path("donnees-personnelles/", account_views.personal_data_policy, name="personal_data"),
    path("plan-du-site/", account_views.site_map, name="site_map"),
    path("mon-espace/", account_views.dashboard, name="dashboard"),
    path("mon-espace/organisation/", account_views.organisation_edit, name="organisation_edit"),
    path("mon-espace/mes-donnees/", account_views.my_data, name="my_data"),
    path(
        "mon-espace/mes-donnees/telecharger/",
        account_views.my_data_download,
        name="my_data_download",
    ),
    path("mon-espace/jetons-api/", include(api_urls.token_patterns)),
    path("mon-espace/supprimer-mon-compte/", account_views.account_delete, name="account_delete"),
    path("candidatures/", include("candidatures.urls")),
    path("instruction/", include("evaluation.urls")),
    path("compte/preferences/", account_views.email_preferences, name="email_preferences"),
    path("compte/desabonnement/<str:token>/", account_views.unsubscribe, name="unsubscribe"),
    path("compte/", include("allauth.urls")),
    # Staff acting as a user: only the way back is a public route; acting starts from the
    # admin's form on the user's page (accounts.admin), which asks for the reason.
    path(
        "assistance/",
        include(([path("fin/", ReleaseUserView.as_view(), name="release")], "hijack")),
    ),
    path("api/", include(api_urls.api_patterns)),
    path("admin/", admin.site.urls),
]

handler403 = "ami.views.error_403"
handler404 = "ami.views.error_404"
handler500 = "ami.views.error_500"
