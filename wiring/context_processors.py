from django.utils.functional import SimpleLazyObject

from accounts.navigation import navigation_for
from candidatures.messaging import unread_threads


def platform(request):
    """Navigation entries by role, and the threads with unread messages (« Mon espace »),
    computed only when a template uses them."""
    return {
        "navigation": SimpleLazyObject(lambda: navigation_for(request.user)),
        "unread_threads": SimpleLazyObject(lambda: unread_threads(request.user)),
    }
