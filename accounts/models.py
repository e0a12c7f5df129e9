"""People and their roles: users (email login) and membership of regional and national cells."""

from datetime import timedelta

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.utils import timezone

from ami import audit


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("Une adresse électronique est obligatoire.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    email = models.EmailField("adresse électronique", unique=True)
    first_name = models.CharField("prénom", max_length=150, blank=True)
    last_name = models.CharField("nom", max_length=150, blank=True)
    organisation = models.CharField(
        "organisation",
        max_length=200,
        blank=True,
        help_text="Pour les membres des cellules : l'organisme auquel la personne appartient.",
    )
    organisation_siren = models.CharField(
        "SIREN de l'organisation",
        max_length=9,
        blank=True,
        help_text="Sert à signaler les conflits d'intérêts probables.",
    )
    wants_reminders = models.BooleanField(
        "recevoir les rappels",
        default=True,
        help_text="Rappels avant la clôture des dépôts et avant la fin des évaluations.",
    )
    wants_digests = models.BooleanField(
        "recevoir les récapitulatifs quotidiens",
        default=True,
        help_text="Récapitulatif des changements dans la région (coordinateurs).",
    )
    is_staff = models.BooleanField(
        "équipe Coorace",
        default=False,
        help_text="Accède à l'administration de la plateforme.",
    )
    is_active = models.BooleanField("actif", default=True)
    date_joined = models.DateTimeField("inscrit le", default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    class Meta:
        verbose_name = "utilisateur"
        verbose_name_plural = "utilisateurs"
        ordering = ["last_name", "first_name", "email"]
        permissions = [
            # Given to named staff members only (never implied by is_staff): see ImpersonationLog.
            ("can_act_as_user", "peut agir en tant qu'un utilisateur pour l'aider"),
        ]

    def __str__(self):
        return self.get_full_name() or self.email

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self):
        return self.first_name or self.email

    @property
    def is_deleted(self) -> bool:
        """Anonymised by ``accounts.personal_data.delete_account``."""
        return self.email.endswith("@" + DELETED_EMAIL_DOMAIN)


class RegionalRole(models.TextChoices):
    COORDINATOR = "coordinator", "coordinateur"
    EVALUATOR = "evaluator", "évaluateur"


class NationalRole(models.TextChoices):
    MEMBER = "member", "membre"
    ADMINISTRATOR = "administrator", "administrateur"


@audit.track()
class RegionalCell(models.Model):
    """Cellule régionale d'animation (CRA): one per region and call."""

    call = models.ForeignKey(
        "ami.Call", verbose_name="appel", on_delete=models.CASCADE, related_name="regional_cells"
    )
    region = models.ForeignKey(
        "ami.Region", verbose_name="région", on_delete=models.PROTECT, related_name="cells"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="RegionalCellMembership",
        related_name="regional_cells",
        verbose_name="membres",
    )

    class Meta:
        verbose_name = "cellule régionale (CRA)"
        verbose_name_plural = "cellules régionales (CRA)"
        ordering = ["call", "region__name"]
        constraints = [
            models.UniqueConstraint(fields=["call", "region"], name="one_regional_cell_per_region")
        ]

    def __str__(self):
        return f"CRA {self.region} – {self.call}"


@audit.track()
class RegionalCellMembership(models.Model):
    cell = models.ForeignKey(
        RegionalCell, verbose_name="cellule", on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="membre",
        on_delete=models.CASCADE,
        related_name="regional_memberships",
    )
    role = models.CharField("rôle", max_length=20, choices=RegionalRole)
    added_at = models.DateTimeField("ajouté le", default=timezone.now)

    class Meta:
        verbose_name = "membre de cellule régionale"
        verbose_name_plural = "membres de cellules régionales"
        constraints = [
            models.UniqueConstraint(fields=["cell", "user"], name="one_regional_membership")
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} – {self.cell}"


@audit.track()
class NationalCell(models.Model):
    """Cellule nationale d'animation (CNA): one per call."""

    call = models.OneToOneField(
        "ami.Call", verbose_name="appel", on_delete=models.CASCADE, related_name="national_cell"
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="NationalCellMembership",
        related_name="national_cells",
        verbose_name="membres",
    )

    class Meta:
        verbose_name = "cellule nationale (CNA)"
        verbose_name_plural = "cellules nationales (CNA)"

    def __str__(self):
        return f"CNA – {self.call}"


@audit.track()
class NationalCellMembership(models.Model):
    cell = models.ForeignKey(
        NationalCell, verbose_name="cellule", on_delete=models.CASCADE, related_name="memberships"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="membre",
        on_delete=models.CASCADE,
        related_name="national_memberships",
    )
    role = models.CharField("rôle", max_length=20, choices=NationalRole)
    added_at = models.DateTimeField("ajouté le", default=timezone.now)

    class Meta:
        verbose_name = "membre de cellule nationale"
        verbose_name_plural = "membres de cellules nationales"
        constraints = [
            models.UniqueConstraint(fields=["cell", "user"], name="one_national_membership")
        ]

    def __str__(self):
        return f"{self.user} – {self.get_role_display()} – {self.cell}"


def _invitation_expiry():
    return timezone.now() + timedelta(days=settings.CELL_INVITATION_DAYS)


class InvitationState(models.TextChoices):
    PENDING = "pending", "en attente"
    EXPIRED = "expired", "expirée"
    ACCEPTED = "accepted", "acceptée"
    REVOKED = "revoked", "révoquée"


# The address is left out of the history: deleting an account deletes the invitations sent to
# its addresses (accounts.personal_data) and nothing of the address stays in the audit trail.
@audit.track(exclude=["email"])
class CellInvitation(models.Model):
    """An invitation by email to join a regional cell (coordinator, evaluator) or the national
    cell (member, administrator) of a call, for a person with or without an account. It is
    accepted when the person signs up or logs in with that address, once verified
    (``accounts.invitations``); it expires, can be re-sent (new expiry) or revoked, and is used
    once."""

    email = models.EmailField("adresse électronique")
    regional_cell = models.ForeignKey(
        RegionalCell,
        verbose_name="cellule régionale",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
    )
    national_cell = models.ForeignKey(
        NationalCell,
        verbose_name="cellule nationale",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="invitations",
    )
    role = models.CharField(
        "rôle", max_length=20, choices=[*RegionalRole.choices, *NationalRole.choices]
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="invité par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    sent_at = models.DateTimeField("envoyée le", default=timezone.now)
    sent_count = models.PositiveSmallIntegerField("envois", default=1)
    expires_at = models.DateTimeField("expire le", default=_invitation_expiry)
    accepted_at = models.DateTimeField("acceptée le", null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="acceptée par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    revoked_at = models.DateTimeField("révoquée le", null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="révoquée par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "invitation dans une cellule"
        verbose_name_plural = "invitations dans les cellules"
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(regional_cell__isnull=False, national_cell__isnull=True)
                    | models.Q(regional_cell__isnull=True, national_cell__isnull=False)
                ),
                name="cell_invitation_one_cell",
            ),
            models.UniqueConstraint(
                fields=["regional_cell", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_regional_invitation",
            ),
            models.UniqueConstraint(
                fields=["national_cell", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="one_open_national_invitation",
            ),
        ]
        indexes = [models.Index(fields=["email"], name="cell_invitation_email")]

    def __str__(self):
        return f"{self.email} → {self.cell}"

    @property
    def cell(self):
        return self.regional_cell or self.national_cell

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.accepted_at is not None:
            return InvitationState.ACCEPTED
        if self.expires_at <= timezone.now():
            return InvitationState.EXPIRED
        return InvitationState.PENDING

    def get_state_display(self) -> str:
        return InvitationState(self.state).label

    @property
    def is_open(self) -> bool:
        """Neither accepted nor revoked (maybe expired: it can then be re-sent)."""
        return self.accepted_at is None and self.revoked_at is None


# Deleted accounts keep their row (candidatures, reviews and decisions point to it) under a
# placeholder address on a reserved, non-routable domain (RFC 2606 « .invalid »).
DELETED_EMAIL_DOMAIN = "compte-supprime.invalid"
DELETED_USER_FIRST_NAME = "Utilisateur"
DELETED_USER_LAST_NAME = "supprimé"


class AccountDeletion(models.Model):
    """Log of account deletions (``accounts.personal_data.delete_account``): which account, who
    asked, when. It holds no personal data: the account's row is anonymised."""

    account = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="compte (anonymisé)",
        on_delete=models.PROTECT,
        related_name="+",
    )
    self_service = models.BooleanField("à la demande de la personne", default=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="supprimé par (équipe Coorace)",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Vide quand la personne a supprimé son compte elle-même.",
    )
    at = models.DateTimeField("date", default=timezone.now)
    summary = models.JSONField(
        "bilan",
        default=dict,
        blank=True,
        help_text="Ce que chaque partie de la plateforme a retiré, supprimé ou gardé (nombres).",
    )

    class Meta:
        verbose_name = "suppression de compte"
        verbose_name_plural = "suppressions de comptes"
        ordering = ["-at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["account"], name="one_deletion_per_account")]

    def __str__(self):
        return f"Compte n° {self.account_id} supprimé le {timezone.localtime(self.at):%d/%m/%Y}"


class ImpersonationLog(models.Model):
    """A staff member acting as a user to help them (django-hijack, ``accounts.impersonation``):
    who, for whom, when and why. Shown to the user concerned on their dashboard and to the staff
    in the admin; never edited nor deleted."""

    hijacker = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="membre de l'équipe Coorace",
        on_delete=models.PROTECT,
        related_name="+",
    )
    hijacked = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="utilisateur aidé",
        on_delete=models.PROTECT,
        related_name="impersonations",
    )
    reason = models.TextField("motif")
    started_at = models.DateTimeField("début", default=timezone.now)
    ended_at = models.DateTimeField("fin", null=True, blank=True)

    class Meta:
        verbose_name = "session « agir en tant que »"
        verbose_name_plural = "sessions « agir en tant que »"
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["hijacked", "-started_at"])]

    def __str__(self):
        started = timezone.localtime(self.started_at)
        return f"{self.hijacker} pour {self.hijacked} le {started:%d/%m/%Y %H:%M}"


class SecondFactor(Authenticator):
    """allauth's second factors (TOTP, recovery codes) under French names for the staff's admin
    (allauth's model has none: Django would show « Authenticators »)."""

    class Meta:
        proxy = True
        verbose_name = "second facteur d'authentification"
        verbose_name_plural = "seconds facteurs d'authentification"
