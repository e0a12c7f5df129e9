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


@register.filter
def datetime_fr(value, precision=""):
    """An aware datetime in Paris time: « 5 décembre 2026 à 00 h 24 »
    (``|datetime_fr:"secondes"``: « … à 00 h 24 min 05 s »)."""
    return formats.paris_datetime(value, seconds=precision == "secondes")


@register.filter
def time_fr(value, precision=""):
    """The time of an aware datetime in Paris time: « 00 h 24 »."""
    return formats.paris_time(value, seconds=precision == "secondes")


@register.filter
def date_fr(value):
    """A date in words: « 5 décembre 2026 »."""
    return formats.paris_date(value)


@register.filter
def short_date(value):
    """A date for tables: « 05/12/2026 »."""
    return formats.short_date(value)


def _forms(arg: str) -> tuple[str, str | None]:
    singular, _, plural_form = arg.partition(",")
    return singular, plural_form or None


@register.filter
def plural(count, forms):
    """The count and its words: ``{{ n|plural:"invitation envoyée,invitations envoyées" }}`` →
    « 1 invitation envoyée », « 3 invitations envoyées » (plural form optional: adds an « s »)."""
    if count in (None, ""):
        return ""
    return formats.plural(count, *_forms(forms))


@register.filter
def pluralize_fr(count, forms):
    """The words only, agreeing with ``count`` (0 and 1 singular, in French):
    ``{{ n|pluralize_fr:"changement" }}``."""
    if count in (None, ""):
        return ""
    return formats.plural(count, *_forms(forms), with_count=False)
