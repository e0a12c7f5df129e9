"""The territory referential: look a commune up, and import communes (INSEE COG), the communal
density grid (INSEE) and the priority neighbourhoods (QPV, ANCT) from their official files.

Every importer takes a path or a text file object, runs in one transaction, is idempotent
(re-running updates, never duplicates) and writes in bulk, so a full file of ~35 000 communes is a
handful of queries.
"""

import csv
import io
import itertools
import re
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from django.contrib.postgres.search import TrigramSimilarity, TrigramWordSimilarity
from django.db import transaction
from django.db.models import Case, Prefetch, Q, Value, When

from ami.models import Commune, Density, Department, Qpv, SearchName

BATCH_SIZE = 2000
MAX_PROBLEMS = 50  # skipped-row explanations kept in the stats

COMMUNE_CODE_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
QPV_CODE_RE = re.compile(r"^QN(?:\d{3}|02[AB])\d{2}[A-Z]$")

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures" / "territory"


class TerritoryImportError(Exception):
    """A file that cannot be imported at all (e.g. a required column is missing)."""

    def __init__(self, message: str, line: int | None = None):
        self.message = message
        self.line = line
        super().__init__(f"Ligne {line} : {message}" if line else message)


@dataclass
class ImportStats:
    """What an import did. ``updated`` counts the file's rows that matched an existing record
    (whether or not a value changed); ``problems`` explains the first skipped rows."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    problems: list[str] = field(default_factory=list)

    def skip(self, line: int, reason: str) -> None:
        self.skipped += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(f"ligne {line} : {reason}")


# --- Lookup ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommuneInfo:
    code: str
    name: str
    department_code: str
    department_name: str
    region_code: str
    region_name: str
    density: int | None
    is_rural: bool
    qpvs: list[tuple[str, str]]

    @property
    def density_label(self) -> str:
        return Density(self.density).label if self.density else ""

    @property
    def in_qpv(self) -> bool:
        return bool(self.qpvs)


def normalize_commune_code(value: str) -> str:
    """Strip and upper-case an INSEE code; restore the leading zero a spreadsheet may have eaten
    (``1001`` → ``01001``)."""
    code = value.strip().upper()
    if code.isdigit() and len(code) == 4:
        code = "0" + code
    return code


def lookup_commune(code: str) -> CommuneInfo | None:
    """The commune with its département, region, density and QPVs, in two queries."""
    commune = (
        Commune.objects.select_related("department__region")
        .prefetch_related(Prefetch("qpvs", queryset=Qpv.objects.order_by("code")))
        .filter(pk=normalize_commune_code(code or ""))
        .first()
    )
    if commune is None:
        return None
    department = commune.department
    return CommuneInfo(
        code=commune.code,
        name=commune.name,
        department_code=department.code,
        department_name=department.name,
        region_code=department.region.code,
        region_name=department.region.name,
        density=commune.density,
        is_rural=commune.is_rural,
        qpvs=[(qpv.code, qpv.name) for qpv in commune.qpvs.all()],
    )


MAX_SUGGESTIONS = 10
MAX_EXACT_MATCHES = 50


def search_communes(text: str, departments=(), exact: bool = False) -> list[Commune]:
    """Communes whose name matches ``text`` with accents, case, hyphens and apostrophes aside
    (« saint etienne » finds Saint-Étienne), département loaded.

    ``exact``: the communes of that very name (several may share it), narrowed to the
    ``departments`` (those of a postal code) when one of them has it. Otherwise the closest names
    by trigram similarity of the whole name or of a word of it, those of ``departments`` first,
    best first. Both use the GIN trigram index on the search name (migration ami 0010)."""
    communes = Commune.objects.with_search_name().select_related("department")
    key = SearchName(Value(text or ""))
    departments = list(departments or ())
    if exact:
        matches = list(
            communes.filter(search_name=key).order_by("name", "code")[:MAX_EXACT_MATCHES]
        )
        narrowed = [c for c in matches if c.department_id in departments]
        return narrowed or matches
    if len((text or "").strip()) < 3:
        return []
    in_departments = Case(When(department_id__in=departments, then=Value(0)), default=Value(1))
    return list(
        communes.filter(
            Q(search_name__trigram_similar=key) | Q(search_name__trigram_word_similar=key)
        )
        .annotate(
            # Whole-name similarity and best-word similarity together: « saint etiene » puts
            # Saint-Étienne before Gancourt-Saint-Étienne, « denis » still finds Saint-Denis.
            closeness=TrigramSimilarity("search_name", key)
            + TrigramWordSimilarity(key, "search_name"),
            elsewhere=in_departments,
        )
        .order_by("elsewhere", "-closeness", "name", "code")[:MAX_SUGGESTIONS]
    )


# --- Reading the files -----------------------------------------------------------------------


@contextmanager
def _text(source, encoding: str) -> Iterator[io.TextIOBase]:
    """A text stream from a path, a text file object or a binary file object."""
    if isinstance(source, str | Path):
        with open(source, encoding=encoding, newline="") as stream:
            yield stream
    elif isinstance(source, io.RawIOBase | io.BufferedIOBase):
        stream = io.TextIOWrapper(source, encoding=encoding, newline="")
        try:
            yield stream
        finally:
            stream.detach()
    else:
        yield source


class _Table:
    """A delimited file with a header: finds the required columns (case-insensitive) and yields
    ``(line number, row)``; the line number is the file's, as a spreadsheet would show it."""

    def __init__(self, stream, required: tuple[str, ...], delimiter: str | None = None):
        first = stream.readline()
        if not first.strip():
            raise TerritoryImportError("fichier vide, la ligne d'en-tête est absente.", line=1)
        first = first.lstrip("\ufeff")
        self.delimiter = delimiter or _sniff_delimiter(first)
        self._reader = csv.reader(itertools.chain([first], stream), delimiter=self.delimiter)
        self.header = [name.strip().lstrip("\ufeff").upper() for name in next(self._reader)]
        missing = [name for name in required if name.upper() not in self.header]
        if missing:
            what = "colonne obligatoire absente"
            if len(missing) > 1:
                what = "colonnes obligatoires absentes"
            raise TerritoryImportError(
                f"{what} : {', '.join(missing)}. Colonnes trouvées : "
                f"{', '.join(self.header) or 'aucune'} (séparateur « {self.delimiter} »).",
                line=1,
            )

    def index(self, name: str) -> int | None:
        name = name.upper()
        return self.header.index(name) if name in self.header else None

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        for row in self._reader:
            if any(cell.strip() for cell in row):
                yield self._reader.line_num, row

    def dict_rows(self) -> Iterator[tuple[int, dict[str, str]]]:
        for line, row in self:
            row = row + [""] * (len(self.header) - len(row))
            yield line, {name: value.strip() for name, value in zip(self.header, row, strict=False)}


def _sniff_delimiter(header_line: str) -> str:
    return max((";", ",", "\t"), key=header_line.count)


def _bulk_upsert(model, objs: list, update_fields: list[str]) -> None:
    if objs:
        model.objects.bulk_create(
            objs,
            batch_size=BATCH_SIZE,
            update_conflicts=True,
            unique_fields=[model._meta.pk.name],
            update_fields=update_fields,
        )


def _existing_codes(model) -> set[str]:
    return set(model.objects.values_list("pk", flat=True))


# --- Communes (INSEE COG v_commune_YYYY.csv) -------------------------------------------------

COMMUNE_COLUMNS = ("COM", "DEP", "LIBELLE")  # TYPECOM and COMPARENT optional: COM and none

DATA_DIR = Path(__file__).resolve().parent / "data"
# Every current commune of the COG, shipped with the code (built from the npm package
# @etalab/decoupage-administratif, see ami/data/README.md): what ``load_territory`` imports when
# given no communes file.
SHIPPED_COMMUNES = DATA_DIR / "communes_cog.csv"


def _department_from_code(code: str) -> str:
    return code[:3] if code.startswith("97") else code[:2]


@transaction.atomic
def import_communes(source, encoding: str = "utf-8-sig") -> ImportStats:
    """Communes (``COM``) and municipal arrondissements of Paris, Lyon and Marseille (``ARM``,
    attached to the département of their parent commune). Associated and delegated communes
    (``COMA``, ``COMD``) are ignored; rows of an unknown département (collectivités d'outre-mer)
    are skipped. A file without ``TYPECOM`` (the shipped ``COM,DEP,LIBELLE`` list) holds
    communes only."""
    stats = ImportStats()
    rows = []  # (line, code, name, department or "", parent)
    with _text(source, encoding) as stream:
        for line, row in _Table(stream, COMMUNE_COLUMNS).dict_rows():
            kind = row.get("TYPECOM", "COM").upper()
            if kind not in ("COM", "ARM"):
                continue
            code = normalize_commune_code(row["COM"])
            if not COMMUNE_CODE_RE.match(code):
                stats.skip(line, f"code commune invalide « {row['COM']} »")
                continue
            if not row["LIBELLE"]:
                stats.skip(line, f"libellé absent pour la commune {code}")
                continue
            parent = normalize_commune_code(row.get("COMPARENT", ""))
            rows.append((line, code, row["LIBELLE"], row["DEP"].upper(), parent))

    file_departments = {code: dep for _, code, _, dep, _ in rows if dep}
    known_departments = _existing_codes(Department)
    communes = {}
    for line, code, name, dep, parent in rows:
        if not dep and parent:
            dep = file_departments.get(parent) or _department_from_code(parent)
        if dep not in known_departments:
            stats.skip(line, f"département inconnu « {dep} » pour la commune {code} {name}")
            continue
        communes[code] = Commune(code=code, name=name, department_id=dep)

    existing = _existing_codes(Commune)
    stats.updated = len(communes.keys() & existing)
    stats.created = len(communes) - stats.updated
    _bulk_upsert(Commune, list(communes.values()), ["name", "department"])
    return stats


# --- Density grid (INSEE grille communale de densité, 4 levels) ------------------------------

DENSITY_COLUMNS = ("CODGEO", "DENS")


@transaction.atomic
def import_density(source, encoding: str = "utf-8-sig") -> ImportStats:
    """Set ``Commune.density`` from the INSEE grid; ``;``- or ``,``-separated. Communes missing
    from the referential are skipped (import the communes first)."""
    stats = ImportStats()
    levels = {}
    with _text(source, encoding) as stream:
        for line, row in _Table(stream, DENSITY_COLUMNS).dict_rows():
            code = normalize_commune_code(row["CODGEO"])
            value = row["DENS"]
            if not value.isdigit() or int(value) not in Density.values:
                stats.skip(line, f"niveau de densité invalide « {value} » pour {code}")
                continue
            levels[code] = (line, int(value))

    current = dict(Commune.objects.values_list("code", "density"))
    changed = defaultdict(list)  # level -> codes of the communes to set to it
    for code, (line, level) in levels.items():
        if code not in current:
            stats.skip(line, f"commune inconnue « {code} »")
            continue
        stats.updated += 1
        if current[code] != level:
            changed[level].append(code)
    # One UPDATE per level and batch rather than per commune.
    for level, codes in changed.items():
        for start in range(0, len(codes), BATCH_SIZE):
            batch = codes[start : start + BATCH_SIZE]
            Commune.objects.filter(pk__in=batch).update(density=level)
    return stats


# --- QPV (ANCT list of quartiers prioritaires) -----------------------------------------------

QPV_COLUMNS = ("CODE_QP", "LIB_QP", "INSEE_COM")


def _split_qpv_row(table: _Table, row: list[str]) -> tuple[str, str, list[str]]:
    """(code, label, commune codes) of one row. A QPV over several communes lists them joined by
    ``"; "`` in ``insee_com`` and ``lib_com``; when those fields are not quoted the csv module
    splits them too, so the columns from ``insee_com`` to ``lib_com`` are read as one block:
    the commune codes first, then the commune names."""
    code_at, label_at, communes_at = (table.index(name) for name in QPV_COLUMNS)
    names_at = table.index("LIB_COM")
    block_end = names_at if names_at == communes_at + 1 else communes_at
    after_block = len(table.header) - 1 - block_end
    block = row[communes_at : len(row) - after_block]
    codes = []
    for cell in block:
        for token in cell.split(";"):
            code = normalize_commune_code(token)
            if code and not COMMUNE_CODE_RE.match(code):
                return row[code_at].strip().upper(), row[label_at].strip(), codes
            if code:
                codes.append(code)
    return row[code_at].strip().upper(), row[label_at].strip(), codes


@transaction.atomic
def import_qpv(source, encoding: str = "utf-8-sig") -> ImportStats:
    """QPVs and their communes; ``;``-separated. A QPV listed on several rows gets the union of
    their communes. Re-importing sets each listed QPV's communes to exactly the file's."""
    stats = ImportStats()
    qpvs = {}  # code -> (line, name, commune codes)
    with _text(source, encoding) as stream:
        table = _Table(stream, QPV_COLUMNS, delimiter=";")
        for line, row in table:
            if len(row) < len(table.header):
                stats.skip(line, f"{len(row)} colonnes au lieu de {len(table.header)}")
                continue
            code, name, communes = _split_qpv_row(table, row)
            if not QPV_CODE_RE.match(code):
                stats.skip(line, f"code QPV invalide « {code} »")
                continue
            if not name or not communes:
                stats.skip(line, f"libellé ou communes absents pour le QPV {code}")
                continue
            previous = qpvs.get(code, (line, name, []))[2]
            qpvs[code] = (line, name, previous + [c for c in communes if c not in previous])

    known_communes = _existing_codes(Commune)
    links = []
    for code, (line, _, communes) in list(qpvs.items()):
        known = [c for c in communes if c in known_communes]
        if not known:
            stats.skip(line, f"aucune commune connue pour le QPV {code} ({', '.join(communes)})")
            del qpvs[code]
            continue
        links += [Qpv.communes.through(qpv_id=code, commune_id=c) for c in known]

    existing = _existing_codes(Qpv)
    stats.updated = len(qpvs.keys() & existing)
    stats.created = len(qpvs) - stats.updated
    _bulk_upsert(Qpv, [Qpv(code=code, name=name) for code, (_, name, _) in qpvs.items()], ["name"])
    Qpv.communes.through.objects.filter(qpv_id__in=list(qpvs)).delete()
    Qpv.communes.through.objects.bulk_create(links, batch_size=BATCH_SIZE)
    return stats


# --- Demo ------------------------------------------------------------------------------------


@transaction.atomic
def load_demo_territory() -> dict[str, ImportStats]:
    """Import the sample files shipped in ``ami/fixtures/territory`` (about 150 communes)."""
    return {
        "communes": import_communes(FIXTURES_DIR / "v_commune_sample.csv"),
        "density": import_density(FIXTURES_DIR / "grille_densite_sample.csv"),
        "qpv": import_qpv(FIXTURES_DIR / "qpv_sample.csv"),
    }
