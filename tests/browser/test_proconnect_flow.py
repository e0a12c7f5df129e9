"""ProConnect end to end, against a real OpenID Connect provider started locally (the npm
package ``oidc-provider``, tests/oidc/provider.mjs, configured like ProConnect: PKCE, nonce,
userinfo as a signed JWT, acr and amr). One provider process serves the module; each test says
how it behaves (``proconnect(...)``: the agent's claims, the acr/amr of the login, a wrong nonce,
a userinfo in plain JSON, unsigned or signed with a key that is not the provider's).

Covered: the existing account linked (and the user told), logout at both ends; the first login
of an agent without an account (account created from the claims, address verified, told); the
second factor of cell members and staff, satisfied by a multi-factor acr/amr asserted by the
provider and still required locally otherwise; refusals — a forged state, a wrong nonce, a
userinfo not signed, unsigned or badly signed, an unverified address — in French, no account
created or linked."""

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import expect

from accounts.models import User
from tests import factories as f
from tests.browser.helpers import confirm_password, enter_totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OIDC_DIR = Path(__file__).resolve().parent.parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "ami-ptce-test", "secret-de-test-du-client"
AGENT_EMAIL = "camille.agent@travail.gouv.fr"
NEW_AGENT_EMAIL = "dominique.nouvel@travail.gouv.fr"


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "Node absent : installez Node.js 20 ou plus"
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider absent : cd tests/oidc && npm ci"
    return None


@pytest.fixture(scope="module")
def oidc_issuer(live_server, tmp_path_factory):
    """One local provider for the module (it listens on a free port and prints its issuer)."""
    why = _missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    options = {
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "redirectUri": f"{live_server.url}/compte/proconnect/login/callback/",
        "postLogoutRedirectUri": f"{live_server.url}/",
    }
    log = tmp_path_factory.mktemp("oidc") / "provider.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            ["node", "provider.mjs", json.dumps(options)],
            cwd=OIDC_DIR,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        for _ in range(200):
            ready = re.search(r"^ready (\S+)$", log.read_text(), re.MULTILINE)
            if ready or process.poll() is not None:
                break
            time.sleep(0.05)
        if not ready:
            pytest.fail(f"le fournisseur OpenID Connect local n'a pas démarré :\n{log.read_text()}")
        yield ready.group(1)
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def proconnect(oidc_issuer, settings):
    """Point the platform's ProConnect settings at the local provider; ``proconnect(**how)``
    sets how the provider behaves for the next logins (tests/oidc/provider.mjs), the default
    being a well-behaved ProConnect asserting ``eidas1`` for AGENT_EMAIL."""
    settings.SOCIALACCOUNT_PROVIDERS = {
        "proconnect": {
            "APPS": [
                {
                    "provider_id": "proconnect",
                    "name": "ProConnect",
                    "client_id": CLIENT_ID,
                    "secret": CLIENT_SECRET,
                    "settings": {"server_url": oidc_issuer, "oauth_pkce_enabled": True},
                }
            ]
        }
    }
    directives = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
    settings.CONTENT_SECURITY_POLICY = {
        **settings.CONTENT_SECURITY_POLICY,
        "DIRECTIVES": {**directives, "form-action": [*directives["form-action"], oidc_issuer]},
    }

    def behave(**how):
        request = urllib.request.Request(  # noqa: S310 (http to loopback)
            f"{oidc_issuer}/__test__/behaviour",
            data=json.dumps(how).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 200

    behave()
    return behave


def _login_at_provider(page, sub="agent-1"):
    """« S'identifier avec ProConnect » on the login page, then oidc-provider's development
    login (``sub`` is the agent's identifier there) and, when it asks, consent pages."""
    page.goto("/compte/login/")
    page.get_by_role("button", name=re.compile("S’identifier avec")).click()
    _type_credentials_at_provider(page, sub)


def _type_credentials_at_provider(page, sub="agent-1"):
    page.locator("input[name=login]").fill(sub)
    page.locator("input[name=password]").fill("x")
    page.locator("button[type=submit]").click()
    expect(page.locator("input[name=login]")).to_have_count(0)  # the login page is gone
    consent = page.locator("form:has(input[name=prompt][value=consent]) button[type=submit]")
    if consent.count():
        consent.click()


# --- Logging in -----------------------------------------------------------------------------


def test_login_links_the_existing_account_and_logout_at_both_ends(page, proconnect):
    user = f.UserFactory(email=AGENT_EMAIL)
    _login_at_provider(page)
    expect(page.locator("body")).to_contain_text("associée à votre compte existant")
    account = SocialAccount.objects.get(provider="proconnect")
    assert (account.user, account.uid) == (user, "agent-1")
    assert User.objects.filter(email=AGENT_EMAIL).count() == 1
    # Logout here, then at the provider (id_token_hint), then back home.
    page.goto("/compte/logout/")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"127\.0\.0\.1:\d+/session/end"))
    page.locator("button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"localhost:\d+/(\?state=[\w-]+)?$"))
    page.goto("/mon-espace/")
    expect(page).to_have_url(re.compile(r"/compte/login/"))


def test_first_login_creates_the_account_from_the_claims(page, proconnect, axe_check):
    proconnect(email=NEW_AGENT_EMAIL, givenName="Dominique", usualName="Nouvel")
    _login_at_provider(page, sub="agent-nouveau")
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))
    expect(page.locator("body")).to_contain_text(
        f"Votre compte a été créé avec votre identité ProConnect ({NEW_AGENT_EMAIL})"
    )
    axe_check(page)
    user = User.objects.get(email=NEW_AGENT_EMAIL)
    assert (user.first_name, user.last_name) == ("Dominique", "Nouvel")
    assert not user.has_usable_password()
    [address] = EmailAddress.objects.filter(user=user)
    assert (address.email, address.verified, address.primary) == (NEW_AGENT_EMAIL, True, True)
    assert SocialAccount.objects.get(provider="proconnect", uid="agent-nouveau").user == user


# --- Refusals -------------------------------------------------------------------------------


def test_a_forged_state_is_refused(page, proconnect):
    page.goto("/compte/proconnect/login/callback/?code=abc&state=forge")
    expect(page.locator("h1")).to_have_text("Connexion refusée")
    assert not SocialAccount.objects.exists()


REFUSALS = {
    "wrong nonce": ({"idTokenNonce": "wrong"}, "ne correspond pas à votre demande (nonce)"),
    "userinfo in plain JSON": ({"userinfo": "json"}, "ne sont pas signées"),
    "unsigned userinfo": ({"userinfo": "unsigned"}, "La réponse de ProConnect n'est pas signée."),
    "badly signed userinfo": (
        {"userinfo": "other-key"},
        "La signature de la réponse de ProConnect n'est pas valide.",
    ),
    "unverified address": ({"emailVerified": False}, "n'a pas confirmé votre adresse"),
}


@pytest.mark.parametrize("case", REFUSALS)
def test_refusals_link_nothing_to_the_existing_account(page, proconnect, axe_check, case):
    behaviour, message = REFUSALS[case]
    proconnect(**behaviour)
    f.UserFactory(email=AGENT_EMAIL)
    _login_at_provider(page)
    expect(page.locator("h1")).to_have_text("Connexion refusée")
    expect(page.locator("main")).to_contain_text(message)
    if case == "wrong nonce":
        axe_check(page)
    assert not SocialAccount.objects.exists()
    assert list(User.objects.values_list("email", flat=True)) == [AGENT_EMAIL]
    page.goto("/mon-espace/")
    expect(page).to_have_url(re.compile(r"/compte/login/"))


@pytest.mark.parametrize("case", ["wrong nonce", "badly signed userinfo", "unverified address"])
def test_refusals_create_no_account(page, proconnect, case):
    behaviour, message = REFUSALS[case]
    proconnect(email=NEW_AGENT_EMAIL, **behaviour)
    _login_at_provider(page, sub="agent-nouveau")
    expect(page.locator("h1")).to_have_text("Connexion refusée")
    expect(page.locator("main")).to_contain_text(message)
    assert not User.objects.exists()
    assert not SocialAccount.objects.exists()


# --- The second factor of cell members and staff ------------------------------------------


@pytest.fixture
def mfa_required(settings):
    settings.AMI_MFA_REQUIRED = True


@pytest.mark.parametrize(
    ("acr", "amr"), [("eidas2", ["pwd", "otp"]), ("eidas1", ["pwd", "mfa"])], ids=["acr", "amr"]
)
def test_a_multi_factor_login_at_the_provider_satisfies_the_rule(
    page, proconnect, mfa_required, acr, amr
):
    """A cell member without an authenticator app reaches the review screens."""
    proconnect(acr=acr, amr=amr)
    evaluator = f.RegionalMembershipFactory(user__email=AGENT_EMAIL, totp=False).user
    _login_at_provider(page)
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Mon espace")
    page.goto("/mon-espace/mes-donnees/")
    expect(page).to_have_url(re.compile(r"/mon-espace/mes-donnees/$"))
    assert SocialAccount.objects.get(provider="proconnect").user == evaluator


def test_a_single_factor_login_still_needs_the_local_authenticator_app(
    page, proconnect, mfa_required
):
    """``eidas1`` and a password: the cell member must set the authenticator app up (after
    confirming their password, as for any activation)."""
    proconnect(acr="eidas1", amr=["pwd"])
    f.RegionalMembershipFactory(user__email=AGENT_EMAIL, totp=False)
    _login_at_provider(page)
    expect(page.locator("main")).to_contain_text("La double authentification est obligatoire")
    confirm_password(page)
    expect(page).to_have_url(re.compile(r"/compte/2fa/totp/activate/$"))
    page.goto("/mon-espace/mes-donnees/")
    expect(page).to_have_url(re.compile(r"/compte/2fa/totp/activate/$"))


def test_staff_with_an_authenticator_app_types_its_code_after_a_single_factor_login(
    page, proconnect, mfa_required
):
    """The code is asked after the provider's login; the session still ends at the provider."""
    proconnect(acr="eidas1", amr=["pwd"])
    staff = f.UserFactory(email=AGENT_EMAIL, is_staff=True)
    _login_at_provider(page)
    enter_totp_code(page, staff)
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))
    page.goto("/compte/logout/")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"127\.0\.0\.1:\d+/session/end"))


def test_staff_with_an_authenticator_app_types_no_code_after_a_multi_factor_login(
    page, proconnect, mfa_required
):
    proconnect(acr="eidas2", amr=["pwd", "otp"])
    f.UserFactory(email=AGENT_EMAIL, is_staff=True)
    _login_at_provider(page)
    expect(page).to_have_url(re.compile(r"/mon-espace/$"))


def test_an_agent_without_a_password_sets_the_authenticator_app_up_right_after_logging_in(
    page, proconnect, mfa_required
):
    """An account made at a ProConnect login has no password to confirm: the login at the
    provider, a moment ago, stands for it."""
    proconnect(acr="eidas1", amr=["pwd"])
    agent = f.UserFactory(email=AGENT_EMAIL)
    agent.set_unusable_password()
    agent.save()
    f.RegionalMembershipFactory(user=agent, totp=False)
    _login_at_provider(page)
    expect(page).to_have_url(re.compile(r"/compte/2fa/totp/activate/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("authentification")


def test_an_agent_without_a_password_confirms_its_identity_by_logging_in_again(
    page, proconnect, mfa_required, settings, axe_check
):
    """Past the few minutes a login stands for a confirmation, the sensitive screen sends the
    agent back through ProConnect, then lets them in."""
    proconnect(acr="eidas1", amr=["pwd"])
    agent = f.UserFactory(email=AGENT_EMAIL)
    agent.set_unusable_password()
    agent.save()
    f.RegionalMembershipFactory(user=agent, totp=False)
    _login_at_provider(page)
    expect(page).to_have_url(re.compile(r"/compte/2fa/totp/activate/$"))
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    page.reload()
    expect(page).to_have_url(re.compile(r"/compte/proconnect/login/"))
    axe_check(page)
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
    page.get_by_role("button", name=re.compile("Continuer|ProConnect")).first.click()
    _type_credentials_at_provider(page)
    expect(page).to_have_url(re.compile(r"/compte/2fa/totp/activate/$"))
    assert SocialAccount.objects.filter(user=agent).count() == 1
