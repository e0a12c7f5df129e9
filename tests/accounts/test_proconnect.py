"""ProConnect (accounts.proconnect): the signed answers' checks with real keys, the
multi-factor rule, the refusal of an unverified address, the login button only when configured,
the links in « Mes données », a recent ProConnect login standing for the confirmation of identity
of an agent without a password. The end-to-end login against a local provider:
tests/browser/test_proconnect_flow.py."""

import html
import io
import json
import time
import zipfile
from datetime import datetime
from types import SimpleNamespace

import jwt
import pytest
from allauth.account.internal.flows.login import record_authentication
from allauth.account.models import Login
from allauth.core import context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.models import SocialAccount
from cryptography.hazmat.primitives.asymmetric import rsa
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone

from accounts import mfa, personal_data
from accounts.adapter import AccountAdapter, SocialAccountAdapter
from accounts.proconnect.claims import ClaimsRefused, asserted_mfa, verify_signed
from accounts.proconnect.signals import remember_provider_login
from accounts.proconnect.stages import AuthenticateStage
from accounts.proconnect.views import ANSWER_STATE_KEY, ID_TOKEN_SESSION_KEY
from tests import factories as f

ISSUER = "http://127.0.0.1:9999/oidc"
CLIENT = "ami-ptce"


def keypair(kid):
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return private, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture(scope="module")
def keys():
    return keypair("cle-1"), keypair("cle-2")


def signed(private, kid, **claims):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": CLIENT, "iat": now, "exp": now + 60, "sub": "agent", **claims}
    return jwt.encode(payload, private, algorithm="RS256", headers={"kid": kid})


def test_a_token_signed_by_the_provider_is_accepted(keys):
    (private, public), _ = keys
    token = signed(private, "cle-1", nonce="n1", email="agent@travail.gouv.fr")
    claims = verify_signed(token, {"keys": [public]}, issuer=ISSUER, audience=CLIENT, nonce="n1")
    assert claims["email"] == "agent@travail.gouv.fr"


@pytest.mark.parametrize(
    "case", ["unsigned", "other key", "wrong kid", "wrong nonce", "wrong audience", "expired"]
)
def test_refusals_in_french(keys, case):
    (private, public), (other_private, _) = keys
    jwks = {"keys": [public]}
    token = {
        "unsigned": jwt.encode(
            {"iss": ISSUER, "aud": CLIENT, "nonce": "n1"}, None, algorithm="none"
        ),
        "other key": signed(other_private, "cle-1", nonce="n1"),
        "wrong kid": signed(private, "cle-inconnue", nonce="n1"),
        "wrong nonce": signed(private, "cle-1", nonce="autre"),
        "wrong audience": signed(private, "cle-1", nonce="n1", aud="quelquun-dautre"),
        "expired": signed(private, "cle-1", nonce="n1", exp=int(time.time()) - 3600),
    }[case]
    with pytest.raises(ClaimsRefused) as refusal:
        verify_signed(token, jwks, issuer=ISSUER, audience=CLIENT, nonce="n1")
    assert "ProConnect" in str(refusal.value)


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"acr": "eidas1"}, False),
        ({"acr": "eidas1", "amr": ["pwd"]}, False),
        ({"acr": "eidas2"}, True),
        ({"acr": "eidas3"}, True),
        ({"acr": "eidas1", "amr": ["pwd", "mfa"]}, True),
    ],
)
def test_which_answers_assert_multi_factor(claims, expected):
    assert asserted_mfa(claims) is expected


# --- The platform's second factor -----------------------------------------------------------------


@pytest.fixture
def mfa_required(settings):
    settings.AMI_MFA_REQUIRED = True


def _login_through_proconnect(client, user, *, mfa_asserted):
    """The session a ProConnect login leaves: what ``remember_provider_login`` stores."""
    client.force_login(user)
    request = RequestFactory().get("/")
    request.session = client.session
    answer = {"id_token": "x.y.z", "mfa": mfa_asserted, "acr": "eidas2"}
    sociallogin = SimpleNamespace(state={ANSWER_STATE_KEY: answer})
    remember_provider_login(None, request, user, sociallogin=sociallogin)
    request.session.save()


@pytest.mark.django_db
def test_a_cell_member_with_multi_factor_asserted_needs_no_local_totp(client, mfa_required):
    evaluator = f.RegionalMembershipFactory(totp=False).user
    _login_through_proconnect(client, evaluator, mfa_asserted=True)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 200
    assert client.session[mfa.ASSERTED_BY_PROVIDER_SESSION_KEY] == "eidas2"


@pytest.mark.django_db
def test_without_multi_factor_asserted_the_local_totp_stays_required(client, mfa_required):
    evaluator = f.RegionalMembershipFactory(totp=False).user
    _login_through_proconnect(client, evaluator, mfa_asserted=False)
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"] == reverse("mfa_activate_totp")
    assert mfa.ASSERTED_BY_PROVIDER_SESSION_KEY not in client.session
    assert client.session[ID_TOKEN_SESSION_KEY] == "x.y.z"


@pytest.mark.django_db
def test_a_password_login_forgets_the_provider_assertion(rf, world):
    request = rf.get("/")
    request.session = {mfa.ASSERTED_BY_PROVIDER_SESSION_KEY: "eidas2", ID_TOKEN_SESSION_KEY: "t"}
    remember_provider_login(None, request, world.user("cra_evaluator"))
    assert request.session == {}


# --- Unverified address, login page --------------------------------------------------------------


@pytest.mark.django_db
def test_an_unverified_address_is_refused_and_nothing_is_created(rf):
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount, SocialLogin

    existing = f.UserFactory(email="agent@travail.gouv.fr")
    login = SocialLogin(
        user=existing.__class__(email="agent@travail.gouv.fr"),
        account=SocialAccount(provider="proconnect", uid="agent"),
        email_addresses=[EmailAddress(email="agent@travail.gouv.fr", verified=False)],
    )
    from django.contrib.auth.models import AnonymousUser

    request = rf.get("/")
    request.user = AnonymousUser()
    with pytest.raises(ImmediateHttpResponse) as refusal:
        SocialAccountAdapter().pre_social_login(request, login)
    response = refusal.value.response
    assert response.status_code == 403
    assert "n'a pas confirmé votre adresse" in html.unescape(response.content.decode())
    assert not SocialAccount.objects.exists()
    assert existing.__class__.objects.filter(email="agent@travail.gouv.fr").count() == 1


@pytest.mark.django_db
def test_the_button_only_when_configured(client, settings):
    settings.SOCIALACCOUNT_PROVIDERS = {}
    assert "ProConnect" not in client.get(reverse("account_login")).content.decode()
    settings.SOCIALACCOUNT_PROVIDERS = {
        "proconnect": {
            "APPS": [
                {
                    "provider_id": "proconnect",
                    "name": "ProConnect",
                    "client_id": CLIENT,
                    "secret": "secret",
                    "settings": {"server_url": ISSUER},
                }
            ]
        }
    }
    page = client.get(reverse("account_login")).content.decode()
    assert "S’identifier avec" in page and 'class="fr-connect"' in page
    assert reverse("proconnect_login") in page


# --- « Mes données » ------------------------------------------------------------------------------


@pytest.fixture
def linked_agent(db):
    agent = f.UserFactory(email="agent@travail.gouv.fr")
    link = SocialAccount.objects.create(
        user=agent,
        provider="proconnect",
        uid="sub-de-l-agent",
        extra_data={"userinfo": {"email": "agent@travail.gouv.fr", "siret": "13002526500013"}},
    )
    SocialAccount.objects.filter(pk=link.pk).update(
        last_login=timezone.make_aware(datetime(2026, 3, 2, 9, 30)),
        date_joined=timezone.make_aware(datetime(2026, 1, 15, 8, 0)),
    )
    return agent


def test_my_data_holds_the_proconnect_link(linked_agent):
    SocialAccount.objects.create(user=f.UserFactory(), provider="proconnect", uid="quelqu-un")
    data = json.loads(
        zipfile.ZipFile(io.BytesIO(personal_data.export_user_data(linked_agent))).read(
            personal_data.JSON_NAME
        )
    )
    assert data["connexions_proconnect"] == [
        {
            "fournisseur": "ProConnect",
            "identifiant_chez_le_fournisseur": "sub-de-l-agent",
            "associe_le": "2026-01-15T08:00:00+01:00",
            "derniere_connexion": "2026-03-02T09:30:00+01:00",
            "informations_transmises_a_la_derniere_connexion": {
                "userinfo": {"email": "agent@travail.gouv.fr", "siret": "13002526500013"}
            },
        }
    ]


def test_deleting_the_account_deletes_the_proconnect_link(linked_agent):
    """Else the agent's next ProConnect login would reach the anonymised account."""
    other = SocialAccount.objects.create(user=f.UserFactory(), provider="proconnect", uid="autre")
    deletion = personal_data.delete_account(linked_agent)
    assert list(SocialAccount.objects.all()) == [other]
    assert deletion.summary["connexions_proconnect"] == {"connexions_supprimees": 1}


# --- Confirming one's identity again without a password -------------------------------------------


def _session_with_login(rf, user, *, method="socialaccount", seconds_ago=0, **extra):
    request = rf.get("/")
    request.user = user
    request.session = SessionStore()
    record_authentication(request, user, method, **extra)
    for record in request.session["account_authentication_methods"]:
        record["at"] -= seconds_ago
    return request


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("password", "method", "seconds_ago", "required"),
    [
        (False, "socialaccount", 60, False),  # just created by ProConnect: the login stands
        (False, "socialaccount", 3600, True),  # too long ago
        (True, "socialaccount", 60, True),  # has a password: asked for it as usual
        (False, "code", 60, True),  # not a ProConnect login
    ],
)
def test_a_recent_proconnect_login_stands_for_a_confirmation_only_without_a_password(
    rf, password, method, seconds_ago, required
):
    agent = f.UserFactory()
    if not password:
        agent.set_unusable_password()
        agent.save()
    extra = {"provider": "proconnect", "uid": "sub"} if method == "socialaccount" else {}
    request = _session_with_login(rf, agent, method=method, seconds_ago=seconds_ago, **extra)
    with context.request_context(request):
        assert AccountAdapter().is_reauthentication_required(app="mfa") is required


@pytest.mark.django_db
def test_logging_in_again_with_proconnect_is_offered_only_to_who_has_no_other_way(rf):
    agent, linked_with_password, unlinked = (f.UserFactory() for _ in range(3))
    for user in (agent, unlinked):
        user.set_unusable_password()
        user.save()
    for user in (agent, linked_with_password):
        SocialAccount.objects.create(user=user, provider="proconnect", uid=f"sub-{user.pk}")
    with context.request_context(rf.get("/")):
        adapter = AccountAdapter()
        assert [m["id"] for m in adapter.get_reauthentication_methods(agent)] == ["proconnect"]
        assert adapter.get_reauthentication_methods(agent)[0]["url"] == reverse("proconnect_login")
        assert [m["id"] for m in adapter.get_reauthentication_methods(linked_with_password)] == [
            "reauthenticate"
        ]
        assert adapter.get_reauthentication_methods(unlinked) == []


# --- The authenticator app's code at login --------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("mfa_asserted", "code_asked"), [(True, False), (False, True)])
def test_the_code_is_asked_after_proconnect_only_without_a_multi_factor_assertion(
    rf, mfa_asserted, code_asked
):
    staff = f.UserFactory(is_staff=True)  # with an authenticator app (tests/factories.py)
    answer = {"id_token": "x.y.z", "mfa": mfa_asserted, "acr": "eidas2" if mfa_asserted else ""}
    sociallogin = SimpleNamespace(state={ANSWER_STATE_KEY: answer})
    login = Login(user=staff, signal_kwargs={"sociallogin": sociallogin})
    request = rf.get("/")
    request.session = SessionStore()
    stage = AuthenticateStage(None, request, login)
    assert stage._should_handle(request) is code_asked
    assert (
        AccountAdapter().get_login_stages().count("accounts.proconnect.stages.AuthenticateStage")
        == 1
    )
