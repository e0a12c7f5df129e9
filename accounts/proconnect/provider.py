"""The ProConnect provider: allauth's OpenID Connect provider with PKCE, a nonce,
``acr_values=eidas1`` and ProConnect's claims."""

import json

from allauth.account.models import EmailAddress
from allauth.socialaccount.providers.openid_connect.provider import (
    OpenIDConnectProvider,
    OpenIDConnectProviderAccount,
    _pick_data,
)
from django.conf import settings
from django.urls import reverse
from django.utils.http import urlencode

from .views import PROVIDER_ID, ProConnectAdapter, new_nonce

AMR_CLAIMS_REQUEST = json.dumps({"id_token": {"amr": {"essential": True}}}, separators=(",", ":"))


class ProConnectProvider(OpenIDConnectProvider):
    id = PROVIDER_ID
    name = "ProConnect"
    account_class = OpenIDConnectProviderAccount
    oauth2_adapter_class = ProConnectAdapter
    pkce_enabled_default = True
    supports_token_authentication = False

    def get_login_url(self, request, **kwargs):
        url = reverse("proconnect_login")
        return f"{url}?{urlencode(kwargs)}" if kwargs else url

    def get_callback_url(self):
        return reverse("proconnect_callback")

    def get_oauth2_adapter(self, request):
        return ProConnectAdapter(request)

    def get_default_scope(self):
        return ["openid", "email", "given_name", "usual_name", "siret", "uid"]

    def get_auth_params(self):
        return {
            "acr_values": settings.PROCONNECT_ACR_VALUES,
            # ProConnect puts ``amr`` (how the agent authenticated) in the ID token only when
            # asked for with the ``claims`` parameter; the MFA rule reads it (claims.asserted_mfa).
            "claims": AMR_CLAIMS_REQUEST,
            "prompt": "login",
            **super().get_auth_params(),
        }

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        """A fresh nonce per login, sent in the request and kept in the state to compare with
        the ID token's."""
        nonce = new_nonce()
        auth_params = kwargs.pop("auth_params", None) or self.get_auth_params()
        auth_params["nonce"] = nonce
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )

    def extract_uid(self, data):
        return str(_pick_data(data)["sub"])

    def extract_common_fields(self, data):
        data = _pick_data(data)
        return {
            "email": data.get("email"),
            "first_name": data.get("given_name") or "",
            "last_name": data.get("usual_name") or "",
        }

    def extract_email_addresses(self, data):
        data = _pick_data(data)
        email = data.get("email")
        if not email:
            return []
        return [
            EmailAddress(email=email, verified=data.get("email_verified") is True, primary=True)
        ]


provider_classes = [ProConnectProvider]
