"""French formats (DESIGN §8), the one place for them: money (« 1 234,50 € », whole amounts
« 500 000 € »), Paris times (« 31/07/2026 à 12h00 »), time left, file sizes. Used by templates
(the ``ami_format`` filters), emails, PDFs, exports and domain messages alike."""

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.formats import date_format

PARIS = ZoneInfo("Europe/Paris")

NBSP = "\u202f"  # narrow no-break space, the French thousands separator
CENT = Decimal("0.01")


def euros(value, decimals=None):
    """``Decimal("1234.5")`` → ``1 234,50 €``; whole amounts drop the cents: ``500 000 €``."""
    if value in (None, ""):
        return ""
    amount = Decimal(value)
    if decimals is None:
        decimals = 0 if amount == amount.to_integral_value() else 2
    quantum = Decimal(1).scaleb(-int(decimals))
    amount = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    integer, _, fraction = f"{abs(amount):f}".partition(".")
    groups = []
    while integer:
        groups.insert(0, integer[-3:])
        integer = integer[:-3]
    text = NBSP.join(groups) or "0"
    if fraction:
        text += "," + fraction
    return f"{sign}{text}\u00a0€"


def score(value) -> str:
    """A score to two decimals, French style: ``Decimal("62.255")`` → ``62,26`` (what Django's
    ``floatformat:2`` shows, ten times faster: the national dashboard shows 200 on a page)."""
    if value in (None, ""):
        return ""
    rounded = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{rounded:f}".replace(".", ",")


def remaining(deadline, now=None):
    """Time left before ``deadline`` in French words, e.g. « 12 jours et 5 heures »."""
    if deadline is None:
        return ""
    now = now or timezone.now()
    seconds = int((deadline - now).total_seconds())
    if seconds <= 0:
        return "échéance passée"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60

    def plural(n, word):
        return f"{n} {word}{'s' if n > 1 else ''}"

    if days:
        return plural(days, "jour") + (f" et {plural(hours, 'heure')}" if hours else "")
    if hours:
        return plural(hours, "heure") + (f" et {plural(minutes, 'minute')}" if minutes else "")
    return plural(max(minutes, 1), "minute")


_SIZE_UNITS = (("Ko", 1024, 0), ("Mo", 1024**2, 1), ("Go", 1024**3, 1))


def format_filesize(num_bytes: int, round_up: bool = False) -> str:
    """Bytes in French units (1 Ko = 1 024 octets): ``870400`` → « 850 Ko », ``13002342`` →
    « 12,4 Mo ». ``round_up`` never shows a size below the real one (for « over the limit »)."""
    num_bytes = int(num_bytes)
    if num_bytes < 1024:
        return f"{_group(str(num_bytes))}\u00a0octet{'s' if num_bytes > 1 else ''}"
    rounding = ROUND_CEILING if round_up else ROUND_HALF_UP
    for unit, factor, decimals in _SIZE_UNITS:
        amount = (Decimal(num_bytes) / factor).quantize(Decimal(1).scaleb(-decimals), rounding)
        if amount < 1024 or unit == _SIZE_UNITS[-1][0]:
            break
    integer, _, fraction = f"{amount:f}".partition(".")
    text = _group(integer) + ("," + fraction if fraction.strip("0") else "")
    return f"{text}\u00a0{unit}"


def _group(digits: str) -> str:
    """``"1023"`` → ``"1 023"`` with the French thousands separator."""
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return NBSP.join(groups) or "0"


def paris_datetime(value) -> str:
    """An aware datetime as shown to users, in Paris time: « 31/07/2026 à 12h00 »."""
    return date_format(timezone.localtime(value, PARIS), "d/m/Y à H\\hi")
