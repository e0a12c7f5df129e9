from django.apps import AppConfig


class AccountsConfig(AppConfig):
    verbose_name = "comptes et rôles"
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"
