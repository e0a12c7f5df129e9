"""The regional review (DESIGN §3–5): admissibility checks, conflicts of interest, assignments,
reviews on the call's grid, the collegial regional opinion and the hand-over to the CNA."""

import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import RegionalRole
from accounts.permissions import national_calls_seen_by
from ami import audit
from candidatures.models import ThroughCandidatureQuerySet


class Opinion(models.TextChoices):
    FAVORABLE = "favorable", "favorable"
    RESERVED = "reserved", "réservé"
    UNFAVORABLE = "unfavorable", "défavorable"


class AdmissibilityCheck(models.Model):
    """The coordinator's checklist for a submitted candidature, kept with the decision."""

    candidature = models.OneToOneField(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="admissibility_check"
    )
    answers = models.JSONField("points vérifiés", default=dict)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    checked_at = models.DateTimeField("vérifié le", default=timezone.now)

    class Meta:
        verbose_name = "vérification de recevabilité"
        verbose_name_plural = "vérifications de recevabilité"

    def __str__(self):
        return f"Recevabilité – {self.candidature}"


class ConflictSource(models.TextChoices):
    DECLARED = "declared", "déclaré par l'évaluateur"
    DETECTED = "detected", "détecté par la plateforme"


class ConflictStatus(models.TextChoices):
    PENDING = "pending", "à examiner"
    CONFIRMED = "confirmed", "confirmé"
    DISMISSED = "dismissed", "écarté"


@audit.track()
class ConflictOfInterest(models.Model):
    """A (possible) conflict of interest. A declared conflict blocks at once; a detected one is
    settled by the coordinator and blocks unless dismissed."""

    candidature = models.ForeignKey(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="conflicts"
    )
    evaluator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conflicts"
    )
    source = models.CharField("origine", max_length=10, choices=ConflictSource)
    status = models.CharField(
        "statut", max_length=10, choices=ConflictStatus, default=ConflictStatus.CONFIRMED
    )
    reason = models.TextField("motif")
    declared_at = models.DateTimeField("déclaré le", default=timezone.now)
    settled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    settled_at = models.DateTimeField("tranché le", null=True, blank=True)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "conflit d'intérêts"
        verbose_name_plural = "conflits d'intérêts"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "evaluator"], name="one_conflict")
        ]

    def __str__(self):
        return f"{self.evaluator} – {self.candidature}"

    @property
    def blocks(self) -> bool:
        return self.status != ConflictStatus.DISMISSED


BLOCKING_CONFLICT = ~Q(status=ConflictStatus.DISMISSED)


@audit.track()
class Assignment(models.Model):
    candidature = models.ForeignKey(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="assignments"
    )
    evaluator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField("attribué le", default=timezone.now)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "attribution"
        verbose_name_plural = "attributions"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "evaluator"], name="one_assignment")
        ]

    def __str__(self):
        return f"{self.evaluator} → {self.candidature}"


class ReviewState(models.TextChoices):
    DRAFT = "draft", "en cours"
    SUBMITTED = "submitted", "rendue"


@audit.track()
class Review(models.Model):
    """One evaluator's review of one candidature on the call's grid."""

    candidature = models.ForeignKey(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="reviews"
    )
    evaluator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    state = models.CharField("état", max_length=10, choices=ReviewState, default=ReviewState.DRAFT)
    opinion = models.CharField("avis", max_length=12, choices=Opinion, blank=True)
    comment = models.TextField("commentaire général", blank=True)
    total = models.DecimalField(
        "note sur 100", max_digits=6, decimal_places=2, null=True, blank=True
    )
    created_at = models.DateTimeField("commencée le", default=timezone.now)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    submitted_at = models.DateTimeField("rendue le", null=True, blank=True)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "évaluation"
        verbose_name_plural = "évaluations"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "evaluator"], name="one_review")
        ]
        indexes = [models.Index(fields=["candidature", "state"])]

    def __str__(self):
        return f"Évaluation de {self.evaluator} – {self.candidature}"


@audit.track()
class ReviewScore(models.Model):
    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey("ami.Criterion", on_delete=models.PROTECT, related_name="+")
    score = models.PositiveSmallIntegerField("note", null=True, blank=True)
    not_applicable = models.BooleanField("non applicable", default=False)
    comment = models.TextField("commentaire", blank=True)

    class Meta:
        verbose_name = "note"
        verbose_name_plural = "notes"
        constraints = [
            models.UniqueConstraint(fields=["review", "criterion"], name="one_score_per_criterion"),
            models.CheckConstraint(
                condition=Q(not_applicable=False) | Q(score__isnull=True),
                name="not_applicable_has_no_score",
            ),
        ]

    def __str__(self):
        return f"{self.criterion} : {'n/a' if self.not_applicable else self.score}"


@audit.track()
class RegionalOpinion(models.Model):
    """The CRA's collegial opinion on a candidature, with its rank in the region."""

    candidature = models.OneToOneField(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="regional_opinion"
    )
    consolidated_score = models.DecimalField(
        "note consolidée sur 100",
        max_digits=6,
        decimal_places=2,
        validators=[MinValueValidator(0)],
    )
    score_justification = models.TextField(
        "justification de la note",
        blank=True,
        help_text="Obligatoire quand la note consolidée diffère de la moyenne des évaluations.",
    )
    opinion = models.CharField("avis collégial", max_length=12, choices=Opinion)
    # DESIGN §3: what may reach the applicant (quoted in the decision's prefilled motivation)
    # and what stays with the cells and the CNA.
    motivation = models.TextField(
        "motivation communicable au porteur",
        blank=True,
        help_text="Peut être reprise dans la lettre de décision envoyée au porteur.",
    )
    internal_note = models.TextField(
        "note interne",
        blank=True,
        help_text="Réservée aux cellules et à la CNA, jamais transmise au porteur.",
    )
    rank = models.PositiveSmallIntegerField("rang dans la région", null=True, blank=True)
    needs_review = models.BooleanField(
        "à revoir",
        default=False,
        help_text="Une évaluation rendue a été rouverte : le coordinateur confirme ou modifie "
        "l'avis avant la transmission à la CNA.",
    )
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField("modifié le", auto_now=True)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "avis régional collégial"
        verbose_name_plural = "avis régionaux collégiaux"

    def __str__(self):
        return f"Avis régional – {self.candidature}"


class RegionHandover(models.Model):
    """The CRA hands its region over to the CNA: the regional review is then locked."""

    cell = models.OneToOneField(
        "accounts.RegionalCell", on_delete=models.CASCADE, related_name="handover"
    )
    handed_over_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    handed_over_at = models.DateTimeField("transmis le", default=timezone.now)
    comment = models.TextField("commentaire", blank=True)

    class Meta:
        verbose_name = "transmission à la CNA"
        verbose_name_plural = "transmissions à la CNA"

    def __str__(self):
        return f"{self.cell} transmise"


# --- National review, selection, deliberation, decisions (DESIGN §4–5) -------------------------


@audit.track()
class NationalReview(models.Model):
    """A CNA member's second-level analysis of a candidature, visible to the whole CNA."""

    candidature = models.ForeignKey(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="national_reviews"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="national_reviews"
    )
    score = models.DecimalField(
        "note globale sur 100",
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    opinion = models.CharField("avis", max_length=12, choices=Opinion)
    comment = models.TextField(
        "note interne (analyse)",
        help_text="Réservée à la CNA, jamais transmise au porteur.",
    )
    motivation = models.TextField(
        "motivation communicable au porteur",
        blank=True,
        help_text="Ce que la CNA pourra reprendre dans la lettre de décision.",
    )
    created_at = models.DateTimeField("rédigée le", default=timezone.now)
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "analyse nationale"
        verbose_name_plural = "analyses nationales"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "reviewer"], name="one_national_review"),
            models.CheckConstraint(
                condition=Q(score__gte=0) & Q(score__lte=100), name="national_review_score_range"
            ),
        ]

    def __str__(self):
        return f"Analyse de {self.reviewer} – {self.candidature}"


class SelectionScenarioQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Scenarios of the calls whose national screens the user sees (their CNA's; staff:
        all): ``accounts.permissions.national_calls_seen_by``, as ``can_view_national``."""
        return self.filter(call__in=national_calls_seen_by(user))


class ScoreBasis(models.TextChoices):
    RAW = "raw", "note consolidée régionale (brute)"
    NORMALISED = "normalised", "note normalisée dans la région"


class SelectionScenario(models.Model):
    """A named run of the selection assistant: its parameters and the proposal, line by line."""

    call = models.ForeignKey("ami.Call", on_delete=models.CASCADE, related_name="scenarios")
    name = models.CharField("nom", max_length=120)
    parameters = models.JSONField("paramètres", default=dict)
    feasible = models.BooleanField("contraintes tenues", default=True)
    message = models.TextField("diagnostic", blank=True)
    total_score = models.DecimalField(
        "score total", max_digits=10, decimal_places=2, null=True, blank=True
    )
    total_granted = models.DecimalField(
        "total accordé", max_digits=12, decimal_places=2, null=True, blank=True
    )
    solve_seconds = models.FloatField("durée de résolution (s)", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("créé le", default=timezone.now)

    objects = SelectionScenarioQuerySet.as_manager()

    class Meta:
        verbose_name = "scénario de sélection"
        verbose_name_plural = "scénarios de sélection"
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["call", "name"], name="one_scenario_name_per_call")
        ]

    def __str__(self):
        return self.name


class ScenarioLine(models.Model):
    scenario = models.ForeignKey(SelectionScenario, on_delete=models.CASCADE, related_name="lines")
    candidature = models.ForeignKey(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="+"
    )
    selected = models.BooleanField("retenue")
    amount = models.DecimalField(
        "montant proposé", max_digits=12, decimal_places=2, null=True, blank=True
    )
    score = models.DecimalField("note retenue", max_digits=7, decimal_places=2)
    rank = models.PositiveIntegerField("rang")
    explanation = models.TextField("explication")

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "ligne de scénario"
        verbose_name_plural = "lignes de scénario"
        ordering = ["rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["scenario", "candidature"], name="one_line_per_scenario"
            )
        ]

    def __str__(self):
        return f"{self.scenario} – {self.candidature_id}"


@audit.track()
class Deliberation(models.Model):
    """The CNA session that fixes the list of laureates of a call."""

    call = models.OneToOneField("ami.Call", on_delete=models.CASCADE, related_name="deliberation")
    held_on = models.DateField("date de la séance")
    members_present = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name="membres présents", related_name="+", blank=True
    )
    scenario = models.ForeignKey(
        SelectionScenario,
        verbose_name="scénario de départ",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    notes = models.TextField("observations de la séance", blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField("ouverte le", default=timezone.now)
    fixed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    fixed_at = models.DateTimeField("liste arrêtée le", null=True, blank=True)

    class Meta:
        verbose_name = "délibération"
        verbose_name_plural = "délibérations"

    def __str__(self):
        return f"Délibération – {self.call}"

    @property
    def is_fixed(self) -> bool:
        return self.fixed_at is not None


@audit.track()
class DeliberationLine(models.Model):
    """One candidature in the deliberation: what the scenario proposed and what the CNA decides.
    A line that departs from the proposal carries a written justification."""

    deliberation = models.ForeignKey(Deliberation, on_delete=models.CASCADE, related_name="lines")
    candidature = models.ForeignKey(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="deliberation_lines"
    )
    proposed_selected = models.BooleanField("proposée", null=True, blank=True)
    proposed_amount = models.DecimalField(
        "montant proposé", max_digits=12, decimal_places=2, null=True, blank=True
    )
    selected = models.BooleanField("retenue", default=False)
    amount = models.DecimalField(
        "montant accordé", max_digits=12, decimal_places=2, null=True, blank=True
    )
    justification = models.TextField(
        "justification (note interne, au procès-verbal)",
        blank=True,
        help_text="Réservée à la CNA et au procès-verbal, jamais transmise au porteur.",
    )
    motivation = models.TextField(
        "motivation communicable au porteur",
        blank=True,
        help_text="Reprise dans la motivation préremplie de la décision.",
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField("modifiée le", auto_now=True)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "ligne de délibération"
        verbose_name_plural = "lignes de délibération"
        constraints = [
            models.UniqueConstraint(
                fields=["deliberation", "candidature"], name="one_line_per_deliberation"
            ),
            models.CheckConstraint(
                condition=Q(selected=False, amount__isnull=True)
                | Q(selected=True, amount__isnull=False),
                name="deliberation_line_amount_iff_selected",
            ),
        ]

    def __str__(self):
        return f"{self.deliberation} – {self.candidature_id}"

    @property
    def overridden(self) -> bool:
        return self.proposed_selected is not None and (
            self.selected != self.proposed_selected or self.amount != self.proposed_amount
        )


class DeliberationOverride(models.Model):
    """Append-only record of each change the CNA made to a line, with its justification."""

    line = models.ForeignKey(DeliberationLine, on_delete=models.CASCADE, related_name="overrides")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField("le", default=timezone.now)
    selected = models.BooleanField("retenue")
    amount = models.DecimalField("montant", max_digits=12, decimal_places=2, null=True, blank=True)
    justification = models.TextField("justification (note interne)")
    motivation = models.TextField("motivation communicable au porteur", blank=True)

    class Meta:
        verbose_name = "modification de ligne"
        verbose_name_plural = "modifications de lignes"
        ordering = ["at", "pk"]

    def __str__(self):
        return f"{self.line} – {self.at:%d/%m/%Y %H:%M}"


class DecisionOutcome(models.TextChoices):
    LAUREATE = "laureate", "lauréate"
    NOT_SELECTED = "not_selected", "non retenue"


@audit.track()
class Decision(models.Model):
    """The CNA's decision on a candidature: pending until the administrator publishes the results
    of the call; only then visible to the applicant and notified."""

    candidature = models.OneToOneField(
        "candidatures.Candidature", on_delete=models.CASCADE, related_name="decision"
    )
    deliberation = models.ForeignKey(
        Deliberation, on_delete=models.CASCADE, related_name="decisions"
    )
    outcome = models.CharField("décision", max_length=15, choices=DecisionOutcome)
    granted_amount = models.DecimalField(
        "montant accordé", max_digits=12, decimal_places=2, null=True, blank=True
    )
    motivation = models.TextField(
        "motivation communicable au porteur",
        blank=True,
        help_text="Envoyée au porteur dans la lettre de décision ; obligatoire pour un refus.",
    )
    internal_note = models.TextField(
        "note interne",
        blank=True,
        help_text="Réservée à la CNA, jamais transmise au porteur.",
    )
    created_at = models.DateTimeField("créée le", default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField("modifiée le", auto_now=True)
    published_at = models.DateTimeField("publiée le", null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The public record of the grant (laureates page, SCDL open data): the beneficiary as it
    # stood when the decision was published, never the PTCE's live profile.
    beneficiary_name = models.CharField("bénéficiaire publié", max_length=200, blank=True)
    beneficiary_siret = models.CharField("SIRET du bénéficiaire publié", max_length=14, blank=True)

    objects = ThroughCandidatureQuerySet.as_manager()

    class Meta:
        verbose_name = "décision"
        verbose_name_plural = "décisions"
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="laureate", granted_amount__isnull=False)
                | Q(outcome="not_selected", granted_amount__isnull=True),
                name="decision_amount_iff_laureate",
            ),
        ]
        indexes = [models.Index(fields=["deliberation", "outcome"])]

    def __str__(self):
        return f"{self.get_outcome_display()} – {self.candidature}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


# --- The region's ZIP (evaluation.region_export) --------------------------------------------------


class ExportStatus(models.TextChoices):
    PENDING = "pending", "en attente"
    RUNNING = "running", "en cours"
    READY = "ready", "prête"
    FAILED = "failed", "échec"
    EXPIRED = "expired", "expirée"


def region_export_path(export, filename):
    """Private storage, under an opaque name; the download view names the file."""
    return f"exports/regions/{secrets.token_hex(16)}.zip"


class RegionExportQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A region's exports: the coordinators of its cell, whoever of them asked for it."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        return self.filter(
            cell__memberships__user=user, cell__memberships__role=RegionalRole.COORDINATOR
        )


@audit.track(exclude=["done"])
class RegionExport(models.Model):
    """A ZIP of a region's dossiers (one folder per candidature: dossier PDF and documents),
    built by a Celery task, kept in the private storage until ``expires_at``."""

    cell = models.ForeignKey(
        "accounts.RegionalCell",
        verbose_name="cellule",
        on_delete=models.CASCADE,
        related_name="exports",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="demandée par",
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField("demandée le", default=timezone.now)
    status = models.CharField(
        "état", max_length=20, choices=ExportStatus, default=ExportStatus.PENDING
    )
    total = models.PositiveIntegerField("candidatures à exporter", default=0)
    done = models.PositiveIntegerField("candidatures exportées", default=0)
    file = models.FileField("fichier", upload_to=region_export_path, max_length=200, blank=True)
    size = models.PositiveBigIntegerField("taille (octets)", null=True, blank=True)
    finished_at = models.DateTimeField("terminée le", null=True, blank=True)
    expires_at = models.DateTimeField("expire le", null=True, blank=True)
    error = models.TextField("erreur", blank=True)

    objects = RegionExportQuerySet.as_manager()

    class Meta:
        verbose_name = "export ZIP d'une région"
        verbose_name_plural = "exports ZIP des régions"
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"Export {self.cell} du {timezone.localtime(self.created_at):%d/%m/%Y %H:%M}"

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 0

    @property
    def in_progress(self) -> bool:
        return self.status in (ExportStatus.PENDING, ExportStatus.RUNNING)
