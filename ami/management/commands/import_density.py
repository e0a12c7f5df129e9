from ami.territory import import_density

from ._territory_import import TerritoryImportCommand, plural


class Command(TerritoryImportCommand):
    help = "Importe la grille communale de densité de l'INSEE (4 niveaux)."
    importer = staticmethod(import_density)
    file_label = "grille communale de densité de l'INSEE (CSV avec CODGEO et DENS)"

    def summary(self, stats):
        return f"Densité : {plural(stats.updated, 'commune mise', 'communes mises')} à jour."
