from django.apps import AppConfig


class AmiConfig(AppConfig):
    name = "ami"
    verbose_name = "appels, territoires et courriels"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import (
            checks,  # noqa: F401 (registers the deployment checks)
            tasks,  # noqa: F401 (registers the outbox's tasks, called by name)
        )
