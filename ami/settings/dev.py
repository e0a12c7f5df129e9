"""Development: the embedded PostgreSQL unless DATABASE_URL is set, console email, eager tasks
unless CELERY_BROKER_URL is set."""

import base64
import hashlib

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASE_OPTIONS, DATABASES, env, env_bool, env_list

DEBUG = True
SECRET_KEY = env("SECRET_KEY", "dev-only-insecure-key-never-used-in-production")  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
# Second-factor secrets: a fixed key derived from the secret key unless one is given.
MFA_ENCRYPTION_KEY = (
    env("MFA_ENCRYPTION_KEY")
    or base64.urlsafe_b64encode(
        hashlib.sha256(b"ami-mfa-encryption:" + SECRET_KEY.encode()).digest()
    ).decode()
)

if not DATABASES:
    from ami.embedded_db import embedded_database_settings

    DATABASES = {"default": {**embedded_database_settings(BASE_DIR), "OPTIONS": DATABASE_OPTIONS}}

EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")

WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# No clamd on a developer's machine by default: uploads are accepted with a warning in the log
# when it cannot be reached (never in production: the --deploy check refuses it).
AMI_ANTIVIRUS_FAIL_OPEN = env_bool("AMI_ANTIVIRUS_FAIL_OPEN", True)
