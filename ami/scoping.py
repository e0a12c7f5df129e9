"""The one lookup of an object reached through a URL: the model's scoping queryset
(``visible_to(user)``, one per model: DESIGN §3) then the lookup. Out of scope is a 404, never a
403 that would confirm the object exists."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404


def get_visible_or_404(queryset, user, **lookup):
    """``queryset`` (or a model) restricted to what ``user`` may see, then ``get(**lookup)``."""
    if not isinstance(queryset, QuerySet):
        queryset = queryset._default_manager.all()
    return get_object_or_404(queryset.visible_to(user), **lookup)
