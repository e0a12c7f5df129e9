from django.apps import AppConfig


class ApiConfig(AppConfig):
    verbose_name = "API de lecture"
    name = "api"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import schema  # noqa: F401  (registers the token authentication in the schema)
