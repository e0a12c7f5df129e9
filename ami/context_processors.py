from django.utils.functional import SimpleLazyObject


def platform(request):
    """Navigation entries by role, computed only when a template uses them."""

    def navigation():
        from accounts.navigation import navigation_for

        return navigation_for(request.user)

    return {"navigation": SimpleLazyObject(navigation)}
