"""Per-token rate limit (anonymous callers of the public endpoints: per IP address). Over it:
429 with ``Retry-After``. Rates from the settings (``API_RATE_LIMIT``,
``API_ANONYMOUS_RATE_LIMIT``), counters in the shared cache."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .models import ApiToken


class TokenRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self):
        return None  # read per request in allow_request (settings may change in tests)

    def allow_request(self, request, view):
        token = request.auth if isinstance(request.auth, ApiToken) else None
        self.rate = settings.API_RATE_LIMIT if token else settings.API_ANONYMOUS_RATE_LIMIT
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            return f"throttle_api_token_{request.auth.pk}"
        return f"throttle_api_anonymous_{self.get_ident(request)}"
