"""A signed-in user's cell roles read in one query per request (``accounts.permissions.cell_roles``,
shared by the second-factor middleware and the header navigation), and sessions read through
the cache (``cached_db``): cheaper requests for the deadline rush (issue 18, item 5) with the
same answers and the same security."""

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import NationalRole, RegionalRole
from accounts.navigation import navigation_for
from accounts.permissions import NO_CELL_ROLES, CellRoles, cell_roles
from accounts.personal_data import end_sessions
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_cell_roles_in_one_query(django_assert_num_queries):
    old, new = f.CallFactory(year=2025), f.CallFactory(year=2026)
    coordinator = f.RegionalMembershipFactory(
        cell__call=old, cell__region=f.region("11"), role=RegionalRole.COORDINATOR
    ).user
    latest = f.RegionalMembershipFactory(
        cell__call=new, cell__region=f.region("53"), role=RegionalRole.COORDINATOR,
        user=coordinator,
    ).cell  # fmt: skip
    f.NationalMembershipFactory(cell__call=old, role=NationalRole.MEMBER, user=coordinator)
    f.NationalMembershipFactory(cell__call=new, role=NationalRole.MEMBER, user=coordinator)
    evaluator = f.RegionalMembershipFactory(cell__call=new, totp=False).user
    applicant = f.PtceMembershipFactory().user
    with django_assert_num_queries(1):
        assert cell_roles(coordinator) == CellRoles(True, True, latest.pk, new.pk)
    assert cell_roles(evaluator) == CellRoles(False, True, None, None)
    assert cell_roles(applicant) == NO_CELL_ROLES and not NO_CELL_ROLES.cell_member
    with django_assert_num_queries(0):
        assert cell_roles(AnonymousUser()) == NO_CELL_ROLES
    navigation = {item["label"]: item["url"] for item in navigation_for(coordinator)}
    assert navigation["Cellule régionale"] == reverse("cell_home", args=[latest.pk])
    assert navigation["Instruction nationale"] == reverse("national_dashboard", args=[new.pk])


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return response, [q["sql"] for q in queries.captured_queries]


def test_one_query_for_the_second_factor_and_the_navigation(client):
    applicant = f.PtceMembershipFactory().user
    client.force_login(applicant)
    response, sql = _queries(client, reverse("applicant_dashboard"))
    assert response.status_code == 200
    assert "Mes candidatures" in response.content.decode()
    cells = [q for q in sql if "cellmembership" in q or "mfa_authenticator" in q]
    assert len(cells) == 1, cells  # six before: three for the second factor, three for the menu


def test_a_user_put_in_a_cell_is_asked_for_the_second_factor_at_the_next_request(client):
    """The roles are read for each request, never kept in the session."""
    user = f.PtceMembershipFactory().user
    client.force_login(user)
    url = reverse("applicant_dashboard")
    assert client.get(url).status_code == 200
    f.RegionalMembershipFactory(user=user, totp=False)
    response = client.get(url)
    assert response.status_code == 302 and response.url == reverse("mfa_activate_totp")
    f.give_totp(user)
    response = client.get(url)
    assert response.status_code == 200 and "Mes évaluations" in response.content.decode()


def test_sessions_are_read_from_the_cache_and_ended_everywhere():
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"
    user = f.PtceMembershipFactory().user
    first, second = Client(), Client()
    for client in (first, second):
        client.force_login(user)
        client.get(reverse("applicant_dashboard"))  # the session is now in the cache
    response, sql = _queries(first, reverse("applicant_dashboard"))
    assert response.status_code == 200
    assert not any("django_session" in q for q in sql)
    # « Supprimer mon compte » ends every session of the user (accounts.personal_data): the
    # copies in the cache go with the rows.
    assert end_sessions(user.pk) == 2
    for client in (first, second):
        response = client.get(reverse("applicant_dashboard"))
        assert response.status_code == 302 and reverse("account_login") in response.url
    # Logging out ends the session in the cache too.
    first.force_login(user)
    key = first.session.session_key
    first.get(reverse("applicant_dashboard"))
    first.post(reverse("account_logout"))
    second.cookies[settings.SESSION_COOKIE_NAME] = key
    response = second.get(reverse("applicant_dashboard"))
    assert response.status_code == 302
