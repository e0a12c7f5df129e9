"""Template filters of the French formats (``ami.formats``)."""

from django import template

from ami import formats

register = template.Library()


@register.filter
def euros(value, decimals=None):
    """``1234.5`` → ``1 234,50 €``; whole amounts drop the cents: ``500 000 €``."""
    return formats.euros(value, decimals)


@register.filter
def score(value):
    """``62.255`` → ``62,26``: two decimals, French style (like ``floatformat:2``, faster)."""
    return formats.score(value)


@register.filter
def remaining(deadline, now=None):
    """Time left before ``deadline`` in French words, e.g. « 12 jours et 5 heures »."""
    return formats.remaining(deadline, now)


@register.filter
def filesize(value):
    """A size in bytes in French: « 850 Ko », « 12,4 Mo », « 512 octets »."""
    if value in (None, ""):
        return ""
    return formats.format_filesize(value)
