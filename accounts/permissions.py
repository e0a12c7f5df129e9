"""Role predicates: the one place that answers « what role does this user hold on this call or
region ». Object-level rules of other apps build on these in their own ``permissions.py``."""

from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from django.db import connection

from ami.models import Call, Region

from .models import (
    NationalCell,
    NationalCellMembership,
    NationalRole,
    RegionalCell,
    RegionalCellMembership,
    RegionalRole,
)


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


def national_calls_seen_by(user):
    """The calls whose national screens (dashboard, scenarios, deliberation) ``user`` sees:
    those of the national cells they belong to, every call for the staff (read-only), none for
    anyone else. The one definition behind ``evaluation.permissions.can_view_national`` and the
    scenarios' ``visible_to``."""
    if not _authenticated(user):
        return Call.objects.none()
    if user.is_staff:
        return Call.objects.all()
    return Call.objects.filter(national_cell__memberships__user=user)


def is_national_administrator(user, call) -> bool:
    return national_role(user, call) == NationalRole.ADMINISTRATOR


def is_staff(user) -> bool:
    return _authenticated(user) and user.is_staff


def is_support_staff(user, permission: str) -> bool:
    """Coorace staff acting from the admin on a domain object (support): staff holding the
    model permission that the admin action needs."""
    return is_staff(user) and user.has_perm(permission)


ACT_AS_PERMISSION = "accounts.can_act_as_user"


def is_cell_member(user) -> bool:
    """Member of any regional or national cell, whatever the call."""
    return (
        RegionalCellMembership.objects.filter(user=user).exists()
        or NationalCellMembership.objects.filter(user=user).exists()
    )


@dataclass(frozen=True)
class CellRoles:
    """What every page asks about a signed-in user's cells, read in one query
    (``cell_roles``): the second-factor policy (``accounts.mfa``) and the header navigation
    (``accounts.navigation``)."""

    has_totp: bool = False
    regional: bool = False  # member of any regional cell
    coordinated_cell: int | None = None  # the latest call's cell they coordinate
    national_call: int | None = None  # the latest call whose national cell they are in

    @property
    def cell_member(self) -> bool:
        return self.regional or self.national_call is not None


NO_CELL_ROLES = CellRoles()


def _cell_roles_sql() -> str:
    """The query of ``cell_roles``, written once: as an ORM query with four subqueries it cost
    more Python to compile on every request than the three simple queries it replaces."""
    if _CELL_ROLES_SQL:
        return _CELL_ROLES_SQL[0]
    regional, regional_cell = RegionalCellMembership._meta.db_table, RegionalCell._meta.db_table
    national, national_cell = NationalCellMembership._meta.db_table, NationalCell._meta.db_table
    call, region = Call._meta.db_table, Region._meta.db_table
    sql = f"""
        SELECT
            EXISTS (SELECT 1 FROM {Authenticator._meta.db_table} a
                    WHERE a.user_id = %(user)s AND a.type = %(totp)s),
            EXISTS (SELECT 1 FROM {regional} m WHERE m.user_id = %(user)s),
            (SELECT m.cell_id FROM {regional} m
                JOIN {regional_cell} c ON c.id = m.cell_id
                JOIN {call} k ON k.id = c.call_id
                JOIN {region} r ON r.code = c.region_id
             WHERE m.user_id = %(user)s AND m.role = %(coordinator)s
             ORDER BY k.year DESC, r.name ASC, m.cell_id ASC LIMIT 1),
            (SELECT c.call_id FROM {national} m
                JOIN {national_cell} c ON c.id = m.cell_id
                JOIN {call} k ON k.id = c.call_id
             WHERE m.user_id = %(user)s
             ORDER BY k.year DESC, c.call_id DESC LIMIT 1)
    """  # noqa: S608 - table names from the models, values as parameters
    _CELL_ROLES_SQL.append(sql)
    return sql


_CELL_ROLES_SQL: list[str] = []


def cell_roles(user) -> CellRoles:
    """The user's ``CellRoles``, in one query (always read afresh)."""
    if not (user and user.is_authenticated):
        return NO_CELL_ROLES
    params = {
        "user": user.pk,
        "totp": Authenticator.Type.TOTP,
        "coordinator": RegionalRole.COORDINATOR,
    }
    with connection.cursor() as cursor:
        cursor.execute(_cell_roles_sql(), params)
        return CellRoles(*cursor.fetchone())


def request_cell_roles(user) -> CellRoles:
    """``cell_roles``, read once per request: kept on the user object, which Django loads anew
    for each request (``request.user``), so a change of cells shows from the next request on."""
    roles = getattr(user, "_ami_cell_roles", None)
    if roles is None:
        roles = cell_roles(user)
        if user.is_authenticated:
            user._ami_cell_roles = roles
    return roles


def can_act_as(*, hijacker, hijacked) -> bool:
    """May ``hijacker`` act as ``hijacked`` to help them (django-hijack's permission check)?
    Only active staff explicitly given « accounts.can_act_as_user », on another active account
    that is neither staff nor superuser nor a member of any regional or national cell: nobody
    gains rights by acting as someone else. Assistance is for applicants (the public); acting as
    a judge would let staff admit, score, move, deliberate or publish in an agent's name, so it is
    refused outright rather than screen by screen."""
    if hijacked is None or not _authenticated(hijacker) or hijacker.pk == hijacked.pk:
        return False
    return (
        hijacker.is_staff
        and hijacker.has_perm(ACT_AS_PERMISSION)
        and hijacked.is_active
        and not hijacked.is_staff
        and not hijacked.is_superuser
        and not is_cell_member(hijacked)
    )


def may_move_call_phase(actor, call) -> bool:
    """Staff and the call's CNA administrators move its phase by hand (``ami.calls.set_phase``)."""
    return is_staff(actor) or is_national_administrator(actor, call)
