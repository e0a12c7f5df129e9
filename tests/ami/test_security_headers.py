"""The security headers of the main pages (Content-Security-Policy with a nonce, and the others),
checked on the rendered HTML too: no inline script without the response's nonce, no inline
style or event handler (the policy refuses them), documents served as inert attachments."""

import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests import factories as f
from tests.candidatures.helpers import add_document

pytestmark = pytest.mark.django_db

PAGES = [
    # (name, role or None, url of the world)
    ("home", None, lambda w: reverse("home")),
    ("call", None, lambda w: reverse("call_detail", args=[w.call.slug])),
    ("login", None, lambda w: reverse("account_login")),
    ("dashboard", "applicant", lambda w: reverse("dashboard")),
    ("candidature_step", "applicant", lambda w: step_of_a_draft(w)),
    ("evaluator_worklist", "cra_evaluator", lambda w: reverse("evaluator_worklist")),
    ("review", "cra_evaluator", lambda w: review_page(w)),
    ("national_dashboard", "cna_member", lambda w: reverse("national_dashboard", args=[w.call.pk])),
    ("admin_login", None, lambda w: reverse("admin:login")),
    ("admin_index", "staff", lambda w: reverse("admin:index")),
    ("not_found", "applicant", lambda w: "/candidatures/0/"),
]
# Pages rendered by the project's own templates (the admin's come from Django's).
OWN_TEMPLATES = {name for name, _role, _url in PAGES} - {"admin_index"}

EXECUTABLE_TYPES = {"", "text/javascript", "application/javascript", "module"}


def step_of_a_draft(world):
    """An editable step (with the autosave script): the applicant joins the draft's team."""
    f.PtceMembershipFactory(ptce=world.draft_a.ptce, user=world.user("applicant"))
    return reverse("candidature_step", args=[world.draft_a.pk, "presentation"])


def review_page(world):
    """The evaluator's editable review (autosave script too)."""
    from evaluation.models import Assignment

    Assignment.objects.create(
        candidature=world.candidature_a,
        evaluator=world.user("cra_evaluator"),
        assigned_by=world.user("cra_coordinator"),
    )
    return reverse("review_edit", args=[world.candidature_a.pk])


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            parsed[words[0]] = words[1:]
    return parsed


class Elements(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self._script = None

    def handle_starttag(self, tag, attrs):
        element = (tag, dict(attrs), [])
        self.tags.append(element)
        if tag == "script":
            self._script = element

    def handle_data(self, data):
        if self._script is not None:
            self._script[2].append(data)

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def elements(html: str):
    parser = Elements()
    parser.feed(html)
    return parser.tags


def fetch(client, world, role, url_of):
    user = world.user(role) if role else None
    if user is not None:
        client.force_login(user)
    url = url_of(world)
    response = client.get(url, follow=True)
    return url, response


def script_nonce(header: str) -> str:
    (nonce,) = [
        source[len("'nonce-") : -1]
        for source in directives(header)["script-src"]
        if source.startswith("'nonce-")
    ]
    return nonce


@pytest.mark.parametrize(("name", "role", "url_of"), PAGES, ids=[p[0] for p in PAGES])
def test_main_pages_send_the_security_headers(client, world, name, role, url_of):
    url, response = fetch(client, world, role, url_of)
    assert response.status_code == (404 if name == "not_found" else 200), url

    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    scripts = policy["script-src"]
    assert "'self'" in scripts
    assert not {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "https:"} & set(scripts)
    assert "'unsafe-inline'" not in policy["style-src"]
    assert "Content-Security-Policy-Report-Only" not in response

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions


@pytest.mark.parametrize(("name", "role", "url_of"), PAGES, ids=[p[0] for p in PAGES])
def test_no_inline_code_without_the_nonce(client, world, name, role, url_of):
    url, response = fetch(client, world, role, url_of)
    header = response["Content-Security-Policy"]
    tags = elements(response.content.decode())
    scripts = [(attrs, "".join(body)) for tag, attrs, body in tags if tag == "script"]
    assert scripts, f"{url}: no script at all?"
    own = name in OWN_TEMPLATES
    if own:
        # The page's own scripts carry the nonce of this very response.
        nonce = script_nonce(header)
        assert len(nonce) >= 16
        assert all(attrs.get("nonce") == nonce for attrs, _body in scripts), (url, scripts)
        if name in {"candidature_step", "review"}:  # the autosave script is there, with it
            assert any(attrs.get("src", "").endswith("/ami/autosave.js") for attrs, _ in scripts)
    for attrs, body in scripts:
        kind = (attrs.get("type") or "").lower()
        if "src" in attrs:
            # Same origin only: the policy allows no other host.
            assert attrs["src"].startswith("/static/"), (url, attrs)
        elif kind in EXECUTABLE_TYPES and body.strip():
            assert attrs.get("nonce") == script_nonce(header), f"{url}: inline script {body!r}"
    for tag, attrs, _body in tags:
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"{url}: <{tag} {handlers}> (inline handlers are refused)"
        for attribute in ("href", "src", "action", "formaction"):
            assert not (attrs.get(attribute) or "").strip().lower().startswith("javascript:")
        if own:
            assert "style" not in attrs, f"{url}: <{tag} style=…> (inline styles are refused)"
            assert tag != "style" or attrs.get("nonce"), f"{url}: <style> without nonce"


def test_every_response_gets_a_new_nonce(client, world):
    first = script_nonce(client.get("/")["Content-Security-Policy"])
    second = script_nonce(client.get("/")["Content-Security-Policy"])
    assert first != second


def test_htmx_writes_no_inline_style(client):
    """htmx would add a <style> for its indicators and copy ``style`` attributes when it settles
    a swap (setAttribute, which the policy refuses): it is told not to (ami.css has the
    indicator rules instead), nor to evaluate code."""
    html = client.get("/").content.decode()
    (config,) = re.findall(r'<meta name="htmx-config" content=\'([^\']*)\'', html)
    config = json.loads(config)
    assert config["includeIndicatorStyles"] is False
    assert "style" not in config["attributesToSettle"]
    assert config["allowEval"] is False


def test_json_responses_and_redirects_get_the_headers_too(client, world):
    response = client.get(reverse("dashboard"))  # anonymous: redirect to the login page
    assert response.status_code == 302
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert "camera=()" in response["Permissions-Policy"]


# --- Documents: attachments that a browser never renders -----------------------------------------


def assert_inert_attachment(response):
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    # The download's own policy, not the pages' one (django-csp leaves it as it is).
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert response["Cache-Control"] == "private, no-store"


def test_document_download_is_an_inert_attachment(client, world):
    kind = f.DocumentTypeFactory(call=world.call, label="Statuts")
    document = add_document(world.candidature_a, kind, name="statuts.pdf")
    client.force_login(world.user("applicant"))
    url = reverse("document_download", args=[world.candidature_a.pk, document.pk])
    response = client.get(url)
    assert_inert_attachment(response)
    assert response["Content-Type"] == "application/pdf"


def test_documents_zip_is_an_inert_attachment(client, world):
    kind = f.DocumentTypeFactory(call=world.call, label="Statuts")
    add_document(world.candidature_a, kind, name="statuts.pdf")
    client.force_login(world.user("cra_evaluator"))
    response = client.get(reverse("documents_zip", args=[world.candidature_a.pk]))
    assert_inert_attachment(response)
    assert response["Content-Type"] == "application/zip"
