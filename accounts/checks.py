"""Deployment checks of the account security policy (``manage.py check --deploy``)."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def check_mfa_required(app_configs, **kwargs):
    """Production never runs with the two-factor policy off (``AMI_MFA_REQUIRED=false`` is for
    development only)."""
    if settings.AMI_MFA_REQUIRED:
        return []
    return [
        Error(
            "AMI_MFA_REQUIRED is off: staff and cell members could reach every candidature "
            "with a password alone.",
            hint="Unset AMI_MFA_REQUIRED (it defaults to true) in production.",
            id="accounts.E001",
        )
    ]
