"""The call itself (edition, grid, required documents, phase history), the territory referential
and the notification outbox."""

from decimal import Decimal

import pgtrigger
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex, OpClass
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from ami import audit
from ami.identifiers import validate_siret

# --- The call -------------------------------------------------------------------------------


class Phase(models.TextChoices):
    DRAFT = "draft", "en préparation"
    OPEN = "open", "candidatures ouvertes"
    REGIONAL_REVIEW = "regional_review", "instruction régionale"
    NATIONAL_REVIEW = "national_review", "instruction nationale"
    DELIBERATED = "deliberated", "délibéré"
    PUBLISHED = "published", "résultats publiés"
    ARCHIVED = "archived", "archivé"


PHASE_ORDER = [choice.value for choice in Phase]


class CallQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Calls a user may see: every published-to-the-world call (anything past draft);
        drafts only for staff."""
        if user.is_authenticated and user.is_staff:
            return self
        return self.exclude(phase=Phase.DRAFT)

    def current(self):
        """The edition shown on the home page: the most recent one past draft and not archived."""
        return (
            self.exclude(phase__in=[Phase.DRAFT, Phase.ARCHIVED])
            .order_by("-year", "-opens_at")
            .first()
        )


@audit.track()
class Call(models.Model):
    name = models.CharField("nom", max_length=200)
    slug = models.SlugField("identifiant", max_length=80, unique=True)
    year = models.PositiveSmallIntegerField("année")
    phase = models.CharField("phase", max_length=20, choices=Phase, default=Phase.DRAFT)
    description = models.TextField("présentation", blank=True)
    text_url = models.URLField(
        "texte de l'appel",
        blank=True,
        help_text="Adresse du texte officiel complet de l'appel (cahier des charges), lié depuis "
        "la page d'accueil.",
    )
    eligibility_rules = models.TextField(
        "règles d'éligibilité",
        blank=True,
        help_text="Une règle par ligne ; affichées sur la page publique de l'appel.",
    )
    opens_at = models.DateTimeField("ouverture des candidatures")
    closes_at = models.DateTimeField("clôture des candidatures")
    regional_review_deadline = models.DateTimeField("fin de l'instruction régionale")
    national_review_deadline = models.DateTimeField("fin de l'instruction nationale")
    envelope = models.DecimalField(
        "enveloppe", max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    min_amount = models.DecimalField(
        "montant minimum par lauréat",
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )
    max_amount = models.DecimalField(
        "montant maximum par lauréat",
        max_digits=12,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )
    priority_rural = models.BooleanField("priorité territoires ruraux", default=False)
    priority_qpv = models.BooleanField("priorité quartiers prioritaires (QPV)", default=False)
    other_priorities = models.TextField("autres priorités", blank=True)
    reviews_per_candidature = models.PositiveSmallIntegerField(
        "évaluations par candidature", default=2, validators=[MinValueValidator(1)]
    )
    disagreement_threshold = models.DecimalField(
        "seuil de désaccord (écart de notes sur 100)",
        max_digits=5,
        decimal_places=2,
        default=Decimal("20"),
    )
    reviews_visible_before_submit = models.BooleanField(
        "les évaluateurs voient les autres évaluations avant d'avoir rendu la leur",
        default=False,
    )
    granting_body_name = models.CharField(
        "nom de l'attribuant",
        max_length=200,
        blank=True,
        help_text="Publié dans les données ouvertes des subventions (SCDL).",
    )
    granting_body_siret = models.CharField(
        "SIRET de l'attribuant", max_length=14, blank=True, validators=[validate_siret]
    )
    subsidy_payment_terms = models.CharField(
        "conditions de versement",
        max_length=256,
        default="unique",
        help_text="« unique », « échelonné » ou un texte libre ; publié dans les données ouvertes "
        "des subventions (SCDL).",
    )
    subsidy_payment_start = models.DateField(
        "versement : date ou début de la période",
        null=True,
        blank=True,
        help_text="Vide : la date de publication des résultats.",
    )
    subsidy_payment_end = models.DateField(
        "versement : fin de la période",
        null=True,
        blank=True,
        help_text="Seulement pour une période de versement ; vide pour une date unique.",
    )
    # What the decision letters and the « notification d'attribution » say (issue 16).
    grant_conditions = models.TextField(
        "conditions d'attribution",
        blank=True,
        help_text="Reprises dans la lettre aux lauréats et la notification d'attribution "
        "(convention, versement, justificatifs, compte rendu d'exécution…).",
    )
    decision_contact = models.CharField(
        "contact pour les décisions",
        max_length=300,
        blank=True,
        help_text="Service et adresse à qui écrire au sujet de la décision ; repris dans les "
        "lettres.",
    )
    signatory_name = models.CharField("nom du signataire", max_length=200, blank=True)
    signatory_title = models.CharField(
        "qualité du signataire",
        max_length=200,
        blank=True,
        help_text="Par exemple « Le délégué ministériel à l'économie sociale et solidaire ».",
    )
    created_at = models.DateTimeField("créé le", auto_now_add=True)
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = CallQuerySet.as_manager()

    class Meta:
        verbose_name = "appel"
        verbose_name_plural = "appels"
        ordering = ["-year", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(closes_at__gt=F("opens_at")),
                name="call_closes_after_opening",
                violation_error_message="La clôture doit suivre l'ouverture.",
            ),
            models.CheckConstraint(
                condition=Q(max_amount__gte=F("min_amount")),
                name="call_amount_range",
                violation_error_message="Le montant maximum doit être au moins le minimum.",
            ),
            models.CheckConstraint(
                condition=Q(subsidy_payment_end__isnull=True)
                | Q(
                    subsidy_payment_start__isnull=False,
                    subsidy_payment_end__gte=F("subsidy_payment_start"),
                ),
                name="call_subsidy_payment_period",
                violation_error_message="La fin de la période de versement doit suivre son début.",
            ),
        ]

    def __str__(self):
        return self.name

    def accepts_submissions(self, at=None) -> bool:
        """Server-side deadline: open phase and within [opens_at, closes_at)."""
        at = at or timezone.now()
        return self.phase == Phase.OPEN and self.opens_at <= at < self.closes_at

    @property
    def eligibility_rule_list(self) -> list[str]:
        return [line.strip() for line in self.eligibility_rules.splitlines() if line.strip()]


class CallPhaseChange(models.Model):
    """Append-only log of phase changes, by hand or by the calendar."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="phase_changes")
    from_phase = models.CharField("de", max_length=20, choices=Phase)
    to_phase = models.CharField("vers", max_length=20, choices=Phase)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="auteur",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        help_text="Vide quand le calendrier a changé la phase.",
    )
    comment = models.TextField("commentaire", blank=True)
    at = models.DateTimeField("date", default=timezone.now)

    class Meta:
        verbose_name = "changement de phase"
        verbose_name_plural = "changements de phase"
        ordering = ["-at"]

    def __str__(self):
        return f"{self.call} : {self.get_from_phase_display()} → {self.get_to_phase_display()}"


# --- Frozen once open -------------------------------------------------------------------------
# A call's questionnaire, grid and required documents may change while the call is in draft only
# (DESIGN §4). ``FrozenOnceOpen.clean()`` gives the admin its French message; the PostgreSQL
# trigger below refuses the change whatever writes it (a form, a shell, ``QuerySet.update()``,
# ``bulk_create``, raw SQL): the call's phase is read in the same statement.

FROZEN_MESSAGE = (
    "L'appel « {call} » est ouvert : son questionnaire, sa grille d'évaluation et ses pièces "
    "demandées ne peuvent plus être modifiés."
)

_FROZEN_FUNC = """
DECLARE
    call_phase text;
    call_name text;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = OLD.call_id;
        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(
                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '
                'pièces demandées ne peuvent plus être modifiés.', call_name);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = NEW.call_id;
        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(
                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '
                'pièces demandées ne peuvent plus être modifiés.', call_name);
        END IF;
        {extra}
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
"""


def frozen_once_open(name: str, extra: str = "") -> pgtrigger.Trigger:
    """The database guard of a table holding a ``call_id``: no insert, update or delete of a row
    of a call that is not in draft."""
    return pgtrigger.Trigger(
        name=name,
        when=pgtrigger.Before,
        operation=pgtrigger.Insert | pgtrigger.Update | pgtrigger.Delete,
        func=_FROZEN_FUNC.replace("{extra}", extra),
    )


class FrozenOnceOpen(models.Model):
    """A piece of a call's configuration: editable while the call is in draft only."""

    class Meta:
        abstract = True

    def clean(self):
        super().clean()
        call = getattr(self, "call", None) if self.call_id else None
        if call is not None and call.phase != Phase.DRAFT:
            raise ValidationError(FROZEN_MESSAGE.format(call=call))
        if self.pk and call is not None:
            stored_call = (
                type(self).objects.filter(pk=self.pk).values_list("call__phase", flat=True)
            )
            if any(phase != Phase.DRAFT for phase in stored_call):
                raise ValidationError(FROZEN_MESSAGE.format(call=call))


@audit.track()
class Criterion(FrozenOnceOpen):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="criteria")
    label = models.CharField("libellé", max_length=200)
    guidance = models.TextField("aide à l'évaluation", blank=True)
    weight = models.DecimalField(
        "pondération",
        max_digits=5,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    scale_min = models.PositiveSmallIntegerField("note minimale", default=0)
    scale_max = models.PositiveSmallIntegerField("note maximale", default=5)
    allows_not_applicable = models.BooleanField("« non applicable » permis", default=False)
    order = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "critère"
        verbose_name_plural = "critères"
        ordering = ["call", "order", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scale_max__gt=F("scale_min")),
                name="criterion_scale",
                violation_error_message="La note maximale doit dépasser la note minimale.",
            ),
        ]
        triggers = [frozen_once_open("criterion_frozen_once_open")]

    def __str__(self):
        return self.label


class FileFormat(models.TextChoices):
    PDF = "pdf", "PDF"
    DOCX = "docx", "Word (.docx)"
    ODT = "odt", "OpenDocument texte (.odt)"
    XLSX = "xlsx", "Excel (.xlsx)"
    ODS = "ods", "OpenDocument tableur (.ods)"
    PNG = "png", "image PNG"
    JPEG = "jpeg", "image JPEG"


@audit.track()
class DocumentType(FrozenOnceOpen):
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="document_types")
    label = models.CharField("libellé", max_length=200)
    description = models.TextField("description", blank=True)
    mandatory = models.BooleanField("obligatoire", default=True)
    allowed_formats = ArrayField(
        models.CharField(max_length=10, choices=FileFormat),
        verbose_name="formats acceptés",
        default=list,
    )
    max_size_mb = models.PositiveSmallIntegerField(
        "taille maximale (Mo)", default=10, validators=[MinValueValidator(1)]
    )
    order = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "type de pièce justificative"
        verbose_name_plural = "types de pièces justificatives"
        ordering = ["call", "order", "pk"]
        triggers = [frozen_once_open("document_type_frozen_once_open")]

    def __str__(self):
        return self.label

    @property
    def allowed_formats_display(self) -> str:
        labels = dict(FileFormat.choices)
        return ", ".join(labels.get(code, code) for code in self.allowed_formats)


# --- The questionnaire (DESIGN §2: data, not code) --------------------------------------------
# Sections are the steps of the applicant's stepper; questions are typed. Answers live on the
# candidature (``Candidature.answers``, keyed by the question's slug), except the two the platform
# computes with, kept as typed columns: the title and the requested amount
# (``candidatures.questionnaire`` is the one module that reads and writes answers).

# Step slugs the platform itself uses, and names that a question cannot take (typed columns,
# form controls of the step page).
RESERVED_SECTION_SLUGS = {"pieces", "recapitulatif"}
RESERVED_QUESTION_SLUGS = {
    "title",
    "requested_amount",
    "go",
    "save",
    "add_line",
    "delete_line",
    "csrfmiddlewaretoken",
}


class SectionKind(models.TextChoices):
    QUESTIONS = "questions", "questions"
    BUDGET = "budget", "budget (montant demandé et cofinancements, puis les questions)"


class Section(FrozenOnceOpen):
    call = models.ForeignKey(
        Call, verbose_name="appel", on_delete=models.CASCADE, related_name="sections"
    )
    title = models.CharField("titre", max_length=120)
    slug = models.SlugField(
        "identifiant",
        max_length=40,
        help_text="Dans l'adresse de l'étape, par exemple « projet ». Stable d'une édition à "
        "l'autre.",
    )
    kind = models.CharField(
        "nature", max_length=20, choices=SectionKind, default=SectionKind.QUESTIONS
    )
    order = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "rubrique du questionnaire"
        verbose_name_plural = "rubriques du questionnaire"
        ordering = ["call", "order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "slug"],
                name="one_section_slug_per_call",
                violation_error_message="Une autre rubrique de cet appel a cet identifiant.",
            ),
            models.UniqueConstraint(
                fields=["call"],
                condition=Q(kind="budget"),
                name="one_budget_section_per_call",
                violation_error_message="L'appel a déjà une rubrique budget.",
            ),
        ]
        triggers = [frozen_once_open("section_frozen_once_open")]

    def __str__(self):
        return self.title

    def clean(self):
        super().clean()
        if self.slug in RESERVED_SECTION_SLUGS:
            raise ValidationError(
                {"slug": f"L'identifiant « {self.slug} » est réservé à une étape de la plateforme."}
            )


class QuestionKind(models.TextChoices):
    SHORT_TEXT = "short_text", "texte court"
    LONG_TEXT = "long_text", "texte long"
    INTEGER = "integer", "nombre entier"
    AMOUNT = "amount", "montant en euros"
    YES_NO = "yes_no", "oui / non"
    SINGLE_CHOICE = "single_choice", "choix unique"
    MULTIPLE_CHOICE = "multiple_choice", "choix multiple"
    DATE = "date", "date"
    URL = "url", "adresse internet"
    EMAIL = "email", "adresse électronique"


CHOICE_KINDS = {QuestionKind.SINGLE_CHOICE, QuestionKind.MULTIPLE_CHOICE}
TEXT_KINDS = {QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT}


class Question(FrozenOnceOpen):
    call = models.ForeignKey(
        Call, verbose_name="appel", on_delete=models.CASCADE, related_name="questions",
        editable=False,
    )  # fmt: skip
    section = models.ForeignKey(
        Section, verbose_name="rubrique", on_delete=models.CASCADE, related_name="questions"
    )
    slug = models.SlugField(
        "identifiant",
        max_length=50,
        help_text="Unique dans le questionnaire et stable d'une édition à l'autre : les réponses "
        "sont reprises d'une édition à la suivante par cet identifiant.",
    )
    label = models.CharField("libellé", max_length=300)
    help_text = models.TextField("aide", blank=True)
    kind = models.CharField("type de réponse", max_length=20, choices=QuestionKind)
    required = models.BooleanField("obligatoire", default=True)
    max_length = models.IntegerField(
        "nombre maximal de caractères",
        null=True,
        blank=True,
        help_text="Pour les textes ; vide : 300 pour un texte court, sans limite pour un long.",
    )
    choices = models.TextField(
        "réponses proposées", blank=True, help_text="Pour les choix : une réponse par ligne."
    )
    order = models.PositiveSmallIntegerField("ordre", default=0)

    class Meta:
        verbose_name = "question"
        verbose_name_plural = "questions"
        ordering = ["call", "section__order", "section", "order", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["call", "slug"],
                name="one_question_slug_per_call",
                violation_error_message="Une autre question du questionnaire a cet identifiant.",
            ),
        ]
        triggers = [
            frozen_once_open(
                "question_frozen_once_open",
                extra="""IF NEW.call_id IS DISTINCT FROM (
            SELECT call_id FROM ami_section WHERE id = NEW.section_id) THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = 'Une question appartient à l''appel de sa rubrique.';
        END IF;""",
            )
        ]

    def __str__(self):
        return self.label

    def save(self, *args, **kwargs):
        if self.section_id and not self.call_id:
            self.call_id = self.section.call_id
        super().save(*args, **kwargs)

    @property
    def choice_list(self) -> list[str]:
        return [line.strip() for line in self.choices.splitlines() if line.strip()]

    def clean(self):
        if self.section_id:
            self.call_id = self.section.call_id
        super().clean()
        errors = {}
        if self.slug in RESERVED_QUESTION_SLUGS or (self.slug or "").startswith("line-"):
            errors["slug"] = f"L'identifiant « {self.slug} » est réservé par la plateforme."
        elif (
            self.call_id
            and self.slug
            and Question.objects.filter(call_id=self.call_id, slug=self.slug)
            .exclude(pk=self.pk)
            .exists()
        ):
            errors["slug"] = f"Une autre question du questionnaire a l'identifiant « {self.slug} »."
        if self.kind in CHOICE_KINDS and not self.choice_list:
            errors["choices"] = "Une question à choix doit proposer au moins une réponse."
        if self.kind in CHOICE_KINDS and len(set(self.choice_list)) != len(self.choice_list):
            errors["choices"] = "Une même réponse est proposée deux fois."
        if self.max_length is not None and self.max_length <= 0:
            errors["max_length"] = "La limite doit être d'au moins un caractère."
        if self.max_length is not None and self.kind not in TEXT_KINDS:
            errors["max_length"] = "Une limite de caractères ne vaut que pour un texte."
        if errors:
            raise ValidationError(errors)

    @property
    def limit(self) -> int | None:
        """The character limit of a text answer."""
        if self.max_length:
            return self.max_length
        return 300 if self.kind == QuestionKind.SHORT_TEXT else None


# --- Territory referential -------------------------------------------------------------------


class Region(models.Model):
    code = models.CharField("code INSEE", max_length=2, primary_key=True)
    name = models.CharField("nom", max_length=100)

    class Meta:
        verbose_name = "région"
        verbose_name_plural = "régions"
        ordering = ["name"]

    def __str__(self):
        return self.name


class Department(models.Model):
    code = models.CharField("code INSEE", max_length=3, primary_key=True)
    name = models.CharField("nom", max_length=100)
    region = models.ForeignKey(
        Region, verbose_name="région", on_delete=models.PROTECT, related_name="departments"
    )

    class Meta:
        verbose_name = "département"
        verbose_name_plural = "départements"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} – {self.name}"


class Density(models.IntegerChoices):
    """INSEE communal density grid, four levels."""

    DENSE = 1, "densément peuplée"
    INTERMEDIATE = 2, "densité intermédiaire"
    LOW = 3, "peu dense"
    VERY_LOW = 4, "très peu dense"


RURAL_DENSITIES = (Density.LOW, Density.VERY_LOW)


class SearchName(models.Func):
    """The form a commune name is searched in: lower case, without accents (PostgreSQL's
    ``unaccent``), every run of other characters than letters and digits as one space
    (« Saint-Étienne » → « saint etienne »). ``ami_search_name`` is created by migration 0010,
    IMMUTABLE so that the trigram index of ``Commune`` can be built on it."""

    function = "ami_search_name"
    output_field = models.TextField()


class CommuneQuerySet(models.QuerySet):
    def with_search_name(self):
        return self.annotate(search_name=SearchName("name"))


class Commune(models.Model):
    code = models.CharField("code INSEE", max_length=5, primary_key=True)
    name = models.CharField("nom", max_length=200)
    department = models.ForeignKey(
        Department, verbose_name="département", on_delete=models.PROTECT, related_name="communes"
    )
    density = models.PositiveSmallIntegerField(
        "niveau de densité", choices=Density, null=True, blank=True
    )

    objects = CommuneQuerySet.as_manager()

    class Meta:
        verbose_name = "commune"
        verbose_name_plural = "communes"
        ordering = ["name", "code"]
        indexes = [
            models.Index(fields=["name"]),
            # Accent-insensitive search by equality and trigram similarity (ami.territory).
            GinIndex(
                OpClass(SearchName("name"), name="gin_trgm_ops"), name="ami_commune_search_trgm"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.department_id})"

    @property
    def is_rural(self) -> bool:
        return self.density in RURAL_DENSITIES


class Qpv(models.Model):
    """Quartier prioritaire de la politique de la ville."""

    code = models.CharField("code", max_length=8, primary_key=True)
    name = models.CharField("nom", max_length=200)
    communes = models.ManyToManyField(Commune, verbose_name="communes", related_name="qpvs")

    class Meta:
        verbose_name = "quartier prioritaire (QPV)"
        verbose_name_plural = "quartiers prioritaires (QPV)"
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} – {self.name}"


# --- Notification outbox ---------------------------------------------------------------------


class OutboxState(models.TextChoices):
    HELD = "held", "retenu (envoi groupé à valider)"
    QUEUED = "queued", "en attente"
    SENDING = "sending", "en cours d'envoi"
    SENT = "sent", "envoyé"
    FAILED = "failed", "échec"
    DISCARDED = "discarded", "écarté"


class BatchState(models.TextChoices):
    HELD = "held", "à valider"
    SENT = "sent", "envoyé"
    DISCARDED = "discarded", "abandonné"


class OutboxBatch(models.Model):
    """A send to several recipients started by a person (publication of the results, a message
    to every applicant of a call or a region): its emails are held until staff or the call's CNA
    administrator preview them, edit or discard some, and send the rest (``ami.batches``)."""

    label = models.CharField("envoi", max_length=200)
    event = models.CharField("événement", max_length=80)
    call = models.ForeignKey(
        Call,
        verbose_name="appel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="batches",
    )
    state = models.CharField("état", max_length=10, choices=BatchState, default=BatchState.HELD)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField("préparé le", default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField("envoyé ou abandonné le", null=True, blank=True)

    class Meta:
        verbose_name = "envoi groupé"
        verbose_name_plural = "envois groupés"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.label} ({self.created_at:%d/%m/%Y})"

    @property
    def is_held(self) -> bool:
        return self.state == BatchState.HELD


class OutboxMessage(models.Model):
    """One email, saved in the transaction that caused it and sent after commit by a task."""

    recipient = models.EmailField("destinataire")
    subject = models.CharField("objet", max_length=300)
    body_text = models.TextField("texte")
    body_html = models.TextField("HTML", blank=True)
    event = models.CharField("événement", max_length=80, db_index=True)
    call = models.ForeignKey(
        Call,
        verbose_name="appel",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="messages",
    )
    related_type = models.ForeignKey(
        ContentType,
        verbose_name="type de l'objet concerné",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
    )
    related_id = models.CharField("numéro de l'objet concerné", max_length=64, blank=True)
    related = GenericForeignKey("related_type", "related_id")
    state = models.CharField("état", max_length=10, choices=OutboxState, default=OutboxState.QUEUED)
    attempts = models.PositiveSmallIntegerField("tentatives", default=0)
    last_error = models.TextField("dernière erreur", blank=True)
    created_at = models.DateTimeField("créé le", default=timezone.now)
    sending_started_at = models.DateTimeField("envoi commencé le", null=True, blank=True)
    next_attempt_at = models.DateTimeField(
        "prochaine tentative",
        null=True,
        blank=True,
        help_text="Pas avant cette heure (nouvel essai après une erreur temporaire, débit limité).",
    )
    sent_at = models.DateTimeField("envoyé le", null=True, blank=True)
    batch = models.ForeignKey(
        OutboxBatch,
        verbose_name="envoi groupé",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="messages",
    )
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = "courriel"
        verbose_name_plural = "courriels (boîte d'envoi)"
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["state", "created_at"]),
            models.Index(fields=["related_type", "related_id"]),
            # The shared rate limiter counts the claims of the last minute.
            models.Index(fields=["sending_started_at"], name="ami_outbox_sending_idx"),
        ]

    def __str__(self):
        return f"{self.subject} → {self.recipient}"


# --- Scheduled reminders ---------------------------------------------------------------------


class ReminderKind(models.TextChoices):
    DRAFT = "draft", "candidature en brouillon avant la clôture"
    REVIEW = "review", "évaluation à rendre avant la fin de l'instruction régionale"
    DIGEST = "digest", "récapitulatif quotidien des coordinateurs"


class ReminderSent(models.Model):
    """One reminder of one milestone to one person about one object (a candidature, a call).

    The unique constraint is what makes the scheduled jobs idempotent: the row is inserted in the
    transaction that queues the email, so a second run (or a second worker) cannot insert it
    again and sends nothing."""

    kind = models.CharField("type", max_length=20, choices=ReminderKind)
    milestone = models.CharField("échéance", max_length=10, help_text="Par exemple « J-7 ».")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="destinataire",
        on_delete=models.CASCADE,
        related_name="reminders_sent",
    )
    related_type = models.ForeignKey(
        ContentType, verbose_name="type de l'objet concerné", on_delete=models.CASCADE
    )
    related_id = models.CharField("numéro de l'objet concerné", max_length=64)
    related = GenericForeignKey("related_type", "related_id")
    sent_at = models.DateTimeField("envoyé le", default=timezone.now)

    class Meta:
        verbose_name = "rappel envoyé"
        verbose_name_plural = "rappels envoyés"
        ordering = ["-sent_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "milestone", "recipient", "related_type", "related_id"],
                name="one_reminder_per_milestone",
            )
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.milestone} → {self.recipient}"

    @classmethod
    def claim(cls, *, kind: str, milestone: str, recipient, related, now=None) -> bool:
        """Record the reminder, or return False when it was already recorded (by an earlier
        run, or by a concurrent one: the insert then waits for the other transaction and fails
        on the constraint). Call it inside the transaction that queues the email; the savepoint
        keeps that transaction usable after a conflict."""
        try:
            with transaction.atomic():
                cls.objects.create(
                    kind=kind,
                    milestone=milestone,
                    recipient=recipient,
                    related_type=ContentType.objects.get_for_model(related),
                    related_id=str(related.pk),
                    sent_at=now or timezone.now(),
                )
        except IntegrityError:
            return False
        return True
