"""Staff acting as a user (``accounts.impersonation``): the banner shown while it lasts and the
list of such sessions on « Mon espace »."""

from django import template
from django.urls import reverse

from .. import impersonation

register = template.Library()


@register.inclusion_tag("accounts/_impersonation_banner.html", takes_context=True)
def impersonation_banner(context):
    """While a staff member acts as the user: who they act as, and the way back (a form, no
    script)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    active = bool(getattr(user, "is_hijacked", False))
    return {
        "active": active,
        "acted_as": user.email if active else "",
        "back_to": reverse("admin:accounts_user_change", args=[user.pk]) if active else "",
        "csrf_token": context.get("csrf_token", ""),
    }


@register.simple_tag
def impersonation_sessions(user):
    """The sessions of staff on ``user``'s account (last year, newest first)."""
    if not getattr(user, "is_authenticated", False):
        return []
    return list(impersonation.sessions_on(user))
