"""Deliberation: the session, lines overridden with a kept justification, the running total,
fixing the list (never over the envelope), pending decisions, reopening."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from ami.models import CallPhaseChange, Phase
from candidatures.models import CandidatureState
from evaluation import deliberation, scenarios
from evaluation.models import (
    Decision,
    DecisionOutcome,
    DeliberationLine,
    DeliberationOverride,
    NationalReview,
    Opinion,
)
from tests.form_errors import assert_field_error

from .national_helpers import national_edition

pytestmark = pytest.mark.django_db


def _open(edition, scenario=None):
    return deliberation.open_deliberation(
        edition.call,
        edition.admin,
        held_on=date(2026, 11, 20),
        members_present=[edition.admin, edition.member],
        scenario=scenario,
    )


def _line(session, candidature):
    return DeliberationLine.objects.get(deliberation=session, candidature=candidature)


def test_session_from_a_scenario_takes_its_proposal():
    edition = national_edition({"11": [80, 70, 60]}, envelope=Decimal("100000"))
    scenario = scenarios.save(edition.call, edition.member, "A", scenarios.Parameters("raw"))
    session = _open(edition, scenario)
    first, second, third = edition.candidatures
    assert _line(session, first).selected and _line(session, first).amount == Decimal("50000")
    assert _line(session, second).selected
    assert not _line(session, third).selected
    assert deliberation.totals(session).granted == Decimal("100000")


def test_override_needs_a_justification_that_is_kept():
    edition = national_edition({"11": [80, 70, 60]}, envelope=Decimal("100000"))
    scenario = scenarios.save(edition.call, edition.member, "A", scenarios.Parameters("raw"))
    session = _open(edition, scenario)
    second, third = edition.candidatures[1], edition.candidatures[2]
    with pytest.raises(ValidationError) as error:
        deliberation.set_line(
            _line(session, second), edition.member, selected=False, amount=None, justification=""
        )
    assert "justification" in error.value.message_dict
    deliberation.set_line(
        _line(session, second),
        edition.member,
        selected=False,
        amount=None,
        justification="Cofinancements non acquis.",
    )
    deliberation.set_line(
        _line(session, third),
        edition.member,
        selected=True,
        amount=Decimal("45000"),
        justification="Seul projet du bassin minier.",
    )
    line = _line(session, third)
    assert line.overridden and line.justification == "Seul projet du bassin minier."
    log = DeliberationOverride.objects.filter(line__deliberation=session)
    assert log.count() == 2
    assert {entry.actor for entry in log} == {edition.member}
    assert deliberation.totals(session).granted == Decimal("95000")
    assert deliberation.totals(session).overridden == 2


def test_amounts_are_checked():
    edition = national_edition({"11": [80]})  # requested 50 000, range 30 000–80 000
    session = _open(edition)
    line = _line(session, edition.candidatures[0])
    for amount, fragment in [
        (Decimal("20000"), "compris entre"),
        (Decimal("60000"), "dépasse le montant demandé"),
    ]:
        with pytest.raises(ValidationError) as error:
            deliberation.set_line(
                line, edition.admin, selected=True, amount=amount, justification="x"
            )
        assert fragment in str(error.value)


def test_a_list_over_the_envelope_cannot_be_fixed(client):
    edition = national_edition({"11": [80, 70, 60]}, envelope=Decimal("100000"))
    session = _open(edition)
    for candidature in edition.candidatures:
        deliberation.set_line(
            _line(session, candidature),
            edition.admin,
            selected=True,
            amount=Decimal("50000"),
            justification="Retenue en séance.",
        )
    totals = deliberation.totals(session)
    assert totals.over and totals.excess == Decimal("50000")
    with pytest.raises(ValidationError) as error:
        deliberation.fix_list(session, edition.admin)
    assert "dépasse l'enveloppe" in str(error.value)
    assert not Decision.objects.exists()
    # The screen shows the total and the reason, and the button is not offered.
    client.force_login(edition.admin)
    page = client.get(reverse("deliberation", args=[edition.call.pk])).content.decode()
    assert "dépassement de" in page and "ne peut pas encore être arrêtée" in page
    response = client.post(reverse("deliberation_fix", args=[edition.call.pk]), follow=True)
    assert "dépasse l&#x27;enveloppe" in response.content.decode()
    assert not Decision.objects.exists()


def test_fixing_creates_pending_decisions_with_prefilled_motivations():
    edition = national_edition({"11": [80, 70]})
    winner, other = edition.candidatures
    NationalReview.objects.create(
        candidature=other,
        reviewer=edition.member,
        score=Decimal("55"),
        opinion=Opinion.RESERVED,
        comment="Modèle économique fragile.",
    )
    session = _open(edition)
    deliberation.set_line(
        _line(session, winner),
        edition.admin,
        selected=True,
        amount=Decimal("50000"),
        justification="Meilleure note.",
    )
    assert deliberation.fix_list(session, edition.admin) == 2
    won = Decision.objects.get(candidature=winner)
    lost = Decision.objects.get(candidature=other)
    assert won.outcome == DecisionOutcome.LAUREATE and won.granted_amount == Decimal("50000")
    assert lost.outcome == DecisionOutcome.NOT_SELECTED and lost.granted_amount is None
    # The rule (default_motivation): the outcome first, the regional communicable motivation
    # only when the opinion agrees (here favourable: quoted for the laureate, not for the
    # rejection), never an internal note nor a CNA analysis.
    assert won.motivation.startswith("La cellule nationale d'animation a retenu votre candidature")
    assert "50\u202f000\xa0€" in won.motivation
    assert f"Motivation régionale de {winner.ptce.name}" in won.motivation
    assert lost.motivation.startswith("La cellule nationale d'animation n'a pas retenu")
    assert f"Motivation régionale de {other.ptce.name}" not in lost.motivation
    assert "Modèle économique fragile." not in lost.motivation
    assert "Note interne" not in lost.motivation + won.motivation
    assert "Meilleure note." not in won.motivation
    assert won.published_at is None and lost.published_at is None
    # Pending: the candidatures have not moved yet.
    winner.refresh_from_db()
    assert winner.state == CandidatureState.REGIONAL_REVIEW_DONE
    edition.call.refresh_from_db()
    assert edition.call.phase == Phase.DELIBERATED
    change = CallPhaseChange.objects.filter(call=edition.call).latest("at")
    assert change.actor == edition.admin and change.to_phase == Phase.DELIBERATED
    # Fixed: no more changes to lines.
    with pytest.raises((ValidationError, PermissionDenied)):
        deliberation.set_line(
            _line(session, other),
            edition.admin,
            selected=True,
            amount=Decimal("40000"),
            justification="x",
        )


def test_only_an_administrator_fixes_and_reopens():
    edition = national_edition({"11": [80]})
    session = _open(edition)
    with pytest.raises(PermissionDenied):
        deliberation.fix_list(session, edition.member)
    deliberation.fix_list(session, edition.admin)
    with pytest.raises(PermissionDenied):
        deliberation.reopen(session, edition.member, reason="Erreur")
    with pytest.raises(ValidationError):
        deliberation.reopen(session, edition.admin, reason="")
    deliberation.reopen(session, edition.admin, reason="Erreur de montant")
    session.refresh_from_db()
    assert not session.is_fixed and not Decision.objects.exists()
    edition.call.refresh_from_db()
    assert edition.call.phase == Phase.NATIONAL_REVIEW


def test_pending_decision_edit_keeps_the_envelope(client):
    edition = national_edition(
        {"11": [80, 70]}, envelope=Decimal("100000"), max_amount=Decimal("80000")
    )
    for candidature in edition.candidatures:
        candidature.requested_amount = Decimal("80000")
        candidature.save(update_fields=["requested_amount"])
    session = _open(edition)
    for candidature, amount in zip(edition.candidatures, ["50000", "50000"], strict=True):
        deliberation.set_line(
            _line(session, candidature),
            edition.admin,
            selected=True,
            amount=Decimal(amount),
            justification="Retenue.",
        )
    deliberation.fix_list(session, edition.admin)
    decision = Decision.objects.get(candidature=edition.candidatures[0])
    client.force_login(edition.admin)
    url = reverse("decision_edit", args=[edition.call.pk, decision.pk])
    response = client.post(url, {"granted_amount": "60000", "motivation": "Texte."})
    assert response.status_code == 200
    assert "dépasserait" in str(response.context["form"].errors["granted_amount"])
    response = client.post(url, {"granted_amount": "45000", "motivation": "Nouveau texte."})
    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.granted_amount == Decimal("45000") and decision.motivation == "Nouveau texte."
    # A member reads but does not edit.
    client.force_login(edition.member)
    assert client.post(url, {"granted_amount": "40000", "motivation": "x"}).status_code == 403


def test_screens_of_the_deliberation(client):
    edition = national_edition({"11": [80, 70]})
    client.force_login(edition.member)
    url = reverse("deliberation", args=[edition.call.pk])
    response = client.post(
        url,
        {
            "held_on": "2026-11-20",
            "members_present": [edition.member.pk, edition.admin.pk],
            "scenario": "",
            "notes": "Quorum atteint.",
        },
    )
    assert response.status_code == 302
    session = deliberation.deliberation_of(edition.call)
    assert session.lines.count() == 2 and session.notes == "Quorum atteint."
    line = session.lines.get(candidature=edition.candidatures[0])
    line_url = reverse("deliberation_line", args=[edition.call.pk, line.pk])
    response = client.post(line_url, {"selected": "1", "amount": "50 000", "justification": ""})
    assert response.status_code == 200
    assert "justification" in response.context["form"].errors
    response = client.post(
        line_url, {"selected": "1", "amount": "50 000", "justification": "Très bon dossier."}
    )
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Très bon dossier." in page and "1 lauréat" in page
    # The member cannot fix the list; the administrator can.
    assert client.post(reverse("deliberation_fix", args=[edition.call.pk])).status_code == 403
    client.force_login(edition.admin)
    response = client.post(reverse("deliberation_fix", args=[edition.call.pk]))
    assert response["Location"] == reverse("decision_list", args=[edition.call.pk])
    page = client.get(response["Location"]).content.decode()
    assert edition.candidatures[0].ptce.name in page and "en attente" in page


def test_a_line_read_before_the_list_is_fixed_cannot_change_after():
    """``set_line`` checked « arrêtée » on the row read before: a change racing ``fix_list``
    could land in a fixed list (issue 12, defect 8). Checked on the locked row now."""
    edition = national_edition({"11": [80, 70]}, envelope=Decimal("100000"))
    session = _open(edition)
    first, second = edition.candidatures
    stale = DeliberationLine.objects.select_related("deliberation__call").get(
        deliberation=session, candidature=second
    )
    deliberation.set_line(
        _line(session, first), edition.admin, selected=True, amount=Decimal("50000"),
        justification="Retenue en séance.",
    )  # fmt: skip
    deliberation.fix_list(session, edition.admin)
    assert not stale.deliberation.is_fixed  # what the racing request had read
    with pytest.raises((ValidationError, PermissionDenied)):
        deliberation.set_line(
            stale, edition.admin, selected=True, amount=Decimal("40000"), justification="Tard."
        )
    assert not _line(session, second).selected
    with pytest.raises((ValidationError, PermissionDenied)):
        deliberation.update_session(
            stale.deliberation, edition.admin, held_on=date(2026, 11, 21),
            members_present=[edition.admin],
        )  # fmt: skip


def test_reopening_without_a_reason_shows_the_error_next_to_the_field(client):
    edition = national_edition({"11": [80]})
    session = _open(edition)
    deliberation.fix_list(session, edition.admin)
    client.force_login(edition.admin)
    response = client.post(reverse("deliberation_reopen", args=[edition.call.pk]), {"reason": ""})
    assert response.status_code == 422
    page = response.content.decode()
    assert_field_error(page, "reouverture-reason", "Indiquez pourquoi la liste est rouverte.")
    session.refresh_from_db()
    assert session.is_fixed
