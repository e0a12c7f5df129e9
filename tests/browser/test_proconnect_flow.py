"""ProConnect end to end, against a real OpenID Connect provider started locally (the npm
package ``oidc-provider``, tests/oidc/provider.mjs, configured like ProConnect: PKCE, nonce,
userinfo as a signed JWT): login through the provider, the existing account linked (and the
user told), logout at both ends; refusals: a forged state, an unsigned userinfo, an unverified
address — in French, no account created or linked."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from allauth.socialaccount.models import SocialAccount
from playwright.sync_api import expect

from accounts.models import User
from tests import factories as f

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OIDC_DIR = Path(__file__).resolve().parent.parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "ami-ptce-test", "secret-de-test-du-client"
AGENT_EMAIL = "camille.agent@travail.gouv.fr"


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "Node absent : installez Node.js 20 ou plus"
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return "oidc-provider absent : cd tests/oidc && npm ci"
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def provider(live_server, settings):
    """Start the provider with ``options`` and point the platform's ProConnect settings at it."""
    why = _missing()
    if why:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    processes = []

    def start(**options):
        port = _free_port()
        issuer = f"http://127.0.0.1:{port}"
        options = {
            "clientId": CLIENT_ID,
            "clientSecret": CLIENT_SECRET,
            "redirectUri": f"{live_server.url}/compte/proconnect/login/callback/",
            "postLogoutRedirectUri": f"{live_server.url}/",
            "email": AGENT_EMAIL,
            **options,
        }
        process = subprocess.Popen(
            ["node", "provider.mjs", str(port), json.dumps(options)],
            cwd=OIDC_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=1)  # noqa: S310 (http to loopback)
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("le fournisseur OpenID Connect local n'a pas démarré")
        settings.SOCIALACCOUNT_PROVIDERS = {
            "proconnect": {
                "APPS": [
                    {
                        "provider_id": "proconnect",
                        "name": "ProConnect",
                        "client_id": CLIENT_ID,
                        "secret": CLIENT_SECRET,
                        "settings": {"server_url": issuer, "oauth_pkce_enabled": True},
                    }
                ]
            }
        }
        policy = json.loads(json.dumps(settings.CONTENT_SECURITY_POLICY, default=str))
        policy["DIRECTIVES"]["form-action"] = [*policy["DIRECTIVES"]["form-action"], issuer]
        settings.CONTENT_SECURITY_POLICY = {
            **settings.CONTENT_SECURITY_POLICY,
            "DIRECTIVES": {
                **settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
                "form-action": policy["DIRECTIVES"]["form-action"],
            },
        }
        return issuer

    yield start
    for process in processes:
        process.terminate()
        process.wait(timeout=10)


def _login_at_provider(page):
    page.goto("/compte/login/")
    page.get_by_role("button", name=re.compile("S’identifier avec")).click()
    # oidc-provider's development login and consent pages.
    page.locator("input[name=login]").fill("agent-1")
    page.locator("input[name=password]").fill("x")
    page.locator("button[type=submit]").click()
    if page.locator("button[autofocus], button[type=submit]").count():
        page.locator("button[type=submit]").first.click()


def test_login_links_the_existing_account_and_logout_at_both_ends(page, provider):
    provider()
    user = f.UserFactory(email=AGENT_EMAIL)
    _login_at_provider(page)
    expect(page.locator("body")).to_contain_text("associée à votre compte existant")
    account = SocialAccount.objects.get(provider="proconnect")
    assert account.user == user
    assert User.objects.filter(email=AGENT_EMAIL).count() == 1
    # Logout here, then at the provider (id_token_hint), then back home.
    page.goto("/compte/logout/")
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"127\.0\.0\.1:\d+/session/end"))
    page.locator("button[type=submit]").first.click()
    expect(page).to_have_url(re.compile(r"localhost:\d+/(\?state=[\w-]+)?$"))
    page.goto("/mon-espace/")
    expect(page).to_have_url(re.compile(r"/compte/login/"))


def test_a_forged_state_is_refused(page, provider):
    provider()
    page.goto("/compte/proconnect/login/callback/?code=abc&state=forge")
    expect(page.locator("h1")).to_have_text("Connexion refusée")
    assert not SocialAccount.objects.exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"jwtUserinfo": False}, "ne sont pas signées"),
        ({"emailVerified": False}, "n'a pas confirmé votre adresse"),
    ],
)
def test_refusals_create_or_link_nothing(page, provider, options, message):
    provider(**options)
    f.UserFactory(email=AGENT_EMAIL)
    _login_at_provider(page)
    expect(page.locator("h1")).to_have_text("Connexion refusée")
    expect(page.locator("main")).to_contain_text(message)
    assert not SocialAccount.objects.exists()
    assert User.objects.filter(email=AGENT_EMAIL).count() == 1
