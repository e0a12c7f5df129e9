"""Steps shared by the browser tests: logging in and out through the real pages, the main
menu, flash messages, DSFR checkboxes."""

import re

from playwright.sync_api import expect

from tests import factories as f

WAIT = 10_000  # ms: generous but bounded waits for htmx and page loads


def log_in(page, email: str, axe_check=None) -> None:
    """Through the home page and the login page (checked with axe-core if ``axe_check``)."""
    page.goto("/")
    if axe_check:
        axe_check(page)
    page.get_by_role("link", name="Se connecter").click()
    expect(page).to_have_url(re.compile(r"/compte/login/$"))
    if axe_check:
        axe_check(page)
    page.get_by_label("Courriel").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace")


def log_out(page, axe_check=None) -> None:
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("link", name="Se connecter")).to_be_visible()
    if axe_check:
        axe_check(page)  # the page the logout leads to


def main_menu(page, label: str) -> None:
    page.get_by_role("navigation", name="Menu principal").get_by_role("link", name=label).click()


def expect_message(page, text: str) -> None:
    expect(page.locator(".fr-alert[role=status]").first).to_contain_text(text)


def tick(box) -> None:
    """Check a DSFR checkbox or radio button the way a user does: its label covers the input."""
    box.page.locator(f'label[for="{box.get_attribute("id")}"]').click()
    expect(box).to_be_checked()
