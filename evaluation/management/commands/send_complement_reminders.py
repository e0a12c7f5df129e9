"""Remind applicants whose complements are due soon. Idempotent: each request is reminded once,
however often this runs (hourly by Celery beat, or by hand)."""

from django.core.management.base import BaseCommand

from ami.formats import plural
from candidatures.complements import send_due_reminders


class Command(BaseCommand):
    help = "Envoie les rappels des demandes de compléments arrivant à échéance (idempotent)."

    def handle(self, *args, **options):
        sent = send_due_reminders()
        done = plural(sent, "rappel de compléments envoyé", "rappels de compléments envoyés")
        self.stdout.write(done + ".")
