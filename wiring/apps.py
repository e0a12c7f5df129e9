from django.apps import AppConfig


class WiringConfig(AppConfig):
    """The top of the layers (DESIGN §6): root URLs, navigation context, the email catalogue and
    its admin pages, demo and bench seeding. It knows every app; no app imports it."""

    verbose_name = "assemblage de la plateforme"
    name = "wiring"
    default_auto_field = "django.db.models.BigAutoField"
