"""One command for the whole territory referential: communes, then the density grid, then the
QPVs (each importer of ``ami.territory`` in turn, all in one transaction; idempotent)."""

import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ami.territory import (
    SHIPPED_COMMUNES,
    TerritoryImportError,
    import_communes,
    import_density,
    import_qpv,
)

from ._territory_import import plural


class Command(BaseCommand):
    help = (
        "Charge le référentiel territorial : communes (par défaut la liste du COG livrée avec "
        "l'application), grille communale de densité de l'INSEE et quartiers prioritaires de "
        "l'ANCT. Relancer le chargement met à jour sans rien dupliquer."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--communes",
            default=str(SHIPPED_COMMUNES),
            help="fichier v_commune_AAAA.csv de l'INSEE (défaut : la liste livrée, "
            f"{SHIPPED_COMMUNES.name})",
        )
        parser.add_argument(
            "--density", help="grille communale de densité de l'INSEE (CSV avec CODGEO et DENS)"
        )
        parser.add_argument("--qpv", help="liste des QPV de l'ANCT (code_qp;lib_qp;insee_com…)")
        parser.add_argument(
            "--encoding", default="utf-8-sig", help="encodage des fichiers (défaut : utf-8-sig)"
        )

    def handle(self, *args, communes, density, qpv, encoding, verbosity, **options):
        started = time.monotonic()
        steps = [("communes", import_communes, communes)]
        if density:
            steps.append(("density", import_density, density))
        if qpv:
            steps.append(("qpv", import_qpv, qpv))
        results = []
        with transaction.atomic():  # all or nothing
            for kind, importer, path in steps:
                try:
                    results.append((kind, importer(path, encoding=encoding)))
                except FileNotFoundError as error:
                    raise CommandError(f"Fichier introuvable : {path}") from error
                except UnicodeDecodeError as error:
                    raise CommandError(
                        f"{path} n'est pas encodé en {encoding} ; essayez --encoding latin-1."
                    ) from error
                except TerritoryImportError as error:
                    raise CommandError(f"Import de {path} impossible. {error}") from error
        for kind, stats in results:
            self.stdout.write(self.style.SUCCESS(self._summary(kind, stats)))
            if stats.skipped:
                self.stdout.write(f"  {plural(stats.skipped, 'ligne ignorée', 'lignes ignorées')}.")
                if verbosity > 1:
                    for problem in stats.problems:
                        self.stdout.write(f"  – {problem}")
        if not density or not qpv:
            missing = [
                name for name, given in (("--density", density), ("--qpv", qpv)) if not given
            ]
            self.stdout.write(
                f"Non chargé (fichier non indiqué) : {', '.join(missing)}. "
                "Voir docs/operations.md « Territory referential »."
            )
        self.stdout.write(f"Terminé en {time.monotonic() - started:.1f} s.")

    @staticmethod
    def _summary(kind, stats):
        if kind == "communes":
            return (
                f"Communes : {plural(stats.created, 'créée', 'créées')}, "
                f"{plural(stats.updated, 'mise à jour', 'mises à jour')}."
            )
        if kind == "density":
            return f"Densité : {plural(stats.updated, 'commune mise', 'communes mises')} à jour."
        return (
            f"Quartiers prioritaires : {plural(stats.created, 'créé', 'créés')}, "
            f"{plural(stats.updated, 'mis à jour', 'mis à jour')}."
        )
