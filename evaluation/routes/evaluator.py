"""Routes of the evaluator screens (mounted under /instruction/)."""

from django.urls import path

from ..views import evaluator

urlpatterns = [
    path("mes-evaluations/", evaluator.evaluator_worklist, name="evaluator_worklist"),
    path("candidatures/<int:pk>/evaluation/", evaluator.review_edit, name="review_edit"),
    path(
        "candidatures/<int:pk>/evaluation/enregistrer/",
        evaluator.review_autosave,
        name="review_autosave",
    ),
    path(
        "candidatures/<int:pk>/evaluation/rendre/",
        evaluator.review_submit,
        name="review_submit",
    ),
    path("candidatures/<int:pk>/conflit/", evaluator.conflict_declare, name="conflict_declare"),
    path("evaluations/<int:review_pk>/rouvrir/", evaluator.review_reopen, name="review_reopen"),
]
