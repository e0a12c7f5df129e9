from ami.territory import import_communes

from ._territory_import import TerritoryImportCommand, plural


class Command(TerritoryImportCommand):
    help = "Importe les communes depuis le fichier INSEE du Code officiel géographique."
    importer = staticmethod(import_communes)
    file_label = "fichier v_commune_AAAA.csv de l'INSEE"

    def summary(self, stats):
        return (
            f"Communes : {plural(stats.created, 'créée', 'créées')}, "
            f"{plural(stats.updated, 'mise à jour', 'mises à jour')}."
        )
