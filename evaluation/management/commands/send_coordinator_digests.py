"""Send regional coordinators the daily digest of what changed in their region the day before
(Paris time). Idempotent: one digest per coordinator, cell and day, however often this runs
(daily at 7:00 by Celery beat, or by hand)."""

from django.core.management.base import BaseCommand

from ami.formats import plural
from evaluation.digest import send_coordinator_digests


class Command(BaseCommand):
    help = (
        "Envoie aux coordinateurs le récapitulatif de la veille dans leur région "
        "(idempotent : un par jour)."
    )

    def handle(self, *args, **options):
        sent = send_coordinator_digests()
        self.stdout.write(f"{plural(sent, 'récapitulatif envoyé', 'récapitulatifs envoyés')}.")
