"""Routes of the read API (/api/…) and of the tokens' page in « Mon espace »."""

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from . import pages, views

router = SimpleRouter()
router.register("appels", views.CallViewSet, basename="call")
router.register("candidatures", views.CandidatureViewSet, basename="candidature")
router.register("avis-regionaux", views.RegionalOpinionViewSet, basename="regional-opinion")
router.register("analyses-nationales", views.NationalReviewViewSet, basename="national-review")
router.register("decisions", views.DecisionViewSet, basename="decision")

api_patterns = [
    path("v1/", include((router.urls, "api"))),
    # Any other address under the API answers a JSON 404, as the API does.
    re_path(r"^v1/", pages.not_found, name="api_not_found"),
    path("schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("documentation/", pages.documentation, name="api_docs"),
]

token_patterns = [
    path("", pages.tokens, name="api_tokens"),
    path("<int:pk>/revoquer/", pages.token_revoke, name="api_token_revoke"),
]
