"""List, and with ``--supprimer`` delete, the files of the private storage that no row references
and that are older than the grace period (ami.orphans). A dry run by default; idempotent. Celery
beat runs it daily (``ami.sweep_orphans``)."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from ami import orphans
from ami.formats import format_filesize, paris_datetime, plural


class Command(BaseCommand):
    help = (
        "Liste les fichiers du stockage privé qu'aucune pièce, pièce jointe ni export ne "
        "référence, plus anciens que le délai de grâce ; les supprime avec --supprimer."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--supprimer",
            action="store_true",
            help="Supprimer vraiment (sans cette option, la commande affiche seulement ce "
            "qu'elle supprimerait).",
        )
        parser.add_argument(
            "--delai-heures",
            type=int,
            default=int(orphans.GRACE.total_seconds() // 3600),
            help="Ne toucher qu'aux fichiers plus anciens que ce nombre d'heures (24 par défaut : "
            "un envoi en cours écrit son fichier avant sa ligne).",
        )

    def handle(self, *args, supprimer=False, delai_heures=24, **options):
        report = orphans.sweep(delete=supprimer, grace=timedelta(hours=delai_heures))
        self.stdout.write(
            f"{plural(report.scanned, 'fichier examiné', 'fichiers examinés')} ; fichiers "
            f"antérieurs au {paris_datetime(report.older_than)} sans pièce, pièce jointe ni "
            "export :"
        )
        for item in report.orphans:
            self.stdout.write(f"- {item.name} ({format_filesize(item.size)})")
        total = (
            f"{plural(len(report.orphans), 'fichier orphelin', 'fichiers orphelins')}, "
            f"{format_filesize(report.size)}"
        )
        if not supprimer:
            self.stdout.write(
                f"Simulation, rien n'est supprimé : {total}. "
                "Relancez avec --supprimer pour les supprimer."
            )
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{total} ; {plural(report.deleted, 'supprimé')}"
                + (f", {plural(report.failed, 'en échec', 'en échec')}" if report.failed else "")
                + "."
            )
        )
