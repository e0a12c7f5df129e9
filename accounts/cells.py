"""The cells of an edition as a whole: carrying the regional cells (CRA), the national cell (CNA)
and the members staff keep over to the next edition. Plugged into ``ami.calls.clone_call`` as a
``ClonePart`` registered in ``AccountsConfig.ready()`` (``ami`` never imports ``accounts``)."""

from django.urls import reverse

from ami.calls import CloneOption, ClonePart
from ami.models import Call
from ami.outbox import queue_templated_email

from .models import (
    NationalCell,
    NationalCellMembership,
    RegionalCell,
    RegionalCellMembership,
    User,
)

PART_NAME = "cells"
REGIONAL_CELLS = "cellules régionales créées"
NATIONAL_CELL = "cellule nationale créée"
MEMBERS = "membres reconduits"


def notify_member_added(membership: RegionalCellMembership, actor) -> None:
    """Tell a new member of a regional cell, with their role (« cell_member_added »): the same
    email from the coordinator's members screen and from the admin."""
    cell = membership.cell
    queue_templated_email(
        to=membership.user.email,
        template="cell_member_added",
        context={
            "cell": cell,
            "membership": membership,
            "actor": actor,
            "worklist_url": reverse("evaluator_worklist"),
        },
        event="cell.member_added",
        related=cell,
        call=cell.call,
    )


def regional_key(membership: RegionalCellMembership) -> str:
    return f"regional-{membership.pk}"


def national_key(membership: NationalCellMembership) -> str:
    return f"national-{membership.pk}"


def _person(user: User) -> str:
    name = user.get_full_name()
    return f"{name} ({user.email})" if name else user.email


def _source_memberships(call: Call):
    regional = (
        RegionalCellMembership.objects.filter(cell__call=call, user__is_active=True)
        .select_related("user", "cell__region")
        .order_by("cell__region__name", "role", "user__last_name", "user__email")
    )
    national = (
        NationalCellMembership.objects.filter(cell__call=call, user__is_active=True)
        .select_related("user")
        .order_by("role", "user__last_name", "user__email")
    )
    return regional, national


def clone_options(call: Call) -> list[CloneOption]:
    """Every active member of the edition's cells, which staff may keep (all by default)."""
    regional, national = _source_memberships(call)
    options = [
        CloneOption(
            national_key(m), f"{_person(m.user)} – {m.get_role_display()}", "Cellule nationale"
        )
        for m in national
    ]
    options += [
        CloneOption(
            regional_key(m),
            f"{_person(m.user)} – {m.get_role_display()}",
            f"Cellule régionale {m.cell.region.name}",
        )
        for m in regional
    ]
    return options


def copy_cells(source: Call, target: Call, actor, keep: set[str] | None) -> dict[str, int]:
    """Give ``target`` the cells ``source`` has (same regions, a national cell) and the members
    kept (``keep``: keys of ``clone_options``; ``None``: all), with the same roles. Only what
    ``target`` lacks is created, so running it again adds nothing. Members are not emailed: the
    new edition is a draft that staff may still change."""
    have = set(RegionalCell.objects.filter(call=target).values_list("region_id", flat=True))
    wanted = list(
        RegionalCell.objects.filter(call=source)
        .exclude(region__in=have)
        .values_list("region_id", flat=True)
    )
    RegionalCell.objects.bulk_create(
        [RegionalCell(call=target, region_id=region) for region in wanted]
    )
    new_national = 0
    if NationalCell.objects.filter(call=source).exists():
        _, created = NationalCell.objects.get_or_create(call=target)
        new_national = int(created)

    regional, national = _source_memberships(source)
    cells = dict(RegionalCell.objects.filter(call=target).values_list("region_id", "pk"))
    present = set(
        RegionalCellMembership.objects.filter(cell__call=target).values_list("cell_id", "user_id")
    )
    new_regional = [
        RegionalCellMembership(cell_id=cells[m.cell.region_id], user_id=m.user_id, role=m.role)
        for m in regional
        if (keep is None or regional_key(m) in keep)
        and (cells[m.cell.region_id], m.user_id) not in present
    ]
    RegionalCellMembership.objects.bulk_create(new_regional)
    new_national_members = []
    target_national = NationalCell.objects.filter(call=target).first()
    if target_national is not None:
        present = set(
            NationalCellMembership.objects.filter(cell=target_national).values_list(
                "user_id", flat=True
            )
        )
        new_national_members = [
            NationalCellMembership(cell=target_national, user_id=m.user_id, role=m.role)
            for m in national
            if (keep is None or national_key(m) in keep) and m.user_id not in present
        ]
        NationalCellMembership.objects.bulk_create(new_national_members)
    return {
        REGIONAL_CELLS: len(wanted),
        NATIONAL_CELL: new_national,
        MEMBERS: len(new_regional) + len(new_national_members),
    }


CLONE_PART = ClonePart(
    name=PART_NAME,
    label="Membres des cellules à reconduire",
    options=clone_options,
    copy=copy_cells,
)
