"""Steps shared by the browser tests: logging in (with the second factor when the user has one)
and out through the real pages, confirming the password again, the main menu, flash messages,
DSFR checkboxes."""

import re
import time

from playwright.sync_api import expect

from accounts.mfa import has_totp
from accounts.models import User
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
    page.get_by_label("Adresse électronique").fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    user = User.objects.get(email=email)
    if has_totp(user):  # staff and cell members (tests/factories.py gives them one)
        enter_totp_code(page, user, axe_check)
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace")


# Codes already typed, per TOTP secret: allauth accepts each code only once.
_typed_counters: dict[str, set[int]] = {}


def _unused_totp_code(secret: str) -> str | None:
    """A code of the authenticator app that allauth accepts now and that was not typed yet in
    this test run: the current 30-second step, else a later one within the tolerance
    (``MFA_TOTP_TOLERANCE``); None if every one was typed (or, without tolerance, if the
    current one expires in less than 3 seconds, before the server would check it)."""
    from allauth.mfa import app_settings

    period, tolerance = app_settings.TOTP_PERIOD, app_settings.TOTP_TOLERANCE
    typed = _typed_counters.setdefault(secret, set())
    now = time.time()
    counter, left = int(now // period), period - now % period
    if tolerance == 0 and left < 3:
        return None
    for candidate in range(counter, counter + tolerance + 1):
        if candidate not in typed:
            typed.add(candidate)
            return f.totp_code(secret, candidate)
    return None


def fresh_totp_code(secret: str) -> str:
    """An unused code for ``secret``, waiting for the next 30-second step if need be."""
    from allauth.mfa import app_settings

    while (code := _unused_totp_code(secret)) is None:
        time.sleep(app_settings.TOTP_PERIOD - time.time() % app_settings.TOTP_PERIOD + 0.1)
    return code


def login_totp_code(user) -> str:
    """An unused code for ``user`` without waiting: when every code of the moment was typed,
    the user gets a new authenticator secret, as if they had set up their app again. (A user
    logging in several times within 30 seconds, as in the whole-edition test, used to wait for
    the next step each time.)"""
    code = _unused_totp_code(f.totp_secret(user))
    if code is None:
        f.renew_totp_secret(user)
        code = fresh_totp_code(f.totp_secret(user))
    return code


def enter_totp_code(page, user, axe_check=None) -> None:
    """The second step of the login: the code of the user's authenticator app."""
    expect(page).to_have_url(re.compile(r"/compte/2fa/authenticate/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Double authentification")
    if axe_check:
        axe_check(page)
    page.get_by_label("Code", exact=True).fill(login_totp_code(user))
    page.get_by_role("button", name="Connexion", exact=True).click()


def confirm_password(page, axe_check=None) -> None:
    """allauth's « Confirmer l'accès » page, before a sensitive action (publishing decisions,
    setting up the second factor)."""
    expect(page).to_have_url(re.compile(r"/compte/reauthenticate/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirmer l'accès")
    if axe_check:
        axe_check(page)
    page.get_by_label("Mot de passe", exact=True).fill(f.PASSWORD)
    page.get_by_role("button", name="Confirmer", exact=True).click()


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


# --- Small screens ------------------------------------------------------------------------------

SMALL_SCREEN = {"width": 375, "height": 812}  # a small phone, the DSFR's narrowest layout

# Elements wider than the page: what sticks out past the right edge of the viewport (the deepest
# ones, which are the cause), for the failure message.
_OVERFLOW = """() => {
  const root = document.documentElement;
  if (root.scrollWidth <= root.clientWidth) return [];
  const limit = root.clientWidth + 1;
  const wide = [...document.body.querySelectorAll('*')].filter((element) => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.right > limit;
  });
  const deepest = wide.filter(
    (element) => !wide.some((other) => other !== element && element.contains(other)));
  const found = deepest.slice(0, 5).map((element) => element.outerHTML.slice(0, 160));
  return [`page ${root.scrollWidth} px wide for ${root.clientWidth} px`, ...found];
}"""

# Buttons and link-buttons shown on screen whose text is not: no text at all, or text clipped out
# of the button (the DSFR's icon-only buttons hide it past the icon). The DSFR header's « Menu »
# and search buttons, icon-only by the State's design, are left out.
_TEXTLESS_BUTTONS = """() => {
  const found = [];
  const buttons = document.querySelectorAll(
    'button, a.fr-btn, input[type=submit], input[type=button], input[type=reset]');
  for (const button of buttons) {
    const box = button.getBoundingClientRect();
    const style = getComputedStyle(button);
    if (box.width === 0 || box.height === 0 || style.visibility === 'hidden') continue;
    if (button.closest('[aria-hidden="true"], .fr-header__navbar')) continue;
    if (button.tagName === 'INPUT') {
      if (!button.value.trim()) found.push(button.outerHTML.slice(0, 160));
      continue;
    }
    let shown = false;
    const walker = document.createTreeWalker(button, NodeFilter.SHOW_TEXT);
    while (!shown && walker.nextNode()) {
      const node = walker.currentNode;
      if (!node.textContent.trim() || node.parentElement.closest('.fr-sr-only')) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      for (const part of range.getClientRects()) {
        const width = Math.min(part.right, box.right) - Math.max(part.left, box.left);
        const height = Math.min(part.bottom, box.bottom) - Math.max(part.top, box.top);
        if (width >= 4 && height >= 4) { shown = true; break; }
      }
    }
    if (!shown) found.push(button.outerHTML.slice(0, 160));
  }
  return found;
}"""


def small_screen_problems(page) -> list[str]:
    """What is wrong with the page as drawn now: horizontal overflow of the page body, and
    buttons or link-buttons without visible text."""
    problems = page.evaluate(_OVERFLOW)
    problems += [
        f"button without visible text: {html}" for html in page.evaluate(_TEXTLESS_BUTTONS)
    ]
    return problems


def check_small_screen(page, urls, axe_check=None) -> None:
    """Each of ``urls`` at 375 px: no horizontal overflow, every button with its text visible
    (and axe-core, if given); the viewport is restored afterwards."""
    size = page.viewport_size
    page.set_viewport_size(SMALL_SCREEN)
    problems = []
    try:
        for url in urls:
            page.goto(url)
            problems += [f"{url}: {problem}" for problem in small_screen_problems(page)]
            if axe_check:
                axe_check(page)
    finally:
        page.set_viewport_size(size)
    assert not problems, "\n".join(problems)
