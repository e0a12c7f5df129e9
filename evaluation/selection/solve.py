"""The solver: ``propose`` builds a ``Problem`` from the candidates and rules (validated, scored,
in integer cents), solves the MILP (``_optimize``, HiGHS through ``scipy.optimize.milp``), fills
the envelope, computes the amounts, then hands over to ``explain`` for the lines' sentences and to
``diagnose`` when no list respects the rules."""

import math
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction

from .common import (
    BUDGET,
    CENT,
    CORE_SIZE,
    DEFAULT_TIME_LIMIT,
    DIRECT_SIZE,
    INFEASIBLE,
    LIMIT,
    MONEY_UNIT,
    NBSP,
    NO_LIST,
    NO_SOLUTION,
    OPTIMAL,
    PRESOLVE_SIZE,
    QPV,
    REGION,
    RURAL,
    Candidate,
    Proposal,
    Rules,
    _cents,
    _cents_to_euros,
    _decimal,
    _euros,
    _Item,
    _Outcome,
    _plain,
    _plural,
    _Result,
)
from .diagnose import Diagnosis
from .explain import Explanations


def _milp(objective, matrix, rhs, lower, upper, integrality, deadline):
    """One HiGHS run with the time left (None when there is none)."""
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return None
    constraints = LinearConstraint(matrix, -np.inf, rhs) if matrix.shape[0] else None
    return milp(
        objective,
        integrality=integrality,
        bounds=Bounds(lower, upper),
        constraints=constraints,
        # HiGHS' presolve spends tens of seconds on long knapsack rows: only for small models.
        options={
            "time_limit": remaining,
            "mip_rel_gap": 0.0,
            "presolve": len(objective) <= PRESOLVE_SIZE,
        },
    )


def _infeasible_status(result) -> bool:
    # The model is bounded: « unbounded or infeasible » can only mean infeasible.
    return result.status == 2 or (result.status == 4 and "infeasible" in result.message.lower())


def _from_milp(result) -> _Result:
    if result is None:
        return _Result(NO_SOLUTION, None)
    if _infeasible_status(result):
        return _Result(INFEASIBLE, None)
    if result.x is None or result.status not in (0, 1):
        return _Result(NO_SOLUTION, None)
    if result.status == 0:
        return _Result(OPTIMAL, result.x, result.fun)
    return _Result(LIMIT, result.x, result.mip_dual_bound)


def _optimize(
    objective, matrix, rhs, lower, upper, integrality, *, deadline, first_solution=False
) -> _Result:
    """Minimise ``objective·x`` subject to ``matrix·x ≤ rhs``, the bounds and the integrality,
    exactly (HiGHS with a zero gap) unless the deadline comes first.

    Small models, and questions of mere feasibility, go to HiGHS whole. HiGHS alone cannot prove
    a large knapsack optimal in reasonable time, so larger models are solved on a *core*: with
    the duals ``y ≤ 0`` of the LP relaxation, every feasible ``x`` satisfies
    ``objective·x ≥ bound + Σ |reduced_i|·[x_i off the bound reduced_i leans to]``, where
    ``bound`` is the Lagrangian bound. A solution better than the incumbent (value ``U``) can
    therefore only move variables with ``|reduced_i| ≤ U − bound``: the others are fixed, the
    MILP is solved on the remaining core, and the core is widened until it holds every variable
    within the gap — at which point the core's optimum is the global one."""
    import numpy as np
    from scipy.optimize import linprog

    size = len(objective)
    if first_solution or size <= DIRECT_SIZE:
        return _from_milp(_milp(objective, matrix, rhs, lower, upper, integrality, deadline))
    remaining = deadline - time.perf_counter()
    if remaining <= 0:
        return _Result(NO_SOLUTION, None)
    relaxation = linprog(
        objective,
        A_ub=matrix,
        b_ub=rhs,
        bounds=np.column_stack([lower, upper]),
        method="highs",
        options={"presolve": False, "time_limit": remaining},
    )
    if _infeasible_status(relaxation):
        return _Result(INFEASIBLE, None)
    if relaxation.status != 0:
        return _from_milp(_milp(objective, matrix, rhs, lower, upper, integrality, deadline))
    duals = np.minimum(relaxation.ineqlin.marginals, 0.0)
    reduced = objective - matrix.T @ duals
    bound = float(duals @ rhs + np.minimum(reduced * lower, reduced * upper).sum())
    leaning = np.where(reduced > 0, lower, upper)
    free = lower < upper
    integer = integrality == 1
    distance = np.where(free, np.abs(reduced), np.inf)
    distance[free & ~integer] = -1.0  # continuous variables always stay in the core
    # Room for the rounding errors of the float sums above.
    margin = 1e-6 + 1e-9 * float(np.abs(objective).sum() + np.abs(duals @ rhs))
    ladder = np.sort(distance[free & integer])
    count = min(CORE_SIZE, len(ladder))
    threshold = float(ladder[count - 1]) if count else 0.0
    best_x, best_value = None, np.inf
    while True:
        core = distance <= threshold
        whole = bool(np.all(core | ~free))
        columns = np.flatnonzero(core)
        base = np.where(core, 0.0, np.where(free, leaning, lower))
        result = _milp(
            objective[columns],
            matrix[:, columns],
            rhs - matrix @ base,
            lower[columns],
            upper[columns],
            integrality[columns],
            deadline,
        )
        if result is None or result.x is None:
            if result is not None and _infeasible_status(result):
                if whole:
                    return _Result(INFEASIBLE, None)
                count = min(2 * max(count, 1), len(ladder))  # fixed too much: widen the core
                threshold = max(threshold, float(ladder[count - 1]))
                continue
            if best_x is not None:
                return _Result(LIMIT, best_x, bound)
            return _Result(NO_SOLUTION, None)
        x = base.copy()
        x[columns] = result.x
        x[integer] = np.round(x[integer])
        value = float(objective @ x)
        if value < best_value:
            best_x, best_value = x, value
        if result.status != 0:
            return _Result(LIMIT, best_x, bound)
        if whole:
            return _Result(OPTIMAL, best_x, best_value)
        gap = best_value - bound
        if gap + margin <= threshold:
            return _Result(OPTIMAL, best_x, best_value)
        threshold = gap + margin
        count = int(np.searchsorted(ladder, threshold, side="right"))


def propose(
    candidates: list[Candidate], rules: Rules, *, time_limit: float = DEFAULT_TIME_LIMIT
) -> Proposal:
    """The best list of laureates under ``rules``, with amounts and explanations.

    ``time_limit`` (seconds) bounds the search for the best list; when it runs out, the best
    list found so far is returned (it respects every rule, and the message says how much better
    the best one could be). An infeasible problem gets a diagnosis with its own budget of
    ``time_limit``.

    Never raises on user choices (impossible rules give ``feasible=False`` and a French message);
    raises ``ValueError`` for programmer errors: negative or non-finite money, a funding floor
    outside ]0, 1], a share outside [0, 1], a negative region cap, a time limit that is not
    positive, duplicate candidate keys. Forced keys that are not among the candidates are
    ignored (the message says how many forced-in ones)."""
    problem = Problem(candidates, rules, time_limit)
    return problem.propose()


class Problem(Explanations, Diagnosis):
    """One run of the assistant: the validated rules and candidates (``items``, best adjusted
    score first), the solver and the amounts. The sentences come from ``Explanations``, the
    diagnosis of impossible rules from ``Diagnosis``."""

    def __init__(self, candidates: list[Candidate], rules: Rules, time_limit: float):
        self.rules = rules
        self.time_limit = float(time_limit)
        if not self.time_limit > 0:
            raise ValueError(f"time_limit must be positive, got {time_limit}")
        self.deadline = time.perf_counter() + self.time_limit
        self.seconds = 0.0
        self.envelope = _decimal(rules.envelope, "envelope")
        self.min_amount = _decimal(rules.min_amount, "min_amount")
        self.max_amount = _decimal(rules.max_amount, "max_amount")
        for name, value in (
            ("envelope", self.envelope),
            ("min_amount", self.min_amount),
            ("max_amount", self.max_amount),
        ):
            if value < 0:
                raise ValueError(f"{name} must not be negative, got {value}")
        self.floor = _decimal(rules.funding_floor, "funding_floor")
        if not 0 < self.floor <= 1:
            raise ValueError(f"funding_floor must be in ]0, 1], got {self.floor}")
        self.rural_bonus = _decimal(rules.rural_bonus, "rural_bonus")
        self.qpv_bonus = _decimal(rules.qpv_bonus, "qpv_bonus")
        self.shares: dict[str, Decimal] = {}
        for group, share in ((RURAL, rules.rural_min_share), (QPV, rules.qpv_min_share)):
            if share is None:
                continue
            share = _decimal(share, f"{group}_min_share")
            if not 0 <= share <= 1:
                raise ValueError(f"{group}_min_share must be in [0, 1], got {share}")
            if share > 0:
                self.shares[group] = share
        self.region_cap = rules.max_per_region
        if self.region_cap is not None and (
            isinstance(self.region_cap, bool)
            or not isinstance(self.region_cap, int)
            or self.region_cap < 0
        ):
            raise ValueError(f"max_per_region must be a non-negative int, got {self.region_cap}")
        keys = [candidate.key for candidate in candidates]
        if len(set(keys)) != len(keys):
            raise ValueError("candidate keys must be unique")
        # Forced-in keys of candidatures no longer in the list (e.g. a saved scenario re-run
        # after a withdrawal) are ignored, and the message says so.
        self.unknown_forced = len(set(rules.forced_in) - set(keys))

        self.envelope_cents = _cents(self.envelope, ROUND_FLOOR)
        min_cents = _cents(self.min_amount, ROUND_CEILING)
        scored = []
        for candidate in candidates:
            score = _decimal(candidate.score, f"score of {candidate.key}")
            requested = _decimal(candidate.requested, f"requested amount of {candidate.key}")
            adjusted = score
            if candidate.rural:
                adjusted += self.rural_bonus
            if candidate.qpv:
                adjusted += self.qpv_bonus
            cap = _cents(min(requested, self.max_amount), ROUND_FLOOR)
            low = max(min_cents, _cents(self.floor * Decimal(cap) / 100, ROUND_CEILING))
            scored.append((adjusted, candidate, cap, low))
        scored.sort(key=lambda entry: (-entry[0], entry[1].key))
        self.items = [
            _Item(
                index=index,
                candidate=candidate,
                adjusted=adjusted,
                cap=cap,
                low=low,
                eligible=low <= cap,
                forced_in=candidate.key in rules.forced_in,
                forced_out=candidate.key in rules.forced_out,
            )
            for index, (adjusted, candidate, cap, low) in enumerate(scored)
        ]
        # The candidatures the model may select.
        self.pool = [item for item in self.items if item.eligible and not item.forced_out]
        self.forced = frozenset(item.index for item in self.items if item.forced_in)
        # Integer coefficients of the share rows: share = p/q, row Σ (q·flag − p)·x ≥ 0.
        self.share_fraction = {group: Fraction(share) for group, share in self.shares.items()}

    # --- Exact checks -------------------------------------------------------------------------

    def _flag(self, item: _Item, group: str) -> bool:
        return item.candidate.rural if group == RURAL else item.candidate.qpv

    def _share_ok(self, count: int, flagged: int, group: str) -> bool:
        fraction = self.share_fraction[group]
        return flagged * fraction.denominator >= fraction.numerator * count

    def _active_groups(self) -> list[str]:
        groups = [BUDGET]
        if self.region_cap is not None:
            groups.append(REGION)
        groups.extend(group for group in (RURAL, QPV) if group in self.shares)
        return groups

    def _violations(self, selected: set[int], groups, forced=None) -> list[str]:
        """The rules ``selected`` breaks, checked in integers and fractions (empty when none)."""
        forced = self.forced if forced is None else forced
        chosen = [self.items[index] for index in selected]
        broken = []
        if any(not item.eligible or item.forced_out for item in chosen):
            broken.append("candidature irrecevable ou écartée")
        if not forced <= selected:
            broken.append("candidature imposée absente")
        if BUDGET in groups and sum(item.low for item in chosen) > self.envelope_cents:
            broken.append(f"enveloppe de {_euros(self.envelope)}")
        if REGION in groups:
            per_region: dict[str, int] = {}
            for item in chosen:
                region = item.candidate.region
                per_region[region] = per_region.get(region, 0) + 1
            if any(count > self.region_cap for count in per_region.values()):
                broken.append(self._group_label(REGION))
        for group in (RURAL, QPV):
            if group in groups:
                flagged = sum(1 for item in chosen if self._flag(item, group))
                if not self._share_ok(len(chosen), flagged, group):
                    broken.append(self._group_label(group))
        return broken

    # --- The MILP ------------------------------------------------------------------------------

    def _solve(self, mode: str, groups, forced=None, budget_cut: int = 0) -> _Outcome:
        """``mode``: ``"score"`` (the real objective), ``"feasible"`` (any solution) or
        ``"cost"`` (cheapest list, to size the envelope). ``groups``: the rule groups kept."""
        import numpy as np
        import scipy.optimize  # noqa: F401  (imported before the clock starts)
        from scipy import sparse

        forced = self.forced if forced is None else forced
        pool = self.pool
        size = len(pool)
        if size == 0:
            return _Outcome(status=OPTIMAL, selected=set(), bound=0.0)
        # Money in units of 1 000 € keeps HiGHS' rows well scaled; exactness comes later.
        low = np.array([item.low for item in pool], dtype=float) / MONEY_UNIT
        cap = np.array([item.cap for item in pool], dtype=float) / MONEY_UNIT
        envelope = (self.envelope_cents - budget_cut) / MONEY_UNIT
        # T, the money granted, only matters when amounts may go below the cap.
        money = mode == "score" and bool(np.any(low != cap))
        width = size + 1 if money else size
        epsilon = 0.001 / (self.envelope_cents / MONEY_UNIT + 1e-3)

        rows, cols, values, rhs = [], [], [], []

        def add_row(indices, coefficients, bound):  # Σ coefficient·x ≤ bound
            rows.extend([len(rhs)] * len(indices))
            cols.extend(indices)
            values.extend(coefficients)
            rhs.append(bound)

        everyone = list(range(size))
        if BUDGET in groups:
            add_row(everyone, low.tolist(), envelope)
        if money:
            add_row(everyone + [size], (-cap).tolist() + [1.0], 0.0)
        if REGION in groups:
            members: dict[str, list[int]] = {}
            for position, item in enumerate(pool):
                members.setdefault(item.candidate.region, []).append(position)
            for positions in members.values():
                if len(positions) > self.region_cap:
                    add_row(positions, [1.0] * len(positions), float(self.region_cap))
        for group in (RURAL, QPV):
            if group in groups:
                # Σ (q·flag − p)·x ≥ 0 with share = p/q, written as a ≤ row.
                fraction = self.share_fraction[group]
                coefficients = [
                    float(fraction.numerator - fraction.denominator * self._flag(item, group))
                    for item in pool
                ]
                add_row(everyone, coefficients, 0.0)

        if mode == "score":
            scores = np.array([float(item.adjusted) for item in pool])
            objective = -scores if money else -(scores + epsilon * cap)
        elif mode == "cost":
            objective = low.copy()
        else:
            objective = np.zeros(size)
        lower = np.array([1.0 if item.index in forced else 0.0 for item in pool])
        upper = np.ones(size)
        integrality = np.ones(size)
        if money:
            objective = np.append(objective, -epsilon)
            lower = np.append(lower, 0.0)
            upper = np.append(upper, max(envelope, 0.0))
            integrality = np.append(integrality, 0.0)
        matrix = sparse.csr_array((values, (rows, cols)), shape=(len(rhs), width), dtype=float)

        started = time.perf_counter()
        result = _optimize(
            objective,
            matrix,
            np.array(rhs, dtype=float),
            lower,
            upper,
            integrality,
            deadline=self.deadline,
            first_solution=mode == "feasible",
        )
        self.seconds += time.perf_counter() - started
        if result.x is None:
            return _Outcome(status=result.status, selected=None)
        selected = {pool[position].index for position in range(size) if result.x[position] > 0.5}
        return _Outcome(status=result.status, selected=selected, bound=result.bound)

    # --- Proposal -----------------------------------------------------------------------------

    def propose(self) -> Proposal:
        proposal = self._propose()
        if self.unknown_forced:
            proposal.message += " " + _plural(
                self.unknown_forced,
                "candidature imposée ne figure pas parmi les candidatures : elle est ignorée.",
                "candidatures imposées ne figurent pas parmi les candidatures : elles sont "
                "ignorées.",
            )
        return proposal

    def _propose(self) -> Proposal:
        if not self.items:
            return Proposal(
                feasible=True,
                message="Aucune candidature à départager : il n'y a rien à sélectionner.",
                lines=[],
                total_score=Decimal("0.00"),
                total_granted=Decimal("0.00"),
                seconds=0.0,
            )
        hard = self._hard_conflicts()
        if hard:
            return self._infeasible(" ".join([NO_LIST, *hard]))
        groups = self._active_groups()
        if any(self._single_conflict(group) for group in groups):
            return self._infeasible(self._diagnose(groups))

        self.deadline = time.perf_counter() + self.time_limit
        budget_cut = 0
        for _attempt in range(3):
            outcome = self._solve("score", groups, budget_cut=budget_cut)
            if outcome.status == INFEASIBLE:
                return self._infeasible(self._diagnose(groups))
            if outcome.selected is None:
                seconds = _plain(Decimal(str(self.time_limit)))
                return self._infeasible(
                    f"Le calcul n'a pas abouti dans le temps imparti ({seconds}{NBSP}s) : aucune "
                    "liste n'est proposée. Réessayez, ou allégez les règles."
                )
            broken = self._violations(outcome.selected, groups)
            if not broken:
                break
            excess = sum(self.items[index].low for index in outcome.selected) - self.envelope_cents
            if excess <= 0 or len(broken) > 1:
                return self._rounding_failure(broken)
            budget_cut += excess  # a float artefact: ask again with a tighter envelope
        else:
            return self._rounding_failure(broken)

        selected = self._fill(outcome.selected)
        amounts = self._amounts(selected)
        lines = self._lines(selected, amounts)
        total_score = sum((self.items[index].adjusted for index in selected), Decimal(0))
        total_granted = sum((_cents_to_euros(cents) for cents in amounts.values()), Decimal(0))
        total_granted = Decimal(total_granted).quantize(CENT)
        broken = self._final_check(lines, total_granted)
        if broken:
            return self._rounding_failure(broken)
        gap = None
        if outcome.status == LIMIT and outcome.bound is not None and math.isfinite(outcome.bound):
            gap = max(Decimal(0), Decimal(repr(-outcome.bound)) - total_score)
        return Proposal(
            feasible=True,
            message=self._summary(selected, total_score, total_granted, outcome.status, gap),
            lines=lines,
            total_score=total_score.quantize(CENT, rounding=ROUND_HALF_UP),
            total_granted=total_granted,
            seconds=self.seconds,
        )

    def _fill(self, selected: set[int]) -> set[int]:
        """Adds, best ranked first, every candidature that still fits all the rules. Never
        changes an optimal list; improves one cut short by the time limit."""
        selected = set(selected)
        chosen = [self.items[index] for index in selected]
        count = len(chosen)
        low_total = sum(item.low for item in chosen)
        flagged = {
            group: sum(1 for item in chosen if self._flag(item, group)) for group in self.shares
        }
        per_region: dict[str, int] = {}
        for item in chosen:
            per_region[item.candidate.region] = per_region.get(item.candidate.region, 0) + 1
        for item in self.pool:
            if item.index in selected or item.adjusted <= 0:
                continue
            region = item.candidate.region
            if low_total + item.low > self.envelope_cents:
                continue
            if self.region_cap is not None and per_region.get(region, 0) >= self.region_cap:
                continue
            if any(
                not self._share_ok(count + 1, flagged[group] + self._flag(item, group), group)
                for group in self.shares
            ):
                continue
            selected.add(item.index)
            count += 1
            low_total += item.low
            per_region[region] = per_region.get(region, 0) + 1
            for group in self.shares:
                flagged[group] += self._flag(item, group)
        return selected

    def _amounts(self, selected: set[int]) -> dict[int, int]:
        """Cents granted to each selected item: the cap when the envelope allows it, otherwise
        the same share ``r`` of every cap (never below the item's lowest amount), the cents lost
        by rounding down going one by one to the best ranked. Exact integer arithmetic."""
        chosen = sorted(selected)
        caps = {index: self.items[index].cap for index in chosen}
        if sum(caps.values()) <= self.envelope_cents:
            return caps
        lows = {index: self.items[index].low for index in chosen}
        # total(r) = Σ max(low, r·cap) is increasing: find r with total(r) = envelope.
        by_threshold = sorted(
            (index for index in chosen if caps[index] > 0),
            key=lambda index: Fraction(lows[index], caps[index]),
        )
        fixed = sum(lows.values())  # items still at their lowest amount
        scaled = 0  # Σ cap of the items above it
        ratio = Fraction(1)
        for index in by_threshold:
            if scaled and Fraction(self.envelope_cents - fixed, scaled) <= Fraction(
                lows[index], caps[index]
            ):
                break
            fixed -= lows[index]
            scaled += caps[index]
        if scaled:
            ratio = Fraction(self.envelope_cents - fixed, scaled)
        amounts = {
            index: max(lows[index], min(caps[index], int(ratio * caps[index]))) for index in chosen
        }
        leftover = self.envelope_cents - sum(amounts.values())
        for index in chosen:  # rank order
            if leftover <= 0:
                break
            extra = min(leftover, caps[index] - amounts[index])
            amounts[index] += extra
            leftover -= extra
        return amounts
