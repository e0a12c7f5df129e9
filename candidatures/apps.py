from django.apps import AppConfig


class CandidaturesConfig(AppConfig):
    verbose_name = "candidatures"
    name = "candidatures"
    default_auto_field = "django.db.models.BigAutoField"
