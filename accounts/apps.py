from django.apps import AppConfig


class AccountsConfig(AppConfig):
    verbose_name = "comptes et rôles"
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import checks  # noqa: F401 (registers the deployment checks)

        # Staff acting as a user: every session logged (accounts.impersonation).
        from .impersonation import connect_signals

        connect_signals()
