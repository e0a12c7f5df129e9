"""The territory referential: regions and départements from the migration, the three importers,
the commune lookup and the import commands."""

import io
import time

import pytest
from django.core.management import CommandError, call_command

from ami.models import Commune, Density, Department, Qpv, Region
from ami.territory import (
    FIXTURES_DIR,
    SHIPPED_COMMUNES,
    TerritoryImportError,
    import_communes,
    import_density,
    import_qpv,
    load_demo_territory,
    lookup_commune,
    search_communes,
)

pytestmark = pytest.mark.django_db

COG_HEADER = "TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT\n"
COG_ROWS = (
    "COM,35238,53,35,35D,352,0,RENNES,Rennes,Rennes,3599,\n"
    "COM,35211,53,35,35D,351,0,PAIMPONT,Paimpont,Paimpont,3514,\n"
    "COM,2A004,94,2A,20R,2A1,1,AJACCIO,Ajaccio,Ajaccio,2A98,\n"
    "COM,2B033,94,2B,20R,2B1,0,BASTIA,Bastia,Bastia,2B98,\n"
    "COM,97411,04,974,974D,9741,0,SAINT DENIS,Saint-Denis,Saint-Denis,97498,\n"
    "COM,75056,11,75,75C,751,0,PARIS,Paris,Paris,7598,\n"
    "ARM,75118,,,,751,0,PARIS 18E ARRONDISSEMENT,Paris 18e Arrondissement,"
    "Paris 18e Arrondissement,,75056\n"
    "ARM,75119,,,,751,0,PARIS 19E ARRONDISSEMENT,Paris 19e Arrondissement,"
    "Paris 19e Arrondissement,,75056\n"
    "COM,91286,11,91,91D,913,0,GRIGNY,Grigny,Grigny,9111,\n"
    "COM,91687,11,91,91D,913,0,VIRY CHATILLON,Viry-Châtillon,Viry-Châtillon,9111,\n"
    "COM,74010,84,74,74D,741,1,ANNECY,Annecy,Annecy,7499,\n"
    "COMD,74011,84,74,74D,741,1,ANNECY LE VIEUX,Annecy-le-Vieux,Annecy-le-Vieux,,74010\n"
    "COMA,14712,28,14,14D,143,0,VAUVILLE,Vauville,Vauville,,14754\n"
    "COM,97501,,975,975,,0,MIQUELON LANGLADE,Miquelon-Langlade,Miquelon-Langlade,,\n"
)


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


@pytest.fixture
def communes(tmp_path):
    """The small COG file above, imported (with a BOM, as INSEE ships it)."""
    import_communes(write(tmp_path, "v_commune.csv", "\ufeff" + COG_HEADER + COG_ROWS))


# --- Regions and départements ------------------------------------------------------------------


def test_migration_loads_regions_and_departments():
    assert Region.objects.count() == 18
    assert Department.objects.count() == 101
    codes = set(Department.objects.values_list("code", flat=True))
    assert {"2A", "2B", "971", "972", "973", "974", "976"} <= codes
    assert "20" not in codes and "975" not in codes
    assert Department.objects.get(code="22").name == "Côtes-d'Armor"
    assert Department.objects.get(code="2A").region.name == "Corse"
    assert Department.objects.get(code="974").region.name == "La Réunion"
    assert Region.objects.get(code="93").name == "Provence-Alpes-Côte d'Azur"
    # Every region has at least one département.
    assert not Region.objects.filter(departments=None).exists()


# --- Communes ----------------------------------------------------------------------------------


def test_import_communes_keeps_com_and_arm(tmp_path):
    path = write(tmp_path, "v_commune.csv", "\ufeff" + COG_HEADER + COG_ROWS)

    stats = import_communes(path)

    assert (stats.created, stats.updated, stats.skipped) == (11, 0, 1)
    assert "975" in stats.problems[0] and "ligne 15" in stats.problems[0]
    assert Commune.objects.get(code="75118").department_id == "75"
    assert Commune.objects.get(code="2A004").department.name == "Corse-du-Sud"
    assert Commune.objects.get(code="97411").department.region_id == "04"
    assert Commune.objects.get(code="91687").name == "Viry-Châtillon"
    # Delegated and associated communes are ignored; the commune nouvelle stays.
    assert Commune.objects.get(code="74010").name == "Annecy"
    assert not Commune.objects.filter(code__in=["74011", "14712", "97501"]).exists()


def test_reimport_communes_updates_without_duplicating(tmp_path, communes):
    renamed = COG_ROWS.replace("Paimpont,Paimpont", "Paimpont,Paimpont-en-Brocéliande")
    Commune.objects.filter(code="35211").update(density=Density.VERY_LOW)

    stats = import_communes(io.StringIO(COG_HEADER + renamed))

    assert (stats.created, stats.updated) == (0, 11)
    assert Commune.objects.count() == 11
    paimpont = Commune.objects.get(code="35211")
    assert paimpont.name == "Paimpont-en-Brocéliande"
    assert paimpont.density == Density.VERY_LOW  # the density survives a new COG


def test_import_communes_reads_binary_streams_and_quoted_names():
    text = COG_HEADER + 'COM,35238,53,35,35D,352,0,RENNES,Rennes,"Rennes, capitale",3599,\n'

    stats = import_communes(io.BytesIO(text.encode("utf-8-sig")))

    assert stats.created == 1
    assert Commune.objects.get().name == "Rennes, capitale"


def test_missing_column_is_a_clear_error(tmp_path):
    path = write(tmp_path, "v_commune.csv", "TYPECOM,COM,REG,DEP\nCOM,35238,53,35\n")

    with pytest.raises(TerritoryImportError) as error:
        import_communes(path)

    assert error.value.line == 1
    assert str(error.value).startswith("Ligne 1 : colonne obligatoire absente : LIBELLE")
    assert not Commune.objects.exists()


def test_empty_file_is_a_clear_error():
    with pytest.raises(TerritoryImportError, match="fichier vide"):
        import_density(io.StringIO(""))


# --- Density -----------------------------------------------------------------------------------


@pytest.mark.parametrize("separator", [";", ","])
def test_import_density_sniffs_the_separator(tmp_path, communes, separator):
    text = (
        "\ufeffCODGEO;LIBGEO;DENS;LIBDENS;PMUN21\n"
        "35238;Rennes;1;Densément peuplée;225081\n"
        "35211;Paimpont;4;Très peu dense;1770\n"
        "2A004;Ajaccio;2;Densité intermédiaire;73817\n"
        "1001;L'Abergement-Clémenciat;3;Peu dense;859\n"
        "35999;Inconnue;3;Peu dense;10\n"
        "2B033;Bastia;9;Inconnu;48503\n"
    ).replace(";", separator)

    stats = import_density(write(tmp_path, "grille.csv", text))

    assert (stats.created, stats.updated, stats.skipped) == (0, 3, 3)
    densities = dict(Commune.objects.values_list("code", "density"))
    assert densities["35238"] == Density.DENSE
    assert densities["35211"] == Density.VERY_LOW
    assert densities["2A004"] == Density.INTERMEDIATE
    assert densities["2B033"] is None
    assert Commune.objects.get(code="35211").is_rural
    assert not Commune.objects.get(code="35238").is_rural


def test_reimport_density_updates(tmp_path, communes):
    import_density(io.StringIO("CODGEO;DENS\n35211;4\n"))
    stats = import_density(io.StringIO("CODGEO;DENS\n35211;3\n"))

    assert stats.updated == 1
    assert Commune.objects.get(code="35211").density == Density.LOW


def test_density_file_without_dens_column():
    with pytest.raises(TerritoryImportError, match="colonne obligatoire absente : DENS"):
        import_density(io.StringIO("CODGEO;LIBGEO;DENS7\n35238;Rennes;1\n"))


# --- QPV ---------------------------------------------------------------------------------------

QPV_HEADER = "code_qp;lib_qp;insee_com;lib_com\n"


def test_import_qpv_quoted_and_unquoted_multi_commune_rows(communes):
    text = (
        "\ufeff" + QPV_HEADER + 'QN03501M;"Maurepas";35238;Rennes\n'
        'QN09101M;"Grande Borne";"91286; 91687";"Grigny; Viry-Châtillon"\n'
        "QN07501M;Porte de la Chapelle;75118; 75119;Paris 18e; Paris 19e\n"
        'QN02A01M;Les Cannes;"2A004";"Ajaccio"\n'
        "QN9740M;Code invalide;97411;Saint-Denis\n"
        "QN97401M;Commune inconnue;97499;Ailleurs\n"
    )

    stats = import_qpv(io.StringIO(text))

    assert (stats.created, stats.updated, stats.skipped) == (4, 0, 2)
    assert "QN9740M" in stats.problems[0]
    grande_borne = Qpv.objects.get(code="QN09101M")
    assert grande_borne.name == "Grande Borne"
    assert sorted(grande_borne.communes.values_list("code", flat=True)) == ["91286", "91687"]
    chapelle = Qpv.objects.get(code="QN07501M")
    assert chapelle.name == "Porte de la Chapelle"
    assert sorted(chapelle.communes.values_list("code", flat=True)) == ["75118", "75119"]
    assert list(Qpv.objects.get(code="QN02A01M").communes.values_list("code", flat=True)) == [
        "2A004"
    ]


def test_import_qpv_merges_rows_of_one_qpv_and_extra_columns(communes):
    text = (
        "code_qp;lib_qp;insee_com;lib_com;siren_epci\n"
        "QN09101M;Grande Borne;91286;Grigny;200058485\n"
        "QN09101M;Grande Borne;91687;Viry-Châtillon;200058485\n"
        "QN07501M;Porte de la Chapelle;75118;75119;Paris 18e;Paris 19e;200054781\n"
    )

    stats = import_qpv(io.StringIO(text))

    assert stats.created == 2
    codes = Qpv.objects.get(code="QN09101M").communes.values_list("code", flat=True)
    assert sorted(codes) == ["91286", "91687"]
    codes = Qpv.objects.get(code="QN07501M").communes.values_list("code", flat=True)
    assert sorted(codes) == ["75118", "75119"]


def test_reimport_qpv_sets_exactly_the_files_communes(communes):
    import_qpv(io.StringIO(QPV_HEADER + 'QN09101M;Grande Borne;"91286; 91687";"Grigny; Viry"\n'))

    stats = import_qpv(io.StringIO(QPV_HEADER + "QN09101M;La Grande Borne;91286;Grigny\n"))

    assert (stats.created, stats.updated) == (0, 1)
    assert Qpv.objects.count() == 1
    qpv = Qpv.objects.get()
    assert qpv.name == "La Grande Borne"
    assert list(qpv.communes.values_list("code", flat=True)) == ["91286"]


def test_qpv_file_without_commune_column():
    expected = "Ligne 1 : colonne obligatoire absente : INSEE_COM"
    with pytest.raises(TerritoryImportError, match=expected):
        import_qpv(io.StringIO("code_qp;lib_qp\nQN09101M;Grande Borne\n"))


# --- Lookup ------------------------------------------------------------------------------------


def test_lookup_commune(communes, django_assert_max_num_queries):
    import_density(io.StringIO("CODGEO;DENS\n91286;1\n35211;4\n"))
    import_qpv(
        io.StringIO(
            QPV_HEADER + 'QN09101M;Grande Borne;"91286; 91687";"Grigny; Viry"\n'
            "QN09102M;Grigny 2;91286;Grigny\n"
        )
    )

    with django_assert_max_num_queries(2):
        grigny = lookup_commune("91286")
    with django_assert_max_num_queries(2):
        paimpont = lookup_commune(" 35211 ")
    ajaccio = lookup_commune("2a004")

    assert grigny.department_code == "91"
    assert grigny.department_name == "Essonne"
    assert (grigny.region_code, grigny.region_name) == ("11", "Île-de-France")
    assert grigny.density == Density.DENSE
    assert grigny.density_label == "densément peuplée"
    assert not grigny.is_rural
    assert grigny.qpvs == [("QN09101M", "Grande Borne"), ("QN09102M", "Grigny 2")]
    assert grigny.in_qpv
    assert paimpont.is_rural and not paimpont.qpvs
    assert ajaccio.region_name == "Corse" and ajaccio.density is None
    assert lookup_commune("00000") is None


# --- Commands ----------------------------------------------------------------------------------


def test_commands_print_stats(tmp_path):
    out = io.StringIO()
    call_command(
        "import_communes", str(write(tmp_path, "c.csv", COG_HEADER + COG_ROWS)), stdout=out
    )
    assert "Communes : 11 créées, 0 mise à jour." in out.getvalue()
    assert "1 ligne ignorée." in out.getvalue()

    out = io.StringIO()
    path = write(tmp_path, "d.csv", "CODGEO,DENS\n35238,1\n35211,4\n", encoding="latin-1")
    call_command("import_density", str(path), "--encoding", "latin-1", stdout=out)
    assert "Densité : 2 communes mises à jour." in out.getvalue()

    out = io.StringIO()
    path = write(tmp_path, "q.csv", QPV_HEADER + "QN03501M;Maurepas;35238;Rennes\nQN1;x;1;y\n")
    call_command("import_qpv", str(path), verbosity=2, stdout=out)
    assert "Quartiers prioritaires : 1 créé, 0 mis à jour." in out.getvalue()
    assert "ligne 3 : code QPV invalide « QN1 »" in out.getvalue()


def test_command_reads_stdin(monkeypatch):
    stdin = io.TextIOWrapper(io.BytesIO((COG_HEADER + COG_ROWS).encode("utf-8-sig")))
    monkeypatch.setattr("sys.stdin", stdin)
    out = io.StringIO()

    call_command("import_communes", "-", stdout=out)

    assert "11 créées" in out.getvalue()


def test_command_errors_are_french(tmp_path):
    with pytest.raises(CommandError, match="Fichier introuvable"):
        call_command("import_qpv", str(tmp_path / "absent.csv"))
    path = write(tmp_path, "bad.csv", "CODGEO;LIBGEO\n35238;Rennes\n")
    with pytest.raises(CommandError, match="colonne obligatoire absente : DENS"):
        call_command("import_density", str(path))
    path = write(tmp_path, "latin.csv", "CODGEO;DENS;LIBGEO\n35238;1;Très\n", encoding="latin-1")
    with pytest.raises(CommandError, match="--encoding latin-1"):
        call_command("import_density", str(path))


# --- Demo sample -------------------------------------------------------------------------------


def test_sample_files_import():
    stats = load_demo_territory()

    assert stats["communes"].created >= 150 and stats["communes"].skipped == 0
    assert stats["density"].skipped == 0
    assert stats["qpv"].created >= 10 and stats["qpv"].skipped == 0
    assert Commune.objects.values("department__region").distinct().count() >= 6
    assert Commune.objects.values("department").distinct().count() >= 8
    assert Commune.objects.filter(code__in=["75056", "75119", "2A004", "2B033", "97411"]).count()
    assert Commune.objects.filter(density__in=[3, 4]).exists()
    assert Commune.objects.filter(density=1).exists()
    assert any(len(qpv.communes.all()) > 1 for qpv in Qpv.objects.prefetch_related("communes"))

    again = load_demo_territory()
    assert again["communes"].created == 0 and again["qpv"].created == 0


# --- The shipped commune list and load_territory ----------------------------------------------


def test_load_territory_loads_the_shipped_communes_fast_and_idempotently():
    out = io.StringIO()
    started = time.monotonic()
    call_command("load_territory", stdout=out)
    elapsed = time.monotonic() - started
    assert elapsed < 10, f"{elapsed:.1f} s"
    count = Commune.objects.count()
    assert count >= 34_800
    assert "créées" in out.getvalue() and "--density, --qpv" in out.getvalue()
    assert Commune.objects.get(code="26113").name == "Die"
    assert Commune.objects.get(code="42218").name == "Saint-Étienne"
    assert Commune.objects.filter(code__startswith="2A").exists()
    assert Commune.objects.filter(department_id="976").exists()  # Mayotte
    assert Commune.objects.values("department").distinct().count() == Department.objects.count()

    out = io.StringIO()
    call_command("load_territory", stdout=out)
    assert "Communes : 0 créée" in out.getvalue()
    assert Commune.objects.count() == count


def test_shipped_file_is_the_compact_csv_described_in_its_readme():
    header = SHIPPED_COMMUNES.read_text(encoding="utf-8").splitlines()[0]
    assert header == "COM,DEP,LIBELLE"
    readme = (SHIPPED_COMMUNES.parent / "README.md").read_text()
    assert "@etalab/decoupage-administratif" in readme and "6.0.0" in readme
    assert "Licence Ouverte" in readme


def test_load_territory_with_every_file(tmp_path):
    communes = write(tmp_path, "v_commune.csv", COG_HEADER + COG_ROWS)
    out = io.StringIO()
    call_command(
        "load_territory",
        "--communes",
        str(communes),
        "--density",
        str(FIXTURES_DIR / "grille_densite_sample.csv"),
        "--qpv",
        str(FIXTURES_DIR / "qpv_sample.csv"),
        stdout=out,
    )
    text = out.getvalue()
    assert "Communes : 11 créées" in text
    assert "Densité :" in text and "Quartiers prioritaires :" in text
    assert "Non chargé" not in text
    assert Commune.objects.get(code="35238").density == Density.DENSE
    assert Qpv.objects.filter(communes__code="75119").exists()


def test_load_territory_is_all_or_nothing(tmp_path):
    communes = write(tmp_path, "v_commune.csv", COG_HEADER + COG_ROWS)
    with pytest.raises(CommandError, match="Fichier introuvable"):
        call_command(
            "load_territory", "--communes", str(communes), "--qpv", str(tmp_path / "absent.csv")
        )
    assert not Commune.objects.exists()


# --- Search ------------------------------------------------------------------------------------


@pytest.fixture
def named_communes():
    rows = [
        ("26113", "Die", "26"),
        ("14762", "Vire Normandie", "14"),
        ("42218", "Saint-Étienne", "42"),
        ("76575", "Saint-Étienne-du-Rouvray", "76"),
        ("93066", "Saint-Denis", "93"),
        ("97411", "Saint-Denis", "974"),
        ("2A004", "Ajaccio", "2A"),
        ("60175", "Compiègne", "60"),
        ("59350", "Lille", "59"),
    ]
    for code, name, dep in rows:
        Commune.objects.create(code=code, name=name, department_id=dep)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("die", ["26113"]),
        ("DIE", ["26113"]),
        ("saint etienne", ["42218"]),
        ("Saint-Etienne", ["42218"]),
        ("  saint   étienne ", ["42218"]),
        ("compiegne", ["60175"]),
        ("saint denis", ["93066", "97411"]),
    ],
)
def test_exact_search_ignores_accents_case_and_hyphens(named_communes, typed, expected):
    assert sorted(c.code for c in search_communes(typed, exact=True)) == expected


def test_exact_search_narrowed_by_departments(named_communes):
    assert [c.code for c in search_communes("Saint-Denis", ["974"], exact=True)] == ["97411"]
    # A postal code of another département does not hide the only commune of that name.
    assert [c.code for c in search_communes("Die", ["75"], exact=True)] == ["26113"]


def test_close_names_by_trigram_similarity(named_communes):
    found = [c.code for c in search_communes("saint etiene")]
    assert found[0] == "42218" and "76575" in found
    assert search_communes("Compiegn")[0].code == "60175"
    assert search_communes("Denis")[0].name == "Saint-Denis"
    # The postal code's département comes first.
    assert search_communes("saint denis", ["974"])[0].code == "97411"
    assert search_communes("zz") == []


def test_search_uses_the_trigram_index(named_communes):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            "EXPLAIN SELECT code FROM ami_commune "
            "WHERE ami_search_name(name) % ami_search_name('saint etienne')"
        )
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "ami_commune_search_trgm" in plan
