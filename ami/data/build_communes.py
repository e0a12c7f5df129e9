"""Build ``communes_cog.csv`` from the ``communes.json`` of the npm package
``@etalab/decoupage-administratif`` (see README.md next to this file).

    cd /tmp && npm pack @etalab/decoupage-administratif@6.0.0 && tar xzf etalab-*.tgz
    python ami/data/build_communes.py /tmp/package/data/communes.json

Keeps the current communes (type ``commune-actuelle``) of the départements of the referential
(collectivités d'outre-mer left out), sorted by INSEE code. Standard library only.
"""

import csv
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from ami.territory_data import DEPARTMENTS  # noqa: E402

OUTPUT = HERE / "communes_cog.csv"


def main(source: str) -> int:
    departments = {code for code, _, _ in DEPARTMENTS}
    with open(source, encoding="utf-8") as stream:
        entries = json.load(stream)
    rows = sorted(
        (entry["code"], entry["departement"], entry["nom"])
        for entry in entries
        if entry.get("type") == "commune-actuelle" and entry.get("departement") in departments
    )
    with open(OUTPUT, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(["COM", "DEP", "LIBELLE"])
        writer.writerows(rows)
    print(f"{len(rows)} communes written to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
