"""Publication: decisions invisible to applicants before, visible after; exactly one letter per
applicant through the outbox; the regional cells informed; publishing twice sends nothing."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from ami.models import OutboxMessage, Phase
from candidatures.models import CandidatureEvent, CandidatureState
from evaluation import publication
from evaluation.models import Decision
from tests import factories as f
from tests.form_errors import assert_field_error

from .national_helpers import fix_list, national_edition, publish

pytestmark = pytest.mark.django_db


def _edition():
    edition = national_edition({"11": [80, 70], "53": [75]})
    winner = edition.candidatures[0]
    fix_list(edition, {winner: "50000"})
    return edition, winner


def test_decisions_are_invisible_before_and_visible_after(client):
    edition, winner = _edition()
    loser = edition.candidatures[1]
    applicant = edition.applicants[winner.pk]
    client.force_login(applicant)
    url = reverse("candidature_detail", args=[winner.pk])
    page = client.get(url).content.decode()
    assert "Candidature retenue" not in page and "50 000" not in page
    assert client.get(url).context["decision"] is None
    assert OutboxMessage.objects.filter(event__startswith="decision.").count() == 0

    assert publish(edition) == 3

    page = client.get(url).content.decode()
    assert "Candidature retenue" in page and "50\u202f000" in page
    client.force_login(edition.applicants[loser.pk])
    page = client.get(reverse("candidature_detail", args=[loser.pk])).content.decode()
    assert "Candidature non retenue" in page and "n&#x27;a pas retenu votre candidature" in page
    winner.refresh_from_db()
    loser.refresh_from_db()
    assert winner.state == CandidatureState.LAUREATE
    assert loser.state == CandidatureState.NOT_SELECTED
    event = CandidatureEvent.objects.get(candidature=winner, to_state=CandidatureState.LAUREATE)
    assert event.actor == edition.admin


def test_exactly_one_email_per_applicant_and_none_on_a_second_publish(
    django_capture_on_commit_callbacks, mailoutbox
):
    edition, winner = _edition()
    # A second team member of the winner also gets the letter (one per person).
    colleague = f.PtceMembershipFactory(ptce=winner.ptce).user
    with django_capture_on_commit_callbacks(execute=True):
        publish(edition)
    letters = OutboxMessage.objects.filter(event__startswith="decision.")
    recipients = sorted(letters.values_list("recipient", flat=True))
    expected = sorted([u.email for u in edition.applicants.values()] + [colleague.email])
    assert recipients == expected
    laureate = letters.get(recipient=edition.applicants[winner.pk].email)
    assert laureate.event == "decision.laureate" and "50\u202f000" in laureate.body_text
    # Regional coordinators are informed, one email per region.
    informed = OutboxMessage.objects.filter(event="results.region")
    assert sorted(informed.values_list("recipient", flat=True)) == sorted(
        u.email for u in edition.coordinators.values()
    )
    sent = len(mailoutbox)
    assert sent == letters.count() + informed.count()
    edition.call.refresh_from_db()
    assert edition.call.phase == Phase.PUBLISHED

    with django_capture_on_commit_callbacks(execute=True):
        assert publish(edition) == 0
    assert OutboxMessage.objects.count() == letters.count() + informed.count()
    assert len(mailoutbox) == sent


def test_only_an_administrator_publishes_a_fixed_list():
    edition = national_edition({"11": [80]})
    with pytest.raises(ValidationError):
        publication.publish(edition.call, edition.admin)  # nothing fixed yet
    fix_list(edition, {})
    with pytest.raises(PermissionDenied):
        publication.publish(edition.call, edition.member)
    assert not Decision.objects.filter(published_at__isnull=False).exists()


def test_preview_then_publish_through_the_screens(client):
    edition, winner = _edition()
    client.force_login(edition.member)
    assert client.get(reverse("publication", args=[edition.call.pk])).status_code == 404
    client.force_login(edition.admin)
    url = reverse("publication", args=[edition.call.pk])
    page = client.get(url).content.decode()
    assert winner.ptce.name in page
    assert "[AMI PTCE]" in page  # subjects of the letters
    assert "Cellule régionale Île-de-France" in page
    assert edition.applicants[winner.pk].email in page
    # Publishing asks for the password again (see the test below).
    client.post(reverse("account_reauthenticate"), {"password": f.PASSWORD})
    # Without the confirmation box, nothing happens.
    client.post(url, {})
    assert not Decision.objects.filter(published_at__isnull=False).exists()
    response = client.post(url, {"confirm": "oui"})
    assert response.status_code == 302
    assert Decision.objects.filter(published_at__isnull=False).count() == 3
    response = client.post(url, {"confirm": "oui"}, follow=True)
    assert "déjà publiés" in response.content.decode()


def test_publishing_needs_a_recent_reauthentication(client, settings):
    """A session without a recent password confirmation is sent to confirm it; the publication
    it asked for then goes through; five minutes later it is asked again."""
    edition, winner = _edition()
    client.force_login(edition.admin)
    url = reverse("publication", args=[edition.call.pk])
    assert client.get(url).status_code == 200  # the preview needs no confirmation

    response = client.post(url, {"confirm": "oui"})
    reauthenticate_url = reverse("account_reauthenticate")
    assert response.status_code == 302
    assert response.url == f"{reauthenticate_url}?next={url.replace('/', '%2F')}"
    assert not Decision.objects.filter(published_at__isnull=False).exists()

    page = client.get(response.url).content.decode()
    assert "Mot de passe" in page
    response = client.post(reauthenticate_url, {"password": "pas-le-bon-1", "next": url})
    assert not Decision.objects.filter(published_at__isnull=False).exists()
    # The right password: the suspended publication is carried out.
    response = client.post(reauthenticate_url, {"password": f.PASSWORD, "next": url})
    assert response.status_code == 302
    # Published: the letters wait in the held batch, which the administrator is shown.
    batch = publication.publication_batch(edition.call)
    assert response.url == reverse("batch_detail", args=[edition.call.pk, batch.pk])
    assert Decision.objects.filter(published_at__isnull=False).count() == 3

    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0
    response = client.post(url, {"confirm": "oui"})
    assert response.url.startswith(reauthenticate_url)


def test_pending_amount_change_reaches_the_letter(django_capture_on_commit_callbacks):
    from evaluation import deliberation

    edition, winner = _edition()
    decision = Decision.objects.get(candidature=winner)
    deliberation.update_decision(
        decision, edition.admin, motivation="Projet exemplaire.", granted_amount=Decimal("40000")
    )
    with django_capture_on_commit_callbacks(execute=True):
        publish(edition)
    letter = OutboxMessage.objects.get(event="decision.laureate")
    assert "40\u202f000" in letter.body_text and "Projet exemplaire." in letter.body_text


def test_publication_checks_the_permission_before_asking_for_the_password(client):
    edition, _winner = _edition()
    url = reverse("publication", args=[edition.call.pk])
    client.force_login(edition.member)
    assert client.post(url, {"confirm": "oui"}).status_code == 404  # not a password prompt
    client.force_login(edition.coordinators["11"])
    assert client.post(url, {"confirm": "oui"}).status_code == 404
    assert not Decision.objects.filter(published_at__isnull=False).exists()


def test_preview_leaves_out_the_letters_of_a_conflicted_candidature(client):
    from evaluation.models import ConflictOfInterest, ConflictSource, ConflictStatus

    edition, winner = _edition()
    conflicted = edition.candidatures[1]
    ConflictOfInterest.objects.create(
        candidature=conflicted,
        evaluator=edition.admin,
        source=ConflictSource.DECLARED,
        status=ConflictStatus.CONFIRMED,
        reason="Ancien salarié.",
    )
    client.force_login(edition.admin)
    page = client.get(reverse("publication", args=[edition.call.pk])).content.decode()
    assert edition.applicants[winner.pk].email in page
    assert edition.applicants[conflicted.pk].email not in page
    # Publishing still publishes every pending decision.
    assert publish(edition) == 3


def test_publishing_without_the_box_shows_the_error_next_to_it(client):
    edition, _winner = _edition()
    client.force_login(edition.admin)
    client.post(reverse("account_reauthenticate"), {"password": f.PASSWORD})
    response = client.post(reverse("publication", args=[edition.call.pk]), {})
    assert response.status_code == 422
    assert_field_error(
        response.content.decode(), "id_confirm", "Cochez la case de confirmation pour publier."
    )
    assert not Decision.objects.filter(published_at__isnull=False).exists()
