"""Consistency guards of issue 16, item 6: the selection assistant refuses to save a selection
with no laureate and says which rules leave none."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from evaluation import scenarios
from evaluation.models import SelectionScenario

from .national_helpers import national_edition

pytestmark = pytest.mark.django_db


def test_a_selection_with_no_laureate_is_refused_with_the_rules_that_leave_none(client):
    edition = national_edition({"11": [80, 70], "53": [75]})
    parameters = scenarios.Parameters(rural_min_share=100, qpv_min_share=100)
    with pytest.raises(ValidationError) as refused:
        scenarios.save(edition.call, edition.member, "Rural 100 % + QPV 100 %", parameters)
    text = " ".join(refused.value.messages)
    assert "ne retient aucune lauréate" in text
    assert "sans les deux parts minimales ensemble (rural et QPV)" in text
    assert not SelectionScenario.objects.exists()
    client.force_login(edition.member)
    response = client.post(
        reverse("selection_assistant", args=[edition.call.pk]),
        {
            "name": "Vide",
            "basis": "normalised",
            "funding_floor": 100,
            "rural_min_share": 100,
            "qpv_min_share": 100,
        },
    )
    assert "ne retient aucune lauréate" in response.content.decode()
    assert not SelectionScenario.objects.exists()
