from django.apps import AppConfig


class ProConnectConfig(AppConfig):
    name = "accounts.proconnect"
    label = "proconnect"
    verbose_name = "ProConnect"

    def ready(self):
        from .signals import connect_signals

        connect_signals()
