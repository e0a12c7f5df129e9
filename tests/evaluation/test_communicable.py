"""Communicable vs internal texts (DESIGN §3, issue 16 item 1): the rule of the prefilled
decision motivation, the refusal to publish a rejection without a communicable motivation, and
the applicant's letters, pages and personal-data export free of any internal note."""

import io
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from pypdf import PdfReader

from accounts import personal_data
from ami.models import OutboxMessage
from candidatures import messaging
from candidatures.letters import has_appeal_mention
from evaluation import deliberation, publication
from evaluation.deliberation import default_motivation
from evaluation.models import Decision, NationalReview, Opinion
from evaluation.personal_data import export as evaluation_export
from tests.accounts.test_personal_data import read_zip

from .national_helpers import fix_list, national_edition, publish

pytestmark = pytest.mark.django_db

INTERNAL = "SECRET-INTERNE"


def _opinion(value, text="Projet solide ; la cellule recommande le financement."):
    return SimpleNamespace(opinion=value, motivation=text)


@pytest.mark.parametrize("value", Opinion.values)
def test_a_rejection_never_quotes_a_favourable_opinion(value):
    text = default_motivation(False, None, "", _opinion(value))
    assert text.startswith("La cellule nationale d'animation n'a pas retenu votre candidature.")
    assert ("recommande le financement" in text) == (value != Opinion.FAVORABLE)
    assert "enveloppe" in text


@pytest.mark.parametrize("value", Opinion.values)
def test_a_grant_never_quotes_an_unfavourable_opinion(value):
    text = default_motivation(True, Decimal("40000"), "", _opinion(value, "Avis régional."))
    assert "a retenu votre candidature pour une subvention de 40\u202f000\xa0€." in text
    assert ("Avis régional." in text) == (value != Opinion.UNFAVORABLE)
    assert "enveloppe" not in text


def test_the_line_motivation_replaces_the_envelope_sentence():
    text = default_motivation(False, None, "Le budget n'est pas équilibré.", None)
    assert text.endswith("Le budget n'est pas équilibré.") and "enveloppe" not in text


def _edition_with_internal_texts():
    edition = national_edition({"11": [80, 70], "53": [75]})
    winner, loser, third = edition.candidatures
    for candidature in edition.candidatures:
        opinion = candidature.regional_opinion
        opinion.internal_note = f"{INTERNAL} régional {candidature.pk}"
        opinion.save()
        NationalReview.objects.create(
            candidature=candidature,
            reviewer=edition.member,
            score=Decimal("60"),
            opinion=Opinion.RESERVED,
            comment=f"{INTERNAL} analyse {candidature.pk}",
        )
        # The cells' internal notes (« notes internes », issue 15).
        messaging.post_note(candidature, edition.member, f"{INTERNAL} note {candidature.pk}")
        messaging.post_note(
            candidature, edition.coordinators[candidature.region_id], f"{INTERNAL} note CRA"
        )
    fix_list(edition, {winner: "50000"})
    for decision in Decision.objects.all():
        decision.internal_note = f"{INTERNAL} décision {decision.pk}"
        decision.save()
    return edition


def test_publication_refuses_rejections_without_motivation_and_lists_them():
    edition = _edition_with_internal_texts()
    loser = edition.candidatures[1]
    Decision.objects.filter(candidature=loser).update(motivation="  ")
    with pytest.raises(ValidationError) as refused:
        publication.publish(edition.call, edition.admin)
    assert loser.ptce.name in str(refused.value) and "Complétez" in str(refused.value)
    assert not Decision.objects.filter(published_at__isnull=False).exists()
    session = deliberation.deliberation_of(edition.call)
    assert deliberation.prefill_motivations(session, edition.admin) == 1
    assert Decision.objects.get(candidature=loser).motivation.startswith("La cellule nationale")
    assert publish(edition) == 3


def test_nothing_internal_reaches_the_applicant(client, django_capture_on_commit_callbacks):
    edition = _edition_with_internal_texts()
    with django_capture_on_commit_callbacks(execute=True):
        publish(edition)
    # Every email that went out (letters and the regions' results): no internal text; every
    # decision letter with the appeal routes.
    outgoing = OutboxMessage.objects.all()
    assert outgoing.filter(event__startswith="decision.").count() == 3
    for message in outgoing:
        assert INTERNAL not in message.subject + message.body_text + message.body_html
        if message.event.startswith("decision."):
            assert has_appeal_mention(message.body_text), message.recipient
    for candidature in edition.candidatures:
        applicant = edition.applicants[candidature.pk]
        client.force_login(applicant)
        page = client.get(reverse("candidature_detail", args=[candidature.pk])).content.decode()
        assert "Décision de la cellule nationale" in page and INTERNAL not in page
        assert INTERNAL not in repr(evaluation_export(applicant, archive=None))
        assert INTERNAL not in repr(read_zip(personal_data.export_user_data(applicant)))
        thread = client.get(reverse("candidature_messages", args=[candidature.pk]))
        assert thread.status_code == 200 and INTERNAL not in thread.content.decode()
        notes = client.get(reverse("candidature_notes", args=[candidature.pk]))
        assert notes.status_code == 404
    # The applicant's PDF: the laureate's notification.
    winner = edition.candidatures[0]
    client.force_login(edition.applicants[winner.pk])
    pdf = client.get(reverse("notification_pdf", args=[winner.pk]))
    assert pdf.status_code == 200
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert INTERNAL not in text and "tribunal administratif" in text
    # The open data (SCDL « subventions »).
    call = edition.call
    call.granting_body_name = "DMESS"
    call.granting_body_siret = "11000201100044"
    call.subsidy_payment_terms = "unique"
    call.save()
    client.logout()
    scdl = client.get(reverse("call_subsidies_csv", args=[edition.call.slug]))
    assert scdl.status_code == 200 and INTERNAL not in scdl.content.decode()
