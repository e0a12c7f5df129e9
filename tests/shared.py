"""Read-mostly data built once per test module or class instead of once per test.

``built_once`` builds inside a transaction that stays open while the module's (or class's) tests
run and is rolled back after the last one; each test's own transaction (pytest-django's ``db``)
nests inside it as a savepoint, so what a test writes to the database is undone before the next
test. Python objects are not: a fixture built on it should hand each test ``copy.deepcopy`` of
what was built, so that attributes a test changes do not leak into the next one.
"""

from django.db import transaction
from django.test import override_settings


def built_once(django_db_blocker, build, files_dir=None):
    """Generator for a module- or class-scoped fixture: ``yield from built_once(...)``. With
    ``files_dir``, the files written while building go there, and it stays the default storage
    while the tests run, unless tests/conftest.py's ``_private_storage`` gives each test its own
    folder (a module whose tests read the files built overrides that fixture)."""
    from django.conf import settings

    storages = settings.STORAGES
    if files_dir is not None:
        storages = {
            **storages,
            "default": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(files_dir)},
            },
        }
    with override_settings(STORAGES=storages), django_db_blocker.unblock(), transaction.atomic():
        built = build()
        with django_db_blocker.block():
            yield built
        transaction.set_rollback(True)
