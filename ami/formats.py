"""French formats (DESIGN §8), the one place for them: money (« 1 234,50 € », whole amounts
« 500 000 € »), Paris times (« 5 décembre 2026 à 00 h 24 »), dates (« 5 décembre 2026 », or
« 05/12/2026 » in tables), time left, file sizes and plurals (« 1 attribution créée »,
« 3 attributions créées »: never « (s) »). Used by templates (the ``ami_format`` filters),
emails, PDFs, exports and domain messages alike."""

from datetime import datetime
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


def format_integer(value: int) -> str:
    """``5000`` → « 5 000 » (French thousands separator)."""
    value = int(value)
    return ("-" if value < 0 else "") + _group(str(abs(value)))


def _group(digits: str) -> str:
    """``"1023"`` → ``"1 023"`` with the French thousands separator."""
    groups = []
    while digits:
        groups.insert(0, digits[-3:])
        digits = digits[:-3]
    return NBSP.join(groups) or "0"


def _paris(value):
    """An aware datetime in Paris time; a date (or a naive datetime) as it is."""
    if isinstance(value, datetime) and timezone.is_aware(value):
        return timezone.localtime(value, PARIS)
    return value


def paris_time(value, seconds=False) -> str:
    """The time of an aware datetime, in Paris time: « 00 h 24 » (« 00 h 24 min 05 s »)."""
    if value in (None, ""):
        return ""
    value = _paris(value)
    text = f"{value:%H} h {value:%M}"
    return text + f" min {value:%S} s" if seconds else text


def paris_datetime(value, seconds=False) -> str:
    """An aware datetime as shown to users, in Paris time: « 5 décembre 2026 à 00 h 24 »
    (« 1er » for the first day of a month; with ``seconds``: « … à 00 h 24 min 05 s »)."""
    if value in (None, ""):
        return ""
    return f"{paris_date(value)} à {paris_time(value, seconds)}"


def paris_date(value) -> str:
    """A date (or an aware datetime, taken in Paris time) in words: « 5 décembre 2026 »,
    « 1er juillet 2026 »."""
    if value in (None, ""):
        return ""
    value = _paris(value)
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {date_format(value, 'F Y').lower()}"


def short_date(value) -> str:
    """A date (or an aware datetime, taken in Paris time) for tables and exports: « 05/12/2026 »."""
    if value in (None, ""):
        return ""
    return f"{_paris(value):%d/%m/%Y}"


def plural(count, singular: str, plural_form: str | None = None, *, with_count=True) -> str:
    """« 1 attribution créée », « 3 attributions créées »: the count and the words agreeing with
    it (French: 0 and 1 take the singular). ``plural_form`` defaults to ``singular`` with an « s »
    on its first word (« attribution créée » → give the plural when more than one word agrees).
    Counts are grouped by thousands (« 10 000 candidatures »)."""
    number = int(count) if not isinstance(count, (list, tuple, set, dict)) else len(count)
    if plural_form is None:
        first, _, rest = singular.partition(" ")
        plural_form = (
            first + ("" if first.endswith(("s", "x", "z")) else "s") + (" " + rest if rest else "")
        )
    words = singular if abs(number) < 2 else plural_form
    if not with_count:
        return words
    sign = "-" if number < 0 else ""
    return f"{sign}{_group(str(abs(number)))} {words}"
