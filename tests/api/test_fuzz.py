"""The API fuzzed by schemathesis against a live server, operation by operation, with the
tokens of several roles and without any: never a server error, every response valid against
the published schema (status, content type, body, headers), unauthenticated calls refused."""

import os

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.tokens import create_token

pytestmark = pytest.mark.slow

ROLES = ("applicant", "cra_evaluator", "cra_coordinator", "cna_admin", "staff")


@pytest.fixture(scope="module")
def fuzz_server(request, django_db_setup, django_db_blocker):
    """A live server of its own for this module, and the tokens of one actor of every role in
    a world built once and committed (the server's thread reads it), for every operation; the
    database is flushed once after the last one, as a transactional test does.

    Not pytest-django's ``live_server`` fixture: a test that asks for it is made transactional,
    which flushed the database and rebuilt the world for each of the operations."""
    from django.core.management import call_command
    from django.test import override_settings
    from pytest_django.live_server_helper import LiveServer

    from tests.roles import build_world

    address = (
        request.config.getvalue("liveserver")
        or os.environ.get("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    rates = override_settings(API_RATE_LIMIT="100000/min", API_ANONYMOUS_RATE_LIMIT="100000/min")
    with django_db_blocker.unblock(), rates:
        # As tests/conftest.py's ``live_server``: a MEDIA_URL the server's thread can parse.
        server = LiveServer(address, start=False)
        with override_settings(MEDIA_URL="http://fichiers-non-servis.invalid/"):
            server.start()
        server._live_server_modified_settings.enable()
        try:
            world = build_world()
            headers = {"anonymous": {}}
            for role in ROLES:
                secret = create_token(world.user(role), "fuzz", 30).secret
                headers[role] = {"Authorization": f"Bearer {secret}"}
            yield server.url, headers
        finally:
            server._live_server_modified_settings.disable()
            server.stop()
            call_command("flush", verbosity=0, interactive=False)


# The schema /api/schema/ serves, generated at collection to make one test per operation
# (schemathesis' lazy loader from a fixture does not work with pytest 9).
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
FUZZED = set()  # the operations fuzzed in this process


def test_the_served_schema_is_the_fuzzed_one(client, db):
    served = client.get("/api/schema/?format=json").json()
    assert served == SchemaGenerator().get_schema(request=None, public=True)


# One item per operation for pytest-xdist, which hands tests out by node id: schemathesis (4.32)
# names each operation's item ``…[GET /api/v1/…]`` but pytest 9 gives them all the function's
# bare id, unless the test is parametrized too (xdist then ran the first operation only).
@pytest.mark.parametrize("identities", [("anonymous", *ROLES)], ids=["anonymous-and-every-role"])
@schema.parametrize()
@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_for_every_role(case, identities, fuzz_server):
    base_url, headers_of = fuzz_server
    tokens = {identity: headers_of[identity] for identity in identities}
    FUZZED.add(case.operation.label)
    components = (case.meta.components or {}) if case.meta else {}
    header = components.get("header")
    if header is not None and header.mode == schemathesis.GenerationMode.NEGATIVE:
        # A case whose Authorization header is the invalid part: sent as generated.
        tokens = {"generated": {}}
    for headers in tokens.values():
        # Every check but « valid data is accepted »: an unknown call or region in a filter is
        # a string the schema allows (calls are data) and is refused with 400 on purpose.
        case.call_and_validate(
            base_url=base_url,
            headers=headers,
            excluded_checks=[positive_data_acceptance],
        )


def test_every_operation_was_fuzzed():
    """After the fuzzing (same process, file order): every operation of the schema had its
    cases (pytest-xdist ran only the first one when their items shared one node id)."""
    if not FUZZED:
        pytest.skip("the fuzzing did not run in this process")
    assert FUZZED == {result.ok().label for result in schema.get_all_operations()}
