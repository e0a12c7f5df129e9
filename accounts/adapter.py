from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialAccount
from django.contrib import messages
from django.contrib.auth.hashers import make_password
from django.contrib.sites.shortcuts import get_current_site
from django.shortcuts import render
from django.urls import reverse
from django.utils.crypto import get_random_string

from ami.outbox import queue_email

from .proconnect.views import (
    ID_TOKEN_SESSION_KEY,
    PROVIDER_ID,
    end_session_url,
    just_logged_in_through_proconnect,
)

ALLAUTH_AUTHENTICATE_STAGE = "allauth.mfa.stages.AuthenticateStage"
PROCONNECT_AUTHENTICATE_STAGE = "accounts.proconnect.stages.AuthenticateStage"


class AccountAdapter(DefaultAccountAdapter):
    def send_account_already_exists_mail(self, email: str) -> None:
        """A sign-up with an address that has an account answers like a new sign-up (allauth's
        enumeration prevention) — and takes as long: a new account costs one password hash,
        which dominates the response time, so this path pays the same hash."""
        make_password(get_random_string(32))
        super().send_account_already_exists_mail(email)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        """Route allauth's emails (confirmation, password reset …) through the outbox."""
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        message = self.render_mail(template_prefix, email, ctx)
        html = ""
        if message.content_subtype == "html":
            html, text = message.body, ""
        else:
            text = message.body
            for content, mimetype in getattr(message, "alternatives", []):
                if mimetype == "text/html":
                    html = content
        queue_email(
            to=email,
            subject=message.subject,
            text=text,
            html=html,
            event=f"account.{template_prefix.rsplit('/', 1)[-1]}",
            related=ctx.get("user"),
        )

    def get_login_stages(self) -> list[str]:
        """allauth's stages, with the second-factor step that a ProConnect login asserting a
        multi-factor authentication skips (accounts.proconnect.stages)."""
        return [
            PROCONNECT_AUTHENTICATE_STAGE if stage == ALLAUTH_AUTHENTICATE_STAGE else stage
            for stage in super().get_login_stages()
        ]

    def is_reauthentication_required(self, *, app: str, **kwargs) -> bool:
        """A sensitive screen asks to confirm one's identity again (password or authenticator
        code). An agent whose account ProConnect created has neither, and allauth would then
        refuse the screen outright — the authenticator app's setup included, which the MFA rule
        sends them to. For such a user, a ProConnect login of the last few minutes
        (``ACCOUNT_REAUTHENTICATION_TIMEOUT``) stands for the confirmation."""
        required = super().is_reauthentication_required(app=app, **kwargs)
        request = self.request
        user = getattr(request, "user", None)
        if not (required and user is not None and user.is_authenticated):
            return required
        if super().get_reauthentication_methods(user):
            return required
        return not just_logged_in_through_proconnect(request, user)

    def get_reauthentication_methods(self, user) -> list[dict]:
        """allauth's ways to confirm one's identity again; for an agent who has none of them
        (no password, no authenticator app) but a ProConnect link: logging in again with
        ProConnect, after which ``is_reauthentication_required`` lets them through."""
        methods = super().get_reauthentication_methods(user)
        if methods or not user.is_authenticated:
            return methods
        if not SocialAccount.objects.filter(user=user, provider=PROVIDER_ID).exists():
            return methods
        return [
            {
                "id": "proconnect",
                "description": "Se reconnecter avec ProConnect",
                "url": reverse("proconnect_login"),
            }
        ]

    def get_logout_redirect_url(self, request):
        """Logged in through ProConnect: log out there too (``id_token_hint``), then home.
        allauth asks for this address before it ends the session."""
        id_token = request.session.get(ID_TOKEN_SESSION_KEY)
        if id_token:
            url = end_session_url(request, id_token, request.build_absolute_uri("/"))
            if url:
                return url
        return super().get_logout_redirect_url(request)


UNVERIFIED_EMAIL = (
    "ProConnect n'a pas confirmé votre adresse électronique : la connexion est refusée et aucun "
    "compte n'a été créé ni associé. Contactez votre administrateur ProConnect, ou connectez-vous "
    "avec votre adresse et votre mot de passe."
)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def pre_social_login(self, request, sociallogin):
        """Only an address the provider verified logs in, creates or links an account."""
        if not any(address.verified for address in sociallogin.email_addresses):
            raise ImmediateHttpResponse(
                render(
                    request,
                    "socialaccount/authentication_error.html",
                    {"message": UNVERIFIED_EMAIL},
                    status=403,
                )
            )

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ):
        message = getattr(exception, "message", None)
        if message and extra_context is not None:
            extra_context["message"] = message
        return super().on_authentication_error(request, provider, error, exception, extra_context)


def notify_signed_up(request, user, sociallogin=None, **kwargs):
    """An account created at the first ProConnect login: say so, and from what."""
    if sociallogin is None:
        return
    messages.success(
        request,
        f"Votre compte a été créé avec votre identité ProConnect ({user.email}) : votre adresse "
        "électronique, vérifiée par ProConnect, votre prénom et votre nom en proviennent. Vous "
        "vous connecterez désormais avec ProConnect.",
    )


def notify_linked(request, sociallogin, **kwargs):
    """An existing account linked to ProConnect on first login: say so."""
    messages.info(
        request,
        f"Votre connexion ProConnect a été associée à votre compte existant "
        f"({sociallogin.user.email}). Vous pourrez désormais vous connecter avec ProConnect.",
    )
