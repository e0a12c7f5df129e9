"""allauth's login step that asks for the code of the authenticator app, skipped when this login
is a ProConnect login whose provider asserted a multi-factor authentication (acr/amr): the
platform's rule (accounts.mfa) is then satisfied, as it is for a user without an app."""

from allauth.mfa.stages import AuthenticateStage as AllauthAuthenticateStage

from .views import provider_answer


class AuthenticateStage(AllauthAuthenticateStage):
    def _should_handle(self, request) -> bool:
        answer = provider_answer((self.login.signal_kwargs or {}).get("sociallogin"))
        if answer and answer.get("mfa"):
            return False
        return super()._should_handle(request)
