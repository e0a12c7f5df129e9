"""French formatting for money and durations."""

from decimal import ROUND_HALF_UP, Decimal

from django import template
from django.utils import timezone

register = template.Library()

NBSP = "\u202f"  # narrow no-break space, the French thousands separator


@register.filter
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


@register.filter
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
