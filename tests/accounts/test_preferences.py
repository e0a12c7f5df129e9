"""Email preferences page and the one-click unsubscribe link (issue « Notifications »)."""

import pytest
from django.core import signing
from django.urls import reverse

from accounts import preferences
from accounts.views import mask_email
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_preferences_page_saves_both_choices(client):
    user = UserFactory()
    client.force_login(user)
    url = reverse("email_preferences")
    page = client.get(url).content.decode()
    assert "Recevoir les rappels" in page and "toujours envoyés" in page
    assert page.count(" checked") == 2

    response = client.post(url, {"wants_digests": "on"}, follow=True)

    user.refresh_from_db()
    assert (user.wants_reminders, user.wants_digests) == (False, True)
    assert "Vos préférences de courriel sont enregistrées." in response.content.decode()
    assert response.redirect_chain[-1][0] == url

    client.post(url, {"wants_reminders": "on", "wants_digests": "on"})
    user.refresh_from_db()
    assert (user.wants_reminders, user.wants_digests) == (True, True)


def test_preferences_page_is_linked_from_my_space(client):
    client.force_login(UserFactory())
    assert reverse("email_preferences") in client.get(reverse("dashboard")).content.decode()


def test_preferences_page_requires_login(client):
    response = client.get(reverse("email_preferences"))
    assert response.status_code == 302 and response["Location"].startswith("/compte/login/")


@pytest.mark.parametrize("kind", [preferences.REMINDER, preferences.DIGEST])
def test_unsubscribe_get_only_asks_for_confirmation(client, kind):
    user = UserFactory(email="camille.martin@example.org")
    url = reverse("unsubscribe", args=[preferences.unsubscribe_token(user, kind)])

    response = client.get(url)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Confirmer le désabonnement" in page and 'method="post"' in page
    assert "c••••••••••••n@example.org" in page and "camille.martin" not in page
    user.refresh_from_db()
    assert user.wants_reminders and user.wants_digests  # link scanners change nothing


@pytest.mark.parametrize(
    ("kind", "field", "other"),
    [
        (preferences.REMINDER, "wants_reminders", "wants_digests"),
        (preferences.DIGEST, "wants_digests", "wants_reminders"),
    ],
)
def test_unsubscribe_post_turns_that_kind_off_without_login(client, kind, field, other):
    user = UserFactory()
    client = type(client)(enforce_csrf_checks=True)  # as a mail client's one-click POST
    url = reverse("unsubscribe", args=[preferences.unsubscribe_token(user, kind)])

    response = client.post(url)

    assert response.status_code == 200
    assert "Désabonnement enregistré" in response.content.decode()
    user.refresh_from_db()
    assert getattr(user, field) is False and getattr(user, other) is True
    assert not preferences.allows(user, kind)
    assert client.post(url).status_code == 200  # idempotent


def test_unsubscribe_works_for_a_logged_in_user_too(client):
    user = UserFactory()
    client.force_login(UserFactory())  # even someone else's session: the token decides
    url = reverse("unsubscribe", args=[preferences.unsubscribe_token(user, preferences.DIGEST)])
    assert client.post(url).status_code == 200
    user.refresh_from_db()
    assert user.wants_digests is False


@pytest.mark.parametrize("method", ["get", "post"])
def test_bad_token_is_a_french_400_with_a_link_to_preferences(client, method):
    user = UserFactory()
    token = preferences.unsubscribe_token(user, preferences.REMINDER)

    response = getattr(client, method)(reverse("unsubscribe", args=[token[:-2] + "xx"]))

    assert response.status_code == 400
    page = response.content.decode()
    assert "Lien de désabonnement invalide" in page
    assert reverse("email_preferences") in page
    user.refresh_from_db()
    assert user.wants_reminders


def test_expired_token_is_refused(client, monkeypatch):
    user = UserFactory()
    token = preferences.unsubscribe_token(user, preferences.REMINDER)
    real_loads = signing.loads
    monkeypatch.setattr(
        signing, "loads", lambda value, **kw: real_loads(value, **{**kw, "max_age": -1})
    )
    assert client.get(reverse("unsubscribe", args=[token])).status_code == 400
    assert client.post(reverse("unsubscribe", args=[token])).status_code == 400
    user.refresh_from_db()
    assert user.wants_reminders


def test_token_of_unknown_kind_or_deleted_user_is_refused(client):
    user = UserFactory()
    unknown_kind = signing.dumps({"user": user.pk, "kind": "decision"}, salt=preferences._SALT)
    assert client.get(reverse("unsubscribe", args=[unknown_kind])).status_code == 400
    token = preferences.unsubscribe_token(user, preferences.REMINDER)
    user.delete()
    assert client.get(reverse("unsubscribe", args=[token])).status_code == 400
    assert client.post(reverse("unsubscribe", args=[token])).status_code == 400


def test_mask_email():
    assert mask_email("camille.martin@example.org") == "c••••••••••••n@example.org"
    assert mask_email("ab@example.org") == "a•@example.org"
    assert mask_email("a@example.org") == "a•@example.org"
