from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    verbose_name = "évaluation"
    name = "evaluation"
    default_auto_field = "django.db.models.BigAutoField"
