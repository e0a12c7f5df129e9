import pytest


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
    """The in-memory cache lives as long as the test process: start each test empty."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(db):
    """A small edition with one actor of every role (see tests/roles.py)."""
    from tests.roles import build_world

    return build_world()


@pytest.fixture(autouse=True)
def _reference_territory(request):
    """Transactional tests (live server, real worker) flush every table afterwards, the
    regions and départements of the data migration included: put them back first."""
    if not {"transactional_db", "live_server"} & set(request.fixturenames):
        return
    request.getfixturevalue("transactional_db")
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
