"""PTCE (the applying organisation), its team, and its candidatures to calls."""

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone


class PtceQuerySet(models.QuerySet):
    def visible_to(self, user):
        """A PTCE's data is visible to its team (and to staff)."""
        if not (user.is_authenticated and user.is_active):
            return self.none()
        if user.is_staff:
            return self
        return self.filter(Exists(PtceMembership.objects.filter(ptce=OuterRef("pk"), user=user)))


class Ptce(models.Model):
    name = models.CharField("nom", max_length=200)
    siret = models.CharField("SIRET", max_length=14, blank=True)
    region = models.ForeignKey(
        "ami.Region", verbose_name="région", on_delete=models.PROTECT, related_name="ptces"
    )
    seat_commune = models.ForeignKey(
        "ami.Commune",
        verbose_name="commune du siège",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="PtceMembership",
        related_name="ptces",
        verbose_name="équipe",
    )
    created_at = models.DateTimeField("créé le", default=timezone.now)

    objects = PtceQuerySet.as_manager()

    class Meta:
        verbose_name = "PTCE"
        verbose_name_plural = "PTCE"
        ordering = ["name"]

    def __str__(self):
        return self.name


class PtceMembership(models.Model):
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
        submitted = Q(submitted_at__isnull=False)
        return self.filter(own | (submitted & (regional | national)))


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
    title = models.CharField("intitulé du projet", max_length=200, blank=True)
    requested_amount = models.DecimalField(
        "montant demandé", max_digits=12, decimal_places=2, null=True, blank=True
    )
    created_at = models.DateTimeField("créée le", default=timezone.now)
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
