from django.apps import AppConfig


class ProConnectConfig(AppConfig):
    name = "accounts.proconnect"
    label = "proconnect"
    verbose_name = "ProConnect"

    def ready(self):
        from ..personal_data import register
        from .personal_data import CONTRIBUTION
        from .signals import connect_signals

        connect_signals()
        # The ProConnect links in « Mes données » (export, account deletion).
        register(CONTRIBUTION)
