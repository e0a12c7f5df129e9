"""The regional cell's worklist in a real browser: the coordinator searches without accents,
filters by département and rural territory, sorts, and opens the one action offered; axe-core on
each state of the page."""

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import RegionalRole
from ami.models import Commune
from candidatures.models import CandidatureState
from evaluation.models import Assignment, Review, ReviewState
from tests import factories as f

from .flows import open_cell_dashboard, sign_in

pytestmark = pytest.mark.browser


def test_cell_home_search_filters_and_sort(page, live_server, axe_check):
    call = f.CallFactory(name="AMI PTCE 2026")
    region = f.region("11")
    cell = f.RegionalCellFactory(call=call, region=region)
    coordinator = f.RegionalMembershipFactory(
        cell=cell,
        role=RegionalRole.COORDINATOR,
        user=f.UserFactory(email="claire.coord@example.org", first_name="Claire"),
    ).user
    evaluator = f.RegionalMembershipFactory(
        cell=cell, user=f.UserFactory(first_name="Alice", last_name="Aubert")
    ).user
    paris = Commune.objects.get_or_create(
        code="75056", defaults={"name": "Paris", "department_id": "75"}
    )[0]
    now = timezone.now()

    def make(name, state, **fields):
        return f.CandidatureFactory(
            ptce=f.PtceFactory(name=name, region=region, seat_commune=paris),
            call=call,
            state=state,
            submitted_at=now,
            **fields,
        )

    make("Réunion des Savoirs", CandidatureState.SUBMITTED, is_rural=True)
    make("Réunion urbaine", CandidatureState.SUBMITTED)
    reviewed = make("Éclat solidaire", CandidatureState.ADMISSIBLE, is_rural=True)
    Assignment.objects.create(candidature=reviewed, evaluator=evaluator, assigned_by=coordinator)
    Review.objects.create(
        candidature=reviewed, evaluator=evaluator, state=ReviewState.SUBMITTED, submitted_at=now
    )

    sign_in(page, axe_check, coordinator.email)
    open_cell_dashboard(page, axe_check, "Île-de-France")
    progress = page.get_by_role("table", name="Avancement des membres de la cellule")
    expect(progress.get_by_role("row", name=re.compile("Alice Aubert"))).to_contain_text("1 / 1")

    page.get_by_role("searchbox", name=re.compile("^Rechercher")).fill("reunion")
    page.get_by_label("Département").select_option(label="75 – Paris")
    page.get_by_label("Territoire rural").select_option(label="oui")
    page.get_by_role("button", name="Filtrer").click()
    table = page.get_by_role("table", name=re.compile("^Candidatures correspondant aux critères"))
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Réunion des Savoirs")
    expect(page.get_by_role("searchbox", name=re.compile("^Rechercher"))).to_have_value("reunion")
    axe_check(page)

    page.get_by_role("link", name="Tout afficher").click()
    page.get_by_label("Territoire rural").select_option(label="oui")
    page.get_by_role("button", name="Filtrer").click()
    table.get_by_role("link", name=re.compile("^PTCE")).click()  # sort by name, ascending
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Éclat solidaire")  # accents aside, É sorts as E
    expect(rows.nth(0)).to_contain_text("1 / 1")
    expect(rows.nth(1)).to_contain_text("Réunion des Savoirs")
    axe_check(page)

    # At 375 px the tables scroll inside their containers: the page itself never overflows.
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"la page déborde de {overflow} px à 375 px"
    axe_check(page)
    page.set_viewport_size({"width": 1280, "height": 800})

    rows.nth(1).get_by_role("link", name="Décider la recevabilité : Réunion des Savoirs").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Recevabilité – Réunion des Savoirs")
