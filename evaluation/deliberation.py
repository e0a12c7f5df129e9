"""The CNA's deliberation (DESIGN §4–5): the session (date, members present), its lines — one per
candidature handed over by its region —, started from a scenario of the selection assistant or
by hand, overridden line by line with a written justification that is kept, the running total
against the envelope, and fixing the list, which creates the *pending* decisions.

Plain functions over model instances and the acting user: views, admin and commands share them.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from ami.audit import audited
from ami.calls import set_phase
from ami.formats import euros
from ami.models import Phase
from candidatures.models import Candidature, CandidatureState

from . import national_cache
from .models import (
    Decision,
    DecisionOutcome,
    Deliberation,
    DeliberationLine,
    DeliberationOverride,
    Opinion,
    RegionalOpinion,
    SelectionScenario,
)
from .permissions import can_administer_national, can_deliberate

ZERO = Decimal("0")


# --- The session ---------------------------------------------------------------------------------


def handed_over(call):
    """The candidatures the CNA decides on: handed over by their region."""
    return Candidature.objects.filter(call=call, state=CandidatureState.REGIONAL_REVIEW_DONE)


def deliberation_of(call) -> Deliberation | None:
    return Deliberation.objects.filter(call=call).select_related("scenario", "fixed_by").first()


def _check_can_deliberate(actor, call):
    if not can_deliberate(actor, call):
        if call.phase != Phase.NATIONAL_REVIEW:
            raise PermissionDenied(
                "La délibération n'est possible qu'en phase d'instruction nationale "
                f"(l'appel est en phase « {call.get_phase_display()} »)."
            )
        raise PermissionDenied("Seuls les membres de la CNA de l'appel délibèrent.")


def _check_members(call, members):
    from accounts.models import NationalCellMembership

    members = list(members)
    allowed = set(
        NationalCellMembership.objects.filter(cell__call=call).values_list("user_id", flat=True)
    )
    if any(member.pk not in allowed for member in members):
        raise ValidationError(
            {"members_present": "Seuls les membres de la CNA de l'appel peuvent être présents."}
        )
    if not members:
        raise ValidationError(
            {"members_present": "Indiquez les membres de la CNA présents à la séance."}
        )
    return members


@audited
def open_deliberation(
    call, actor, *, held_on, members_present, scenario: SelectionScenario | None = None, notes=""
) -> Deliberation:
    """Record the session and create its lines, proposed by ``scenario`` or empty (by hand)."""
    _check_can_deliberate(actor, call)
    members = _check_members(call, members_present)
    if scenario is not None and scenario.call_id != call.pk:
        raise ValidationError({"scenario": "Ce scénario appartient à un autre appel."})
    if scenario is not None and not scenario.feasible:
        raise ValidationError(
            {"scenario": "Ce scénario ne tient pas les contraintes : il ne propose aucune liste."}
        )
    with transaction.atomic():
        if Deliberation.objects.select_for_update().filter(call=call).exists():
            raise ValidationError("La séance de délibération de cet appel est déjà ouverte.")
        deliberation = Deliberation.objects.create(
            call=call, held_on=held_on, scenario=scenario, notes=notes.strip(), created_by=actor
        )
        deliberation.members_present.set(members)
        _reset_lines(deliberation, scenario)
    return deliberation


@audited
@transaction.atomic
def update_session(deliberation, actor, *, held_on, members_present, notes="") -> Deliberation:
    deliberation = _lock_open(deliberation, actor)
    members = _check_members(deliberation.call, members_present)
    deliberation.held_on = held_on
    deliberation.notes = notes.strip()
    deliberation.save(update_fields=["held_on", "notes"])
    deliberation.members_present.set(members)
    return deliberation


@audited
def apply_scenario(deliberation, actor, scenario: SelectionScenario) -> Deliberation:
    """Start again from another scenario: every line takes its proposal (changes made so far
    stay in the record of overrides)."""
    if scenario.call_id != deliberation.call_id or not scenario.feasible:
        raise ValidationError("Ce scénario ne peut pas servir de point de départ.")
    with transaction.atomic():
        deliberation = _lock_open(deliberation, actor)
        deliberation.scenario = scenario
        deliberation.save(update_fields=["scenario"])
        _reset_lines(deliberation, scenario)
    return deliberation


def _reset_lines(deliberation, scenario):
    proposals = {}
    if scenario is not None:
        proposals = {
            line.candidature_id: line
            for line in scenario.lines.only("candidature_id", "selected", "amount")
        }
    DeliberationLine.objects.filter(deliberation=deliberation).delete()
    lines = []
    for candidature_id in handed_over(deliberation.call).values_list("pk", flat=True):
        proposal = proposals.get(candidature_id)
        selected = bool(proposal and proposal.selected)
        amount = proposal.amount if selected else None
        lines.append(
            DeliberationLine(
                deliberation=deliberation,
                candidature_id=candidature_id,
                proposed_selected=None if scenario is None else selected,
                proposed_amount=amount,
                selected=selected,
                amount=amount,
            )
        )
    DeliberationLine.objects.bulk_create(lines, batch_size=2000)


def sync_lines(deliberation) -> int:
    """Add a line for a candidature handed over after the session opened (not proposed)."""
    existing = DeliberationLine.objects.filter(deliberation=deliberation).values("candidature")
    missing = handed_over(deliberation.call).exclude(pk__in=existing).values_list("pk", flat=True)
    lines = [
        DeliberationLine(deliberation=deliberation, candidature_id=pk, selected=False)
        for pk in missing
    ]
    DeliberationLine.objects.bulk_create(lines, ignore_conflicts=True)
    return len(lines)


def _lock_open(deliberation, actor) -> Deliberation:
    """Lock the deliberation's row for the caller's transaction — the lock ``fix_list`` and
    ``reopen`` take — and check, on the locked row, that the list may still change. Returns the
    locked instance."""
    locked = (
        Deliberation.objects.select_for_update(of=("self",))
        .select_related("call")
        .get(pk=deliberation.pk)
    )
    _check_can_deliberate(actor, locked.call)
    if locked.is_fixed:
        raise ValidationError(
            "La liste est arrêtée : un administrateur de la CNA doit la rouvrir pour la modifier."
        )
    return locked


# --- Lines ---------------------------------------------------------------------------------------


def amount_errors(call, candidature, amount) -> list[str]:
    """Why ``amount`` cannot be granted to ``candidature`` (French messages; empty if it can)."""
    if amount is None:
        return ["Indiquez le montant accordé."]
    errors = []
    if amount < call.min_amount or amount > call.max_amount:
        errors.append(
            f"Le montant accordé doit être compris entre {euros(call.min_amount)} et "
            f"{euros(call.max_amount)}."
        )
    requested = candidature.requested_amount
    if requested is not None and amount > requested:
        errors.append(f"Le montant accordé dépasse le montant demandé ({euros(requested)}).")
    if amount != amount.quantize(Decimal("0.01")):
        errors.append("Le montant a au plus deux décimales (centimes).")
    return errors


@audited
def set_line(
    line: DeliberationLine, actor, *, selected: bool, amount, justification: str, motivation=""
):
    """Decide one line. A line that departs from the proposal (or, started by hand, selects a
    candidature) needs a written justification (internal: the procès-verbal), kept with every
    change; ``motivation`` is the optional text communicable to the applicant, which the
    decision's prefilled motivation quotes."""
    justification = (justification or "").strip()
    motivation = (motivation or "").strip()
    amount = amount if selected else None
    with transaction.atomic():
        deliberation = _lock_open(line.deliberation, actor)
        line = (
            DeliberationLine.objects.select_for_update(of=("self",))
            .select_related("candidature")
            .get(pk=line.pk)
        )
        if selected:
            errors = amount_errors(deliberation.call, line.candidature, amount)
            if errors:
                raise ValidationError({"amount": errors})
        baseline_selected = bool(line.proposed_selected)
        baseline_amount = line.proposed_amount if baseline_selected else None
        departs = selected != baseline_selected or amount != baseline_amount
        if departs and not justification:
            raise ValidationError(
                {
                    "justification": "Justifiez par écrit cette décision qui s'écarte de la "
                    "proposition : la justification figure au procès-verbal."
                }
            )
        line.selected = selected
        line.amount = amount
        line.justification = justification if departs else ""
        line.motivation = motivation
        line.updated_by = actor
        line.save(
            update_fields=[
                "selected",
                "amount",
                "justification",
                "motivation",
                "updated_by",
                "updated_at",
            ]
        )
        DeliberationOverride.objects.create(
            line=line,
            actor=actor,
            selected=selected,
            amount=amount,
            justification=justification or "Retour à la proposition.",
            motivation=motivation,
        )
    return line


@dataclass
class Totals:
    envelope: Decimal
    selected: int
    granted: Decimal
    lines: int
    overridden: int

    @property
    def remaining(self) -> Decimal:
        return self.envelope - self.granted

    @property
    def excess(self) -> Decimal:
        return max(self.granted - self.envelope, ZERO)

    @property
    def over(self) -> bool:
        return self.granted > self.envelope


def totals(deliberation) -> Totals:
    """The running total against the envelope (one query)."""
    figures = DeliberationLine.objects.filter(deliberation=deliberation).aggregate(
        n_selected=Count("pk", filter=Q(selected=True)),
        n_granted=Sum("amount", filter=Q(selected=True), default=ZERO),
        n_lines=Count("pk"),
        n_overridden=Count("pk", filter=~Q(justification="")),
    )
    return Totals(
        envelope=deliberation.call.envelope,
        selected=figures["n_selected"],
        granted=figures["n_granted"],
        lines=figures["n_lines"],
        overridden=figures["n_overridden"],
    )


# --- Fixing the list -----------------------------------------------------------------------------


def list_errors(deliberation) -> list[str]:
    """Why the list cannot be fixed (French messages; empty when it can)."""
    errors = []
    figures = totals(deliberation)
    if figures.over:
        errors.append(
            f"La liste dépasse l'enveloppe de {euros(figures.excess)} "
            f"({euros(figures.granted)} accordés pour une enveloppe de "
            f"{euros(figures.envelope)}) : réduisez des montants ou retirez des lauréats."
        )
    if not figures.lines:
        errors.append("Aucune candidature n'a été transmise par les régions.")
    lines = DeliberationLine.objects.filter(deliberation=deliberation, selected=True)
    for line in lines.select_related("candidature__ptce"):
        for message in amount_errors(deliberation.call, line.candidature, line.amount):
            errors.append(f"{line.candidature.ptce.name} : {message}")
    return errors


# The regional opinions that agree with each outcome: a rejection never quotes a favourable
# opinion (« … recommande le financement »), a grant never quotes an unfavourable one.
AGREEING_OPINIONS = {
    True: (Opinion.FAVORABLE, Opinion.RESERVED),
    False: (Opinion.RESERVED, Opinion.UNFAVORABLE),
}
ENVELOPE_SENTENCE = (
    "L'enveloppe de l'appel ne permet pas de retenir toutes les candidatures présentées : "
    "d'autres projets ont été classés avant le vôtre."
)


def default_motivation(
    selected: bool, amount, line_motivation: str = "", opinion: RegionalOpinion | None = None
) -> str:
    """The motivation prefilled on a decision when the list is fixed — one written rule
    (docs/decisions.md), built from communicable texts only (DESIGN §3):

    1. the outcome: « La cellule nationale d'animation a retenu votre candidature pour une
       subvention de … » or « … n'a pas retenu votre candidature. »;
    2. the communicable motivation written on the deliberation line, if any;
    3. the regional opinion's communicable motivation, only when that opinion agrees with the
       decision (``AGREEING_OPINIONS``): favourable or reserved for a laureate, reserved or
       unfavourable for a rejection;
    4. for a rejection with no motivation from 2, the envelope sentence.

    Never quoted: internal notes, the CNA's analyses, the deliberation's justifications (which
    go to the procès-verbal)."""
    if selected:
        parts = [
            "La cellule nationale d'animation a retenu votre candidature pour une subvention de "
            f"{euros(amount)}."
        ]
    else:
        parts = ["La cellule nationale d'animation n'a pas retenu votre candidature."]
    line_motivation = (line_motivation or "").strip()
    if line_motivation:
        parts.append(line_motivation)
    if (
        opinion is not None
        and opinion.motivation.strip()
        and opinion.opinion in AGREEING_OPINIONS[selected]
    ):
        parts.append(
            f"Avis de la cellule régionale ({Opinion(opinion.opinion).label}) : "
            f"{opinion.motivation.strip()}"
        )
    if not selected and not line_motivation:
        parts.append(ENVELOPE_SENTENCE)
    return "\n\n".join(parts)


def _prefilled(line) -> str:
    return default_motivation(
        line.selected,
        line.amount,
        line.motivation,
        getattr(line.candidature, "regional_opinion", None),
    )


@audited
def fix_list(deliberation, actor) -> int:
    """Fix the list: refuse a list over the envelope or with an amount out of range; create one
    *pending* decision per line (laureate with its amount, or not selected), with a motivation
    prefilled by ``default_motivation``; the call moves to *deliberated*. Returns
    the number of decisions."""
    call = deliberation.call
    if not can_administer_national(actor, call):
        raise PermissionDenied("Seul un administrateur de la CNA arrête la liste.")
    with transaction.atomic():
        deliberation = Deliberation.objects.select_for_update().get(pk=deliberation.pk)
        if deliberation.is_fixed:
            raise ValidationError("La liste est déjà arrêtée.")
        if call.phase != Phase.NATIONAL_REVIEW:
            raise ValidationError(
                "La liste ne peut être arrêtée qu'en phase d'instruction nationale."
            )
        sync_lines(deliberation)
        errors = list_errors(deliberation)
        if errors:
            raise ValidationError(errors)
        lines = list(
            DeliberationLine.objects.filter(deliberation=deliberation).select_related(
                "candidature__regional_opinion"
            )
        )
        ids = [line.candidature_id for line in lines]
        Decision.objects.filter(candidature_id__in=ids, published_at__isnull=True).delete()
        now = timezone.now()
        Decision.objects.bulk_create(
            [
                Decision(
                    candidature_id=line.candidature_id,
                    deliberation=deliberation,
                    outcome=DecisionOutcome.LAUREATE
                    if line.selected
                    else DecisionOutcome.NOT_SELECTED,
                    granted_amount=line.amount if line.selected else None,
                    motivation=_prefilled(line),
                    created_at=now,
                    updated_by=actor,
                )
                for line in lines
            ],
            batch_size=2000,
        )
        deliberation.fixed_at = now
        deliberation.fixed_by = actor
        deliberation.save(update_fields=["fixed_at", "fixed_by"])
        set_phase(call, Phase.DELIBERATED, actor, comment="Liste des lauréats arrêtée.")
        national_cache.changed(call.pk)  # decisions written in bulk: no signal
    return len(lines)


@audited
def reopen(deliberation, actor, *, reason: str) -> None:
    """Reopen a fixed list before publication: the pending decisions are dropped (the lines and
    their justifications stay), the call goes back to *national review*."""
    call = deliberation.call
    if not can_administer_national(actor, call):
        raise PermissionDenied("Seul un administrateur de la CNA rouvre la liste.")
    if not (reason or "").strip():
        raise ValidationError({"reason": "Indiquez pourquoi la liste est rouverte."})
    with transaction.atomic():
        deliberation = Deliberation.objects.select_for_update().get(pk=deliberation.pk)
        if not deliberation.is_fixed:
            raise ValidationError("La liste n'est pas arrêtée.")
        if deliberation.decisions.filter(published_at__isnull=False).exists():
            raise ValidationError("Les résultats sont publiés : la liste ne peut plus changer.")
        deliberation.decisions.all().delete()
        national_cache.changed(call.pk)  # decisions deleted in bulk: no signal
        deliberation.fixed_at = None
        deliberation.fixed_by = None
        deliberation.save(update_fields=["fixed_at", "fixed_by"])
        set_phase(call, Phase.NATIONAL_REVIEW, actor, comment=f"Liste rouverte : {reason.strip()}")


# --- Pending decisions ---------------------------------------------------------------------------


@audited
def update_decision(
    decision: Decision, actor, *, motivation: str, granted_amount=None, internal_note=None
) -> Decision:
    """Edit a pending decision's communicable motivation, its internal note (``None``: kept)
    and a laureate's amount (within the range, the request and the envelope). An empty
    motivation may be saved while the CNA works; publication refuses a rejection without one."""
    call = decision.deliberation.call
    if not can_administer_national(actor, call):
        raise PermissionDenied("Seul un administrateur de la CNA modifie les décisions.")
    with transaction.atomic():
        # The deliberation's lock serialises the edits (the envelope total below), the decision's
        # the publication (which locks the pending decisions it publishes).
        Deliberation.objects.select_for_update().filter(pk=decision.deliberation_id).get()
        locked = (
            Decision.objects.select_for_update(of=("self",))
            .select_related("candidature", "deliberation")
            .get(pk=decision.pk)
        )
        _update_decision(locked, call, motivation, granted_amount, internal_note, actor)
    for name in ("motivation", "internal_note", "granted_amount", "updated_by_id", "updated_at"):
        setattr(decision, name, getattr(locked, name))
    return decision


def envelope_refusal(call, total) -> str:
    return (
        f"Avec ce montant, le total accordé ({euros(total)}) dépasserait l'enveloppe "
        f"({euros(call.envelope)}) de {euros(total - call.envelope)}."
    )


def _update_decision(decision, call, motivation, granted_amount, internal_note, actor):
    if decision.is_published:
        raise ValidationError("Cette décision est publiée : elle ne peut plus être modifiée.")
    errors = {}
    if decision.outcome == DecisionOutcome.LAUREATE:
        amount_problems = amount_errors(call, decision.candidature, granted_amount)
        if amount_problems:
            errors["granted_amount"] = amount_problems
        else:
            others = (
                Decision.objects.filter(
                    deliberation=decision.deliberation, outcome=DecisionOutcome.LAUREATE
                )
                .exclude(pk=decision.pk)
                .aggregate(total=Sum("granted_amount", default=ZERO))["total"]
            )
            if others + granted_amount > call.envelope:
                errors["granted_amount"] = envelope_refusal(call, others + granted_amount)
    if errors:
        raise ValidationError(errors)
    decision.motivation = (motivation or "").strip()
    if internal_note is not None:
        decision.internal_note = internal_note.strip()
    if decision.outcome == DecisionOutcome.LAUREATE:
        decision.granted_amount = granted_amount
    decision.updated_by = actor
    decision.save(
        update_fields=["motivation", "internal_note", "granted_amount", "updated_by", "updated_at"]
    )


@audited
def prefill_motivations(deliberation, actor) -> int:
    """Fill the empty motivations of the pending decisions by ``default_motivation`` (after the
    migration that moved the old prefilled texts to the internal notes, or after clearing one).
    Written motivations are left alone. Returns how many were filled."""
    call = deliberation.call
    if not can_administer_national(actor, call):
        raise PermissionDenied("Seul un administrateur de la CNA modifie les décisions.")
    with transaction.atomic():
        lines = {
            line.candidature_id: line
            for line in DeliberationLine.objects.filter(deliberation=deliberation).only(
                "candidature_id", "motivation"
            )
        }
        decisions = list(
            Decision.objects.select_for_update(of=("self",))
            .filter(
                deliberation=deliberation, published_at__isnull=True, motivation__regex=r"^\s*$"
            )
            .select_related("candidature__regional_opinion")
        )
        for decision in decisions:
            line = lines.get(decision.candidature_id)
            decision.motivation = default_motivation(
                decision.outcome == DecisionOutcome.LAUREATE,
                decision.granted_amount,
                line.motivation if line else "",
                getattr(decision.candidature, "regional_opinion", None),
            )
            decision.updated_by = actor
        Decision.objects.bulk_update(decisions, ["motivation", "updated_by"], batch_size=2000)
    return len(decisions)


@audited
def apply_paragraph(call, actor, decisions, paragraph: str, *, replace: bool = False) -> int:
    """Add ``paragraph`` at the end of the motivation of each pending decision in ``decisions``
    (or replace the motivation with it). Returns how many were changed."""
    if not can_administer_national(actor, call):
        raise PermissionDenied("Seul un administrateur de la CNA modifie les décisions.")
    paragraph = (paragraph or "").strip()
    if not paragraph:
        raise ValidationError({"paragraph": "Écrivez le paragraphe à appliquer."})
    ids = [decision.pk for decision in decisions]
    if not ids:
        raise ValidationError({"paragraph": "Cochez au moins une ligne."})
    with transaction.atomic():
        locked = list(
            Decision.objects.select_for_update(of=("self",)).filter(
                pk__in=ids, deliberation__call=call, published_at__isnull=True
            )
        )
        for decision in locked:
            current = decision.motivation.strip()
            decision.motivation = (
                paragraph if replace or not current else f"{current}\n\n{paragraph}"
            )
            decision.updated_by = actor
        Decision.objects.bulk_update(locked, ["motivation", "updated_by"], batch_size=2000)
    return len(locked)


@dataclass
class DecisionTotals(Totals):
    empty_motivations: int = 0  # rejections without a communicable motivation


def decision_totals(call) -> DecisionTotals:
    """The running total of the pending (or published) decisions against the envelope."""
    figures = Decision.objects.filter(deliberation__call=call).aggregate(
        n_selected=Count("pk", filter=Q(outcome=DecisionOutcome.LAUREATE)),
        n_granted=Sum("granted_amount", default=ZERO),
        n_lines=Count("pk"),
        n_empty=Count(
            "pk", filter=Q(outcome=DecisionOutcome.NOT_SELECTED, motivation__regex=r"^\s*$")
        ),
    )
    return DecisionTotals(
        envelope=call.envelope,
        selected=figures["n_selected"],
        granted=figures["n_granted"],
        lines=figures["n_lines"],
        overridden=0,
        empty_motivations=figures["n_empty"],
    )
