"""Exports of the national review (DESIGN §4–5, §9): the national table as an XLSX workbook (one
row per candidature with every score, opinion and decision), and the procès-verbal of the
deliberation once the list is fixed, as a PDF and as an XLSX workbook.

The workbooks are written by ``ami.spreadsheets.write_xlsx`` (formulas neutralised by
``safe_cell``).
Queries stay bounded whatever the number of candidatures: the rows in one query, then one query
each for the per-criterion means and the CNA's analyses."""

import io
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Avg
from django.template.loader import render_to_string
from django.utils import timezone

from ami.formats import euros, paris_datetime
from ami.pdf import render_pdf
from ami.spreadsheets import Sheet, write_xlsx
from candidatures.models import Candidature

from .consolidation import opinion_label, rounded, score_fr
from .deliberation import Totals
from .exports import criterion_mean_header
from .models import (
    DecisionOutcome,
    Deliberation,
    DeliberationLine,
    DeliberationOverride,
    NationalReview,
    ReviewScore,
    ReviewState,
)
from .national import national_rows
from .permissions import can_view_national

# What the table reads of a candidature, its PTCE and its region (not the long texts of the
# application nor its snapshot at submission, heavy at 10 000 rows).
ROW_FIELDS = (
    "receipt_number",
    "state",
    "requested_amount",
    "is_rural",
    "in_qpv",
    "ptce__name",
    "ptce__siret",
    "region__name",
)
NATIONAL_MONEY = ("Montant demandé", "Montant accordé")
NO_SCENARIO = "aucun (liste établie en séance)"
PV_MONEY = ("Montant demandé", "Montant proposé", "Montant accordé", "Montant")


def _day(value) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def _moment(value) -> str:
    """An aware time in Paris: « 20 novembre 2026 à 14 h 05 »."""
    return paris_datetime(value)


def _person(user) -> str:
    return str(user) if user is not None else ""


# --- The national table ---------------------------------------------------------------------------


def _criterion_means(ids) -> dict[tuple[int, int], Decimal]:
    """Mean raw score per (candidature, criterion) over the submitted reviews, « not applicable »
    left out (as ``consolidation.criterion_mean``): one query."""
    means = (
        ReviewScore.objects.filter(
            review__candidature_id__in=ids,
            review__state=ReviewState.SUBMITTED,
            not_applicable=False,
            score__isnull=False,
        )
        .values_list("review__candidature_id", "criterion_id")
        .annotate(mean=Avg("score"))
        .order_by()
    )
    return {(candidature, criterion): rounded(mean) for candidature, criterion, mean in means}


def analysis_text(name: str, score, opinion: str, comment: str) -> str:
    """« Nom : note/100, avis — commentaire »."""
    return f"{name} : {score_fr(score)}/100, {opinion_label(opinion)} — {comment.strip()}"


def _analyses(ids) -> dict[int, list[str]]:
    """The CNA's analyses of each candidature as text, oldest first: one query, read as plain
    values (no model instances: 20 000 analyses for 10 000 rows)."""
    texts = defaultdict(list)
    analyses = (
        NationalReview.objects.filter(candidature_id__in=ids)
        .order_by("candidature_id", "created_at", "pk")
        .values_list(
            "candidature_id",
            "reviewer__first_name",
            "reviewer__last_name",
            "reviewer__email",
            "score",
            "opinion",
            "comment",
        )
    )
    for candidature_id, first_name, last_name, email, score, opinion, comment in analyses:
        name = f"{first_name} {last_name}".strip() or email  # as ``User.__str__``
        texts[candidature_id].append(analysis_text(name, score, opinion, comment))
    return texts


def _publication(row) -> str:
    if row.decision_outcome is None:
        return ""
    if row.decision_published_at is None:
        return "en attente de publication"
    return f"publiée le {_day(timezone.localtime(row.decision_published_at))}"


def national_table(call, user, queryset=None) -> tuple[list[str], list[list]]:
    """Header and rows of the national XLSX: one row per candidature ``user`` may see (or per
    row of ``queryset``, from ``national.national_rows(…, texts=True)`` with the dashboard's
    filters) with its review statistics, the mean per criterion, the collegial opinion, the
    normalised score, the CNA's analyses and the decision (pending ones included: only the CNA
    and the staff reach this table). Values are raw; ``ami.spreadsheets.write_xlsx`` formats them.
    Raises PermissionDenied for anyone else."""
    if not can_view_national(user, call):
        raise PermissionDenied("Seules la CNA de l'appel et l'équipe Coorace exportent ce tableau.")
    if queryset is None:
        queryset = national_rows(call, user, texts=True)
    rows = list(queryset.only(*ROW_FIELDS))
    ids = [row.pk for row in rows]
    criteria = list(call.criteria.all())
    means = _criterion_means(ids) if criteria and ids else {}
    analyses = _analyses(ids) if ids else {}
    header = [
        "N° de dépôt",
        "PTCE",
        "SIRET",
        "Région",
        "Territoire rural",
        "QPV",
        "État",
        "Montant demandé",
        "Évaluations rendues",
        "Moyenne /100",
        "Médiane /100",
        "Minimum /100",
        "Maximum /100",
        "Écart",
        "Désaccord",
        *(criterion_mean_header(criterion) for criterion in criteria),
        "Note consolidée /100",
        "Avis collégial",
        "Rang régional",
        "Justification de la note",
        "Motivation régionale communicable",
        "Note interne régionale",
        "Note normalisée",
        "Analyses CNA",
        "Moyenne CNA /100",
        "Détail des analyses CNA",
        "Décision",
        "Montant accordé",
        "Publication",
    ]
    table = []
    for row in rows:
        table.append(
            [
                row.receipt_number or "",
                row.ptce.name,
                row.ptce.siret,
                row.region.name,
                bool(row.is_rural),
                bool(row.in_qpv),
                row.get_state_display(),
                row.requested_amount,
                row.review_count,
                row.score_mean,
                row.score_median,
                row.score_min,
                row.score_max,
                row.score_spread,
                bool(row.disagreement),
                *(means.get((row.pk, criterion.pk)) for criterion in criteria),
                row.collegial_score,
                opinion_label(row.collegial_opinion),
                row.collegial_rank,
                row.collegial_justification or "",
                row.collegial_motivation or "",
                row.collegial_internal_note or "",
                row.normalised_score,
                row.national_count,
                row.national_mean,
                "\n".join(analyses.get(row.pk, ())),
                DecisionOutcome(row.decision_outcome).label if row.decision_outcome else "",
                row.decision_amount,
                _publication(row),
            ]
        )
    return header, table


def national_workbook(call, user, output, queryset=None) -> None:
    """Write the national XLSX to the binary file ``output``."""
    header, table = national_table(call, user, queryset)
    write_xlsx(output, [Sheet("Tableau national", header, table, money=NATIONAL_MONEY)])


def national_filename(call) -> str:
    return f"{call.slug}-tableau-national.xlsx"


# --- The procès-verbal ----------------------------------------------------------------------------


@dataclass
class PvLine:
    """One decision of the procès-verbal: what was proposed, what was decided and why."""

    receipt_number: str
    ptce: str
    region: str
    score: Decimal | None  # the regional consolidated score
    requested: Decimal | None
    proposed_selected: bool | None  # None: no proposal (list made by hand)
    proposed_amount: Decimal | None
    laureate: bool
    amount: Decimal | None
    justification: str  # written when the line departs from the proposal

    @property
    def proposal_label(self) -> str:
        if self.proposed_selected is None:
            return "sans proposition"
        return "retenue" if self.proposed_selected else "non retenue"

    @property
    def decision_label(self) -> str:
        outcome = DecisionOutcome.LAUREATE if self.laureate else DecisionOutcome.NOT_SELECTED
        return outcome.label

    @property
    def modified(self) -> bool:
        return bool(self.justification)


@dataclass
class PvOverride:
    at: object  # aware datetime
    actor: str
    receipt_number: str
    ptce: str
    selected: bool
    amount: Decimal | None
    justification: str

    @property
    def decision_label(self) -> str:
        return "retenue" if self.selected else "non retenue"


def _pv_line(line: DeliberationLine) -> PvLine:
    candidature = line.candidature
    decision = getattr(candidature, "decision", None)
    if decision is not None and decision.deliberation_id == line.deliberation_id:
        laureate = decision.outcome == DecisionOutcome.LAUREATE
        amount = decision.granted_amount  # the amount may be edited after fixing the list
    else:
        laureate, amount = line.selected, line.amount
    opinion = getattr(candidature, "regional_opinion", None)
    return PvLine(
        receipt_number=candidature.receipt_number or "",
        ptce=candidature.ptce.name,
        region=candidature.region.name,
        score=opinion.consolidated_score if opinion is not None else None,
        requested=candidature.requested_amount,
        proposed_selected=line.proposed_selected,
        proposed_amount=line.proposed_amount,
        laureate=laureate,
        amount=amount if laureate else None,
        justification=line.justification.strip(),
    )


def _scenario_summary(scenario) -> list[str]:
    from .scenarios import Parameters

    try:
        return Parameters.from_json(scenario.parameters or {}).summary()
    except (TypeError, ValueError, ArithmeticError):
        return []


def pv_context(deliberation: Deliberation, viewer=None) -> dict:
    """Everything the procès-verbal shows: the call, the session (date, members present, notes,
    the scenario it started from and its parameters), the decisions — laureates with their
    amounts, then the candidatures not selected —, each with the proposal, the decision and the
    justification when it departs from the proposal, the record of every change made in session
    (who, when, why), the totals against the envelope, and who fixed the list and when.

    With ``viewer``, candidatures hidden from them (a declared conflict of interest) are left
    out, and the totals then cover the decisions shown (and say so). A fixed list only: raises
    ValidationError otherwise. A bounded number of queries."""
    deliberation = (
        Deliberation.objects.select_related("call", "scenario", "fixed_by", "created_by")
        .prefetch_related("members_present")
        .get(pk=deliberation.pk)
    )
    if not deliberation.is_fixed:
        raise ValidationError("La liste n'est pas arrêtée : le procès-verbal n'existe pas encore.")
    call = deliberation.call
    lines = DeliberationLine.objects.filter(deliberation=deliberation)
    overrides = DeliberationOverride.objects.filter(line__deliberation=deliberation)
    withheld = 0
    if viewer is not None:
        visible = Candidature.objects.visible_to(viewer).values("pk")
        withheld = lines.exclude(candidature__in=visible).count()
        lines = lines.filter(candidature__in=visible)
        overrides = overrides.filter(line__candidature__in=visible)
    decisions = [
        _pv_line(line)
        for line in lines.select_related(
            "candidature__ptce",
            "candidature__region",
            "candidature__decision",
            "candidature__regional_opinion",
        ).order_by("candidature__region__name", "candidature__ptce__name", "pk")
    ]
    laureates = [line for line in decisions if line.laureate]
    not_selected = [line for line in decisions if not line.laureate]
    log = [
        PvOverride(
            at=override.at,
            actor=_person(override.actor),
            receipt_number=override.line.candidature.receipt_number or "",
            ptce=override.line.candidature.ptce.name,
            selected=override.selected,
            amount=override.amount,
            justification=override.justification,
        )
        for override in overrides.select_related("actor", "line__candidature__ptce").order_by(
            "at", "pk"
        )
    ]
    members = sorted(
        deliberation.members_present.all(),
        key=lambda user: (user.last_name.lower(), user.first_name.lower(), user.email),
    )
    scenario = deliberation.scenario
    return {
        "title": f"Procès-verbal de délibération — {call.name}",
        "call": call,
        "deliberation": deliberation,
        "held_on": deliberation.held_on,
        "members": [_person(member) for member in members],
        "notes": deliberation.notes,
        "scenario": scenario,
        "scenario_summary": _scenario_summary(scenario) if scenario is not None else [],
        "laureates": laureates,
        "not_selected": not_selected,
        "has_proposal": any(line.proposed_selected is not None for line in decisions),
        "overrides": log,
        "totals": Totals(
            envelope=call.envelope,
            selected=len(laureates),
            granted=sum((line.amount for line in laureates), Decimal("0")),
            lines=len(decisions),
            overridden=sum(1 for line in decisions if line.modified),
        ),
        "withheld": withheld,
        "fixed_at": deliberation.fixed_at,
        "fixed_by": _person(deliberation.fixed_by),
        "signatory": ", ".join(
            part for part in (call.signatory_name.strip(), call.signatory_title.strip()) if part
        ),
    }


def pv_html(context: dict) -> str:
    return render_to_string("evaluation/national/pv_pdf.html", context)


def pv_pdf(deliberation: Deliberation, viewer=None) -> bytes:
    """The procès-verbal as a landscape A4, tagged PDF (PDF/UA-1) set in Marianne."""
    return render_pdf(pv_html(pv_context(deliberation, viewer)))


def _session_rows(context: dict) -> list[list]:
    totals = context["totals"]
    scenario = context["scenario"]
    rows = [
        ["Appel", context["call"].name],
        ["Date de la séance", _day(context["held_on"])],
        ["Membres présents", ", ".join(context["members"])],
        ["Scénario de départ", scenario.name if scenario is not None else NO_SCENARIO],
    ]
    if scenario is not None:
        rows.append(["Paramètres du scénario", "\n".join(context["scenario_summary"])])
    rows += [
        ["Observations de la séance", context["notes"]],
        ["Enveloppe", euros(totals.envelope)],
        ["Lauréates", totals.selected],
        ["Total accordé", euros(totals.granted)],
        ["Reste sur l'enveloppe", euros(totals.remaining)],
        ["Candidatures examinées", totals.lines],
        ["Décisions s'écartant de la proposition", totals.overridden],
        ["Liste arrêtée le", _moment(context["fixed_at"])],
        ["Liste arrêtée par", context["fixed_by"]],
    ]
    if context["withheld"]:
        rows.append(["Décisions non reproduites (conflit d'intérêts)", context["withheld"]])
    return rows


def pv_workbook(deliberation: Deliberation, output, viewer=None) -> None:
    """The procès-verbal as an XLSX workbook written to the binary file ``output``: sheets
    « Décisions », « Modifications » (the record of changes made in session) and « Séance »."""
    context = pv_context(deliberation, viewer)
    decisions = [
        [
            line.receipt_number,
            line.ptce,
            line.region,
            line.score,
            line.requested,
            line.proposal_label,
            line.proposed_amount,
            line.decision_label,
            line.amount,
            line.modified,
            line.justification,
        ]
        for line in context["laureates"] + context["not_selected"]
    ]
    overrides = [
        [
            override.at,
            override.actor,
            override.receipt_number,
            override.ptce,
            override.decision_label,
            override.amount,
            override.justification,
        ]
        for override in context["overrides"]
    ]
    write_xlsx(
        output,
        [
            Sheet(
                "Décisions",
                [
                    "N° de dépôt",
                    "PTCE",
                    "Région",
                    "Note consolidée /100",
                    "Montant demandé",
                    "Proposition",
                    "Montant proposé",
                    "Décision",
                    "Montant accordé",
                    "Modifiée en séance",
                    "Justification",
                ],
                decisions,
                money=PV_MONEY,
            ),
            Sheet(
                "Modifications",
                ["Le", "Par", "N° de dépôt", "PTCE", "Décision", "Montant", "Justification"],
                overrides,
                money=PV_MONEY,
            ),
            Sheet("Séance", ["Rubrique", "Valeur"], _session_rows(context)),
        ],
    )


def pv_xlsx(deliberation: Deliberation, viewer=None) -> bytes:
    output = io.BytesIO()
    pv_workbook(deliberation, output, viewer)
    return output.getvalue()


def pv_filename(call, extension: str) -> str:
    return f"{call.slug}-proces-verbal.{extension}"
