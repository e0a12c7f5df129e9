from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.auth.hashers import make_password
from django.contrib.sites.shortcuts import get_current_site
from django.utils.crypto import get_random_string

from ami.outbox import queue_email


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
