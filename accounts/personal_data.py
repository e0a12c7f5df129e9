"""« Mes données » (RGPD): everything the platform holds about a person, downloadable as a ZIP
(``write_user_data`` / ``export_user_data``), and the deletion of their account
(``delete_account``).

Each app contributes its own part through a small registry: ``register(Contribution(...))``,
called from the app's ``AppConfig.ready()``. ``accounts`` knows the user, the roles in the cells,
the email addresses and the emails sent; ``candidatures`` knows PTCEs, candidatures and their
documents; ``evaluation`` knows reviews, conflicts and decisions. Imports keep flowing one way
(DESIGN §6: accounts never imports candidatures or evaluation), each app keeps the knowledge of
its own models (no ``apps.get_model`` with field names of another app spelled here), and an app
that comes to hold personal data adds one registration instead of a branch in this module.

Deletion anonymises rather than deletes the ``User`` row: candidatures, reviews, opinions and
decisions are public-money records that must be kept (see docs/operations.md « Personal data »);
they keep pointing to the row, which then shows « Utilisateur supprimé ».
"""

import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from importlib import import_module

from allauth.account.models import EmailAddress
from django.apps import apps
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ami import audit
from ami.models import OutboxMessage, OutboxState, Phase

from .models import (
    DELETED_EMAIL_DOMAIN,
    DELETED_USER_FIRST_NAME,
    DELETED_USER_LAST_NAME,
    AccountDeletion,
    CellInvitation,
    NationalCellMembership,
    NationalRole,
    RegionalCellMembership,
    RegionalRole,
    User,
)
from .permissions import is_staff

logger = logging.getLogger(__name__)

EXPORT_FORMAT = "ami-ptce/donnees-personnelles/1"
JSON_NAME = "donnees.json"
README_NAME = "LISEZMOI.txt"
SPOOL_SIZE = 16 * 1024 * 1024  # in memory up to this size, then on disk
COPY_CHUNK = 1024 * 1024
# Calls in these phases are over: their cells no longer need a coordinator or an administrator.
FINISHED_PHASES = (Phase.PUBLISHED, Phase.ARCHIVED)


# --- Registry ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    """One app's part of « Mes données ».

    - ``export(user, archive)`` returns a JSON-serialisable section (dates, decimals allowed)
      and may add files to the archive (``archive.add_file``);
    - ``refusals(user, withdraw=...)`` returns French sentences saying why the account cannot be
      deleted now (empty list: nothing against it). ``withdraw`` is the user's confirmation
      that their in-progress candidatures may be withdrawn;
    - ``erase(user, actor, withdraw=...)`` runs in the deletion's transaction, before the user's
      row is anonymised, and returns counts for the deletion log.
    """

    name: str
    export: Callable | None = None
    refusals: Callable | None = None
    erase: Callable | None = None


_contributions: dict[str, Contribution] = {}


def register(contribution: Contribution) -> None:
    """Called from an app's ``ready()``; registering the same name again replaces it."""
    _contributions[contribution.name] = contribution


def contributions() -> list[Contribution]:
    return list(_contributions.values())


# --- Export ------------------------------------------------------------------------------------


def _archive_part(text: str) -> str:
    """One path segment of the archive: no separators, no leading dots, not empty."""
    cleaned = "".join("-" if char in "/\\" or ord(char) < 32 else char for char in str(text))
    return cleaned.strip(" .")[:150] or "fichier"


class ExportArchive:
    """The ZIP being written. Files are copied in chunks, never read whole into memory."""

    def __init__(self, zip_file: zipfile.ZipFile):
        self._zip = zip_file
        self._used: set[str] = {JSON_NAME.lower(), README_NAME.lower()}

    def _unique(self, path: str) -> str:
        stem, extension = os.path.splitext(path)
        candidate, number = path, 2
        while candidate.lower() in self._used:
            candidate = f"{stem} ({number}){extension}"
            number += 1
        self._used.add(candidate.lower())
        return candidate

    def add_file(self, folders: list[str], name: str, source, modified=None) -> str:
        """Copy the binary file object ``source`` to ``folders/name`` (each segment sanitised,
        the path made unique); returns the path inside the archive."""
        path = self._unique("/".join([*map(_archive_part, folders), _archive_part(name)]))
        when = timezone.localtime(modified or timezone.now()).timetuple()[:6]
        info = zipfile.ZipInfo(path, date_time=max(when, (1980, 1, 1, 0, 0, 0)))
        info.compress_type = zipfile.ZIP_DEFLATED
        with self._zip.open(info, "w") as target:
            shutil.copyfileobj(source, target, COPY_CHUNK)
        return path


def email_addresses(user) -> set[str]:
    """Every address of the user (account address and allauth's), lower-cased."""
    addresses = {user.email.lower()}
    addresses.update(
        email.lower()
        for email in EmailAddress.objects.filter(user=user).values_list("email", flat=True)
    )
    return addresses


def addressed_to(field: str, addresses) -> Q:
    """``Q`` matching rows whose email ``field`` is one of ``addresses``, ignoring case."""
    query = Q(pk__in=[])
    for address in addresses:
        query |= Q(**{f"{field}__iexact": address})
    return query


def _account_section(user) -> dict:
    return {
        "adresse_electronique": user.email,
        "prenom": user.first_name,
        "nom": user.last_name,
        "organisation": user.organisation,
        "siren_organisation": user.organisation_siren,
        "equipe_coorace": user.is_staff,
        "actif": user.is_active,
        "inscrit_le": user.date_joined,
        "derniere_connexion": user.last_login,
        "preferences_de_courriel": {
            "rappels": user.wants_reminders,
            "recapitulatifs_quotidiens": user.wants_digests,
        },
    }


def _roles_section(user) -> dict:
    regional = (
        RegionalCellMembership.objects.filter(user=user)
        .select_related("cell__call", "cell__region")
        .order_by("-cell__call__year", "cell__region__name", "pk")
    )
    national = (
        NationalCellMembership.objects.filter(user=user)
        .select_related("cell__call")
        .order_by("-cell__call__year", "pk")
    )
    return {
        "cellules_regionales": [
            {
                "appel": m.cell.call.name,
                "region": m.cell.region.name,
                "role": m.get_role_display(),
                "depuis_le": m.added_at,
            }
            for m in regional
        ],
        "cellule_nationale": [
            {"appel": m.cell.call.name, "role": m.get_role_display(), "depuis_le": m.added_at}
            for m in national
        ],
    }


def _cell_invitations_section(addresses) -> list[dict]:
    """Invitations to join a cell sent to one of the user's addresses."""
    rows = (
        CellInvitation.objects.filter(addressed_to("email", addresses))
        .select_related("regional_cell__call", "regional_cell__region", "national_cell__call")
        .order_by("sent_at", "pk")
    )
    return [
        {
            "adresse_invitee": invitation.email,
            "appel": invitation.cell.call.name,
            "cellule": (
                f"cellule régionale {invitation.regional_cell.region.name}"
                if invitation.regional_cell_id
                else "cellule nationale"
            ),
            "role": invitation.get_role_display(),
            "etat": invitation.get_state_display(),
            "envoyee_le": invitation.sent_at,
            "expire_le": invitation.expires_at,
        }
        for invitation in rows
    ]


def _emails_section(addresses) -> list[dict]:
    """The emails the platform sent (or will send) to the user: what and when, not the text."""
    rows = (
        OutboxMessage.objects.filter(addressed_to("recipient", addresses))
        .order_by("created_at", "pk")
        .values_list("recipient", "subject", "event", "state", "created_at", "sent_at")
    )
    labels = dict(OutboxState.choices)
    return [
        {
            "destinataire": recipient,
            "objet": subject,
            "evenement": event,
            "etat": labels.get(state, state),
            "cree_le": created_at,
            "envoye_le": sent_at,
        }
        for recipient, subject, event, state, created_at, sent_at in rows.iterator(chunk_size=2000)
    ]


def _mfa_section(user) -> list[dict] | None:
    """The second factors' kinds and dates — never their secrets."""
    if not apps.is_installed("allauth.mfa"):
        return None
    authenticator = apps.get_model("mfa", "Authenticator")
    return [
        {"type": kind, "cree_le": created, "derniere_utilisation": used}
        for kind, created, used in authenticator.objects.filter(user=user)
        .order_by("created_at", "pk")
        .values_list("type", "created_at", "last_used_at")
    ]


def _user_relations(model) -> list:
    return [
        field
        for field in model._meta.concrete_fields
        if field.is_relation and field.related_model is User
    ]


def _impersonation_section(user) -> list[dict] | None:
    """The log of staff acting as the user (``accounts.ImpersonationLog``), when it exists. Read
    generically so that this does not depend on its exact fields."""
    try:
        model = apps.get_model("accounts", "ImpersonationLog")
    except LookupError:
        return None
    user_fields = _user_relations(model)
    if not user_fields:
        return None
    query = Q(pk__in=[])
    for field in user_fields:
        query |= Q(**{field.name: user})
    relations = [f.name for f in model._meta.concrete_fields if f.is_relation]
    rows = []
    for row in model.objects.filter(query).select_related(*relations).order_by("pk"):
        item = {}
        for field in model._meta.concrete_fields:
            if field.primary_key:
                continue
            value = getattr(row, field.attname)
            if field.is_relation and value is not None:
                value = (
                    "vous"
                    if field in user_fields and value == user.pk
                    else str(getattr(row, field.name))
                )
            item[str(field.verbose_name)] = value
        rows.append(item)
    return rows


def _json_default(value):
    if isinstance(value, datetime):
        return (
            timezone.localtime(value).isoformat() if timezone.is_aware(value) else value.isoformat()
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    raise TypeError(f"Not serialisable: {type(value).__name__}")


README = """Vos données sur la plateforme de l'AMI « Financer le développement des PTCE »

- donnees.json : tout ce que la plateforme conserve sur vous (compte, adresses, rôles, PTCE et
  candidatures de vos équipes, évaluations et avis que vous avez rédigés, courriels envoyés,
  connexions ProConnect).
  Les dates sont à l'heure de Paris, les montants en euros.
- documents/ : les pièces justificatives des candidatures de vos PTCE, telles qu'elles ont été
  déposées.

Pour toute question sur vos données, consultez la page « Données personnelles » de la plateforme.
"""


def write_user_data(user, fileobj) -> None:
    """Write the ZIP of everything held about ``user`` to the binary file object ``fileobj``.
    The number of queries does not depend on the amount of data; files are copied in chunks."""
    addresses = email_addresses(user)
    data = {
        "format": EXPORT_FORMAT,
        "exporte_le": timezone.now(),
        "compte": _account_section(user),
        "adresses_electroniques": [
            {"adresse": a.email, "verifiee": a.verified, "principale": a.primary}
            for a in EmailAddress.objects.filter(user=user).order_by("-primary", "email")
        ],
        "roles": _roles_section(user),
        "invitations_dans_les_cellules": _cell_invitations_section(addresses),
        "courriels_envoyes": _emails_section(addresses),
    }
    mfa = _mfa_section(user)
    if mfa is not None:
        data["double_authentification"] = mfa
    impersonations = _impersonation_section(user)
    if impersonations is not None:
        data["connexions_de_l_equipe_a_votre_place"] = impersonations
    with zipfile.ZipFile(fileobj, "w", zipfile.ZIP_DEFLATED) as zip_file:
        archive = ExportArchive(zip_file)
        for contribution in contributions():
            if contribution.export:
                data[contribution.name] = contribution.export(user, archive)
        zip_file.writestr(
            JSON_NAME, json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)
        )
        zip_file.writestr(README_NAME, README)


def open_user_data(user):
    """The ZIP as a binary file positioned at its start (in memory up to 16 Mo, then on disk),
    for a streamed download. The caller closes it."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)
    try:
        write_user_data(user, spool)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def export_user_data(user) -> bytes:
    """The ZIP of everything held about ``user``, as bytes (small exports, tests)."""
    with open_user_data(user) as spool:
        return spool.read()


def export_filename(now=None) -> str:
    return f"mes-donnees-ami-ptce-{timezone.localtime(now or timezone.now()):%Y%m%d}.zip"


# --- Deletion ----------------------------------------------------------------------------------


def _cell_refusals(user) -> list[str]:
    """The last coordinator of a regional cell, or the last administrator of the national cell,
    of a call still running cannot leave: the cell would be left without anyone to act."""
    refusals = []
    others = RegionalCellMembership.objects.filter(
        cell=OuterRef("cell"), role=RegionalRole.COORDINATOR, user__is_active=True
    ).exclude(user=user)
    for membership in (
        RegionalCellMembership.objects.filter(user=user, role=RegionalRole.COORDINATOR)
        .exclude(cell__call__phase__in=FINISHED_PHASES)
        .filter(~Exists(others))
        .select_related("cell__call", "cell__region")
        .order_by("cell__call__year", "cell__region__name")
    ):
        refusals.append(
            f"Vous êtes la seule personne qui coordonne la cellule régionale "
            f"{membership.cell.region.name} de l'appel « {membership.cell.call.name} », qui est "
            "en cours : demandez à l'équipe Coorace de nommer une autre personne coordinatrice, "
            "puis supprimez votre compte."
        )
    others = NationalCellMembership.objects.filter(
        cell=OuterRef("cell"), role=NationalRole.ADMINISTRATOR, user__is_active=True
    ).exclude(user=user)
    for membership in (
        NationalCellMembership.objects.filter(user=user, role=NationalRole.ADMINISTRATOR)
        .exclude(cell__call__phase__in=FINISHED_PHASES)
        .filter(~Exists(others))
        .select_related("cell__call")
        .order_by("cell__call__year")
    ):
        refusals.append(
            "Vous êtes la seule personne qui administre la cellule nationale de l'appel "
            f"« {membership.cell.call.name} », qui est en cours : demandez à l'équipe Coorace de "
            "nommer une autre personne administratrice, puis supprimez votre compte."
        )
    return refusals


def deletion_refusals(user, *, withdraw: bool = False) -> list[str]:
    """Why ``user``'s account cannot be deleted now, in French; empty when it can. With
    ``withdraw``, the candidatures the user is the last one to follow count as withdrawn."""
    refusals = _cell_refusals(user)
    for contribution in contributions():
        if contribution.refusals:
            refusals.extend(contribution.refusals(user, withdraw=withdraw))
    return refusals


def deleted_email(user) -> str:
    return f"supprime-{user.pk}@{DELETED_EMAIL_DOMAIN}"


def _erase_outbox(addresses, placeholder: str) -> dict:
    """Emails not sent yet are dropped (there is nobody to send them to any more); the record of
    emails sent is kept — it proves decisions were notified — without the address."""
    rows = OutboxMessage.objects.filter(addressed_to("recipient", addresses))
    dropped, _ = rows.filter(state__in=[OutboxState.QUEUED, OutboxState.FAILED]).delete()
    kept = rows.update(recipient=placeholder)
    return {"courriels_annules": dropped, "courriels_anonymises": kept}


def _delete_authenticators(user) -> int:
    count = 0
    if apps.is_installed("allauth.mfa"):
        count, _ = apps.get_model("mfa", "Authenticator").objects.filter(user=user).delete()
    if apps.is_installed("allauth.usersessions"):
        apps.get_model("usersessions", "UserSession").objects.filter(user=user).delete()
    return count


def end_sessions(user_pk) -> int:
    """Delete the user's sessions from a database-backed session store. Other stores (cache,
    signed cookies) cannot be listed: there the unusable password already invalidates every
    session at its next request (Django checks the session's password hash)."""
    engine = import_module(settings.SESSION_ENGINE)
    store_class = engine.SessionStore
    if not hasattr(store_class, "get_model_class"):
        return 0
    decoder = store_class()
    keys = [
        key
        for key, data in store_class.get_model_class()
        .objects.filter(expire_date__gt=timezone.now())
        .values_list("session_key", "session_data")
        .iterator(chunk_size=2000)
        if decoder.decode(data).get(SESSION_KEY) == str(user_pk)
    ]
    for key in keys:
        store_class(session_key=key).delete()
    return len(keys)


def _anonymise(user) -> None:
    user.email = deleted_email(user)
    user.first_name = DELETED_USER_FIRST_NAME
    user.last_name = DELETED_USER_LAST_NAME
    user.organisation = ""
    user.organisation_siren = ""
    user.wants_reminders = False
    user.wants_digests = False
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.last_login = None
    user.set_unusable_password()
    user.save()
    user.groups.clear()
    user.user_permissions.clear()


def delete_account(user, actor=None, *, withdraw: bool = False) -> AccountDeletion:
    """Delete ``user``'s account at the request of ``actor`` (the user, or Coorace staff).

    Personal data is erased or anonymised: names, address (a unique placeholder on a
    non-routable domain), organisation, preferences, password (unusable), allauth addresses,
    second factors, sessions, memberships of PTCE teams and cells. Candidatures, reviews,
    opinions and decisions are kept and point to the anonymised row. ``withdraw`` confirms the
    withdrawal of the candidatures the user is the last one to follow.

    Raises ``PermissionDenied`` (another person's account, not staff) or ``ValidationError``
    with the French refusals (``deletion_refusals``). Returns the log entry."""
    actor = actor or user
    self_service = actor.pk == user.pk
    if not self_service and not is_staff(actor):
        raise PermissionDenied(
            "Seule l'équipe Coorace peut supprimer le compte d'une autre personne."
        )
    with audit.acting(actor), transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.is_deleted:
            raise ValidationError("Ce compte est déjà supprimé.")
        refusals = deletion_refusals(locked, withdraw=withdraw)
        if refusals:
            raise ValidationError(refusals)
        addresses = email_addresses(locked)
        summary = {}
        for contribution in contributions():
            if contribution.erase:
                summary[contribution.name] = contribution.erase(locked, actor, withdraw=withdraw)
        regional, _ = RegionalCellMembership.objects.filter(user=locked).delete()
        national, _ = NationalCellMembership.objects.filter(user=locked).delete()
        invitations, _ = CellInvitation.objects.filter(addressed_to("email", addresses)).delete()
        EmailAddress.objects.filter(user=locked).delete()
        summary["accounts"] = {
            "roles_retires": regional + national,
            "invitations_supprimees": invitations,
            "seconds_facteurs_supprimes": _delete_authenticators(locked),
            **_erase_outbox(addresses, deleted_email(locked)),
        }
        _anonymise(locked)
        deletion = AccountDeletion.objects.create(
            account=locked,
            self_service=self_service,
            actor=None if self_service else actor,
            summary=summary,
        )
        transaction.on_commit(partial(end_sessions, locked.pk), robust=True)
    logger.info(
        "Compte %s supprimé (%s)",
        locked.pk,
        "par la personne" if self_service else f"par {actor.pk}",
    )
    user.refresh_from_db()
    return deletion
