"""PTCE (the applying organisation), its members and team, and its candidatures to calls:
answers, co-financing, documents and the append-only history of states."""

import secrets
from datetime import timedelta
from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import connection, models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from ami import audit
from ami.identifiers import validate_siret
from ami.models import BatchState


class PtceQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A PTCE's data is visible to its team (and to staff)."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        if user.is_staff:
            return self
        return self.filter(Exists(PtceMembership.objects.filter(ptce=OuterRef("pk"), user=user)))


@audit.track()
class Ptce(models.Model):
    name = models.CharField("nom", max_length=200)
    siret = models.CharField(
        "SIRET de la structure porteuse", max_length=14, blank=True, validators=[validate_siret]
    )
    legal_form = models.CharField("forme juridique", max_length=120, blank=True)
    naf_code = models.CharField("code NAF", max_length=10, blank=True)
    address = models.CharField("adresse", max_length=300, blank=True)
    postal_code = models.CharField("code postal", max_length=5, blank=True)
    seat_commune = models.ForeignKey(
        "ami.Commune",
        verbose_name="commune du siège",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    region = models.ForeignKey(
        "ami.Region",
        verbose_name="région",
        on_delete=models.PROTECT,
        related_name="ptces",
        help_text="Celle de la commune du siège.",
    )
    territory_communes = models.ManyToManyField(
        "ami.Commune", verbose_name="communes du territoire", blank=True, related_name="+"
    )
    year_created = models.PositiveSmallIntegerField(
        "année de création",
        null=True,
        blank=True,
        validators=[MinValueValidator(1900), MaxValueValidator(2100)],
    )
    website = models.URLField("site internet", blank=True)
    description = models.TextField("présentation du PTCE", blank=True)
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="PtceMembership",
        related_name="ptces",
        verbose_name="équipe",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="créé par",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField("créé le", default=timezone.now)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = PtceQuerySet.as_manager()

    class Meta:
        verbose_name = "PTCE"
        verbose_name_plural = "PTCE"
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if self.seat_commune_id:
            self.region_id = self.seat_commune.department.region_id
        super().save(*args, **kwargs)

    @property
    def siren(self) -> str:
        return self.siret[:9] if self.siret else ""

    def team_emails(self) -> list[str]:
        """Where the PTCE's notifications go: every active person of its team."""
        return list(self.users.filter(is_active=True).values_list("email", flat=True))


class MemberCategory(models.TextChoices):
    ESS_ENTERPRISE = "ess_enterprise", "entreprise de l'économie sociale et solidaire"
    NON_ESS_ENTERPRISE = "non_ess_enterprise", "entreprise hors ESS"
    LOCAL_AUTHORITY = "local_authority", "collectivité territoriale"
    RESEARCH = "research", "recherche ou enseignement supérieur"
    TRAINING = "training", "organisme de formation"
    OTHER = "other", "autre acteur"


class PtceMember(models.Model):
    """A legal person that is a member of the PTCE (loi ESS 2014, art. 9)."""

    ptce = models.ForeignKey(Ptce, on_delete=models.CASCADE, related_name="members")
    name = models.CharField("raison sociale", max_length=200)
    siret = models.CharField("SIRET", max_length=14, blank=True, validators=[validate_siret])
    category = models.CharField("catégorie", max_length=30, choices=MemberCategory)
    created_at = models.DateTimeField("ajouté le", default=timezone.now)

    class Meta:
        verbose_name = "membre du PTCE (personne morale)"
        verbose_name_plural = "membres du PTCE (personnes morales)"
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name

    @property
    def siren(self) -> str:
        return self.siret[:9] if self.siret else ""


class PtceMembership(models.Model):
    """A person of the PTCE's team, who may act on its candidatures."""

    ptce = models.ForeignKey(Ptce, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ptce_memberships"
    )
    is_referent = models.BooleanField("référent", default=False)
    joined_at = models.DateTimeField("membre depuis", default=timezone.now)

    class Meta:
        verbose_name = "membre de l'équipe du PTCE"
        verbose_name_plural = "membres de l'équipe du PTCE"
        constraints = [models.UniqueConstraint(fields=["ptce", "user"], name="one_ptce_membership")]

    def __str__(self):
        return f"{self.user} – {self.ptce}"


def _invitation_token():
    return secrets.token_urlsafe(32)


def _invitation_expiry():
    return timezone.now() + timedelta(days=30)


class PtceInvitation(models.Model):
    ptce = models.ForeignKey(Ptce, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField("adresse électronique")
    token = models.CharField(max_length=64, unique=True, default=_invitation_token)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField("envoyée le", default=timezone.now)
    expires_at = models.DateTimeField("expire le", default=_invitation_expiry)
    accepted_at = models.DateTimeField("acceptée le", null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = "invitation dans l'équipe"
        verbose_name_plural = "invitations dans l'équipe"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.email} → {self.ptce}"

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class CandidatureState(models.TextChoices):
    DRAFT = "draft", "brouillon"
    SUBMITTED = "submitted", "déposée"
    WITHDRAWN = "withdrawn", "retirée"
    ADMISSIBLE = "admissible", "recevable"
    INADMISSIBLE = "inadmissible", "irrecevable"
    COMPLEMENTS_REQUESTED = "complements_requested", "compléments demandés"
    REGIONAL_REVIEW_DONE = "regional_review_done", "avis régional rendu"
    LAUREATE = "laureate", "lauréate"
    NOT_SELECTED = "not_selected", "non retenue"


# What hides a submitted candidature from a cell member who would otherwise see it: functions
# ``user -> boolean expression on Candidature`` that higher apps register in their
# ``AppConfig.ready()`` (the review app: a blocking conflict of interest, DESIGN §3).
HIDING_RULES: list = []


def register_hiding_rule(rule) -> None:
    if rule not in HIDING_RULES:
        HIDING_RULES.append(rule)


class CandidatureQuerySet(models.QuerySet):
    def visible_to(self, user):
        """The one scoping rule for candidatures (DESIGN §3), used by every view and export:
        - applicants see their own PTCE's candidatures;
        - CRA members see their region's candidatures of their call, once submitted;
        - CNA members see every candidature of their call, once submitted;
        - staff see everything.
        """
        from accounts.models import NationalCellMembership, RegionalCellMembership

        if not (user.is_authenticated and user.is_active):
            return self.none()
        if user.is_staff:
            return self
        own = Exists(PtceMembership.objects.filter(ptce=OuterRef("ptce"), user=user))
        regional = Exists(
            RegionalCellMembership.objects.filter(
                user=user, cell__call=OuterRef("call"), cell__region=OuterRef("region")
            )
        )
        national = Exists(
            NationalCellMembership.objects.filter(user=user, cell__call=OuterRef("call"))
        )
        judged = Q(submitted_at__isnull=False) & (regional | national)
        for hides in HIDING_RULES:
            judged &= ~hides(user)
        return self.filter(own | judged)

    def of_applicant(self, user):
        """Candidatures of the PTCEs the user is in the team of (the applicant's own)."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        return self.filter(Exists(PtceMembership.objects.filter(ptce=OuterRef("ptce"), user=user)))


@audit.track(exclude=["snapshot"])
class Candidature(models.Model):
    ptce = models.ForeignKey(
        Ptce, verbose_name="PTCE", on_delete=models.PROTECT, related_name="candidatures"
    )
    call = models.ForeignKey(
        "ami.Call", verbose_name="appel", on_delete=models.PROTECT, related_name="candidatures"
    )
    region = models.ForeignKey(
        "ami.Region",
        verbose_name="région d'instruction",
        on_delete=models.PROTECT,
        related_name="candidatures",
    )
    state = models.CharField(
        "état", max_length=30, choices=CandidatureState, default=CandidatureState.DRAFT
    )
    # Answers (``candidatures.questionnaire``). The two the platform computes with stay typed
    # columns: the title (lists, letters, exports) and the requested amount (budget, selection,
    # envelope). Every other answer is in ``answers``, keyed by the slug of the call's question.
    title = models.CharField("intitulé du projet", max_length=200, blank=True)
    requested_amount = models.DecimalField(
        "montant demandé",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    answers = models.JSONField("réponses", default=dict, blank=True)
    # Progress and submission
    current_step = models.CharField("dernière étape ouverte", max_length=30, blank=True)
    cloned_from = models.ForeignKey(
        "self",
        verbose_name="reprise de",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    receipt_number = models.CharField(
        "numéro de dépôt", max_length=40, unique=True, null=True, blank=True
    )
    snapshot = models.JSONField("instantané au dépôt", null=True, blank=True, editable=False)
    # Territory flags frozen at submission (``submission.territory_flags``), for the call's
    # priorities: the national dashboard filters on them and the selection assistant uses them.
    is_rural = models.BooleanField("territoire rural", default=False)
    in_qpv = models.BooleanField("quartier prioritaire (QPV)", default=False)
    created_at = models.DateTimeField("créée le", default=timezone.now)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    submitted_at = models.DateTimeField("déposée le", null=True, blank=True)

    objects = CandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "candidature"
        verbose_name_plural = "candidatures"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["ptce", "call"], name="one_candidature_per_call")
        ]
        indexes = [models.Index(fields=["call", "region", "state"])]

    def __str__(self):
        return f"{self.ptce} – {self.call}"


class ThroughCandidatureQuerySet(models.QuerySet):
    """The scoping of a model that hangs on one candidature (documents, reviews, decisions…):
    a user reaches the rows of the candidatures ``Candidature.objects.visible_to`` lets them see,
    no others. Screen predicates (``permissions.py``) then add the role and the state."""

    candidature_field = "candidature"

    def visible_to(self, user):
        return self.filter(
            **{f"{self.candidature_field}__in": Candidature.objects.visible_to(user).values("pk")}
        )


class FundingStatus(models.TextChoices):
    ACQUIRED = "acquired", "acquis"
    REQUESTED = "requested", "sollicité"


class CofinancingLine(models.Model):
    candidature = models.ForeignKey(
        Candidature, on_delete=models.CASCADE, related_name="cofinancing_lines"
    )
    funder = models.CharField("financeur", max_length=200, blank=True)
    status = models.CharField(
        "statut", max_length=20, choices=FundingStatus, default=FundingStatus.REQUESTED
    )
    amount = models.DecimalField(
        "montant",
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )

    class Meta:
        verbose_name = "cofinancement"
        verbose_name_plural = "cofinancements"
        ordering = ["pk"]

    def __str__(self):
        return f"{self.funder} : {self.amount}"


def document_upload_path(document, filename):
    """Files live under an opaque name; the user's file name is kept in ``original_name``."""
    return f"candidatures/{document.candidature_id}/{secrets.token_hex(16)}"


@audit.track()
class Document(models.Model):
    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="documents")
    document_type = models.ForeignKey(
        "ami.DocumentType",
        verbose_name="type de pièce",
        on_delete=models.PROTECT,
        related_name="documents",
    )
    file = models.FileField("fichier", upload_to=document_upload_path, max_length=200)
    original_name = models.CharField("nom du fichier", max_length=200)
    size = models.PositiveBigIntegerField("taille (octets)")
    content_type = models.CharField("type de contenu", max_length=120)
    sha256 = models.CharField("empreinte SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="déposé par",
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    uploaded_at = models.DateTimeField("déposé le", default=timezone.now)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "pièce justificative"
        verbose_name_plural = "pièces justificatives"
        ordering = ["document_type__order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidature", "document_type"], name="one_document_per_type"
            )
        ]

    def __str__(self):
        return self.original_name


class CandidatureEvent(models.Model):
    """Append-only history of a candidature's states (DESIGN §4)."""

    candidature = models.ForeignKey(Candidature, on_delete=models.CASCADE, related_name="events")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    at = models.DateTimeField("date", default=timezone.now)
    from_state = models.CharField("de", max_length=30, choices=CandidatureState, blank=True)
    to_state = models.CharField("vers", max_length=30, choices=CandidatureState)
    comment = models.TextField("commentaire", blank=True)

    class Meta:
        verbose_name = "événement de candidature"
        verbose_name_plural = "historique des candidatures"
        ordering = ["at", "pk"]

    def __str__(self):
        start = self.get_from_state_display() if self.from_state else "création"
        return f"{self.candidature} : {start} → {self.get_to_state_display()}"


class ComplementRequest(models.Model):
    """A request for complements: the candidature goes back to the applicant, who may change
    only what is listed, until the due date (DESIGN §4)."""

    candidature = models.ForeignKey(
        Candidature, on_delete=models.CASCADE, related_name="complement_requests"
    )
    message = models.TextField("message au porteur")
    fields = ArrayField(
        models.CharField(max_length=40),
        verbose_name="rubriques concernées",
        default=list,
        blank=True,
    )
    document_types = models.ManyToManyField(
        "ami.DocumentType", verbose_name="pièces concernées", blank=True, related_name="+"
    )
    due_at = models.DateTimeField("à rendre avant le")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="demandé par",
        on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField("demandé le", default=timezone.now)
    answered_at = models.DateTimeField("complété le", null=True, blank=True)
    changes = models.JSONField("modifications apportées", null=True, blank=True)
    reminder_sent_at = models.DateTimeField("relance envoyée le", null=True, blank=True)

    class Meta:
        verbose_name = "demande de compléments"
        verbose_name_plural = "demandes de compléments"
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["candidature"],
                condition=Q(answered_at__isnull=True),
                name="one_open_complement_request",
            )
        ]

    def __str__(self):
        return f"Compléments – {self.candidature}"


class RegionMove(models.Model):
    """A candidature moved to another region's cell by a CNA administrator (logged)."""

    candidature = models.ForeignKey(
        Candidature, on_delete=models.CASCADE, related_name="region_moves"
    )
    from_region = models.ForeignKey(
        "ami.Region", verbose_name="de", on_delete=models.PROTECT, related_name="+"
    )
    to_region = models.ForeignKey(
        "ami.Region", verbose_name="vers", on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField("motif")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="auteur", on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField("date", default=timezone.now)

    class Meta:
        verbose_name = "changement de région"
        verbose_name_plural = "changements de région"
        ordering = ["-at"]

    def __str__(self):
        return f"{self.candidature} : {self.from_region_id} → {self.to_region_id}"


class LetterKind(models.TextChoices):
    LAUREATE = "laureate", "lauréat"
    NOT_SELECTED = "not_selected", "non retenu"
    INADMISSIBLE = "inadmissible", "irrecevable"


@audit.track()
class LetterTemplate(models.Model):
    """The letter sent for one kind of decision of one call, written by staff with named
    placeholders (``candidatures.letters``); a call without one uses the default letter."""

    call = models.ForeignKey(
        "ami.Call", verbose_name="appel", on_delete=models.CASCADE, related_name="letters"
    )
    kind = models.CharField("type de décision", max_length=15, choices=LetterKind)
    subject = models.CharField("objet du courriel", max_length=250)
    body = models.TextField("texte de la lettre")
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    class Meta:
        verbose_name = "modèle de lettre"
        verbose_name_plural = "modèles de lettres"
        constraints = [
            models.UniqueConstraint(fields=["call", "kind"], name="one_letter_per_call_and_kind")
        ]

    def __str__(self):
        return f"Lettre « {self.get_kind_display()} » – {self.call}"

    def clean(self):
        from .letters import template_errors

        errors = template_errors(self.subject, self.body)
        if errors:
            raise ValidationError(errors)


# --- Messaging (issue 15): the thread with the applicant, and the cells' internal notes -------


def attachment_upload_path(message, filename):
    """Like documents: an opaque name; the user's file name is kept in ``attachment_name``."""
    return f"candidatures/{message.candidature_id}/messages/{secrets.token_hex(16)}"


class MessageSide(models.TextChoices):
    APPLICANT = "applicant", "porteur"
    REGIONAL = "regional", "cellule régionale"
    NATIONAL = "national", "cellule nationale"
    STAFF = "staff", "équipe Coorace"


# Rows of the thread and of the notes are never changed nor removed (issue 15): the database
# refuses it whoever asks (the admin, a shell, raw SQL). The audit trail keeps each insert.
APPEND_ONLY = pgtrigger.Protect(name="append_only", operation=pgtrigger.Update | pgtrigger.Delete)
# A message's one allowed change: the retention job (candidatures.retention) deletes its
# attachment's file and blanks the field, stamping ``attachment_purged_at``, once and with every
# other column unchanged; any other update is refused like before.
ATTACHMENT_PURGE_ONLY = pgtrigger.Condition(
    "NOT (OLD.attachment <> '' AND NEW.attachment = '' "
    "AND OLD.attachment_purged_at IS NULL AND NEW.attachment_purged_at IS NOT NULL "
    "AND (to_jsonb(NEW) - 'attachment' - 'attachment_purged_at') "
    "= (to_jsonb(OLD) - 'attachment' - 'attachment_purged_at'))"
)


class MessageQuerySet(ThroughCandidatureQuerySet):
    def shown(self):
        """What the thread shows: every message, except those of a bulk send still held for
        review (or discarded): they appear once their batch is sent (``ami.batches``)."""
        return self.filter(Q(batch__isnull=True) | Q(batch__state=BatchState.SENT))


@audit.track(exclude=["attachment"])
class Message(models.Model):
    """One message of the thread between the applicant's team and the cells (« messagerie »).
    Plain text, shown escaped; an optional attachment checked like the documents."""

    candidature = models.ForeignKey(Candidature, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        on_delete=models.PROTECT,
        related_name="+",
    )
    side = models.CharField("au nom de", max_length=10, choices=MessageSide)
    text = models.TextField("message")
    attachment = models.FileField(
        "pièce jointe", upload_to=attachment_upload_path, max_length=200, blank=True
    )
    attachment_name = models.CharField("nom de la pièce jointe", max_length=200, blank=True)
    attachment_size = models.PositiveBigIntegerField("taille (octets)", null=True, blank=True)
    attachment_type = models.CharField("type de contenu", max_length=120, blank=True)
    attachment_sha256 = models.CharField("empreinte SHA-256", max_length=64, blank=True)
    attachment_purged_at = models.DateTimeField(
        "pièce jointe supprimée le",
        null=True,
        blank=True,
        help_text="Fichier supprimé à l'échéance de la durée de conservation ; le nom, la taille "
        "et l'empreinte restent.",
    )
    batch = models.ForeignKey(
        "ami.OutboxBatch",
        verbose_name="envoi groupé",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="Message écrit à plusieurs porteurs : affiché une fois l'envoi groupé parti.",
    )
    created_at = models.DateTimeField("écrit le", default=timezone.now, db_index=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        verbose_name = "message"
        verbose_name_plural = "messages"
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["candidature", "created_at"])]
        triggers = [
            pgtrigger.Protect(name="no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="append_only", operation=pgtrigger.Update, condition=ATTACHMENT_PURGE_ONLY
            ),
        ]

    def __str__(self):
        return f"Message {self.pk} – {self.candidature_id}"


class InternalNoteQuerySet(ThroughCandidatureQuerySet):
    pass


# The text stays out of the audit table (read by staff in the admin): the row itself never
# changes, and its insertion (who, when) is what the trail keeps.
@audit.track(exclude=["text"])
class InternalNote(models.Model):
    """An annotation of the cells on a candidature (« note interne »): the region's cell and the
    CNA of the call read it; the applicant never does, nor any email, letter or export."""

    candidature = models.ForeignKey(
        Candidature, on_delete=models.PROTECT, related_name="internal_notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        on_delete=models.PROTECT,
        related_name="+",
    )
    side = models.CharField("au nom de", max_length=10, choices=MessageSide)
    text = models.TextField("note")
    created_at = models.DateTimeField("écrite le", default=timezone.now)

    objects = InternalNoteQuerySet.as_manager()

    class Meta:
        verbose_name = "note interne"
        verbose_name_plural = "notes internes"
        ordering = ["created_at", "pk"]
        triggers = [APPEND_ONLY]

    def __str__(self):
        return f"Note interne {self.pk} – {self.candidature_id}"


class ThreadReadMarker(models.Model):
    """Up to which message a person has read a candidature's thread (unread counts)."""

    candidature = models.ForeignKey(
        Candidature, on_delete=models.CASCADE, related_name="read_markers"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    last_read_id = models.BigIntegerField("dernier message lu", default=0)
    read_at = models.DateTimeField("lu le", default=timezone.now)

    class Meta:
        verbose_name = "lecture de la messagerie"
        verbose_name_plural = "lectures de la messagerie"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "user"], name="one_read_marker")
        ]

    def __str__(self):
        return f"{self.user_id} a lu {self.candidature_id} jusqu'à {self.last_read_id}"


# The rows a write to a candidature locks for update: the candidature and its PTCE; its call
# (whose phase and deadline are checked) is held in share mode first (``share_lock_call``).
LOCK_OF = ("self", "ptce")


def share_lock_call(candidature_pk) -> None:
    """Take the candidature's call row in share mode for the rest of the transaction, before
    the candidature is read and locked for a write (its own row and its PTCE's ``FOR UPDATE``).

    A write checks the call's phase and deadline; sharing the lock lets every applicant's save
    and submission of the call run side by side (``FOR UPDATE`` on the call made them wait for
    each other, one at a time, at the deadline rush), while a phase move (``set_phase`` locks the
    row for update) or an edit of the call waits for the writes under way, and they for it. Taken
    first, so that the candidature's read sees the call as it stands once the lock is held."""
    call_table = connection.ops.quote_name(
        Candidature._meta.get_field("call").related_model._meta.db_table
    )
    candidature_table = connection.ops.quote_name(Candidature._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {call_table} WHERE id = "  # noqa: S608 - table names from _meta
            f"(SELECT call_id FROM {candidature_table} WHERE id = %s) FOR SHARE",
            [candidature_pk],
        )


def lock_for_write(candidature_pk) -> "Candidature":
    """The candidature read for a write, in the caller's transaction: its call held in share
    mode, then the candidature and its PTCE locked for update (``LOCK_OF``), call and PTCE read
    with it. The one way drafting and the transition function lock a candidature (the
    applicant's views do the same through their compiled lookup, ``own_candidature_or_404``)."""
    share_lock_call(candidature_pk)
    return (
        Candidature.objects.select_for_update(of=LOCK_OF)
        .select_related("call", "ptce")
        .get(pk=candidature_pk)
    )
