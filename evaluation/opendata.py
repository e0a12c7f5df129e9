"""Open data of a call's results: the public list of its laureates and the granted subsidies in
the SCDL « subventions » table schema, version 2.0.1 (project's copy:
``evaluation/schemas/scdl-subventions-2.0.1.schema.json``; upstream
https://git.opendatafrance.net/scdl/subventions). Publishing subsidies over 23 000 € as open
data is a legal duty (loi n° 2000-321, art. 10; décret n° 2017-779).

Only *published* decisions ever come out of this module: a pending decision (list fixed, results
not yet published) is neither on the public page nor in the file.

How each SCDL field is filled:

- ``nomAttribuant`` / ``idAttribuant``: the call's settings ``granting_body_name`` and
  ``granting_body_siret``. Without both (and a valid SIRET), no row can be valid: the export is
  unavailable and the problem is shown to the CNA and the staff (``ScdlExport.problems``).
- ``dateConvention``: the date, in Europe/Paris, of the decision's publication
  (``Decision.published_at``). The platform records no signed convention; the field then dates
  the act that grants the subsidy. That act is the publication: until then the decision is
  pending and the CNA may still reopen the list and change it, so neither the session's date
  (``Deliberation.held_on``) nor the moment the list was fixed (``fixed_at``, which a reopening
  moves) dates the final decision, while ``published_at`` is set once and never changes.
- ``referenceDecision``: ``<call slug>-<receipt number>``, stable for the life of the call.
- ``nomBeneficiaire`` / ``idBeneficiaire``: the PTCE's name and SIRET *as they stood when the
  decision was published* (``Decision.beneficiary_name`` / ``beneficiary_siret``, frozen by
  ``publication.publish``): the public record of a grant never follows a later change of the
  PTCE's profile (its SIRET is locked once a candidature is submitted anyway). A laureate without
  a valid SIRET (14 digits with their check key) is left out of the file, logged as a warning and
  listed for the CNA and the staff on the public page (``ScdlExport.skipped``), so that it gets
  fixed — by staff, in the decision's admin page, the one place where the published beneficiary
  may be corrected (logged by the audit trail): the file never holds an invalid row, and the
  public page still lists every laureate.
- ``objet``: « Financement du développement du PTCE <name> (<call name>) », 256 characters at
  most.
- ``montant``: the granted amount, dot as decimal separator, two decimals.
- ``nature``: « aide en numéraire ».
- ``conditionsVersement``: the call's ``subsidy_payment_terms`` (« unique » by default).
- ``datesPeriodeVersement``: the call's ``subsidy_payment_start`` (and ``subsidy_payment_end``
  for a period, ``start/end``); by default the date of publication.
- ``idRAE``: empty (the aid has no RAE identifier).
- ``notificationUE``: « non ».
- ``pourcentageSubvention``: ``1.00``. The schema defines it as the share of the subsidy's total
  amount that goes to this beneficiary, when one subsidy is split between several beneficiaries
  (« 1.00 pour un bénéficiaire unique »; the format's example splits one decision 0.8 / 0.2).
  Each laureate receives its own subsidy, so the share is always 1.00; it is not the share of
  the subsidy in the project's budget.
"""

import csv
import functools
import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from ami.formats import PARIS
from ami.identifiers import is_valid_siret, normalize_siret
from ami.models import Call, Phase
from ami.spreadsheets import safe_cell

from .models import Decision, DecisionOutcome

logger = logging.getLogger(__name__)

SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "scdl-subventions-2.0.1.schema.json"

NATURE = "aide en numéraire"
NOTIFICATION_UE = "non"
SINGLE_BENEFICIARY_SHARE = "1.00"
CENT = Decimal("0.01")
ELLIPSIS = "…"


@functools.cache
def scdl_schema() -> dict:
    """The SCDL « subventions » table schema (a Frictionless Table Schema descriptor)."""
    with SCHEMA_PATH.open(encoding="utf-8") as schema_file:
        return json.load(schema_file)


def scdl_fields() -> list[str]:
    """The schema's field names, in order: the header of the file."""
    return [spec["name"] for spec in scdl_schema()["fields"]]


@functools.cache
def _text_fields() -> dict[str, int | None]:
    """The schema's text fields and their maximum length (None: no limit)."""
    return {
        spec["name"]: spec.get("constraints", {}).get("maxLength")
        for spec in scdl_schema()["fields"]
        if spec.get("type", "string") == "string"
    }


# --- Published results ---------------------------------------------------------------------------


def published_decisions(call):
    return Decision.objects.filter(deliberation__call=call, published_at__isnull=False)


def has_published_results(call) -> bool:
    """Whether the call has any published decision (laureate or not)."""
    return published_decisions(call).exists()


def published_laureates(call):
    """The call's published laureate decisions, with their candidature, PTCE and region, by region
    then PTCE name."""
    return (
        published_decisions(call)
        .filter(outcome=DecisionOutcome.LAUREATE)
        .select_related("candidature__region")
        .order_by("candidature__region__name", "beneficiary_name", "pk")
    )


def public_calls():
    """Calls whose results may be public: any call past its draft."""
    return Call.objects.exclude(phase=Phase.DRAFT)


# --- SCDL rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkippedLaureate:
    decision: Decision
    reason: str


@dataclass
class ScdlExport:
    """The rows of the file, the laureates left out of it and, when the call's settings make
    any row invalid, the problems (then there are no rows at all)."""

    rows: list[dict] = field(default_factory=list)
    skipped: list[SkippedLaureate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return not self.problems


def settings_problems(call) -> list[str]:
    """What in the call's settings keeps the subsidies from being published as valid SCDL."""
    problems = []
    if not call.granting_body_name.strip():
        problems.append("Le nom de l'attribuant n'est pas renseigné dans les réglages de l'appel.")
    if not is_valid_siret(call.granting_body_siret):
        problems.append(
            "Le SIRET de l'attribuant est absent ou invalide dans les réglages de l'appel."
        )
    if not call.subsidy_payment_terms.strip():
        problems.append(
            "Les conditions de versement ne sont pas renseignées dans les réglages de l'appel."
        )
    return problems


def _shorten(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + ELLIPSIS


def _paris_date(moment):
    return timezone.localtime(moment, PARIS).date()


def subsidy_object(call, beneficiary_name: str) -> str:
    text = f"Financement du développement du PTCE {beneficiary_name} ({call.name})"
    return _shorten(text, _text_fields()["objet"])


def reference(call, candidature) -> str:
    return f"{call.slug}-{candidature.receipt_number or candidature.pk}"


def payment_dates(call, published_on) -> str:
    start = call.subsidy_payment_start or published_on
    if call.subsidy_payment_end:
        return f"{start.isoformat()}/{call.subsidy_payment_end.isoformat()}"
    return start.isoformat()


def scdl_row(call, decision) -> dict:
    """The SCDL row of one published laureate decision of ``call`` (values as text)."""
    candidature = decision.candidature
    published_on = _paris_date(decision.published_at)
    return {
        "nomAttribuant": call.granting_body_name.strip(),
        "idAttribuant": normalize_siret(call.granting_body_siret),
        "dateConvention": published_on.isoformat(),
        "referenceDecision": reference(call, candidature),
        "nomBeneficiaire": decision.beneficiary_name,
        "idBeneficiaire": normalize_siret(decision.beneficiary_siret),
        "objet": subsidy_object(call, decision.beneficiary_name),
        "montant": format(decision.granted_amount.quantize(CENT), "f"),
        "nature": NATURE,
        "conditionsVersement": call.subsidy_payment_terms.strip(),
        "datesPeriodeVersement": payment_dates(call, published_on),
        "idRAE": "",
        "notificationUE": NOTIFICATION_UE,
        "pourcentageSubvention": SINGLE_BENEFICIARY_SHARE,
    }


def scdl_export(call, laureates=None) -> ScdlExport:
    """The SCDL rows of the call's published laureates (``laureates``: an already evaluated
    ``published_laureates(call)``, to spare its query), with what was left out and why."""
    problems = settings_problems(call)
    if problems:
        return ScdlExport(problems=problems)
    laureates = published_laureates(call) if laureates is None else laureates
    export = ScdlExport()
    for decision in laureates:
        siret = decision.beneficiary_siret
        if not is_valid_siret(siret):
            reason = "SIRET invalide" if normalize_siret(siret) else "SIRET absent"
            export.skipped.append(SkippedLaureate(decision, reason))
            continue
        export.rows.append(scdl_row(call, decision))
    return export


def scdl_rows(call) -> list[dict]:
    """The valid SCDL rows of the call's published laureates, for the file; what is left out is
    logged as a warning (none at all when the call's settings are incomplete)."""
    export = scdl_export(call)
    for problem in export.problems:
        logger.warning("Données SCDL de l'appel %s indisponibles : %s", call.slug, problem)
    for skipped in export.skipped:
        logger.warning(
            "Lauréat « %s » (décision %s) écarté des données SCDL de l'appel %s : %s.",
            skipped.decision.beneficiary_name,
            skipped.decision.pk,
            call.slug,
            skipped.reason,
        )
    return export.rows


# --- CSV ---------------------------------------------------------------------------------------


def csv_cell(name: str, value: str) -> str:
    """A CSV cell a spreadsheet will not run: text fields go through
    ``ami.spreadsheets.safe_cell`` (an apostrophe before a leading ``=``, ``+``, ``-``, ``@``…),
    then are cut to the schema's ``maxLength`` so that the prefix never makes a valid value
    invalid. Numbers, dates and booleans are written as they are (a number must stay a number
    for the schema)."""
    text_fields = _text_fields()
    if name not in text_fields or not value:
        return value
    text = safe_cell(value)
    limit = text_fields[name]
    return _shorten(text, limit) if limit else text


def write_csv(rows: list[dict], output) -> None:
    """Write the SCDL CSV (comma separated, header = the schema's fields) to the text file
    ``output``."""
    names = scdl_fields()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([csv_cell(name, row[name]) for name in names])


def csv_filename(call) -> str:
    return f"{call.slug}-subventions.csv"
