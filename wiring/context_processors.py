from django.utils.functional import SimpleLazyObject

from accounts.navigation import navigation_for


def platform(request):
    """Navigation entries by role, computed only when a template uses them."""
    return {"navigation": SimpleLazyObject(lambda: navigation_for(request.user))}
