"""The regional review (DESIGN §3–5): admissibility checks, conflicts of interest, assignments,
reviews on the call's grid, the collegial regional opinion and the hand-over to the CNA."""

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone


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

    class Meta:
        verbose_name = "évaluation"
        verbose_name_plural = "évaluations"
        constraints = [
            models.UniqueConstraint(fields=["candidature", "evaluator"], name="one_review")
        ]
        indexes = [models.Index(fields=["candidature", "state"])]

    def __str__(self):
        return f"Évaluation de {self.evaluator} – {self.candidature}"


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
    motivation = models.TextField("motivation")
    rank = models.PositiveSmallIntegerField("rang dans la région", null=True, blank=True)
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField("modifié le", auto_now=True)

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
