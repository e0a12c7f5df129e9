"""Delete the documents of candidatures that were not selected, DOCUMENT_RETENTION_YEARS years
after their call's results were published (candidatures.retention). A dry run unless
``--wet-run``; idempotent. Also run daily by Celery beat (with the wet run)."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from ami.formats import format_filesize, plural
from candidatures.retention import purge_documents


def _date(moment) -> str:
    return f"{timezone.localtime(moment):%d/%m/%Y}"


class Command(BaseCommand):
    help = (
        "Supprime les pièces (et les pièces jointes des messages) des candidatures non retenues "
        "(non retenues, irrecevables, retirées, brouillons) DOCUMENT_RETENTION_YEARS ans après "
        "la publication des résultats de leur appel. Simulation sans --wet-run."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--wet-run",
            action="store_true",
            help="Supprimer vraiment (sans cette option, la commande affiche seulement ce "
            "qu'elle supprimerait).",
        )

    def handle(self, *args, wet_run=False, **options):
        report = purge_documents(wet_run=wet_run)
        years = settings.DOCUMENT_RETENTION_YEARS
        self.stdout.write(
            f"Durée de conservation : {plural(years, 'an')} après la publication des résultats ; "
            f"appels publiés avant le {_date(report.cutoff)}."
        )
        for line in report.calls:
            self.stdout.write(
                f"- {line.call} (résultats publiés le {_date(line.published_on)}) : "
                f"{plural(line.documents, 'pièce')} de {plural(line.candidatures, 'candidature')}, "
                f"{format_filesize(line.size)}"
            )
        total = (
            f"{plural(report.documents, 'pièce')} de {plural(report.candidatures, 'candidature')}, "
            f"{format_filesize(report.size)}"
        )
        total += (
            f" ; {plural(report.attachments, 'pièce jointe', 'pièces jointes')} de messages, "
            f"{format_filesize(report.attachments_size)}"
        )
        if wet_run:
            self.stdout.write(self.style.SUCCESS(f"Supprimé : {total}."))
            if report.failed:
                failed = plural(
                    report.failed,
                    "fichier n'a pas pu être supprimé",
                    "fichiers n'ont pas pu être supprimés",
                )
                self.stderr.write(
                    f"{failed} du stockage (voir le journal) ; leurs pièces sont gardées et la "
                    "prochaine exécution réessaiera."
                )
        else:
            self.stdout.write(
                f"Simulation, rien n'est supprimé : {total} à supprimer. "
                "Relancez avec --wet-run pour les supprimer."
            )
