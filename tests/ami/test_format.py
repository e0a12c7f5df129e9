from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.template.defaultfilters import floatformat

from ami.formats import euros, paris_date, paris_datetime, plural, remaining, score, short_date


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("500000"), "500\u202f000\u00a0€"),
        (Decimal("1234.5"), "1\u202f234,50\u00a0€"),
        (Decimal("0.005"), "0,01\u00a0€"),
        (Decimal("-30000"), "-30\u202f000\u00a0€"),
        (Decimal("999"), "999\u00a0€"),
        (None, ""),
    ],
)
def test_euros(value, expected):
    assert euros(value) == expected


@pytest.mark.parametrize(
    "value", ["62.255", "62.25", "50", "0", "-3.1", "99.995", "7.004", "100.00", "12.3456"]
)
def test_score_shows_what_floatformat_shows(value):
    assert score(Decimal(value)) == floatformat(Decimal(value), 2)


def test_score_of_nothing_is_empty():
    assert score(None) == ""


def test_remaining():
    now = datetime(2026, 1, 1, 12, 0)
    assert remaining(now + timedelta(days=1, hours=2), now) == "1 jour et 2 heures"
    assert remaining(now + timedelta(days=3), now) == "3 jours"
    assert remaining(now + timedelta(hours=5, minutes=1), now) == "5 heures et 1 minute"
    assert remaining(now + timedelta(seconds=20), now) == "1 minute"
    assert remaining(now - timedelta(seconds=1), now) == "échéance passée"


def test_paris_datetime_in_words():
    # 23:24 UTC on 4 December is 00:24 on 5 December in Paris (winter time).
    moment = datetime(2026, 12, 4, 23, 24, 5, tzinfo=UTC)
    assert paris_datetime(moment) == "5 décembre 2026 à 00 h 24"
    assert paris_datetime(moment, seconds=True) == "5 décembre 2026 à 00 h 24 min 05 s"
    assert paris_date(moment) == "5 décembre 2026"
    assert short_date(moment) == "05/12/2026"
    # Summer time, and the first of the month.
    assert paris_datetime(datetime(2026, 6, 30, 22, 0, tzinfo=UTC)) == "1er juillet 2026 à 00 h 00"
    assert paris_date(date(2026, 7, 1)) == "1er juillet 2026"
    assert paris_datetime(None) == "" and paris_date(None) == ""


@pytest.mark.parametrize(
    ("count", "forms", "expected"),
    [
        (0, ("lauréat",), "0 lauréat"),
        (1, ("attribution créée", "attributions créées"), "1 attribution créée"),
        (4, ("attribution créée", "attributions créées"), "4 attributions créées"),
        (2, ("candidature",), "2 candidatures"),
        (3, ("avis",), "3 avis"),  # a word ending in « s » stays as it is
        (12000, ("candidature",), "12\u202f000 candidatures"),
        ([1, 2], ("pièce",), "2 pièces"),
    ],
)
def test_plural(count, forms, expected):
    assert plural(count, *forms) == expected


def test_template_filters():
    rendered = Template(
        "{% load ami_format %}{{ moment|datetime_fr }} | {{ moment|time_fr }} | "
        '{{ one|plural:"ligne écartée,lignes écartées" }} | {{ many|plural:"invitation" }} | '
        '{{ zero|pluralize_fr:"changement" }}'
    ).render(
        Context(
            {"moment": datetime(2026, 12, 4, 23, 24, tzinfo=UTC), "one": 1, "many": 3, "zero": 0}
        )
    )
    assert (
        rendered
        == "5 décembre 2026 à 00 h 24 | 00 h 24 | 1 ligne écartée | 3 invitations | changement"
    )
