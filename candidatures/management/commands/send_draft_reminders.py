"""Remind the teams of draft candidatures that the call closes soon (J-7, J-1). Idempotent: one
reminder per candidature, person and milestone, however often this runs (daily by Celery beat,
or by hand)."""

from django.core.management.base import BaseCommand

from ami.formats import plural
from candidatures.reminders import send_draft_reminders


class Command(BaseCommand):
    help = "Envoie les rappels de clôture aux candidatures en brouillon (J-7, J-1 ; idempotent)."

    def handle(self, *args, **options):
        sent = send_draft_reminders()
        self.stdout.write(
            plural(sent, "rappel de clôture envoyé", "rappels de clôture envoyés") + "."
        )
