"""Selection assistant of the national cell (CNA): which candidatures to fund, and how much.

Pure solver, no Django model and no database: ``propose(candidates, rules)`` takes plain
``Candidate`` and ``Rules`` dataclasses and returns a ``Proposal`` whose every line carries the
French sentences the CNA needs to defend it. It can be called from views, management commands,
tests and benchmarks alike.

Model (a mixed-integer linear programme solved by HiGHS through ``scipy.optimize.milp``):

* one binary variable ``x_i`` per candidature that may be selected (eligible, not forced out);
* money is counted in integer cents. Candidate *i* may receive an amount between
  ``low_i = max(min_amount, funding_floor × cap_i)`` (rounded up to the cent) and
  ``cap_i = min(requested_i, max_amount)``; it is eligible only if ``low_i ≤ cap_i``, that is
  ``cap_i ≥ min_amount``;
* ``Σ low_i·x_i ≤ envelope``, at most ``max_per_region`` laureates per region,
  ``Σ (rural_i − share)·x_i ≥ 0`` for the rural and QPV minimum shares (scaled to integer
  coefficients), forced-in ``x_i = 1``;
* objective: maximise ``Σ (score_i + bonuses_i)·x_i + ε·T`` where ``T ≤ envelope`` and
  ``T ≤ Σ cap_i·x_i`` is the money that can be granted and ``ε·envelope < 0.001``: granting more
  money only breaks ties and never outweighs a 0.01-point difference. With ``funding_floor = 1``
  the amounts are fixed and ``T`` is simply ``Σ cap_i·x_i`` (a pure knapsack).

The per-candidate amount variables ``low_i·x_i ≤ a_i ≤ cap_i·x_i, Σ a_i ≤ envelope`` are projected
out: for a given selection such amounts exist exactly when ``Σ low_i ≤ envelope`` and their best
total is ``min(envelope, Σ cap_i)``, which is what ``T`` expresses. This halves the size of the
model. The amounts themselves are then computed exactly, in integers: everybody receives
``cap_i`` when the envelope allows it, otherwise every laureate is reduced to the same share of
``cap_i`` (never below ``low_i``), the few cents left by rounding going to the best ranked.

Optimality is proven (HiGHS with a zero gap) unless the time limit comes first; then the best
list found is returned with a warning and a proven bound on what a better list could gain.
HiGHS alone proves large knapsacks optimal very slowly, so models of more than DIRECT_SIZE
candidatures are first reduced with the LP relaxation (reduced-cost fixing on a growing core,
see ``_optimize``), which is exact.

Floats only ever choose the selection. Every rule is then checked again in exact arithmetic;
a selection broken by a float artefact is re-solved with a tightened envelope, and a proposal
that would break a rule is never returned.
"""

import math
import time
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

from ami.formats import euros, plural

CENT = Decimal("0.01")
NBSP = "\u00a0"  # no-break space: before « € » and « % »
DEFAULT_TIME_LIMIT = 60.0
# Laureates named in a message before « … » takes over.
MAX_NAMES = 5

# Solver tuning: models up to DIRECT_SIZE variables go to HiGHS whole; larger ones are solved on
# a core of CORE_SIZE variables first (see ``_optimize``); HiGHS' presolve only up to
# PRESOLVE_SIZE variables; money in units of MONEY_UNIT cents (1 000 €) inside the model.
DIRECT_SIZE = 100
CORE_SIZE = 100
PRESOLVE_SIZE = 2000
MONEY_UNIT = 100_000
NO_LIST = "Aucune liste ne respecte toutes les règles."
# Solver outcomes.
OPTIMAL, LIMIT, INFEASIBLE, NO_SOLUTION = "optimal", "limit", "infeasible", "no solution"

# Optional rule groups, in the order they are diagnosed.
BUDGET, REGION, RURAL, QPV = "budget", "region", "rural", "qpv"


# --- Public API -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    key: int  # the candidature's primary key
    label: str  # PTCE name, for messages
    region: str  # region name (per-region cap and messages)
    score: Decimal  # score on the basis the user chose (raw or normalised)
    requested: Decimal  # requested amount in euros
    rural: bool
    qpv: bool


@dataclass(frozen=True)
class Rules:
    envelope: Decimal
    min_amount: Decimal  # call's minimum per laureate
    max_amount: Decimal  # call's maximum per laureate
    # Share (0 < x ≤ 1) of the capped requested amount the assistant may go down to;
    # 1 = grant exactly min(requested, max_amount).
    funding_floor: Decimal = Decimal("1")
    rural_min_share: Decimal | None = None  # e.g. Decimal("0.3"): at least 30 % rural laureates
    qpv_min_share: Decimal | None = None
    rural_bonus: Decimal = Decimal("0")  # points added to a rural candidate's score
    qpv_bonus: Decimal = Decimal("0")
    max_per_region: int | None = None
    forced_in: frozenset[int] = frozenset()
    forced_out: frozenset[int] = frozenset()


@dataclass
class Line:
    key: int
    selected: bool
    amount: Decimal | None  # None when not selected
    score: Decimal  # score used (with bonuses), 2 decimals
    rank: int  # 1 = best adjusted score among all candidates (ties: by key)
    reasons: list[str] = field(default_factory=list)  # French sentences: why in / why out


@dataclass
class Proposal:
    feasible: bool
    message: str  # French; when infeasible, the conflicting rules and the relaxations that help
    lines: list[Line]  # one per candidate, ordered by rank
    total_score: Decimal
    total_granted: Decimal
    seconds: float  # solver wall time (every MILP solved, diagnosis included)


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
    problem = _Problem(candidates, rules, time_limit)
    return problem.propose()


# --- French formatting ------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _euros(amount: Decimal) -> str:
    """Amounts in the explanations always show their cents: ``"1 234,50 €"``, ``"60 000,00 €"``."""
    return euros(amount, 2)


def _note(value: Decimal) -> str:
    """A score with two decimals and a decimal comma: ``78,40``."""
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):.2f}".replace(".", ",")


def _plain(value: Decimal) -> str:
    """A number without useless zeros and with a decimal comma: ``5``, ``2,5``."""
    text = f"{value.normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


@lru_cache(maxsize=1024)
def _percent(share: Decimal) -> str:
    """``Decimal("0.3")`` → ``"30 %"``; one decimal at most."""
    value = (share * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{_plain(value)}{NBSP}%"


def _quoted(labels: list[str], conjunction: str = "et") -> str:
    """« A », « B » et « C »; past MAX_NAMES names, « … et 3 autres »."""
    names = [f"« {label} »" for label in labels[:MAX_NAMES]]
    if len(labels) > MAX_NAMES:
        names.append(_plural(len(labels) - MAX_NAMES, "autre", "autres"))
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + f" {conjunction} " + names[-1]


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _cents_to_euros(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def _cents(value: Decimal, rounding: str) -> int:
    return int((value * 100).to_integral_value(rounding=rounding))


# --- Internals --------------------------------------------------------------------------------


def _decimal(value, name: str) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError as error:  # decimal.InvalidOperation
        raise ValueError(f"{name} must be a number, got {value!r}") from error
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return number


@dataclass
class _Item:
    index: int  # position in rank order (rank - 1)
    candidate: Candidate
    adjusted: Decimal  # score + bonuses
    cap: int  # cents
    low: int  # cents
    eligible: bool
    forced_in: bool
    forced_out: bool

    @property
    def rank(self) -> int:
        return self.index + 1

    @property
    def label(self) -> str:
        return self.candidate.label


@dataclass
class _Outcome:
    status: str  # OPTIMAL, LIMIT (time limit, best solution found), INFEASIBLE, NO_SOLUTION
    selected: set[int] | None  # item indices, None without a solution
    bound: float | None = None  # proven lower bound of the minimised objective, if known


@dataclass
class _Result:
    status: str
    x: object | None  # numpy array
    bound: float | None = None


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


class _Problem:
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

    # --- Explanations -------------------------------------------------------------------------

    def _header(self, item: _Item) -> str:
        return f"note {_note(item.adjusted)} (rang {item.rank} sur {len(self.items)})"

    def _bonus_reasons(self, item: _Item) -> list[str]:
        reasons = []
        if item.candidate.rural and self.rural_bonus:
            reasons.append(f"Bonus rural : {self._signed(self.rural_bonus)} inclus dans la note.")
        if item.candidate.qpv and self.qpv_bonus:
            reasons.append(f"Bonus QPV : {self._signed(self.qpv_bonus)} inclus dans la note.")
        return reasons

    @staticmethod
    def _signed(points: Decimal) -> str:
        sign = "+" if points > 0 else "−"
        unit = "point" if abs(points) < 2 else "points"  # French: plural from 2 on
        return f"{sign}{_plain(abs(points))} {unit}"

    def _ineligible_reason(self, item: _Item) -> str:
        if self.max_amount < self.min_amount:
            return (
                f"Le maximum de l'appel ({_euros(self.max_amount)}) est inférieur à son minimum "
                f"({_euros(self.min_amount)}) : aucune candidature ne peut être retenue."
            )
        return (
            f"Montant demandé ({_euros(item.candidate.requested)}) inférieur au minimum de "
            f"l'appel ({_euros(self.min_amount)}) : elle ne peut pas être retenue."
        )

    def _lines(self, selected: set[int], amounts: dict[int, int]) -> list[Line]:
        chosen = [self.items[index] for index in sorted(selected)]
        count = len(chosen)
        low_total = sum(item.low for item in chosen)
        granted = sum(amounts.values())
        flagged = {
            group: sum(1 for item in chosen if self._flag(item, group)) for group in self.shares
        }
        per_region: dict[str, list[_Item]] = {}
        for item in chosen:
            per_region.setdefault(item.candidate.region, []).append(item)
        for members in per_region.values():
            members.sort(key=lambda member: member.adjusted)
        # Adding one more candidature without the flag would break the share.
        breaks = {group: not self._share_ok(count + 1, flagged[group], group) for group in flagged}
        # Selected, not forced, sorted by adjusted score: Σ of their lowest amounts below a score.
        movable = sorted(
            (item for item in chosen if not item.forced_in), key=lambda item: item.adjusted
        )
        movable_scores = [item.adjusted for item in movable]
        movable_lows = [0]
        for item in movable:
            movable_lows.append(movable_lows[-1] + item.low)
        context = {
            "count": count,
            "low_total": low_total,
            "granted": granted,
            "flagged": flagged,
            "per_region": per_region,
            "region_scores": {
                region: [member.adjusted for member in members]
                for region, members in per_region.items()
            },
            "breaks": breaks,
            "movable_scores": movable_scores,
            "movable_lows": movable_lows,
        }
        lines = []
        passed_over = 0  # better-ranked candidatures the model could have selected but did not
        for item in self.items:
            if item.index in selected:
                reasons = self._selected_reasons(item, amounts[item.index], passed_over)
                amount = _cents_to_euros(amounts[item.index])
            else:
                reasons = self._excluded_reasons(item, context)
                amount = None
                if item.eligible and not item.forced_out:
                    passed_over += 1
            lines.append(
                Line(
                    key=item.candidate.key,
                    selected=item.index in selected,
                    amount=amount,
                    score=item.adjusted.quantize(CENT, rounding=ROUND_HALF_UP),
                    rank=item.rank,
                    reasons=reasons,
                )
            )
        return lines

    def _selected_reasons(self, item: _Item, cents: int, passed_over: int) -> list[str]:
        amount = _cents_to_euros(cents)
        requested = item.candidate.requested
        reasons = [f"Retenue : {self._header(item)}, montant {_euros(amount)}."]
        reasons.extend(self._bonus_reasons(item))
        if item.forced_in:
            reasons.append("Imposée par la CNA.")
        if requested > self.max_amount:
            reasons.append(
                f"Montant plafonné au maximum de l'appel ({_euros(self.max_amount)}) ; "
                f"{_euros(requested)} demandés."
            )
        if cents < item.cap:
            reasons.append(
                f"Montant réduit à {_percent(amount / requested)} du montant demandé "
                f"({_euros(requested)}) pour tenir l'enveloppe."
            )
        if RURAL in self.shares and item.candidate.rural:
            reasons.append(
                "Rurale : compte dans la part minimale de lauréats ruraux "
                f"({_percent(self.shares[RURAL])})."
            )
        if QPV in self.shares and item.candidate.qpv:
            reasons.append(
                "En quartier prioritaire : compte dans la part minimale de lauréats en QPV "
                f"({_percent(self.shares[QPV])})."
            )
        if passed_over:
            others = _plural(
                passed_over,
                "candidature mieux notée non retenue",
                "candidatures mieux notées non retenues",
            )
            reasons.append(f"Passe devant {others} : voir leur motif.")
        return reasons

    def _excluded_reasons(self, item: _Item, context: dict) -> list[str]:
        reasons = [f"Non retenue : {self._header(item)}."]
        reasons.extend(self._bonus_reasons(item))
        if item.forced_out:
            reasons.append("Écartée par la CNA.")
        if not item.eligible:
            reasons.append(self._ineligible_reason(item))
        if item.forced_out or not item.eligible:
            return reasons
        binding = []
        binding.extend(self._budget_reason(item, context))
        binding.extend(self._region_reason(item, context))
        for group in self.shares:
            if self._flag(item, group):
                continue
            count, flagged = context["count"], context["flagged"][group]
            if context["breaks"][group]:
                binding.append(
                    f"La retenir ferait passer la part de {self._group_noun(group)} sous le "
                    f"minimum de {_percent(self.shares[group])} ({flagged} sur {count + 1})."
                )
        if not binding and item.adjusted <= 0:
            binding.append("Note nulle ou négative : la retenir n'améliorerait pas la note totale.")
        if not binding:
            binding.append(
                "Non retenue par le calcul : la liste proposée n'est peut-être pas optimale "
                "(limite de temps du solveur)."
            )
        return reasons + binding

    def _budget_reason(self, item: _Item, context: dict) -> list[str]:
        spare = self.envelope_cents - context["low_total"]  # after reducing everyone to the floor
        shortage = item.low - spare
        if shortage <= 0:
            return []
        remaining = self.envelope_cents - context["granted"]
        needed = "il faudrait" if item.low == item.cap else "il faudrait au moins"
        if context["granted"] == context["low_total"]:
            text = (
                f"Enveloppe insuffisante : il reste {_euros(_cents_to_euros(remaining))} alors "
                f"qu'{needed} {_euros(_cents_to_euros(item.low))} pour la retenir ; il "
                f"manquerait {_euros(_cents_to_euros(shortage))}."
            )
        else:
            text = (
                f"Enveloppe insuffisante : il reste {_euros(_cents_to_euros(remaining))} et, "
                "même en ramenant les montants des lauréats à leur plancher, il manquerait "
                f"{_euros(_cents_to_euros(shortage))} pour lui accorder "
                f"{_euros(_cents_to_euros(item.low))}."
            )
        # What removing every selected, non-forced candidature scored no better than this one
        # would free: if not enough, a better-scored one would have to go.
        below = context["movable_lows"][bisect_right(context["movable_scores"], item.adjusted)]
        if below < shortage:
            text += " La retenir obligerait à écarter au moins une candidature mieux notée."
        else:
            text += (
                " La faire entrer à la place de candidatures moins bien notées ne ferait pas "
                "progresser la note totale ou enfreindrait une autre règle."
            )
        return [text]

    def _region_reason(self, item: _Item, context: dict) -> list[str]:
        if self.region_cap is None:
            return []
        region = item.candidate.region
        members = context["per_region"].get(region, [])
        if len(members) < self.region_cap:
            return []
        cap = self.region_cap
        text = f"Plafond de {_plural(cap, 'lauréat', 'lauréats')} atteint pour {region}"
        if cap == 0:
            return [f"{text} : aucune candidature de cette région ne peut être retenue."]
        # Members sorted by adjusted score: the first ``below`` are scored below this one.
        below = bisect_left(context["region_scores"][region], item.adjusted)
        worse = members[:below]
        if not worse:
            if members[0].adjusted > item.adjusted:
                verb = "a une meilleure note" if cap == 1 else "ont une meilleure note"
            else:
                verb = "a une note au moins égale" if cap == 1 else "ont une note au moins égale"
            retained = "la retenue" if cap == 1 else f"les {cap} retenues"
            return [f"{text} : {retained} {verb}."]
        details = [
            f"« {member.label} » ({self._swap_obstacle(item, member, context)})"
            for member in worse[:3]
        ]
        more = f" (et {plural(len(worse) - 3, 'autre')})" if len(worse) > 3 else ""
        return [
            f"{text}. Elle ne peut remplacer aucune des retenues moins bien notées de la région : "
            + ", ".join(details)
            + more
            + "."
        ]

    def _swap_obstacle(self, item: _Item, member: _Item, context: dict) -> str:
        """Why ``item`` cannot take the place of the selected ``member``."""
        obstacles = []
        if member.forced_in:
            obstacles.append("imposée par la CNA")
        if context["low_total"] - member.low + item.low > self.envelope_cents:
            obstacles.append("l'enveloppe ne suffirait plus")
        for group in self.shares:
            if self._flag(member, group) and not self._flag(item, group):
                flagged = context["flagged"][group] - 1
                if not self._share_ok(context["count"], flagged, group):
                    obstacles.append(
                        f"la part de {self._group_noun(group)} tomberait sous "
                        f"{_percent(self.shares[group])}"
                    )
        if not obstacles:
            obstacles.append("l'échange ne ferait pas progresser la note totale")
        return ", ".join(obstacles)

    def _summary(self, selected, total_score, total_granted, status, gap=None) -> str:
        count = len(selected)
        remaining = self.envelope - total_granted
        if count == 0:
            message = (
                "Aucune candidature ne peut être retenue avec ces règles : voir le motif de "
                "chaque ligne."
            )
        else:
            retained = _plural(count, "candidature retenue", "candidatures retenues")
            message = (
                f"{retained} sur {len(self.items)} pour {_euros(total_granted)} (enveloppe "
                f"{_euros(self.envelope)}, reste {_euros(remaining)}) ; note totale "
                f"{_note(total_score)}."
            )
        if status == LIMIT:
            message += (
                " Attention : le calcul a atteint sa limite de temps. La liste respecte toutes "
                "les règles mais n'est peut-être pas la meilleure possible"
            )
            if gap is not None:
                gap = gap.quantize(CENT, rounding=ROUND_CEILING)
                points = "points" if gap >= 2 else "point"
                message += f" : la meilleure ferait au plus {_note(gap)} {points} de plus."
            else:
                message += "."
        return message

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
