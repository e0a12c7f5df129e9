"""Deployment checks (``manage.py check --deploy``) of the account security policy."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def mfa_encryption_key_check(app_configs, **kwargs):
    """Second-factor secrets are encrypted under a key of the environment, never a derived one."""
    from .mfa import _fernet

    hint = (
        "Set MFA_ENCRYPTION_KEY to the output of "
        '`python -c "from cryptography.fernet import Fernet; '
        'print(Fernet.generate_key().decode())"`'
        " (docs/operations.md « Authentication »)."
    )
    if not settings.MFA_ENCRYPTION_KEY:
        return [Error("MFA_ENCRYPTION_KEY is not set.", hint=hint, id="accounts.E001")]
    try:
        _fernet()
    except ValueError:
        return [
            Error("MFA_ENCRYPTION_KEY is not a valid Fernet key.", hint=hint, id="accounts.E002")
        ]
    return []


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
            id="accounts.E003",
        )
    ]
