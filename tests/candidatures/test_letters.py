"""Decision letters per call and kind (issue 16, item 2): placeholder and appeal-mention
validation at save, the admin preview with a real candidature, and the letters actually sent
using the call's template."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from ami.models import OutboxMessage
from candidatures import letters
from candidatures.models import LetterKind, LetterTemplate
from tests import factories as f
from tests.evaluation.national_helpers import fix_list, national_edition, publish

pytestmark = pytest.mark.django_db

APPEAL = letters.APPEAL_PARAGRAPH


@pytest.mark.parametrize("kind", LetterKind.values)
def test_default_letters_are_valid_and_carry_the_appeal_routes(kind):
    subject, body = letters.DEFAULT_LETTERS[kind]
    assert letters.template_errors(subject, body) == {}
    assert "tribunal administratif compétent dans un délai de deux mois" in body


def test_unknown_placeholder_is_refused_in_french():
    errors = letters.template_errors("Objet {porteur} {nom}", "Texte {montannt}. " + APPEAL)
    assert "Champ inconnu : {nom}" in errors["subject"][0]
    assert "Champ inconnu : {montannt}" in errors["body"][0]
    assert "{montant}" in errors["body"][0]  # the possible ones are listed


def test_missing_appeal_mention_is_refused():
    errors = letters.template_errors("Objet", "Votre candidature est retenue : {montant}.")
    assert "voies et délais de recours" in errors["body"][0]
    template = LetterTemplate(call=f.CallFactory(), kind="laureate", subject="x", body="y")
    with pytest.raises(ValidationError):
        template.full_clean()


def _staff(client):
    client.force_login(f.UserFactory(is_staff=True, is_superuser=True))


def test_admin_refuses_an_unknown_placeholder_at_save(client):
    _staff(client)
    call = f.CallFactory()
    response = client.post(
        reverse("admin:candidatures_lettertemplate_add"),
        {"call": call.pk, "kind": "laureate", "subject": "Objet", "body": "{inconnu} " + APPEAL},
    )
    assert response.status_code == 200
    assert "Champ inconnu : {inconnu}" in response.content.decode()
    assert not LetterTemplate.objects.exists()


def test_admin_add_form_starts_from_the_default_letter(client):
    _staff(client)
    page = client.get(reverse("admin:candidatures_lettertemplate_add") + "?kind=inadmissible")
    assert "a déclaré irrecevable" in page.content.decode()


def test_preview_renders_the_template_with_a_real_candidature(client):
    edition = national_edition({"11": [80, 70]})
    winner = edition.candidatures[0]
    fix_list(edition, {winner: "45000"})
    template = LetterTemplate.objects.create(
        call=edition.call,
        kind=LetterKind.LAUREATE,
        subject="Lauréat : {porteur}",
        body="Subvention de {montant} pour {porteur}.\n" + APPEAL,
    )
    _staff(client)
    url = reverse("admin:candidatures_lettertemplate_preview", args=[template.pk])
    page = client.get(url, {"candidature": winner.pk}).content.decode()
    assert f"Lauréat : {winner.ptce.name}" in page
    assert "Subvention de 45\u202f000\xa0€" in page


def test_the_calls_template_is_sent_at_publication(django_capture_on_commit_callbacks):
    edition = national_edition({"11": [80, 70]})
    winner, loser = edition.candidatures
    edition.call.decision_contact = "Cellule nationale, cna@example.org"
    edition.call.save()
    LetterTemplate.objects.create(
        call=edition.call,
        kind=LetterKind.NOT_SELECTED,
        subject="Décision – {porteur}",
        body="Refus : {motivation}\nContact : {contact}\n" + APPEAL,
    )
    fix_list(edition, {winner: "50000"})
    with django_capture_on_commit_callbacks(execute=True):
        publish(edition)
    refusal = OutboxMessage.objects.get(event="decision.not_selected")
    assert refusal.subject == f"Décision – {loser.ptce.name}"
    assert "Contact : Cellule nationale, cna@example.org" in refusal.body_text
    grant = OutboxMessage.objects.get(event="decision.laureate")  # default letter
    assert "50\u202f000\xa0€" in grant.body_text
    for letter in (refusal, grant):
        assert letters.has_appeal_mention(letter.body_text)
        assert "recours gracieux" in letter.body_html


# --- Preview of unsaved edits -------------------------------------------------------------------


def _draft_url():
    return reverse("admin:candidatures_lettertemplate_preview_draft")


def test_the_form_offers_to_preview_the_text_as_typed(client):
    _staff(client)
    template = LetterTemplate.objects.create(
        call=f.CallFactory(), kind=LetterKind.LAUREATE, subject="Objet", body="Texte. " + APPEAL
    )
    for url in (
        reverse("admin:candidatures_lettertemplate_add"),
        reverse("admin:candidatures_lettertemplate_change", args=[template.pk]),
    ):
        page = client.get(url).content.decode()
        assert f'formaction="{_draft_url()}"' in page
        assert 'value="Prévisualiser"' in page


def test_preview_shows_unsaved_edits_with_a_real_candidature_and_saves_nothing(client):
    edition = national_edition({"11": [80, 70]})
    winner = edition.candidatures[0]
    fix_list(edition, {winner: "45000"})
    template = LetterTemplate.objects.create(
        call=edition.call,
        kind=LetterKind.LAUREATE,
        subject="Ancien objet",
        body="Ancien texte.\n" + APPEAL,
    )
    _staff(client)
    response = client.post(
        _draft_url(),
        {
            "call": edition.call.pk,
            "kind": LetterKind.LAUREATE,
            "subject": "Nouvel objet : {porteur}",
            "body": "Nouveau texte : {montant} pour {porteur}.\n" + APPEAL,
            "candidature": winner.pk,
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert f"Nouvel objet : {winner.ptce.name}" in page
    assert f"Nouveau texte : 45\u202f000\xa0€ pour {winner.ptce.name}" in page
    assert "Ancien" not in page
    template.refresh_from_db()
    assert (template.subject, template.body) == ("Ancien objet", "Ancien texte.\n" + APPEAL)
    assert LetterTemplate.objects.count() == 1


def test_preview_of_a_new_letter_before_its_first_save(client):
    edition = national_edition({"11": [80]})
    _staff(client)
    response = client.post(
        _draft_url(),
        {
            "call": edition.call.pk,
            "kind": LetterKind.NOT_SELECTED,
            "subject": "Décision – {porteur}",
            "body": "Motivation : {motivation}\n" + APPEAL,
        },
    )
    assert response.status_code == 200
    assert f"Décision – {edition.candidatures[0].ptce.name}" in response.content.decode()
    assert not LetterTemplate.objects.exists()


@pytest.mark.parametrize(
    ("subject", "body", "message"),
    [
        ("Objet", "{inconnu} " + APPEAL, "Champ inconnu : {inconnu}"),
        ("Objet {nom}", "Texte. " + APPEAL, "Objet : Champ inconnu : {nom}"),
        ("Objet", "Retenue : {montant}.", "voies et délais de recours"),
    ],
)
def test_preview_applies_the_save_rules(client, subject, body, message):
    edition = national_edition({"11": [80]})
    _staff(client)
    response = client.post(
        _draft_url(),
        {"call": edition.call.pk, "kind": "laureate", "subject": subject, "body": body},
    )
    assert response.status_code == 422
    page = response.content.decode()
    assert message in page.replace("&#x27;", "'")
    assert "Objet : Objet" not in page  # no letter rendered
    assert not LetterTemplate.objects.exists()


def test_preview_needs_a_call_and_a_kind_and_a_post(client):
    _staff(client)
    response = client.post(_draft_url(), {"subject": "Objet", "body": APPEAL})
    assert response.status_code == 422
    page = response.content.decode().replace("&#x27;", "'")
    assert "Choisissez l'appel de la lettre." in page
    assert "Choisissez le type de décision de la lettre." in page
    assert client.get(_draft_url()).status_code == 405


def test_preview_is_for_staff_only(client):
    client.force_login(f.UserFactory())
    response = client.post(_draft_url(), {"subject": "Objet", "body": APPEAL})
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]
