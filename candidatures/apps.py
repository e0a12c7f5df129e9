from django.apps import AppConfig


class CandidaturesConfig(AppConfig):
    verbose_name = "candidatures"
    name = "candidatures"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # This app's part of « Mes données » (export, account deletion): accounts.personal_data.
        from accounts.personal_data import register

        from .personal_data import CONTRIBUTION

        register(CONTRIBUTION)

        # Files under « candidatures/ » belong to documents and message attachments: the
        # orphan sweep of the private storage (ami.orphans) deletes only the others.
        from ami import orphans

        from .documents import referenced_files

        orphans.register("candidatures/", referenced_files)
