"""Role predicates: the one place that answers « what role does this user hold on this call or
region ». Object-level rules of other apps build on these in their own ``permissions.py``."""

from .models import NationalCellMembership, NationalRole, RegionalCellMembership, RegionalRole


def _authenticated(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def regional_role(user, call, region) -> str | None:
    """The user's role in the CRA of ``region`` for ``call`` (coordinator / evaluator) or None."""
    if not _authenticated(user):
        return None
    return (
        RegionalCellMembership.objects.filter(user=user, cell__call=call, cell__region=region)
        .values_list("role", flat=True)
        .first()
    )


def is_regional_member(user, call, region) -> bool:
    return regional_role(user, call, region) is not None


def is_regional_coordinator(user, call, region) -> bool:
    return regional_role(user, call, region) == RegionalRole.COORDINATOR


def national_role(user, call) -> str | None:
    if not _authenticated(user):
        return None
    return (
        NationalCellMembership.objects.filter(user=user, cell__call=call)
        .values_list("role", flat=True)
        .first()
    )


def is_national_member(user, call) -> bool:
    """Any member of the CNA of the call, administrators included."""
    return national_role(user, call) is not None


def is_national_administrator(user, call) -> bool:
    return national_role(user, call) == NationalRole.ADMINISTRATOR


def is_staff(user) -> bool:
    return _authenticated(user) and user.is_staff
