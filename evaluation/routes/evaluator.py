"""Routes of the evaluator screens."""

urlpatterns = []
