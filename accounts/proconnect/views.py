"""The OpenID Connect adapter with ProConnect's additions, and its login and callback views."""

import secrets
import time

from allauth.account import app_settings as account_settings
from allauth.account.internal.decorators import login_not_required
from allauth.account.internal.flows.login import get_authentication_records
from allauth.socialaccount.adapter import get_adapter
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from allauth.utils import build_absolute_uri
from django.urls import reverse
from django.utils.http import urlencode

from .claims import ClaimsRefused, asserted_mfa, verify_signed

PROVIDER_ID = "proconnect"
# Kept in the session for the logout at the provider and the MFA rule (accounts.mfa).
ID_TOKEN_SESSION_KEY = "proconnect_id_token"  # noqa: S105 (a session key, not a secret)
# What the login's answer said (raw ID token, multi-factor assertion, acr), kept in the social
# login's state: allauth serialises that state between the login stages (the local TOTP code),
# so it is still there when the login completes, in a later request.
ANSWER_STATE_KEY = "proconnect_answer"


def provider_answer(sociallogin) -> dict | None:
    """What :meth:`ProConnectAdapter.complete_login` kept of ProConnect's answer, if this is a
    ProConnect login."""
    state = getattr(sociallogin, "state", None)
    return state.get(ANSWER_STATE_KEY) if isinstance(state, dict) else None


class Refused(OAuth2Error):
    """ProConnect's answer refused; ``message`` is French and shown to the user."""

    def __init__(self, message):
        super().__init__(message)
        self.message = message


class ProConnectAdapter(OpenIDConnectOAuth2Adapter):
    state: dict | None = None  # the stashed login state (nonce), set by the callback view

    def __init__(self, request):
        super().__init__(request, PROVIDER_ID)

    def get_callback_url(self, request, app):
        return build_absolute_uri(
            request, reverse("proconnect_callback"), self.redirect_uri_protocol
        )

    def _jwks(self) -> dict:
        with get_adapter().get_requests_session() as session:
            response = session.get(self.openid_config["jwks_uri"])
            response.raise_for_status()
            return response.json()

    def _verify(self, token: str, nonce=None) -> dict:
        try:
            return verify_signed(
                token,
                self._jwks(),
                issuer=self.openid_config["issuer"],
                audience=self.get_provider().app.client_id,
                nonce=nonce,
            )
        except ClaimsRefused as error:
            raise Refused(str(error)) from error

    def _fetch_user_info(self, access_token: str) -> dict:
        """ProConnect answers the userinfo as a JWT signed with its keys: anything else (plain
        JSON, unsigned, signed with another key) is refused."""
        headers = {"Authorization": f"Bearer {access_token}"}
        with get_adapter().get_requests_session() as session:
            response = session.get(self.profile_url, headers=headers)
            response.raise_for_status()
        content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/jwt":
            raise Refused("Les informations transmises par ProConnect ne sont pas signées.")
        return self._verify(response.text.strip())

    def _decode_id_token(self, app, id_token: str) -> dict:
        """Always check the signature and our nonce (allauth skips both for a token fetched
        directly)."""
        nonce = (self.state or {}).get("nonce")
        if not nonce:
            raise Refused("La connexion ProConnect a expiré : recommencez.")
        return self._verify(id_token, nonce=nonce)

    def complete_login(self, request, app, token, **kwargs):
        login = super().complete_login(request, app, token, **kwargs)
        id_token = login.account.extra_data.get("id_token") or {}
        # The callback view then sets this same dict as ``login.state``; read after the login
        # by accounts.proconnect.signals and during the login stages by accounts.mfa.
        if self.state is not None:
            self.state[ANSWER_STATE_KEY] = {
                "id_token": kwargs["response"].get("id_token"),
                "mfa": asserted_mfa(id_token),
                "acr": id_token.get("acr", ""),
            }
        return login


class CallbackView(OAuth2CallbackView):
    def _get_state(self, request, provider):
        state, response = super()._get_state(request, provider)
        self.adapter.state = state
        return state, response


def just_logged_in_through_proconnect(request, user) -> bool:
    """Did this session's user log in through ProConnect less than
    ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds ago (allauth's record of the session's
    authentications)?"""
    records = [
        record
        for record in get_authentication_records(request, user)
        if record.get("method") == "socialaccount" and record.get("provider") == PROVIDER_ID
    ]
    return bool(records) and (
        time.time() - records[-1].get("at", 0) < account_settings.REAUTHENTICATION_TIMEOUT
    )


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def end_session_url(request, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """Where to send the browser to log out at ProConnect too (RP-initiated logout)."""
    endpoint = ProConnectAdapter(request).openid_config.get("end_session_endpoint")
    if not endpoint:
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "state": secrets.token_urlsafe(16),
            "post_logout_redirect_uri": post_logout_redirect_uri,
        }
    )
    return f"{endpoint}?{query}"


@login_not_required
def login(request):
    return OAuth2LoginView.adapter_view(ProConnectAdapter(request))(request)


@login_not_required
def callback(request):
    return CallbackView.adapter_view(ProConnectAdapter(request))(request)
