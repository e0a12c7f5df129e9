"""Tests: a real PostgreSQL (DATABASE_URL or embedded), in-memory email, eager tasks (the worker
integration tests switch to a real broker), and templates that fail on undefined variables."""

from ami.testing import InvalidTemplateVariable

from .dev import *  # noqa: F403
from .dev import TEMPLATES

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
SITE_URL = "http://testserver"
ACCOUNT_RATE_LIMITS = False
TEMPLATES[0]["OPTIONS"]["string_if_invalid"] = InvalidTemplateVariable()
# No antivirus for the ordinary tests; tests/candidatures/test_upload_checks.py runs a real clamd.
AMI_ANTIVIRUS_ENABLED = False
# Each test process keeps its own in-memory cache whatever CACHE_URL says (tests run in parallel;
# the two-node integration test gives its gunicorn processes a Redis cache of their own).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# As in production (one process here, so its own cache is the shared one).
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
