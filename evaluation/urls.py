from django.urls import include, path

urlpatterns = [
    path("", include("evaluation.routes.evaluator")),
    path("", include("evaluation.routes.coordinator")),
    path("", include("evaluation.routes.consolidation")),
    path("", include("evaluation.routes.national")),
    path("", include("evaluation.routes.national_exports")),
]
