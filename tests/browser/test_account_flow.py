"""The whole account journey in a real browser: sign-up, email confirmation, login, logout,
password reset, with axe-core on every screen of the way."""

import re
from urllib.parse import urlsplit

import pytest
from django.core import mail
from playwright.sync_api import expect

from ami.models import OutboxMessage

pytestmark = pytest.mark.browser

EMAIL = "claire.dupont@example.org"
PASSWORD = "Coopération-territoriale-2026"
NEW_PASSWORD = "Pôle-de-coopération-économique-42"
LINK = re.compile(r"https?://[^\s<>\"]+")


def link_from_outbox(live_server, event: str, path_fragment: str) -> str:
    """The link of the one outbox row for ``event``, pointed at the live server."""
    message = OutboxMessage.objects.get(recipient=EMAIL, event=event)
    links = [url for url in LINK.findall(message.body_text) if path_fragment in url]
    assert len(links) == 1, message.body_text
    parts = urlsplit(links[0])
    return f"{live_server.url}{parts.path}" + (f"?{parts.query}" if parts.query else "")


def test_sign_up_confirm_log_in_log_out_and_reset_password(page, live_server, axe_check):
    # Home page, then the sign-up link of the header.
    page.goto("/")
    axe_check(page)
    page.get_by_role("link", name="Créer un compte").click()
    expect(page).to_have_url(re.compile(r"/compte/signup/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Création de compte")
    axe_check(page)

    page.get_by_label("Prénom").fill("Claire")
    page.get_by_label("Nom", exact=True).fill("Dupont")
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_label("Mot de passe (confirmation)").fill(PASSWORD)
    page.get_by_role("button", name="Création de compte").click()
    expect(page).to_have_url(re.compile(r"/compte/confirm-email/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez votre adresse électronique")
    axe_check(page)

    # The confirmation email is an outbox row, already sent (eager task after commit).
    confirmation = OutboxMessage.objects.get(recipient=EMAIL)
    assert confirmation.event.startswith("account.")
    assert confirmation.state == "sent"
    assert [m.to for m in mail.outbox] == [[EMAIL]]
    page.goto(link_from_outbox(live_server, confirmation.event, "/compte/confirm-email/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer l'adresse électronique")
    axe_check(page)
    page.get_by_role("button", name="Confirmer").click()

    # Confirmed: the login page, then « Mon espace ».
    expect(page).to_have_url(re.compile(r"/compte/login/$"))
    axe_check(page)
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace")
    axe_check(page)

    # The logout button of the header is a POST form.
    page.get_by_role("button", name="Se déconnecter").click()
    expect(page.get_by_role("link", name="Se connecter")).to_be_visible()

    # Forgotten password: from the login page to the reset form.
    page.get_by_role("link", name="Se connecter").click()
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    expect(page).to_have_url(re.compile(r"/compte/password/reset/$"))
    axe_check(page)
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_role("button", name="Réinitialiser mon mot de passe").click()
    expect(page).to_have_url(re.compile(r"/compte/password/reset/done/$"))
    axe_check(page)

    page.goto(link_from_outbox(live_server, "account.password_reset_key", "/password/reset/key/"))
    expect(page).to_have_url(re.compile(r"/compte/password/reset/key/[^/]+-set-password/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Modifier le mot de passe")
    axe_check(page)
    page.get_by_label("Nouveau mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Nouveau mot de passe (confirmation)").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Modifier le mot de passe").click()
    expect(page).to_have_url(re.compile(r"/compte/password/reset/key/done/$"))
    axe_check(page)

    # The new password works and leads to « Mon espace ».
    page.goto("/compte/login/")
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace")
    assert OutboxMessage.objects.filter(recipient=EMAIL, state="sent").count() >= 2


def test_short_password_error_is_shown_in_french_and_accessible(page, axe_check):
    page.goto("/compte/signup/")
    page.get_by_label("Prénom").fill("Claire")
    page.get_by_label("Nom", exact=True).fill("Dupont")
    page.get_by_label("Adresse électronique").fill(EMAIL)
    page.get_by_label("Mot de passe", exact=True).fill("court-123")
    page.get_by_label("Mot de passe (confirmation)").fill("court-123")
    page.get_by_role("button", name="Création de compte").click()

    expect(page.get_by_role("alert")).to_contain_text("Le formulaire contient 1 erreur")
    password = page.get_by_label("Mot de passe", exact=True)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#id_password1_error")).to_have_text(
        "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères."
    )
    axe_check(page)
    assert not OutboxMessage.objects.exists()


def test_site_map_and_legal_pages_from_the_footer(page, axe_check):
    """RGAA's second way to navigate: the footer's « Plan du site », then the legal notice and
    the accessibility statement it lists, axe-core on each."""
    page.goto("/")
    footer = page.locator("#pied-de-page")
    for domain in ("info.gouv.fr", "service-public.gouv.fr", "legifrance.gouv.fr", "data.gouv.fr"):
        expect(footer.get_by_role("link", name=domain)).to_be_visible()
    footer.get_by_role("link", name="Plan du site").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Plan du site")
    axe_check(page)
    page.locator("#contenu").get_by_role("link", name="Mentions légales").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Mentions légales")
    axe_check(page)
    page.goto("/plan-du-site/")
    page.locator("#contenu").get_by_role("link", name="Déclaration d'accessibilité").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Déclaration d'accessibilité")
    axe_check(page)
