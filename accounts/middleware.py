"""Account security middlewares: the two-factor policy (``accounts.mfa``) and staff sessions."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from . import mfa
from .permissions import request_cell_roles

LAST_ACTIVITY_SESSION_KEY = "ami_last_activity"
# The last-activity time is written at most this often (seconds): one session write a minute.
ACTIVITY_RESOLUTION = 60


class MfaRequiredMiddleware:
    """Sends a user who must have the second factor, and has none yet, from any protected screen
    to the setup of an authenticator app, with the reason."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        # Read once for the request (one query), then reused by the header navigation.
        roles = request_cell_roles(user) if user.is_authenticated else None
        if mfa.blocks_request(user, request.path_info, request.session, roles):
            messages.warning(request, mfa.WHY_REQUIRED)
            if request.method == "GET" and not request.headers.get("HX-Request"):
                mfa.remember_destination(request.session, request.get_full_path())
            setup = reverse("mfa_activate_totp")
            if request.headers.get("HX-Request"):
                return HttpResponseClientRedirect(setup)
            return redirect(setup)
        return self.get_response(request)


def _is_staff(user) -> bool:
    """A staff member's session, also while they act as another user (django-hijack)."""
    if not (user and user.is_authenticated):
        return False
    return user.is_staff or bool(getattr(user, "is_hijacked", False))


class StaffSessionMiddleware:
    """Shorter sessions for staff (who reach every candidature): the cookie ends with the browser
    and the session after ``STAFF_SESSION_IDLE_TIMEOUT`` seconds without a request. Other users
    keep the default (``SESSION_COOKIE_AGE``)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if _is_staff(request.user):
            last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
            if last is not None and time.time() - last > settings.STAFF_SESSION_IDLE_TIMEOUT:
                logout(request)
                messages.info(
                    request,
                    "Votre session a expiré après une période d'inactivité : "
                    "reconnectez-vous pour continuer.",
                )
                return redirect_to_login(request.get_full_path())
        response = self.get_response(request)
        # After the view: a login in this very request makes the user staff only now, and
        # allauth's « remember me » sets its own expiry during the login.
        if _is_staff(request.user):
            session = request.session
            if not session.get_expire_at_browser_close():
                session.set_expiry(0)
            now = time.time()
            last = session.get(LAST_ACTIVITY_SESSION_KEY)
            if last is None or now - last >= ACTIVITY_RESOLUTION:
                session[LAST_ACTIVITY_SESSION_KEY] = now
        return response
