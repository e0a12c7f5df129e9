"""Routes of the coordinator screens."""

urlpatterns = []
