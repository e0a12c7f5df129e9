"""After a login: keep what the ProConnect login said (its ID token, for the logout there; the
multi-factor assertion, for accounts.mfa) in the new session, and tell an agent whose existing
account was just linked, or whose account was just created from ProConnect's claims."""

from allauth.account.signals import user_logged_in, user_signed_up
from allauth.socialaccount.signals import social_account_added

from ..adapter import notify_linked, notify_signed_up
from ..mfa import ASSERTED_BY_PROVIDER_SESSION_KEY
from .views import ID_TOKEN_SESSION_KEY, provider_answer


def remember_provider_login(sender, request, user, **kwargs):
    answer = provider_answer(kwargs.get("sociallogin"))
    request.session.pop(ID_TOKEN_SESSION_KEY, None)
    request.session.pop(ASSERTED_BY_PROVIDER_SESSION_KEY, None)
    if answer:
        request.session[ID_TOKEN_SESSION_KEY] = answer["id_token"]
        if answer["mfa"]:
            request.session[ASSERTED_BY_PROVIDER_SESSION_KEY] = answer["acr"] or "amr"


def connect_signals():
    user_logged_in.connect(remember_provider_login, dispatch_uid="proconnect_login")
    social_account_added.connect(notify_linked, dispatch_uid="proconnect_linked")
    user_signed_up.connect(notify_signed_up, dispatch_uid="proconnect_signed_up")
