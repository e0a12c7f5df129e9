"""allauth in our configuration: sign-up with first and last name, mandatory email verification,
emails through the outbox, French screens in DSFR markup."""

import re
from html.parser import HTMLParser

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.urls import reverse

from accounts.models import User
from ami.models import OutboxMessage
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SIGNUP = {
    "first_name": "Claire",
    "last_name": "Dupont",
    "email": "claire.dupont@example.org",
    "password1": "Coopération-territoriale-2026",
    "password2": "Coopération-territoriale-2026",
}


class FormMarkup(HTMLParser):
    """The visible inputs of a page and the ``for`` of its labels."""

    def __init__(self):
        super().__init__()
        self.inputs: list[dict] = []
        self.label_targets: set[str] = set()
        self.ids: set[str] = set()
        self.text_parts: list[str] = []

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.text_parts).split())

    def handle_data(self, data):
        self.text_parts.append(data)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "label" and attrs.get("for"):
            self.label_targets.add(attrs["for"])
        if tag in {"input", "textarea", "select"} and attrs.get("type") != "hidden":
            if "form" not in attrs:  # not the hidden helper forms' controls
                self.inputs.append(attrs)


def parse(response) -> FormMarkup:
    markup = FormMarkup()
    markup.feed(response.content.decode())
    return markup


def assert_accessible_form(response):
    """Every visible input has a label, DSFR classes, and points to existing descriptions."""
    markup = parse(response)
    assert markup.inputs, "no form field on the page"
    for attrs in markup.inputs:
        assert attrs.get("id") in markup.label_targets, f"input without a label: {attrs}"
        if attrs.get("type") not in {"checkbox", "radio"}:
            assert "fr-input" in attrs.get("class", ""), attrs
        for described_by in (attrs.get("aria-describedby") or "").split():
            assert described_by in markup.ids, f"aria-describedby to nothing: {attrs}"


def test_short_password_is_refused_with_a_french_message(client):
    response = client.post(
        reverse("account_signup"), {**SIGNUP, "password1": "court-1", "password2": "court-1"}
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert "Ce mot de passe est trop court. Il doit contenir au minimum 12 caractères." in content
    assert "Le formulaire contient 1 erreur</h2>" in content
    assert '<a href="#id_password1">Mot de passe : Ce mot de passe est trop court.' in content
    assert 'class="fr-input-group fr-input-group--error"' in content
    assert 'aria-describedby="id_password1_helptext id_password1_error"' in content
    assert 'aria-invalid="true"' in content
    assert_accessible_form(response)
    assert not User.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_sign_up_creates_an_unverified_user_and_queues_one_email(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("account_signup"), SIGNUP)

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    user = User.objects.get(email=SIGNUP["email"])
    assert (user.first_name, user.last_name) == ("Claire", "Dupont")
    address = EmailAddress.objects.get(user=user)
    assert (address.email, address.verified) == (SIGNUP["email"], False)
    assert "_auth_user_id" not in client.session

    message = OutboxMessage.objects.get()
    assert message.event.startswith("account.")
    assert message.recipient == SIGNUP["email"]
    assert message.state == "sent"
    assert "/compte/confirm-email/" in message.body_text
    assert message.body_text.startswith("Bonjour,")
    assert "L'équipe de la plateforme AMI PTCE" in message.body_text
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("[AMI PTCE] ")


def test_login_before_verification_leads_to_the_verification_page(
    client, django_capture_on_commit_callbacks
):
    user = UserFactory(verified=False)
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_login"), {"login": user.email, "password": PASSWORD}
        )

    assert response.status_code == 302
    assert response.url == reverse("account_email_verification_sent")
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("dashboard")).status_code == 302


def test_wrong_password_shows_the_form_error_in_french(client):
    user = UserFactory()

    response = client.post(
        reverse("account_login"), {"login": user.email, "password": "pas-le-bon-mot-de-passe"}
    )

    assert response.status_code == 200
    content = response.content.decode()
    assert 'class="fr-alert fr-alert--error fr-mb-3w" role="alert"' in content
    assert "le mot de passe sont incorrects" in content


def test_verified_user_logs_in_to_the_dashboard(client):
    user = UserFactory()

    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})

    assert response.status_code == 302
    assert response.url == reverse("dashboard")


def test_email_change_page(client, django_capture_on_commit_callbacks):
    user = UserFactory()
    client.force_login(user)

    response = client.get(reverse("account_email"))
    assert response.status_code == 200
    assert "<h1>" in response.content.decode()
    assert_accessible_form(response)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("account_email"), {"action_add": "", "email": "claire.nouvelle@example.org"}
        )
    assert response.status_code == 302
    new = EmailAddress.objects.get(email="claire.nouvelle@example.org")
    assert (new.user, new.verified) == (user, False)
    message = OutboxMessage.objects.get()
    assert message.event.startswith("account.")
    assert message.recipient == "claire.nouvelle@example.org"

    response = client.get(reverse("account_email"))
    content = response.content.decode()
    assert "claire.nouvelle@example.org" in content
    assert "en attente de vérification" in content
    assert_accessible_form(response)


def test_email_list_page_uses_dsfr_radios(rf, settings):
    """The list of addresses (used when ACCOUNT_CHANGE_EMAIL is off) renders DSFR radios. The
    view picks its template at import time, so it is given explicitly here."""
    from allauth.account.views import EmailView
    from django.contrib.sessions.backends.db import SessionStore

    settings.ACCOUNT_CHANGE_EMAIL = False
    request = rf.get(reverse("account_email"))
    request.user = UserFactory()
    request.session = SessionStore()

    response = EmailView.as_view(template_name="account/email.html")(request)
    response.render()

    content = response.content.decode()
    assert 'class="fr-radio-group' in content
    assert 'type="radio"' in content
    assert "fr-badge fr-badge--sm fr-badge--success" in content
    assert "Vérifiée" in content
    assert_accessible_form(response)


ANONYMOUS_PAGES = ["account_login", "account_signup", "account_reset_password"]
SIGNED_IN_PAGES = ["account_email", "account_change_password"]
ENGLISH = re.compile(r"\b(Sign|Password|Email|Forgot|Change|Remember|Current|Reset|Add)\b")


@pytest.mark.parametrize("name", ANONYMOUS_PAGES + SIGNED_IN_PAGES)
def test_account_pages_are_french_dsfr_forms(client, name):
    if name in SIGNED_IN_PAGES:
        client.force_login(UserFactory())

    response = client.get(reverse(name))

    assert response.status_code == 200
    content = response.content.decode()
    assert '<html lang="fr"' in content
    assert "fr-header" in content  # our layout, not allauth's bare one
    assert 'class="fr-btn' in content
    text = parse(response).text
    assert not ENGLISH.search(text), ENGLISH.search(text)
    assert_accessible_form(response)


OTHER_PAGES = [
    ("account_inactive", {}, False),
    ("account_email_verification_sent", {}, False),
    ("account_confirm_email", {"key": "lien-invalide"}, False),
    ("account_reset_password_done", {}, False),
    ("account_reset_password_from_key", {"uidb36": "1", "key": "jeton-invalide"}, False),
    ("account_reset_password_from_key_done", {}, False),
    ("account_logout", {}, True),
    ("account_reauthenticate", {}, True),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "signed_in"), OTHER_PAGES, ids=[page[0] for page in OTHER_PAGES]
)
def test_other_account_pages_render_in_french_in_our_layout(client, name, kwargs, signed_in):
    """Rendered with the templates that raise on undefined variables (see ami/testing.py)."""
    if signed_in:
        client.force_login(UserFactory())

    response = client.get(reverse(name, kwargs=kwargs))

    assert response.status_code == 200
    content = response.content.decode()
    assert "fr-header" in content and "<h1>" in content
    text = parse(response).text
    assert not ENGLISH.search(text), ENGLISH.search(text)


class CountingHasher:
    """A password hasher that counts how often it hashes (wrapping the test settings' MD5)."""

    calls = 0

    def __new__(cls):
        from django.contrib.auth.hashers import MD5PasswordHasher

        class Counting(MD5PasswordHasher):
            algorithm = "md5"

            def encode(self, password, salt):
                CountingHasher.calls += 1
                return super().encode(password, salt)

        return Counting()


def test_sign_up_with_a_taken_address_hashes_a_password_like_a_new_one(client, monkeypatch):
    """Sign-up timing told which addresses have an account (0.066 s against 0.370 s): the
    password hash dominates a new sign-up, so a taken address pays the same hash (issue 12,
    defect 4). Same redirect, same page, one email each."""
    from django.contrib.auth import hashers

    hasher = CountingHasher()
    monkeypatch.setattr(hashers, "get_hasher", lambda algorithm="default": hasher)
    UserFactory(email="deja.inscrite@example.org")
    answers = {}
    for email in ("deja.inscrite@example.org", "nouvelle@example.org"):
        CountingHasher.calls = 0
        response = client.post(reverse("account_signup"), {**SIGNUP, "email": email})
        answers[email] = (response.status_code, response.url, CountingHasher.calls)
    assert answers["deja.inscrite@example.org"] == answers["nouvelle@example.org"]
    assert answers["nouvelle@example.org"] == (302, reverse("account_email_verification_sent"), 1)
    assert OutboxMessage.objects.count() == 2


def test_passwords_are_hashed_with_argon2id_and_older_hashes_upgraded_at_login(client, settings):
    """Argon2id with OWASP's parameters first; a PBKDF2 hash of before is replaced at the next
    successful login (issue 18)."""
    from django.contrib.auth.hashers import identify_hasher, make_password

    from ami.settings.base import PASSWORD_HASHERS

    settings.PASSWORD_HASHERS = PASSWORD_HASHERS
    assert make_password("x").startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    user = UserFactory()
    user.password = make_password(PASSWORD, hasher="pbkdf2_sha256")
    user.save(update_fields=["password"])
    client.post(reverse("account_login"), {"login": user.email, "password": "mauvais-mot-2026"})
    user.refresh_from_db()
    assert identify_hasher(user.password).algorithm == "pbkdf2_sha256"  # a failure changes nothing
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
    assert user.check_password(PASSWORD)
