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
