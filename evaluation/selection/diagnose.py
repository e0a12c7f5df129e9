"""When no list respects the rules: which rule or pair of rules is in the way (forced
candidatures that can never be selected, a single rule, the smallest set of rules to relax), and
the exact last check of every rule on the lines about to be returned."""

import time
from decimal import ROUND_HALF_UP, Decimal
from itertools import combinations

from .common import (
    BUDGET,
    CENT,
    INFEASIBLE,
    NO_LIST,
    OPTIMAL,
    REGION,
    RURAL,
    Line,
    Proposal,
    _cents_to_euros,
    _euros,
    _Item,
    _percent,
    _plural,
    _quoted,
)


class Diagnosis:
    """The diagnosing half of ``solve.Problem`` (a mixin: it re-solves through the problem's
    ``_solve`` with fewer rule groups)."""

    # --- Infeasibility ------------------------------------------------------------------------

    def _group_noun(self, group: str) -> str:
        return "lauréats ruraux" if group == RURAL else "lauréats en quartier prioritaire (QPV)"

    def _group_label(self, group: str) -> str:
        if group == BUDGET:
            return f"l'enveloppe de {_euros(self.envelope)}"
        if group == REGION:
            plural = _plural(self.region_cap, "lauréat", "lauréats")
            return f"le plafond de {plural} par région"
        return f"la part minimale de {self._group_noun(group)} ({_percent(self.shares[group])})"

    def _forced_items(self, forced=None) -> list[_Item]:
        forced = self.forced if forced is None else forced
        return [self.items[index] for index in sorted(forced)]

    def _hard_conflicts(self) -> list[str]:
        """Forced-in candidatures that can never be selected."""
        messages = []
        for item in self._forced_items():
            if item.forced_out:
                messages.append(
                    f"« {item.label} » est à la fois imposée et écartée par la CNA : "
                    "retirez-la de l'une des deux listes."
                )
            elif not item.eligible:
                messages.append(
                    f"« {item.label} » est imposée mais ne peut pas être retenue. "
                    f"{self._ineligible_reason(item)} Retirez-la des candidatures imposées."
                )
        return messages

    def _single_conflict(self, group: str, forced=None) -> str | None:
        """Why the forced-in candidatures alone break ``group``, exactly (None when they don't):
        the other rules are ignored."""
        forced_items = self._forced_items(forced)
        if not forced_items:
            return None
        labels = _quoted([item.label for item in forced_items])
        if group == BUDGET:
            cost = sum(item.low for item in forced_items)
            if cost > self.envelope_cents:
                return (
                    f"Les candidatures imposées ({labels}) coûtent au moins "
                    f"{_euros(_cents_to_euros(cost))} à leur montant le plus bas, plus que "
                    f"l'enveloppe de {_euros(self.envelope)}."
                )
            return None
        if group == REGION:
            per_region: dict[str, list[str]] = {}
            for item in forced_items:
                per_region.setdefault(item.candidate.region, []).append(item.label)
            over = [
                f"{_plural(len(names), 'candidature imposée', 'candidatures imposées')} en "
                f"{region} ({_quoted(names)})"
                for region, names in sorted(per_region.items())
                if len(names) > self.region_cap
            ]
            if over:
                return (
                    f"{' ; '.join(over)} pour un plafond de "
                    f"{_plural(self.region_cap, 'lauréat', 'lauréats')} par région."
                )
            return None
        # A share: the best ratio adds every other eligible flagged candidature.
        flagged = sum(1 for item in forced_items if self._flag(item, group))
        extra = sum(
            1
            for item in self.pool
            if self._flag(item, group) and item.index not in {i.index for i in forced_items}
        )
        if self._share_ok(len(forced_items) + extra, flagged + extra, group):
            return None
        return (
            f"{self._group_label(group)[0].upper()}{self._group_label(group)[1:]} ne peut pas "
            f"être atteinte avec les candidatures imposées ({labels}) : il n'y a pas assez de "
            f"candidatures {'rurales' if group == RURAL else 'en QPV'} recevables."
        )

    def _feasible(self, groups, forced=None) -> bool | None:
        """Whether some list keeps the rule ``groups`` and the forced-in candidatures; None when
        the solver could not tell in time."""
        forced = self.forced if forced is None else forced
        key = (frozenset(groups), forced)
        if key not in self._feasibility:
            if any(self._single_conflict(group, forced) for group in groups):
                answer = False
            elif not forced:
                answer = True  # the empty list respects every rule
            else:
                outcome = self._solve("feasible", groups, forced=forced)
                if outcome.status == INFEASIBLE:
                    answer = False
                elif outcome.selected is None:
                    answer = None
                else:
                    answer = not self._violations(outcome.selected, groups, forced) or None
            self._feasibility[key] = answer
        return self._feasibility[key]

    def _diagnose(self, groups: list[str]) -> str:
        """Which rules cannot hold together with the forced-in candidatures (minimal conflicting
        sets), and which single relaxation makes a list possible. Only what the solver proved
        is said. The diagnosis has its own time budget."""
        self.deadline = time.perf_counter() + self.time_limit
        self._feasibility: dict = {}
        conflicts: list[tuple[str, ...]] = []
        for size in range(1, len(groups) + 1):
            for subset in combinations(groups, size):
                if any(set(conflict) <= set(subset) for conflict in conflicts):
                    continue
                if self._feasible(subset) is False:
                    conflicts.append(subset)
        sentences = [NO_LIST]
        forced_labels = _quoted([item.label for item in self._forced_items()])
        for conflict in conflicts:
            if len(conflict) == 1:
                sentences.append(self._single_conflict(conflict[0]))
            else:
                parts = [f"les candidatures imposées ({forced_labels})"]
                parts.extend(self._group_label(group) for group in conflict)
                sentences.append(
                    "Impossible de respecter ensemble "
                    + ", ".join(parts[:-1])
                    + " et "
                    + parts[-1]
                    + "."
                )
        if not conflicts:
            sentences.append(
                f"Les candidatures imposées ({forced_labels}) ne peuvent pas être retenues avec "
                "les autres règles."
            )
        helpful = False
        for group in groups:
            others = [other for other in groups if other != group]
            if self._feasible(others) is not True:
                continue
            helpful = True
            if group == BUDGET:
                outcome = self._solve("cost", others)
                if outcome.selected is not None and not self._violations(outcome.selected, others):
                    cost = _euros(
                        _cents_to_euros(sum(self.items[index].low for index in outcome.selected))
                    )
                    if outcome.status == OPTIMAL:
                        sentences.append(
                            f"Avec une enveloppe d'au moins {cost} (au lieu de "
                            f"{_euros(self.envelope)}), une liste existe."
                        )
                    else:
                        sentences.append(f"Avec une enveloppe de {cost}, une liste existe.")
                    continue
            sentences.append(f"Sans {self._group_label(group)}, une liste existe.")
        released = []
        forced_items = self._forced_items()
        if len(forced_items) <= 10:
            for item in forced_items:
                if self._feasible(groups, forced=self.forced - {item.index}) is True:
                    released.append(item.label)
        if len(released) == 1:
            sentences.append(f"En n'imposant plus « {released[0]} », une liste existe.")
        elif released:
            sentences.append(
                "En n'imposant plus l'une de ces candidatures, une liste existe : "
                f"{_quoted(released, 'ou')}."
            )
        else:
            sentences.append("Sans les candidatures imposées, une liste existe.")
        if not helpful:
            sentences.append("Assouplir une seule des autres règles ne suffit pas.")
        return " ".join(sentences)

    def _infeasible(self, message: str) -> Proposal:
        lines = []
        for item in self.items:
            reasons = [
                f"Non retenue : {self._header(item)} ; aucune liste ne respecte toutes les "
                "règles (voir le message d'ensemble)."
            ]
            reasons.extend(self._bonus_reasons(item))
            if item.forced_in:
                reasons.append("Imposée par la CNA.")
            if item.forced_out:
                reasons.append("Écartée par la CNA.")
            if not item.eligible:
                reasons.append(self._ineligible_reason(item))
            lines.append(
                Line(
                    key=item.candidate.key,
                    selected=False,
                    amount=None,
                    score=item.adjusted.quantize(CENT, rounding=ROUND_HALF_UP),
                    rank=item.rank,
                    reasons=reasons,
                )
            )
        return Proposal(
            feasible=False,
            message=message,
            lines=lines,
            total_score=Decimal("0.00"),
            total_granted=Decimal("0.00"),
            seconds=self.seconds,
        )

    def _rounding_failure(self, broken: list[str]) -> Proposal:
        return self._infeasible(
            "Le solveur a renvoyé une liste qui enfreint une règle ("
            + " ; ".join(broken)
            + ") à cause d'un arrondi de calcul : aucune liste n'est proposée. Modifiez "
            "légèrement l'enveloppe ou les règles et relancez."
        )

    def _final_check(self, lines: list[Line], total_granted: Decimal) -> list[str]:
        """Every rule once more, in Decimal, on the lines about to be returned."""
        broken = []
        by_key = {item.candidate.key: item for item in self.items}
        chosen = [line for line in lines if line.selected]
        if total_granted > self.envelope:
            broken.append(f"enveloppe de {_euros(self.envelope)}")
        if sum((line.amount for line in chosen), Decimal(0)) != total_granted:
            broken.append("total des montants")
        for line in chosen:
            item = by_key[line.key]
            low, cap = _cents_to_euros(item.low), _cents_to_euros(item.cap)
            if not (item.eligible and not item.forced_out):
                broken.append(f"« {item.label} » ne peut pas être retenue")
            elif not (
                low <= line.amount <= cap
                and line.amount >= self.min_amount
                and line.amount <= min(self.max_amount, item.candidate.requested)
            ):
                broken.append(f"montant de « {item.label} »")
        keys = {line.key for line in chosen}
        if any(item.candidate.key not in keys for item in self._forced_items()):
            broken.append("candidature imposée absente")
        indices = {by_key[key].index for key in keys}
        broken.extend(
            rule for rule in self._violations(indices, self._active_groups()) if rule not in broken
        )
        return broken
