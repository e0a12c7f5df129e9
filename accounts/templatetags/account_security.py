"""Template tags of the two-factor policy (``accounts.mfa``) for the account and MFA pages."""

from django import template

from .. import mfa

register = template.Library()


@register.simple_tag
def mfa_required_for(user) -> bool:
    """Must this user have an authenticator app?"""
    return mfa.mfa_required(user)


@register.simple_tag(takes_context=True)
def mfa_continue_url(context) -> str:
    """The screen the user was sent away from to set the second factor up, else « Mon espace »."""
    return mfa.destination_after_setup(context["request"])
