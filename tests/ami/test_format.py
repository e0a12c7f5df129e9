from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.template.defaultfilters import floatformat

from ami.formats import euros, remaining, score


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
