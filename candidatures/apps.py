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

        # The process's copy of a call's steps (questionnaire.steps) is dropped when one of its
        # sections or questions changes.
        from django.db.models.signals import post_delete, post_save

        from ami.models import Question, Section

        from .questionnaire import questionnaire_changed

        for model in (Section, Question):
            for signal in (post_save, post_delete):
                signal.connect(questionnaire_changed, sender=model, weak=False)
