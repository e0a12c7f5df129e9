"""Production: refuses to start without its secrets, a real database and a broker."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DATABASE_URL, LOGGING, STORAGES, env, env_bool, env_list

DEBUG = False

_missing = [
    name
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL")
    if not env(name)
]
if _missing:
    raise ImproperlyConfigured(
        "Production settings need these environment variables: " + ", ".join(_missing)
    )
if not DATABASE_URL.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured("DATABASE_URL must point to a PostgreSQL server.")
_secret = env("SECRET_KEY")
if len(_secret) < 50 or len(set(_secret)) < 5 or _secret.startswith("django-insecure"):
    raise ImproperlyConfigured(
        "SECRET_KEY must be a random value of at least 50 characters "
        '(python -c "import secrets; print(secrets.token_urlsafe(50))").'
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

# Shared cache (login rate limits, etc.) across web processes: Redis.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": env("CACHE_URL", env("CELERY_BROKER_URL")),
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", ""),
    }
}
# The sessions are read through that shared cache (ami/settings/base.py).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_TRUSTED_ORIGINS = env_list(
    "CSRF_TRUSTED_ORIGINS", ",".join(f"https://{host}" for host in ALLOWED_HOSTS)
)

SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Reverse proxies in front of Django (nginx of docker-compose: 1), so that allauth's rate limits
# count each client's address, not the proxy's (otherwise the 31st login of a minute, platform-
# wide, would be refused on a deadline day).
ALLAUTH_TRUSTED_PROXY_COUNT = int(env("ALLAUTH_TRUSTED_PROXY_COUNT", "1"))
SECURE_HSTS_SECONDS = int(env("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_NAME = "__Host-sessionid"
CSRF_COOKIE_NAME = "__Host-csrftoken"

STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"

# Logs: one JSON object per line (ami.observability.JsonFormatter) unless LOG_FORMAT=text.
LOG_FORMAT = env("LOG_FORMAT", "json")
LOGGING["handlers"]["console"]["formatter"] = "json" if LOG_FORMAT == "json" else "text"

# Errors and slow requests of web and Celery workers to Sentry, only when SENTRY_DSN is set.
SENTRY_DSN = env("SENTRY_DSN")
if SENTRY_DSN:
    from ami.sentry import init_sentry

    init_sentry(
        dsn=SENTRY_DSN,
        environment=env("SENTRY_ENVIRONMENT", "production"),
        release=env("SENTRY_RELEASE"),
        traces_sample_rate=float(env("SENTRY_TRACES_SAMPLE_RATE", "0")),
    )

# The legal notice's identities come from the environment only (no example in production):
# `check --deploy` names the missing ones (ami.E003).
LEGAL_PUBLISHER = env("LEGAL_PUBLISHER", "")
LEGAL_PUBLICATION_DIRECTOR = env("LEGAL_PUBLICATION_DIRECTOR", "")
LEGAL_HOST = env("LEGAL_HOST", "")
LEGAL_CONTACT_EMAIL = env("LEGAL_CONTACT_EMAIL", "")
