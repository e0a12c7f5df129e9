"""Routes of the consolidation screens."""

urlpatterns = []
