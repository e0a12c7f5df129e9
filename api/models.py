"""API tokens: each belongs to a user and sees what that user sees. Only a SHA-256 hash of the
secret is stored (the secret is shown once, at creation); every use is logged."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiTokenQuerySet(models.QuerySet):
    def active(self, at=None):
        at = at or timezone.now()
        return self.filter(revoked_at__isnull=True, expires_at__gt=at)


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="utilisateur",
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField("nom", max_length=100)
    # The first characters of the secret, shown in the list to tell tokens apart.
    prefix = models.CharField("début du jeton", max_length=16)
    key_hash = models.CharField("empreinte SHA-256", max_length=64, unique=True)
    created_at = models.DateTimeField("créé le", default=timezone.now)
    expires_at = models.DateTimeField("expire le")
    revoked_at = models.DateTimeField("révoqué le", null=True, blank=True)
    last_used_at = models.DateTimeField("dernière utilisation", null=True, blank=True)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "jeton d'API"
        verbose_name_plural = "jetons d'API"
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_active(self, at=None) -> bool:
        return self.revoked_at is None and self.expires_at > (at or timezone.now())


class ApiTokenUse(models.Model):
    """One request made with a token (kept for the user's and Coorace's audit)."""

    token = models.ForeignKey(
        ApiToken, verbose_name="jeton", on_delete=models.CASCADE, related_name="uses"
    )
    at = models.DateTimeField("le", default=timezone.now)
    method = models.CharField("méthode", max_length=10)
    path = models.CharField("adresse", max_length=500)
    status = models.PositiveSmallIntegerField("code de réponse")
    ip_address = models.GenericIPAddressField("adresse IP", null=True, blank=True)

    class Meta:
        verbose_name = "utilisation d'un jeton d'API"
        verbose_name_plural = "utilisations des jetons d'API"
        ordering = ["-at"]
        indexes = [models.Index(fields=["token", "-at"])]

    def __str__(self):
        return f"{self.token} {self.method} {self.path} {self.status}"
