from ami.territory import import_qpv

from ._territory_import import TerritoryImportCommand, plural


class Command(TerritoryImportCommand):
    help = "Importe la liste des quartiers prioritaires de la politique de la ville (ANCT)."
    importer = staticmethod(import_qpv)
    file_label = "liste des QPV de l'ANCT (code_qp;lib_qp;insee_com;lib_com)"

    def summary(self, stats):
        return (
            f"Quartiers prioritaires : {plural(stats.created, 'créé', 'créés')}, "
            f"{plural(stats.updated, 'mis à jour', 'mis à jour')}."
        )
