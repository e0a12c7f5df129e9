"""Selection assistant of the national cell (CNA): which candidatures to fund, and how much.

Pure solver, no Django model and no database: ``propose(candidates, rules)`` takes plain
``Candidate`` and ``Rules`` dataclasses and returns a ``Proposal`` whose every line carries the
French sentences the CNA needs to defend it. It can be called from views, management commands,
tests and benchmarks alike.

Model (a mixed-integer linear programme solved exactly by HiGHS through ``scipy.optimize.milp``):

* one binary variable ``x_i`` per candidature that may be selected (eligible, not forced out);
* money is counted in integer cents. Candidate *i* may receive an amount between
  ``low_i = max(min_amount, funding_floor × cap_i)`` (rounded up to the cent) and
  ``cap_i = min(requested_i, max_amount)``; it is eligible only if ``low_i ≤ cap_i``;
* ``Σ low_i·x_i ≤ envelope``, at most ``max_per_region`` laureates per region,
  ``Σ (rural_i − share)·x_i ≥ 0`` for the rural and QPV minimum shares (scaled to integer
  coefficients), forced-in ``x_i = 1``;
* objective: maximise ``Σ (score_i + bonuses_i)·x_i + ε·T`` where ``T ≤ envelope`` and
  ``T ≤ Σ cap_i·x_i`` is the money that can be granted, and ``ε = 0.001 / (envelope + 1)``
  (in cents), so that granting more money only breaks ties and never outweighs 0.01 point.

The per-candidate amount variables ``low_i·x_i ≤ a_i ≤ cap_i·x_i, Σ a_i ≤ envelope`` are projected
out: for a given selection such amounts exist exactly when ``Σ low_i ≤ envelope`` and their best
total is ``min(envelope, Σ cap_i)``, which is what ``T`` expresses. This halves the size of the
model. The amounts themselves are then computed exactly, in integers: everybody receives
``cap_i`` when the envelope allows it, otherwise every laureate is reduced to the same share of
``cap_i`` (never below ``low_i``), the few cents left by rounding going to the best ranked.

Floats only ever choose the selection. Every rule is then checked again in exact arithmetic;
a selection broken by a float artefact is re-solved with a tightened envelope, and a proposal
that would break a rule is never returned.
"""

import time
from bisect import bisect_left
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from fractions import Fraction
from itertools import combinations

CENT = Decimal("0.01")
NNBSP = "\u202f"  # narrow no-break space: thousands separator
NBSP = "\u00a0"  # no-break space: before « € » and « % »
DEFAULT_TIME_LIMIT = 60.0
# Laureates named in a message before « … » takes over.
MAX_NAMES = 5

# Optional rule groups, in the order they are diagnosed.
BUDGET, REGION, RURAL, QPV = "budget", "region", "rural", "qpv"
GROUPS = (BUDGET, REGION, RURAL, QPV)


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

    Never raises on user choices (impossible rules give ``feasible=False`` and a French message);
    raises ``ValueError`` for programmer errors: negative or non-finite money, a funding floor
    outside ]0, 1], a share outside [0, 1], a negative region cap, duplicate candidate keys, or
    forced keys that are not among the candidates."""
    problem = _Problem(candidates, rules, time_limit)
    return problem.propose()


# --- French formatting ------------------------------------------------------------------------


def _euros(amount: Decimal) -> str:
    """``Decimal("1234.5")`` → ``"1 234,50 €"`` (narrow no-break space between thousands,
    no-break space before the euro sign)."""
    value = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    text = f"{value:,.2f}".replace(",", NNBSP).replace(".", ",")
    return f"{text}{NBSP}€"


def _note(value: Decimal) -> str:
    """A score with two decimals and a decimal comma: ``78,40``."""
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):.2f}".replace(".", ",")


def _plain(value: Decimal) -> str:
    """A number without useless zeros and with a decimal comma: ``5``, ``2,5``."""
    text = f"{value.normalize():f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",")


def _percent(share: Decimal) -> str:
    """``Decimal("0.3")`` → ``"30 %"``; one decimal at most."""
    value = (share * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return f"{_plain(value)}{NBSP}%"


def _quoted(labels: list[str]) -> str:
    names = [f"« {label} »" for label in labels[:MAX_NAMES]]
    if len(labels) > MAX_NAMES:
        names.append(f"et {len(labels) - MAX_NAMES} autre(s)")
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " et " + names[-1]


def _plural(count: int, singular: str, plural: str) -> str:
    return f"{count} {singular if count == 1 else plural}"


def _cents_to_euros(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def _cents(value: Decimal, rounding: str) -> int:
    return int((value * 100).to_integral_value(rounding=rounding))


# --- Internals --------------------------------------------------------------------------------


def _decimal(value, name: str) -> Decimal:
    number = value if isinstance(value, Decimal) else Decimal(str(value))
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
    status: int  # scipy.optimize.milp status: 0 optimal, 1 limit, 2 infeasible, 4 other
    selected: set[int] | None  # item indices, None without a solution
    value: float | None = None


class _Problem:
    def __init__(self, candidates: list[Candidate], rules: Rules, time_limit: float):
        self.rules = rules
        self.time_limit = float(time_limit)
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
        unknown = (set(rules.forced_in) | set(rules.forced_out)) - set(keys)
        if unknown:
            raise ValueError(f"forced keys not among the candidates: {sorted(unknown)}")

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
        return Fraction(flagged) >= self.share_fraction[group] * count

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
        from scipy import sparse
        from scipy.optimize import Bounds, LinearConstraint, milp

        forced = self.forced if forced is None else forced
        pool = self.pool
        size = len(pool)
        if size == 0:
            return _Outcome(status=0, selected=set(), value=0.0)
        low = np.array([item.low for item in pool], dtype=float)
        cap = np.array([item.cap for item in pool], dtype=float)
        envelope = float(self.envelope_cents - budget_cut)
        # T, the money granted, only matters when amounts may go below the cap.
        money = mode == "score" and bool(np.any(low != cap))
        width = size + 1 if money else size
        epsilon = 0.001 / (self.envelope_cents + 1)

        rows, cols, values, lower, upper = [], [], [], [], []

        def add_row(indices, coefficients, row_lower, row_upper):
            row = len(lower)
            rows.extend([row] * len(indices))
            cols.extend(indices)
            values.extend(coefficients)
            lower.append(row_lower)
            upper.append(row_upper)

        everyone = list(range(size))
        if BUDGET in groups:
            add_row(everyone, low.tolist(), -np.inf, envelope)
        if money:
            add_row(everyone + [size], (-cap).tolist() + [1.0], -np.inf, 0.0)
        if REGION in groups:
            members: dict[str, list[int]] = {}
            for position, item in enumerate(pool):
                members.setdefault(item.candidate.region, []).append(position)
            for positions in members.values():
                if len(positions) > self.region_cap:
                    add_row(positions, [1.0] * len(positions), -np.inf, float(self.region_cap))
        for group in (RURAL, QPV):
            if group in groups:
                fraction = self.share_fraction[group]
                flags = [self._flag(item, group) for item in pool]
                coefficients = [
                    float(fraction.denominator * flag - fraction.numerator) for flag in flags
                ]
                add_row(everyone, coefficients, 0.0, np.inf)

        if mode == "score":
            scores = np.array([float(item.adjusted) for item in pool])
            objective = -scores if money else -(scores + epsilon * cap)
        elif mode == "cost":
            objective = low.copy()
        else:
            objective = np.zeros(size)
        lower_bounds = np.array([1.0 if item.index in forced else 0.0 for item in pool])
        upper_bounds = np.ones(size)
        integrality = np.ones(size)
        if money:
            objective = np.append(objective, -epsilon)
            lower_bounds = np.append(lower_bounds, 0.0)
            upper_bounds = np.append(upper_bounds, envelope)
            integrality = np.append(integrality, 0.0)
        constraints = None
        if lower:
            matrix = sparse.csr_array(
                (values, (rows, cols)), shape=(len(lower), width), dtype=float
            )
            constraints = LinearConstraint(matrix, np.array(lower), np.array(upper))

        started = time.perf_counter()
        result = milp(
            objective,
            integrality=integrality,
            bounds=Bounds(lower_bounds, upper_bounds),
            constraints=constraints,
            options={"time_limit": self.time_limit, "mip_rel_gap": 0.0},
        )
        self.seconds += time.perf_counter() - started
        if result.x is None or result.status not in (0, 1):
            return _Outcome(status=result.status, selected=None)
        selected = {pool[position].index for position in range(size) if result.x[position] > 0.5}
        return _Outcome(status=result.status, selected=selected, value=result.fun)

    # --- Proposal -----------------------------------------------------------------------------

    def propose(self) -> Proposal:
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
            return self._infeasible(" ".join(hard))
        groups = self._active_groups()
        if any(self._single_conflict(group) for group in groups):
            return self._infeasible(self._diagnose(groups))

        budget_cut = 0
        for _attempt in range(3):
            outcome = self._solve("score", groups, budget_cut=budget_cut)
            if outcome.status == 2:
                return self._infeasible(self._diagnose(groups))
            if outcome.selected is None:
                seconds = _plain(Decimal(str(self.time_limit)))
                return self._failure(
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

        selected = outcome.selected
        amounts = self._amounts(selected)
        lines = self._lines(selected, amounts)
        total_score = sum((self.items[index].adjusted for index in selected), Decimal(0))
        total_granted = sum((_cents_to_euros(cents) for cents in amounts.values()), Decimal(0))
        total_granted = Decimal(total_granted).quantize(CENT)
        broken = self._final_check(lines, total_granted)
        if broken:
            return self._rounding_failure(broken)
        return Proposal(
            feasible=True,
            message=self._summary(selected, total_score, total_granted, outcome.status),
            lines=lines,
            total_score=total_score.quantize(CENT, rounding=ROUND_HALF_UP),
            total_granted=total_granted,
            seconds=self.seconds,
        )

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
        unit = "point" if abs(points) <= 1 else "points"
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
            if not self._share_ok(count + 1, flagged, group):
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
        # Lowest amounts of the selected, non-forced candidatures scored below this one.
        below = context["movable_lows"][bisect_left(context["movable_scores"], item.adjusted)]
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
        worse = sorted(
            (member for member in members if member.adjusted < item.adjusted),
            key=lambda member: member.adjusted,
        )
        if not worse:
            if all(member.adjusted > item.adjusted for member in members):
                verb = "a une meilleure note" if cap == 1 else "ont une meilleure note"
            else:
                verb = "a une note au moins égale" if cap == 1 else "ont une note au moins égale"
            retained = "la retenue" if cap == 1 else f"les {cap} retenues"
            return [f"{text} : {retained} {verb}."]
        details = [
            f"« {member.label} » ({self._swap_obstacle(item, member, context)})"
            for member in worse[:3]
        ]
        more = f" (et {len(worse) - 3} autre(s))" if len(worse) > 3 else ""
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

    def _summary(self, selected, total_score, total_granted, status) -> str:
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
        if status == 1:
            message += (
                " Attention : le calcul a atteint sa limite de temps ; la liste respecte toutes "
                "les règles mais n'est peut-être pas la meilleure possible."
            )
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

    def _feasible(self, groups, forced=None) -> bool:
        forced = self.forced if forced is None else forced
        if any(self._single_conflict(group, forced) for group in groups):
            return False
        if not forced:
            return True  # the empty list respects every rule
        outcome = self._solve("feasible", groups, forced=forced)
        return outcome.selected is not None

    def _diagnose(self, groups: list[str]) -> str:
        """Which rules cannot hold together with the forced-in candidatures (minimal conflicting
        sets), and which single relaxation makes a list possible."""
        conflicts: list[tuple[str, ...]] = []
        for size in range(1, len(groups) + 1):
            for subset in combinations(groups, size):
                if any(set(conflict) <= set(subset) for conflict in conflicts):
                    continue
                if not self._feasible(subset):
                    conflicts.append(subset)
        sentences = ["Aucune liste ne respecte toutes les règles."]
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
        if not conflicts:  # cannot happen with exact pre-checks, but never stay silent
            sentences.append(
                "Les candidatures imposées ne peuvent pas être retenues avec les autres règles."
            )
        helpful = [group for group in groups if all(group in conflict for conflict in conflicts)]
        for group in helpful:
            if group == BUDGET:
                others = [other for other in groups if other != BUDGET]
                outcome = self._solve("cost", others)
                if outcome.selected is not None:
                    cost = sum(self.items[index].low for index in outcome.selected)
                    sentences.append(
                        f"Avec une enveloppe d'au moins {_euros(_cents_to_euros(cost))} (au lieu "
                        f"de {_euros(self.envelope)}), une liste existe."
                    )
                    continue
            sentences.append(f"Sans {self._group_label(group)}, une liste existe.")
        released = []
        forced_items = self._forced_items()
        if len(forced_items) <= 10:
            for item in forced_items:
                if self._feasible(groups, forced=self.forced - {item.index}):
                    released.append(item.label)
        if released:
            sentences.append(
                f"En n'imposant plus {' ou '.join(f'« {label} »' for label in released)}, "
                "une liste existe."
            )
        else:
            sentences.append("Sans les candidatures imposées, une liste existe.")
        if not helpful and not released:
            sentences.append("Aucun assouplissement d'une seule autre règle ne suffit.")
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

    _failure = _infeasible

    def _rounding_failure(self, broken: list[str]) -> Proposal:
        return self._failure(
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
