"""The API fuzzed by schemathesis against a live server, operation by operation, with the
tokens of several roles and without any: never a server error, every response valid against
the published schema (status, content type, body, headers), unauthenticated calls refused."""

import pytest
import schemathesis
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from api.tokens import create_token

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROLES = ("applicant", "cra_evaluator", "cra_coordinator", "cna_admin", "staff")


@pytest.fixture
def tokens(transactional_db, settings):
    """Tokens of one actor of every role, in a world built for this test and committed (the
    live server's thread reads it; the module-wide ``world`` stays in an open transaction)."""
    from tests.roles import build_world

    world = build_world()
    settings.API_RATE_LIMIT = "100000/min"
    settings.API_ANONYMOUS_RATE_LIMIT = "100000/min"
    headers = {"anonymous": {}}
    for role in ROLES:
        secret = create_token(world.user(role), "fuzz", 30).secret
        headers[role] = {"Authorization": f"Bearer {secret}"}
    return headers


# The schema /api/schema/ serves, generated at collection to make one test per operation
# (schemathesis' lazy loader from a fixture does not work with pytest 9).
schema = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
FUZZED = set()  # the operations fuzzed in this process


def test_the_served_schema_is_the_fuzzed_one(client, db):
    served = client.get("/api/schema/?format=json").json()
    assert served == SchemaGenerator().get_schema(request=None, public=True)


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
def test_every_operation_for_every_role(case, tokens, live_server):
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
            base_url=live_server.url,
            headers=headers,
            excluded_checks=[positive_data_acceptance],
        )


def test_every_operation_was_fuzzed():
    """After the fuzzing (same process, file order): every operation of the schema had its
    cases. pytest-xdist's ``--dist loadscope`` once stopped the fuzzing after the first one
    (the Makefile runs this module on its own)."""
    if not FUZZED:
        pytest.skip("the fuzzing did not run in this process")
    assert FUZZED == {result.ok().label for result in schema.get_all_operations()}
