"""Remind evaluators of their pending reviews before the end of the regional review (J-7, J-2).
Idempotent: one reminder per evaluator, call and milestone, however often this runs (daily by
Celery beat, or by hand)."""

from django.core.management.base import BaseCommand

from ami.formats import plural
from evaluation.reminders import send_review_reminders


class Command(BaseCommand):
    help = "Envoie aux évaluateurs les rappels des évaluations à rendre (J-7, J-2 ; idempotent)."

    def handle(self, *args, **options):
        sent = send_review_reminders()
        done = plural(sent, "rappel d'évaluation envoyé", "rappels d'évaluation envoyés")
        self.stdout.write(done + ".")
