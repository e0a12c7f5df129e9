"""HTTP hardening that neither Django nor django-csp provides: the Permissions-Policy header and a
hard cap on the size of a request body.

The other security headers come from settings: ``SecurityMiddleware`` (nosniff, Referrer-Policy,
Cross-Origin-Opener-Policy, HSTS in production), ``XFrameOptionsMiddleware`` (DENY) and
django-csp's ``CSPMiddleware`` (Content-Security-Policy with a nonce). The reverse proxy
(``deploy/nginx.conf``) enforces the same body limit before a request reaches Django.
"""

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme

from ami.formats import format_filesize


class SecurityHeadersMiddleware:
    """Adds ``Permissions-Policy`` (``settings.PERMISSIONS_POLICY``) to every response that has
    none."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = getattr(settings, "PERMISSIONS_POLICY", "")
        if policy and "Permissions-Policy" not in response:
            response["Permissions-Policy"] = policy
        return response


def declared_length(request) -> int:
    """The body size the client announced (``Content-Length``), 0 when absent or malformed.
    Without ``Content-Length`` Django reads no body at all (WSGI), so nothing gets past."""
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


class RequestSizeLimitMiddleware:
    """Answers 413 to a request whose body is larger than ``settings.MAX_UPLOAD_REQUEST_BYTES``,
    before anything reads it (CSRF, forms, file uploads). A document type's own limit is checked
    later, with a precise message, by ``candidatures.documents``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_UPLOAD_REQUEST_BYTES
        if limit and declared_length(request) > limit:
            return too_large(request, limit)
        return self.get_response(request)


def too_large(request, limit: int) -> HttpResponse:
    message = (
        f"L'envoi dépasse la taille maximale acceptée par la plateforme ({format_filesize(limit)}"
        ") : rien n'a été enregistré. Réduisez le fichier (PDF compressé, images moins lourdes) "
        "puis recommencez."
    )
    if request.headers.get("HX-Request"):
        return HttpResponse(f'<span class="fr-error-text">{message}</span>', status=413)
    back = request.headers.get("Referer")
    if not back or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = None
    return render(request, "413.html", {"message": message, "back": back}, status=413)
