"""Preparing the next edition: the clone carries the regional cells, the national cell and the
members staff keep (accounts.cells, plugged into ami.calls.clone_call), once."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts.cells import PART_NAME, national_key, regional_key
from accounts.models import (
    NationalCell,
    NationalCellMembership,
    NationalRole,
    RegionalCell,
    RegionalCellMembership,
    RegionalRole,
)
from ami.calls import clone_call, prepare_next_edition
from ami.models import Call, Phase, Region
from ami.outbox import OutboxMessage
from tests import factories as f

pytestmark = pytest.mark.django_db


def edition_with_cells():
    """An edition with a cell in each of the 18 regions, a national cell and some members."""
    call = f.CallFactory(name="AMI PTCE 2025", year=2025, phase=Phase.PUBLISHED)
    f.CriterionFactory(call=call)
    for region in Region.objects.all():
        f.RegionalCellFactory(call=call, region=region)
    idf = RegionalCell.objects.get(call=call, region__code="11")
    bzh = RegionalCell.objects.get(call=call, region__code="53")
    members = {
        "coordinator": f.RegionalMembershipFactory(
            cell=idf, role=RegionalRole.COORDINATOR, totp=False
        ),
        "evaluator": f.RegionalMembershipFactory(cell=idf, totp=False),
        "breton": f.RegionalMembershipFactory(cell=bzh, totp=False),
        "cna_admin": f.NationalMembershipFactory(
            cell__call=call, role=NationalRole.ADMINISTRATOR, totp=False
        ),
        "cna_member": f.NationalMembershipFactory(cell__call=call, totp=False),
    }
    return call, members


def pairs(call):
    regional = set(
        RegionalCellMembership.objects.filter(cell__call=call).values_list(
            "cell__region__code", "user__email", "role"
        )
    )
    national = set(
        NationalCellMembership.objects.filter(cell__call=call).values_list("user__email", "role")
    )
    return regional, national


def test_clone_copies_the_cells_and_every_member_by_default():
    call, members = edition_with_cells()
    assert Region.objects.count() == 18

    result = prepare_next_edition(call, f.UserFactory(is_staff=True))

    clone = result.call
    assert result.created
    assert RegionalCell.objects.filter(call=clone).count() == 18
    assert NationalCell.objects.filter(call=clone).exists()
    assert pairs(clone) == pairs(call)
    assert result.copied == {
        "cellules régionales créées": 18,
        "cellule nationale créée": 1,
        "membres reconduits": 5,
    }
    # The source edition is untouched and nobody is emailed (the new edition is a draft).
    assert RegionalCellMembership.objects.filter(cell__call=call).count() == 3
    assert not OutboxMessage.objects.exists()


def test_only_the_members_kept_are_carried_over():
    call, members = edition_with_cells()
    keep = {PART_NAME: {regional_key(members["coordinator"]), national_key(members["cna_admin"])}}

    clone = clone_call(call, None, keep=keep)

    regional, national = pairs(clone)
    assert regional == {("11", members["coordinator"].user.email, RegionalRole.COORDINATOR)}
    assert national == {(members["cna_admin"].user.email, NationalRole.ADMINISTRATOR)}
    assert RegionalCell.objects.filter(call=clone).count() == 18  # cells are always copied


def test_inactive_accounts_are_not_carried_over():
    call, members = edition_with_cells()
    members["breton"].user.is_active = False
    members["breton"].user.save()

    clone = clone_call(call, None)

    assert not RegionalCellMembership.objects.filter(
        cell__call=clone, user=members["breton"].user
    ).exists()


def test_running_it_twice_duplicates_nothing_and_completes_what_is_missing():
    call, members = edition_with_cells()
    first = prepare_next_edition(
        call, None, keep={PART_NAME: {regional_key(members["coordinator"])}}
    )
    RegionalCell.objects.get(call=first.call, region__code="94").delete()
    before = pairs(first.call)

    second = prepare_next_edition(call, None)

    assert not second.created
    assert second.call.pk == first.call.pk
    assert Call.objects.filter(year=2026).count() == 1
    assert first.call.criteria.count() == 1  # the grid is not copied again
    assert RegionalCell.objects.filter(call=first.call).count() == 18
    assert second.copied == {
        "cellules régionales créées": 1,
        "cellule nationale créée": 0,
        "membres reconduits": 4,
    }
    assert before[0] < pairs(first.call)[0]
    assert pairs(first.call) == pairs(call)

    third = prepare_next_edition(call, None)
    assert third.copied == {
        "cellules régionales créées": 0,
        "cellule nationale créée": 0,
        "membres reconduits": 0,
    }
    assert RegionalCellMembership.objects.filter(cell__call=first.call).count() == 3


def test_a_next_edition_already_open_is_refused_and_left_alone():
    call, _ = edition_with_cells()
    clone = clone_call(call, None, keep={PART_NAME: set()})
    Call.objects.filter(pk=clone.pk).update(phase=Phase.OPEN)

    with pytest.raises(ValidationError, match="n'est plus en brouillon"):
        clone_call(call, None)

    assert not RegionalCellMembership.objects.filter(cell__call=clone).exists()


def test_admin_action_lists_members_and_copies_the_ones_left_checked(client):
    call, members = edition_with_cells()
    client.force_login(f.UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:ami_call_changelist")

    page = client.post(url, {"action": "clone_for_next_year", "_selected_action": [call.pk]})

    content = page.content.decode()
    assert page.status_code == 200
    assert members["evaluator"].user.email in content
    assert "Cellule régionale Bretagne" in content
    assert "Cellule nationale" in content
    assert content.count('type="checkbox"') == 5
    kept = [regional_key(members["evaluator"]), national_key(members["cna_member"])]
    response = client.post(
        url,
        {
            "action": "clone_for_next_year",
            "_selected_action": [call.pk],
            "confirm": "yes",
            f"keep-{call.pk}-{PART_NAME}": kept,
        },
        follow=True,
    )

    assert "« AMI PTCE 2026 » créé en brouillon" in response.content.decode()
    clone = Call.objects.get(year=2026)
    regional, national = pairs(clone)
    assert regional == {("11", members["evaluator"].user.email, RegionalRole.EVALUATOR)}
    assert national == {(members["cna_member"].user.email, NationalRole.MEMBER)}

    again = client.post(
        url,
        {"action": "clone_for_next_year", "_selected_action": [call.pk], "confirm": "yes"},
        follow=True,
    )
    assert "existait déjà, complété" in again.content.decode()
    assert Call.objects.filter(year=2026).count() == 1


def test_admin_action_refuses_an_edition_no_longer_a_draft(client):
    call, _ = edition_with_cells()
    clone = clone_call(call, None)
    Call.objects.filter(pk=clone.pk).update(phase=Phase.OPEN)
    client.force_login(f.UserFactory(is_staff=True, is_superuser=True))

    response = client.post(
        reverse("admin:ami_call_changelist"),
        {"action": "clone_for_next_year", "_selected_action": [call.pk], "confirm": "yes"},
        follow=True,
    )

    assert "est plus en brouillon" in response.content.decode()


def test_confirmation_page_query_count_does_not_grow_with_members(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call, _ = edition_with_cells()
    client.force_login(f.UserFactory(is_staff=True, is_superuser=True))
    url = reverse("admin:ami_call_changelist")
    data = {"action": "clone_for_next_year", "_selected_action": [call.pk]}

    def count():
        client.post(url, data)  # warm the per-process caches first
        with CaptureQueriesContext(connection) as queries:
            assert client.post(url, data).status_code == 200
        return len(queries)

    few = count()
    cells = list(RegionalCell.objects.filter(call=call))
    for i in range(45):
        f.RegionalMembershipFactory(cell=cells[i % len(cells)], totp=False)
    assert RegionalCellMembership.objects.filter(cell__call=call).count() == 48
    assert count() == few


def test_everything_is_copied_in_one_transaction(monkeypatch):
    from ami import calls

    call, _ = edition_with_cells()

    def broken(source, target, actor, keep):
        raise RuntimeError("panne")

    parts = {**calls._clone_parts, "broken": calls.ClonePart("broken", "", lambda c: [], broken)}
    monkeypatch.setattr(calls, "_clone_parts", parts)

    with pytest.raises(RuntimeError):
        clone_call(call, None)

    assert not Call.objects.filter(year=2026).exists()
    assert RegionalCell.objects.exclude(call=call).count() == 0
