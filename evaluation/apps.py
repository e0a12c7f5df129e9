from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    verbose_name = "évaluation"
    name = "evaluation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # This app's part of « Mes données » (export, account deletion): accounts.personal_data.
        from accounts.personal_data import register

        from .personal_data import CONTRIBUTION

        register(CONTRIBUTION)
