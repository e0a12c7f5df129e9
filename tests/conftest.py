import copy
import os

import pytest

# Modules that take minutes on their own (a whole edition in the browser, real workers): under
# pytest-xdist they are handed out first, so that they do not start last on one worker while
# the other one has nothing left to do.
LONG_MODULES = (
    "tests/browser/test_whole_edition.py",
    "tests/browser/",
    "tests/integration/",
    "tests/api/test_fuzz.py",
)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """On an xdist worker, after pytest-django's own order (transactional tests last), the
    longest modules first. (Every worker collects the same order; ``--dist loadscope`` hands
    the modules out in it.) A flushing test may now run before ordinary ones: the reference
    territory it empties is put back at once (``_reference_territory_after_flush``)."""
    if not hasattr(config, "workerinput"):
        return

    def rank(item):
        path = item.nodeid.split("::")[0]
        return next(
            (i for i, prefix in enumerate(LONG_MODULES) if path.startswith(prefix)),
            len(LONG_MODULES),
        )

    items.sort(key=rank)  # stable: the order inside each rank is kept


@pytest.fixture(autouse=True)
def _private_storage(settings, tmp_path):
    """Uploaded files go to a temporary private folder in every test."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "private")},
        },
    }


@pytest.fixture(autouse=True)
def _empty_cache():
    """The in-memory cache lives as long as the test process: start each test empty (and the
    process's copy of open calls' questionnaires, ``questionnaire.steps``: tests change them
    behind the phases' back, ``factories.configuring``, and each test's changes are rolled back)."""
    from django.core.cache import cache

    from candidatures.questionnaire import forget_all_steps

    cache.clear()
    forget_all_steps()
    yield
    cache.clear()
    forget_all_steps()


@pytest.fixture(scope="module")
def _module_world(django_db_setup, django_db_blocker):
    """``build_world()`` once per test module, inside a transaction rolled back after the
    module's last test. Each test's own transaction (pytest-django's ``db``) nests inside it as a
    savepoint, so whatever a test writes is undone before the next one."""
    from tests.roles import build_world
    from tests.shared import built_once

    yield from built_once(django_db_blocker, build_world)


@pytest.fixture
def world(_module_world, db):
    """A small edition with one actor of every role (see tests/roles.py), built once per module:
    each test gets its own copy of the Python objects, as they were when built (a test that
    changes an attribute or saves an object leaves the next test's copy untouched, and its
    writes to the database are rolled back)."""
    return copy.deepcopy(_module_world)


def _restore_reference_territory():
    from ami.models import Department, Region
    from ami.territory_data import DEPARTMENTS, REGIONS

    if Department.objects.count() == len(DEPARTMENTS):
        return
    Region.objects.bulk_create(
        [Region(code=code, name=name) for code, name in REGIONS], ignore_conflicts=True
    )
    Department.objects.bulk_create(
        [Department(code=c, name=n, region_id=r) for c, n, r in DEPARTMENTS],
        ignore_conflicts=True,
    )


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, plus the regions and départements of the data migration:
    a database kept by ``--reuse-db`` (make test-fast) may come from a run whose last
    transactional test flushed them."""
    with django_db_blocker.unblock():
        _restore_reference_territory()


def _delete_rows_flush(original):
    """PostgreSQL's ``sql_flush`` for the tests: the same tables emptied, by ``DELETE`` instead of
    ``TRUNCATE``. A transactional test (live server, real worker, API fuzzing) flushes every
    table when it ends; TRUNCATE gives each of the ~100 tables a new file, 1 to 3 seconds per
    test, where deleting the few rows a test made takes milliseconds. Django's foreign keys are
    ``DEFERRABLE INITIALLY DEFERRED`` and the flush runs in one transaction, so the order does
    not matter. The models' pgtrigger triggers (append-only histories, a call's questionnaire
    frozen once open), which TRUNCATE does not fire, are told to ignore this transaction, as
    ``pgtrigger.ignore`` does. With ``reset_sequences`` or ``allow_cascade`` (unused by
    pytest-django), the original TRUNCATE."""

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade:
            return original(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        return [
            "SELECT set_config('pgtrigger.ignore', (SELECT '{' || "
            "coalesce(string_agg(tgname, ','), '') || '}' FROM pg_trigger "
            "WHERE tgname LIKE 'pgtrigger\\_%'), true);",
            *(
                f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(self.quote_name(table))};"
                for table in tables
            ),
        ]

    sql_flush.original = original
    return sql_flush


@pytest.fixture(scope="session", autouse=True)
def _fast_flush():
    from django.db.backends.postgresql.operations import DatabaseOperations

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            DatabaseOperations, "sql_flush", _delete_rows_flush(DatabaseOperations.sql_flush)
        )
        yield


@pytest.fixture(scope="session", autouse=True)
def _reference_territory_after_flush():
    """A transactional test (live server, real worker) empties every table when it ends, the
    regions and départements of the data migration included, and Django then sends
    ``post_migrate``: put them back there, so the next test finds them. pytest-django runs the
    transactional tests after all the others, but a pytest-xdist worker runs whole modules one
    after the other (``--dist loadscope``): an ordinary module may follow a flushing one."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    def restore(**kwargs):
        _restore_reference_territory()

    sender = apps.get_app_config("ami")
    post_migrate.connect(restore, sender=sender, dispatch_uid="tests-reference-territory")
    yield
    post_migrate.disconnect(sender=sender, dispatch_uid="tests-reference-territory")


@pytest.fixture(autouse=True)
def _reference_territory(request):
    """Transactional tests (live server, real worker) flush every table afterwards, the
    regions and départements of the data migration included: put them back first."""
    if not {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    request.getfixturevalue("transactional_db")
    _restore_reference_territory()


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, started with a MEDIA_URL it can parse.

    The settings set ``MEDIA_URL = None`` (uploaded documents are never served directly), but
    Django's ``LiveServerThread`` wraps the site in a media files handler that parses MEDIA_URL
    when the thread starts and then fails on every request. A URL on another host makes that
    handler pass every request through, which is exactly « serve no media »."""
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    address = (
        request.config.getvalue("liveserver")
        or os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(address, start=False)
    with override_settings(MEDIA_URL="http://fichiers-non-servis.invalid/"):
        server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def s3_endpoint():
    """The endpoint URL of a local S3-compatible server (moto), one per test session."""
    from tests.s3 import s3_server

    with s3_server() as endpoint_url:
        yield endpoint_url


@pytest.fixture
def s3_bucket(s3_endpoint, settings):
    """Private files go to a fresh bucket of the local S3 server for this test (as in
    production with PRIVATE_STORAGE=s3); ``keys()`` lists its objects, ``body(key)`` reads one."""
    from tests.s3 import new_bucket

    bucket = new_bucket(s3_endpoint)
    settings.STORAGES = {**settings.STORAGES, "default": bucket.storage}
    return bucket
