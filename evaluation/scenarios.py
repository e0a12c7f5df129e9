"""The selection assistant's scenarios (DESIGN §5): read the candidatures handed over by the
regions, run the solver (``selection.propose``) with the parameters the CNA chose, and keep the
result as a named scenario, line by line with its explanation, to compare several side by side
and start the deliberation from one of them."""

from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from accounts.permissions import is_national_member
from ami.audit import audited
from ami.formats import euros, plural

from . import selection
from .deliberation import handed_over
from .models import ScenarioLine, ScoreBasis, SelectionScenario
from .national import normalised_expression, region_score_stats

HUNDRED = Decimal("100")
# Seconds the solver may take within a web request; past it, the best list found is returned,
# every rule respected, with the bound on what a better one could gain (``selection.propose``).
SOLVER_TIME_LIMIT = 20.0


@dataclass
class Parameters:
    """What the CNA chooses in the assistant. Shares and the funding floor are percentages."""

    basis: str = ScoreBasis.NORMALISED
    funding_floor: int = 100
    rural_min_share: int | None = None
    qpv_min_share: int | None = None
    rural_bonus: Decimal = Decimal("0")
    qpv_bonus: Decimal = Decimal("0")
    max_per_region: int | None = None
    forced_in: list[int] = field(default_factory=list)
    forced_out: list[int] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        data["rural_bonus"] = str(self.rural_bonus)
        data["qpv_bonus"] = str(self.qpv_bonus)
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Parameters":
        data = dict(data)
        for key in ("rural_bonus", "qpv_bonus"):
            data[key] = Decimal(data.get(key) or "0")
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def rules(self, call) -> selection.Rules:
        def share(value):
            return None if value is None else Decimal(value) / HUNDRED

        return selection.Rules(
            envelope=call.envelope,
            min_amount=call.min_amount,
            max_amount=call.max_amount,
            funding_floor=Decimal(self.funding_floor) / HUNDRED,
            rural_min_share=share(self.rural_min_share),
            qpv_min_share=share(self.qpv_min_share),
            rural_bonus=self.rural_bonus,
            qpv_bonus=self.qpv_bonus,
            max_per_region=self.max_per_region,
            forced_in=frozenset(self.forced_in),
            forced_out=frozenset(self.forced_out),
        )

    def summary(self) -> list[str]:
        """The parameters in French, for the scenario's page and the procès-verbal."""
        lines = [f"Note utilisée : {ScoreBasis(self.basis).label}"]
        if self.funding_floor < 100:
            lines.append(f"Montants ajustables jusqu'à {self.funding_floor} % du montant demandé")
        else:
            lines.append("Montants accordés : le montant demandé, dans la fourchette de l'appel")
        if self.rural_min_share:
            lines.append(f"Au moins {self.rural_min_share} % de lauréats en territoire rural")
        if self.qpv_min_share:
            lines.append(f"Au moins {self.qpv_min_share} % de lauréats en QPV")
        if self.rural_bonus:
            lines.append(f"Bonus territoire rural : +{self.rural_bonus} points")
        if self.qpv_bonus:
            lines.append(f"Bonus QPV : +{self.qpv_bonus} points")
        if self.max_per_region:
            lines.append(f"Au plus {plural(self.max_per_region, 'lauréat')} par région")
        if self.forced_in:
            forced = plural(len(self.forced_in), "candidature imposée", "candidatures imposées")
            lines.append(f"{forced} par la CNA")
        if self.forced_out:
            forced = plural(len(self.forced_out), "candidature écartée", "candidatures écartées")
            lines.append(f"{forced} par la CNA")
        return lines


def candidates(call, basis: str) -> list[selection.Candidate]:
    """The handed-over candidatures of the call as the solver's candidates (two queries). Plain
    values, not model instances: at 10 000 candidatures, building the instances took longer
    than solving."""
    rows = (
        handed_over(call)
        .annotate(normalised=normalised_expression(region_score_stats(call)))
        .order_by("pk")
        .values_list(
            "pk",
            "requested_amount",
            "is_rural",
            "in_qpv",
            "region__name",
            "ptce__name",
            "regional_opinion__consolidated_score",
            "normalised",
        )
    )
    result = []
    for pk, requested, rural, qpv, region, ptce, raw, normalised in rows:
        # The consolidated score is mandatory: None means no collegial opinion. The normalised
        # score is the national dashboard's (``national.normalised_expression``, the one formula).
        if raw is None:
            score = Decimal("0")
        elif basis == ScoreBasis.NORMALISED:
            score = normalised
        else:
            score = raw
        result.append(
            selection.Candidate(
                key=pk,
                label=ptce,
                region=region,
                score=score,
                requested=requested or Decimal("0"),
                rural=rural,
                qpv=qpv,
            )
        )
    return result


def _check(call, actor):
    if not is_national_member(actor, call):
        raise PermissionDenied("Seuls les membres de la CNA de l'appel utilisent l'assistant.")


def run(call, actor, parameters: Parameters) -> selection.Proposal:
    _check(call, actor)
    return selection.propose(
        candidates(call, parameters.basis), parameters.rules(call), time_limit=SOLVER_TIME_LIMIT
    )


@audited
def save(call, actor, name: str, parameters: Parameters) -> SelectionScenario:
    """Run the assistant and keep the result as a scenario named ``name``."""
    _check(call, actor)
    name = (name or "").strip()
    if not name:
        raise ValidationError(
            {"name": "Donnez un nom au scénario, par exemple « Enveloppe seule »."}
        )
    proposal = run(call, actor, parameters)
    if proposal.feasible and not any(line.selected for line in proposal.lines):
        raise ValidationError({"__all__": empty_selection_refusal(call, parameters, proposal)})
    try:
        with transaction.atomic():
            scenario = SelectionScenario.objects.create(
                call=call,
                name=name,
                parameters=parameters.to_json(),
                feasible=proposal.feasible,
                message=proposal.message,
                total_score=proposal.total_score if proposal.feasible else None,
                total_granted=proposal.total_granted if proposal.feasible else None,
                solve_seconds=proposal.seconds,
                created_by=actor,
            )
            ScenarioLine.objects.bulk_create(
                [
                    ScenarioLine(
                        scenario=scenario,
                        candidature_id=line.key,
                        selected=line.selected,
                        amount=line.amount,
                        score=line.score,
                        rank=line.rank,
                        explanation=" ".join(line.reasons),
                    )
                    for line in proposal.lines
                ],
                batch_size=2000,
            )
    except IntegrityError:
        raise ValidationError(
            {
                "name": f"Un scénario s'appelle déjà « {name} » pour cet appel : choisissez "
                "un autre nom."
            }
        ) from None
    return scenario


def empty_selection_refusal(call, parameters: Parameters, proposal) -> list[str]:
    """Why a scenario with no laureate is refused, and which rules leave none: each rule that
    was set is relaxed in turn and the assistant run again (like the infeasibility diagnosis)."""
    rules = parameters.rules(call)
    pool = candidates(call, parameters.basis)
    messages = [
        "Ce scénario ne retient aucune lauréate : il ne peut pas être enregistré ni servir de "
        "point de départ à une délibération."
    ]
    if not pool:
        return [*messages, "Aucune candidature n'a été transmise par les régions."]
    relaxations = []
    if rules.rural_min_share is not None:
        relaxations.append(
            (
                f"la part minimale de lauréats ruraux ({rules.rural_min_share:.0%})",
                {"rural_min_share": None},
            )
        )
    if rules.qpv_min_share is not None:
        relaxations.append(
            (
                f"la part minimale de lauréats en QPV ({rules.qpv_min_share:.0%})",
                {"qpv_min_share": None},
            )
        )
    if rules.rural_min_share is not None and rules.qpv_min_share is not None:
        relaxations.append(
            (
                "les deux parts minimales ensemble (rural et QPV)",
                {"rural_min_share": None, "qpv_min_share": None},
            )
        )
    if rules.max_per_region is not None:
        relaxations.append(
            (f"le maximum de {rules.max_per_region} par région", {"max_per_region": None})
        )
    if rules.forced_out:
        relaxations.append(("les candidatures écartées d'office", {"forced_out": frozenset()}))
    helped = []
    for label, change in relaxations:
        relaxed = selection.propose(pool, replace(rules, **change), time_limit=SOLVER_TIME_LIMIT)
        chosen = sum(1 for line in relaxed.lines if line.selected)
        if relaxed.feasible and chosen:
            helped.append(f"sans {label}, l'assistant retiendrait {plural(chosen, 'lauréat')}")
    if helped:
        messages.append("Les règles qui ne laissent aucune lauréate : " + " ; ".join(helped) + ".")
    else:
        eligible = sum(1 for c in pool if c.requested >= rules.min_amount)
        messages.append(
            f"Même sans les parts minimales ni le maximum par région, aucune liste ne tient : "
            f"enveloppe de {euros(rules.envelope)}, montant minimal de "
            f"{euros(rules.min_amount)} par lauréat, "
            + plural(eligible, "candidature demande", "candidatures demandent")
            + " au moins ce montant."
        )
    if proposal.message:
        messages.append(proposal.message)
    return messages


# --- Comparison ----------------------------------------------------------------------------------


@dataclass
class ComparedRow:
    candidature: object
    lines: list  # one ScenarioLine (or None) per scenario, in the order of the scenarios

    @property
    def differs(self) -> bool:
        decided = {(line.selected, line.amount) if line else None for line in self.lines}
        return len(decided) > 1


def compare(scenarios: list[SelectionScenario]) -> list[ComparedRow]:
    """Every candidature selected by at least one scenario, with each scenario's line; the
    candidatures no scenario selects are left out (they are the same everywhere)."""
    ids = [s.pk for s in scenarios]
    lines = ScenarioLine.objects.filter(scenario_id__in=ids).select_related(
        "candidature__ptce", "candidature__region"
    )
    by_candidature: dict[int, dict[int, ScenarioLine]] = {}
    candidatures = {}
    for line in lines:
        by_candidature.setdefault(line.candidature_id, {})[line.scenario_id] = line
        candidatures[line.candidature_id] = line.candidature
    rows = [
        ComparedRow(candidatures[pk], [per.get(sid) for sid in ids])
        for pk, per in by_candidature.items()
        if any(line.selected for line in per.values())
    ]
    return sorted(
        rows,
        key=lambda row: (
            -sum(1 for line in row.lines if line and line.selected),
            min((line.rank for line in row.lines if line), default=0),
        ),
    )
