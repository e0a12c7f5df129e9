"""Shared base of the ``import_communes``, ``import_density`` and ``import_qpv`` commands."""

import io
import sys

from django.core.management.base import BaseCommand, CommandError

from ami.territory import ImportStats, TerritoryImportError


def plural(count: int, singular: str, plural_form: str) -> str:
    """French agreement: 0 and 1 take the singular."""
    return f"{count} {singular if count <= 1 else plural_form}"


class TerritoryImportCommand(BaseCommand):
    importer = None  # the ami.territory function to call, as a staticmethod
    file_label = ""  # shown in --help

    def add_arguments(self, parser):
        parser.add_argument("path", help=f"{self.file_label} (« - » pour l'entrée standard)")
        parser.add_argument(
            "--encoding",
            default="utf-8-sig",
            help="encodage du fichier (défaut : utf-8-sig ; latin-1 pour un export Excel ancien)",
        )

    def handle(self, *args, path, encoding, verbosity, **options):
        if path == "-":
            source = io.TextIOWrapper(sys.stdin.buffer, encoding=encoding, newline="")
        else:
            source = path
        try:
            stats = self.importer(source, encoding=encoding)
        except FileNotFoundError as error:
            raise CommandError(f"Fichier introuvable : {path}") from error
        except UnicodeDecodeError as error:
            raise CommandError(
                f"Le fichier n'est pas encodé en {encoding} ; essayez --encoding latin-1."
            ) from error
        except TerritoryImportError as error:
            raise CommandError(f"Import impossible. {error}") from error
        self.stdout.write(self.style.SUCCESS(self.summary(stats)))
        if stats.skipped:
            self.stdout.write(plural(stats.skipped, "ligne ignorée", "lignes ignorées") + ".")
            if verbosity > 1:
                for problem in stats.problems:
                    self.stdout.write(f"  – {problem}")
                if len(stats.problems) < stats.skipped:
                    self.stdout.write("  – …")
            else:
                self.stdout.write("Relancez avec -v 2 pour le détail.")

    def summary(self, stats: ImportStats) -> str:
        raise NotImplementedError
