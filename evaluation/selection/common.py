"""What the selection's modules share: the public dataclasses (``Candidate``, ``Rules``, ``Line``,
``Proposal``), the solver's constants and internal records, and the French formatting of money,
notes and shares used in every message."""

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache

from ami.formats import euros

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
