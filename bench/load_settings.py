"""Settings of the deadline-rush load test (``bench/deadline_rush.py``): the production settings,
with only what plain HTTP on the loopback needs relaxed.

Production serves HTTPS behind a proxy: it redirects to HTTPS and marks its cookies ``Secure``
(with the ``__Host-`` prefix), which an HTTP client on 127.0.0.1 would never send back. Everything
else is production's: DEBUG off, PostgreSQL from DATABASE_URL, Celery on a real broker (the
outbox task is queued after commit, a worker sends it), the Redis cache, the default password
hasher. Static files are not collected (the load test fetches no static file), so the plain
storage is used instead of the manifest one.
"""

from ami.settings.production import *  # noqa: F403
from ami.settings.production import STORAGES

SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = False
SECURE_HSTS_PRELOAD = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SESSION_COOKIE_NAME = "sessionid"
CSRF_COOKIE_NAME = "csrftoken"

# The login rate limits count the client's address, the one the proxies in front of Django add to
# X-Forwarded-For: ALLAUTH_TRUSTED_PROXY_COUNT (production's setting) is set by
# bench/deadline_rush.py, 2 behind nginx (the Locust users send their own X-Forwarded-For as the
# TLS proxy would, nginx adds Locust's), 1 without it. Without it every applicant would share one
# address, and allauth's limit of 30 logins a minute per address would refuse logins in the rush.

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
