"""The pending decisions in one table (issue 16, item 3): filters, inline edit with autosave,
a paragraph applied to a selection, the envelope refusal with the total shown."""

from decimal import Decimal

import pytest
from django.urls import reverse

from evaluation.models import Decision, DecisionOutcome
from tests.form_errors import assert_field_error

from .national_helpers import fix_list, national_edition

pytestmark = pytest.mark.django_db


@pytest.fixture
def edition():
    edition = national_edition({"11": [80, 70], "53": [75]}, envelope=Decimal("95000"))
    fix_list(edition, {edition.candidatures[0]: "50000", edition.candidatures[2]: "40000"})
    return edition


def _table(call):
    return reverse("decision_table", args=[call.pk])


def test_table_lists_filters_and_shows_the_total(client, edition):
    client.force_login(edition.admin)
    page = client.get(_table(edition.call)).content.decode()
    assert "90\u202f000\xa0€ accordés sur une enveloppe de 95\u202f000\xa0€" in page
    for candidature in edition.candidatures:
        assert candidature.ptce.name in page
    page = client.get(_table(edition.call), {"decision": "not_selected"}).content.decode()
    assert edition.candidatures[1].ptce.name in page
    assert edition.candidatures[0].ptce.name not in page
    page = client.get(_table(edition.call), {"region": "53"}).content.decode()
    assert edition.candidatures[2].ptce.name in page
    assert edition.candidatures[1].ptce.name not in page


def test_autosave_edits_motivation_and_amount(client, edition):
    client.force_login(edition.admin)
    decision = Decision.objects.get(candidature=edition.candidatures[0])
    url = reverse("decision_autosave", args=[edition.call.pk, decision.pk])
    response = client.post(
        url, {"motivation": "Nouveau texte.", "granted_amount": "45000"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Enregistré à" in body and 'hx-swap-oob="true"' in body
    assert "85\u202f000\xa0€ accordés" in body
    decision.refresh_from_db()
    assert decision.motivation == "Nouveau texte." and decision.granted_amount == Decimal("45000")


def test_amount_over_the_envelope_is_refused_with_the_total(client, edition):
    client.force_login(edition.admin)
    decision = Decision.objects.get(candidature=edition.candidatures[2])
    url = reverse("decision_autosave", args=[edition.call.pk, decision.pk])
    response = client.post(
        url, {"motivation": "x", "granted_amount": "50000"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    body = response.content.decode()
    assert "le total accordé (100\u202f000\xa0€) dépasserait l&#x27;enveloppe" in body
    assert "90\u202f000\xa0€ accordés" in body  # the total, unchanged
    decision.refresh_from_db()
    assert decision.granted_amount == Decimal("40000")


def test_paragraph_applied_to_the_checked_lines(client, edition):
    client.force_login(edition.admin)
    chosen = list(Decision.objects.filter(outcome=DecisionOutcome.LAUREATE))
    other = Decision.objects.get(outcome=DecisionOutcome.NOT_SELECTED)
    before = other.motivation
    response = client.post(
        reverse("decision_bulk", args=[edition.call.pk]),
        {
            "action": "paragraph",
            "paragraph": "La convention sera signée en septembre.",
            "mode": "append",
            "selection": [str(d.pk) for d in chosen],
        },
    )
    assert response.status_code == 302
    for decision in chosen:
        decision.refresh_from_db()
        assert decision.motivation.endswith("\n\nLa convention sera signée en septembre.")
    other.refresh_from_db()
    assert other.motivation == before


def test_only_the_administrator_edits(client, edition):
    decision = Decision.objects.first()
    client.force_login(edition.member)
    assert client.get(_table(edition.call)).status_code == 200  # reads
    url = reverse("decision_autosave", args=[edition.call.pk, decision.pk])
    assert client.post(url, {"motivation": "x"}).status_code == 403
    bulk = reverse("decision_bulk", args=[edition.call.pk])
    client.post(bulk, {"action": "prefill"})
    decision.refresh_from_db()
    assert decision.motivation != "x"


def test_a_paragraph_without_checked_lines_shows_the_error_next_to_it(client, edition):
    client.force_login(edition.admin)
    back = _table(edition.call) + "?decision=laureate"
    response = client.post(
        reverse("decision_bulk", args=[edition.call.pk]),
        {"action": "paragraph", "paragraph": "La convention.", "mode": "append", "back": back},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert_field_error(page, "lot-paragraph", "Cochez au moins une ligne.")
    assert "La convention.</textarea>" in page
    assert edition.candidatures[1].ptce.name not in page  # the table keeps its filters
    assert f'name="back" value="{back}"' in page


def test_the_rows_controls_are_drawn_by_the_field_template(client, edition):
    client.force_login(edition.admin)
    page = client.get(_table(edition.call)).content.decode()
    decision = Decision.objects.get(candidature=edition.candidatures[0])
    assert f'<label class="fr-label fr-sr-only" for="motivation-{decision.pk}">' in page
    assert f'id="montant-{decision.pk}"' in page and 'form="lot"' in page
    assert f'hx-post="{reverse("decision_autosave", args=[edition.call.pk, decision.pk])}"' in page
