"""Re-enqueue outbox rows left queued by a crash and fail rows stuck in sending (idempotent).

Beat runs the same thing every minute (task ``ami.outbox_sweep``); without a broker (development)
this command is also what retries emails after a temporary failure."""

from django.core.management.base import BaseCommand

from ami import outbox


class Command(BaseCommand):
    help = "Remet en file les courriels perdus par un arrêt brutal ; signale les envois bloqués."

    def handle(self, *args, **options):
        result = outbox.sweep()
        self.stdout.write(
            f"{len(result.requeued)} courriel(s) remis en file, "
            f"{len(result.failed_stuck)} envoi(s) bloqué(s) passé(s) en échec."
        )
