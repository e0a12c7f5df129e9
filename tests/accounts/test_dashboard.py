import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import RegionalRole
from ami.models import Region
from tests import factories as f

pytestmark = pytest.mark.django_db


def _queries(client, url):
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _memberships(user, n):
    for i in range(n):
        call = f.CallFactory()
        region = f.region(f"{i % 90 + 10:02d}")
        f.RegionalMembershipFactory(
            user=user,
            cell=f.RegionalCellFactory(call=call, region=region),
            role=RegionalRole.EVALUATOR,
        )
        f.NationalMembershipFactory(user=user, cell=f.NationalCellFactory(call=call))
        f.PtceMembershipFactory(user=user, ptce=f.PtceFactory(region=region))


@pytest.mark.parametrize("url", ["/mon-espace/", "/"])
def test_query_count_does_not_grow_with_roles(client, url):
    small, large = f.UserFactory(), f.UserFactory()
    _memberships(small, 2)
    _memberships(large, 50)
    client.force_login(small)
    few = _queries(client, url)
    client.force_login(large)
    many = _queries(client, url)
    assert few == many
    assert Region.objects.count() >= 2


def test_dashboard_lists_every_role(client):
    user = f.UserFactory()
    _memberships(user, 1)
    client.force_login(user)
    html = client.get("/mon-espace/").content.decode()
    assert "Cellules régionales" in html and "évaluateur" in html
    assert "Cellule nationale" in html and "membre" in html


def test_cell_member_sets_their_organisation(client):
    user = f.UserFactory()
    _memberships(user, 1)
    client.force_login(user)
    assert "Mon organisation" in client.get("/mon-espace/").content.decode()
    response = client.post(
        "/mon-espace/organisation/",
        {"organisation": "Coopérative X", "organisation_siren": "732 829 320"},
        follow=True,
    )
    assert "Votre organisation est enregistrée." in response.content.decode()
    user.refresh_from_db()
    assert (user.organisation, user.organisation_siren) == ("Coopérative X", "732829320")
    response = client.post(
        "/mon-espace/organisation/",
        {"organisation": "", "organisation_siren": "123456789"},
        follow=True,
    )
    assert "clé de contrôle" in response.content.decode()
    user.refresh_from_db()
    assert user.organisation_siren == "732829320"


def test_cna_dashboard_groups_the_regions_by_the_stage_of_their_review(client):
    from evaluation.models import RegionHandover

    user = f.UserFactory()
    call = f.CallFactory()
    f.NationalMembershipFactory(user=user, cell=f.NationalCellFactory(call=call))
    cells = {
        code: f.RegionalCellFactory(call=call, region=f.region(code)) for code in ("11", "53", "84")
    }
    RegionHandover.objects.create(cell=cells["53"], handed_over_by=f.UserFactory())
    client.force_login(user)
    html = client.get("/mon-espace/").content.decode()
    handed = html.index("Régions transmises à la CNA (1)")
    in_review = html.index("Régions en instruction régionale (2)")
    assert handed < in_review  # the regions the CNA can review come first
    bretagne = html.index(f'href="/instruction/cellules/{cells["53"].pk}/consolidation/"')
    assert handed < bretagne < in_review
    for code in ("11", "84"):
        assert in_review < html.index(f"/instruction/cellules/{cells[code].pk}/consolidation/")
    assert html.count("/consolidation/") == 3
