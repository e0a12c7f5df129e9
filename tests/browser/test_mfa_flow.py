"""Two-factor authentication in a real browser: a CRA coordinator without it logs in, opens their
cell's screen, is sent to set it up (password confirmed, QR code or secret key, code), gets the
recovery codes, logs out, logs in again with password and code and reaches the screen; then once
more with a recovery code. axe-core on every page visited."""

import re

import pytest
from allauth.mfa.models import Authenticator
from playwright.sync_api import expect

from accounts.models import RegionalRole
from tests import factories as f

from .helpers import (
    confirm_password,
    expect_message,
    fresh_totp_code,
    log_in,
    log_out,
    main_menu,
)

pytestmark = pytest.mark.browser


def test_coordinator_sets_up_totp_then_logs_in_with_a_code(page, live_server, axe_check):
    call = f.CallFactory(name="AMI PTCE 2026")
    cell = f.RegionalCellFactory(call=call, region=f.region("53"))
    coordinator = f.RegionalMembershipFactory(
        cell=cell,
        role=RegionalRole.COORDINATOR,
        user=f.UserFactory(email="claire.coord@example.org", first_name="Claire"),
        totp=False,
    ).user
    cell_heading = "Cellule régionale Bretagne"

    # --- Logged in with the password only: every screen but the public ones waits for the
    # second factor, « Mon espace » too; the login leads to the setup, which first confirms the
    # password. ---
    page.goto("/")
    page.get_by_role("link", name="Se connecter").click()
    page.get_by_label("Adresse électronique").fill(coordinator.email)
    page.get_by_label("Mot de passe", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page.get_by_text("La double authentification est obligatoire")).to_be_visible()
    confirm_password(page, axe_check)

    expect(page).to_have_url(re.compile(r"/compte/2fa/totp/activate/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Activer la double authentification")
    expect(page.get_by_role("img", name="Code QR à scanner")).to_be_visible()
    axe_check(page)
    # « Scanning »: the app reads the secret of the QR code; the page shows it too.
    secret = page.get_by_label("Clé secrète").input_value()
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    code_field = page.get_by_label("Code de l'authentificateur")
    code_field.fill("000000" if fresh_totp_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Activer", exact=True).click()
    expect(page.locator(".fr-error-text").first).to_contain_text("Code incorrect")
    axe_check(page)  # the form with its error
    page.get_by_label("Code de l'authentificateur").fill(fresh_totp_code(secret))
    page.get_by_role("button", name="Activer", exact=True).click()

    # --- The recovery codes. ---
    expect(page.get_by_role("heading", level=1)).to_have_text("Codes de récupération")
    expect_message(page, "Application d'authentification activée")
    codes = page.locator("#codes-de-recuperation li").all_inner_texts()
    stored = Authenticator.objects.get(user=coordinator, type=Authenticator.Type.RECOVERY_CODES)
    assert sorted(codes) == sorted(stored.wrap().get_unused_codes())
    assert len(codes) == 10
    axe_check(page)
    assert f.totp_secret(coordinator) == secret

    # « Continuer » leads to the screen the coordinator wanted (« Mon espace »), then their cell.
    page.get_by_role("link", name="Continuer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace")
    axe_check(page)
    main_menu(page, "Cellule régionale")
    expect(page.get_by_role("heading", level=1)).to_have_text(cell_heading)
    axe_check(page)
    log_out(page, axe_check)

    # --- Logging in again: password, then a code of the app. ---
    log_in(page, coordinator.email, axe_check)  # types the code on the second step
    expect(page.get_by_role("heading", name="Activez la double authentification")).to_have_count(0)
    main_menu(page, "Cellule régionale")
    expect(page.get_by_role("heading", level=1)).to_have_text(cell_heading)
    axe_check(page)
    log_out(page)

    # --- A wrong code, then a recovery code instead of the app. ---
    page.get_by_role("link", name="Se connecter").click()
    page.get_by_label("Adresse électronique").fill(coordinator.email)
    page.get_by_label("Mot de passe", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(re.compile(r"/compte/2fa/authenticate/$"))
    page.get_by_label("Code", exact=True).fill("12345")
    page.get_by_role("button", name="Connexion", exact=True).click()
    expect(page.locator(".fr-error-text").first).to_contain_text("Code incorrect")
    axe_check(page)
    page.get_by_label("Code", exact=True).fill(codes[0])
    page.get_by_role("button", name="Connexion", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace")
    stored.refresh_from_db()
    assert codes[0] not in stored.wrap().get_unused_codes()
