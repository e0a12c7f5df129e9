"""Deployment checks (``manage.py check --deploy``): what production must never run with."""

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security, deploy=True)
def antivirus_check(app_configs, **kwargs):
    """Every upload is scanned by clamd, and refused when clamd cannot answer (fail closed)."""
    errors = []
    if not settings.AMI_ANTIVIRUS_ENABLED:
        errors.append(
            Error(
                "The antivirus is disabled (AMI_ANTIVIRUS_ENABLED=false): uploads would be "
                "stored unscanned.",
                hint="Run clamd (docs/operations.md « Antivirus ») and unset "
                "AMI_ANTIVIRUS_ENABLED.",
                id="ami.E001",
            )
        )
    if settings.AMI_ANTIVIRUS_FAIL_OPEN:
        errors.append(
            Error(
                "AMI_ANTIVIRUS_FAIL_OPEN is on: uploads would be stored unscanned whenever clamd "
                "is unreachable.",
                hint="Unset AMI_ANTIVIRUS_FAIL_OPEN; it is meant for development only.",
                id="ami.E002",
            )
        )
    return errors


LEGAL_SETTINGS = (
    "LEGAL_PUBLISHER",
    "LEGAL_PUBLICATION_DIRECTOR",
    "LEGAL_HOST",
    "LEGAL_CONTACT_EMAIL",
)


@register(Tags.compatibility, deploy=True)
def legal_notice_check(app_configs, **kwargs):
    """The legal notice (loi n° 2004-575, art. 6) and the accessibility statement name the
    publisher, the publication director, the host and a contact: none may be empty, nor left at
    the development example."""
    missing = [
        name
        for name in LEGAL_SETTINGS
        if not getattr(settings, name, "")
        or getattr(settings, name) == settings.LEGAL_DEV_DEFAULTS[name]
    ]
    if not missing:
        return []
    return [
        Error(
            f"The legal notice is incomplete: {', '.join(missing)} not set.",
            hint="Set them in the environment (.env.example, docs/operations.md « Legal notice "
            "»); they are shown on « Mentions légales » and « Accessibilité ».",
            id="ami.E003",
        )
    ]
