"""Re-enqueue outbox rows left queued by a crash and fail rows stuck in sending (idempotent).

Beat runs the same thing every minute (task ``ami.outbox_sweep``); without a broker (development)
this command is also what retries emails after a temporary failure."""

from django.core.management.base import BaseCommand

from ami import outbox
from ami.formats import plural


class Command(BaseCommand):
    help = "Remet en file les courriels perdus par un arrêt brutal ; signale les envois bloqués."

    def handle(self, *args, **options):
        result = outbox.sweep()
        self.stdout.write(
            f"{plural(len(result.requeued), 'courriel remis', 'courriels remis')} en file, "
            + plural(len(result.failed_stuck), "envoi bloqué passé", "envois bloqués passés")
            + " en échec."
        )
