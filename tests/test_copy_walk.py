"""Every page of every role, read for English left over from Django and allauth defaults and for
« (s) » plurals (issue 17, « French copy everywhere »).

The pages are those of the URL walk (tests/test_url_walk.py: its patterns, its objects and its
roles), each requested by the users who may see it; the admin is read by staff (index, every
list, every « add » form and the change form of one object of each model), and allauth's own
screens (account, email, password, second factor) by a visitor and a signed-in applicant. What
a person reads is checked: the text, the options of every list, and the words of buttons,
titles, labels and placeholders."""

import copy
import re
from html.parser import HTMLParser

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from candidatures.models import CandidatureEvent
from tests import factories as f
from tests.shared import built_once
from tests.test_url_walk import (
    CONTROL_ROLES,
    NATIONAL_KINDS,
    PUBLIC,
    build_scenes,
    fill,
    route_kinds,
    routes,
    sign_in,
)

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# English a French user must never read, from Django's and allauth's defaults; and « (s) ».
FORBIDDEN = {
    "Add": re.compile(r"\bAdd\b"),
    # allauth's model name; the apps « Google Authenticator », « Microsoft Authenticator » are
    # names, not English.
    "Authenticators": re.compile(r"(?<!Google )(?<!Microsoft )\bAuthenticators?\b"),
    "---------": re.compile(r"-{5,}"),
    "Related": re.compile(r"\bRelated\b"),
    "object": re.compile(r"\bobjects?\b"),
    "(s)": re.compile(r"\w\((?:s|es|e)\)|\(e\)s\b"),
    # One word for email: « adresse électronique » (the address), « courriel » (the message).
    "e-mail": re.compile(r"\b[Ee]-mails?\b"),
}
# Read within one block of text (a heading, a paragraph, a cell): a label before a PTCE's name
# that often starts with « PTCE » itself (« Équipe du PTCE PTCE Drôme »): quote the name.
BLOCK_FORBIDDEN = {"PTCE PTCE": re.compile(r"\bPTCE\s+PTCE\b")}
# Tags inside a block of text; any other tag ends one.
INLINE = {"a", "abbr", "b", "code", "em", "i", "mark", "small", "span", "strong", "sub", "sup"}
# Attributes whose words are read (or heard) by people.
READ_ATTRIBUTES = {"title", "aria-label", "placeholder", "alt", "aria-description"}


class ReadText(HTMLParser):
    """The words of a page a person reads: text outside scripts and styles, button values, and
    the attributes above."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.blocks = [[]]
        self.hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag not in INLINE:
            self.blocks.append([])
        if tag in ("script", "style", "template"):
            self.hidden += 1
        attrs = dict(attrs)
        for name in READ_ATTRIBUTES & attrs.keys():
            self.parts.append(attrs[name] or "")
        if tag == "input" and attrs.get("type") in ("submit", "button", "reset"):
            self.parts.append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag not in INLINE:
            self.blocks.append([])
        if tag in ("script", "style", "template") and self.hidden:
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)
            self.blocks[-1].append(data)


def read_text(html: str) -> tuple[str, list[str]]:
    """The page's words, and the same words block by block."""
    parser = ReadText()
    parser.feed(html)
    blocks = [" ".join("".join(block).split()) for block in parser.blocks]
    return " ".join(" ".join(parser.parts).split()), [block for block in blocks if block]


def copy_problems(url: str, html: str) -> list[str]:
    text, blocks = read_text(html)
    problems = []
    for patterns, texts in ((FORBIDDEN, [text]), (BLOCK_FORBIDDEN, blocks)):
        for label, pattern in patterns.items():
            for text in texts:
                for match in pattern.finditer(text):
                    start = max(match.start() - 40, 0)
                    context = text[start : match.end() + 40]
                    problems.append(f"{url}: « {label} » in « …{context}… »")
    return problems


def is_page(response) -> bool:
    return response.status_code == 200 and response.get("Content-Type", "").startswith("text/html")


@pytest.fixture(scope="module")
def _module_walk(django_db_setup, django_db_blocker, tmp_path_factory):
    files = tmp_path_factory.mktemp("copy-walk") / "private"
    yield from built_once(django_db_blocker, build_scenes, files)


@pytest.fixture
def _private_storage():
    """The walked documents stay where ``_module_walk`` put them."""


@pytest.fixture
def walk(_module_walk, db):
    return copy.deepcopy(_module_walk)


def read_as(client, user, url, seen: dict) -> list[str]:
    """GET ``url`` as ``user``; the copy problems of the page (none if it is not a page)."""
    if getattr(client, "reader", "nobody") != user:
        sign_in(client, user)
        client.reader = user
    response = client.get(url)
    if user is not None and not response.wsgi_request.user.is_authenticated:
        client.reader = "nobody"
    if not is_page(response):
        return []
    seen[url] = seen.get(url, 0) + 1
    return copy_problems(url, response.content.decode())


def test_the_walk_reads_english_and_bracketed_plurals():
    """The reader catches what it looks for, and nothing in good French copy."""
    bad = (
        '<select><option value="">---------</option></select><a title="Add another">+</a>'
        "<p>Authenticators</p><p>Google Authenticator</p><p>Related type</p>"
        "<p>Ajouter un objet Critère</p>"
        "<p>2 candidature(s)</p><p>Votre adresse e-mail</p>"
        "<p>Le PTCE <strong>PTCE Drôme</strong></p>"
    )
    found = {problem.split("« ")[1].split(" »")[0] for problem in copy_problems("/", bad)}
    assert found == {
        "---------",
        "Add",
        "Authenticators",
        "Related",
        "(s)",
        "e-mail",
        "PTCE PTCE",
    }
    good = (
        "<p>Adresse électronique : claire.email@exemple.test</p>"
        "<script>var objects = 'Add';</script>"
        '<input type="hidden" value="Related"><p>3 candidatures transmises</p>'
        "<h1>Équipe du PTCE « PTCE Drôme »</h1><h2>Mes PTCE</h2><p>PTCE Drôme</p>"
    )
    assert copy_problems("/", good) == []


def test_every_page_of_every_role_is_in_french(client, walk):
    problems, seen = [], {}
    # The platform's screens, as each user of the edition that may see them (the URL walk's
    # objects), and the public ones as a visitor.
    for route in routes():
        if route.is_admin or route.name is None or route.module.startswith(("allauth.", "api.")):
            continue
        if route.name.startswith("proconnect_"):
            continue  # redirects to the identity provider (tests/accounts/test_proconnect.py)
        kinds = route_kinds(route)
        world = walk.in_national_review if kinds & NATIONAL_KINDS else walk.main
        url, _ = fill(route, walk.national if kinds & NATIONAL_KINDS else walk.regional)
        if url is None:
            continue
        readers = [None] if route.name in PUBLIC else []
        if not (route.name in PUBLIC and not route.kwargs):
            readers += [world.user(role) for role in CONTROL_ROLES]
        for user in readers:
            problems += read_as(client, user, url, seen)
    # allauth's own screens: a visitor's (log in, sign up, reset) and an applicant's (email,
    # password, second factor).
    for route in routes():
        if route.module.startswith("allauth.") and route.name and not route.kwargs:
            if route.module.startswith("allauth.socialaccount.providers"):
                continue  # a provider's redirect, no page (ProConnect has its own test)
            try:
                url = reverse(route.name)
            except NoReverseMatch:
                continue
            for user in (None, walk.main.user("applicant"), walk.main.user("staff")):
                problems += read_as(client, user, url, seen)
    # The admin, as staff: the index, each model's list and « add » form, one change form.
    staff = walk.main.user("staff")
    problems += read_as(client, staff, reverse("admin:index"), seen)
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        urls = [reverse("admin:{}_{}_changelist".format(*info))]
        urls.append(reverse("admin:{}_{}_add".format(*info)))
        first = model._default_manager.order_by("pk").first()
        if first is not None:
            urls.append(reverse("admin:{}_{}_change".format(*info), args=[first.pk]))
        for url in urls:
            problems += read_as(client, staff, url, seen)
    assert len(seen) > 150, f"only {len(seen)} pages read"
    print(f"copy walk: {len(seen)} pages read, {sum(seen.values())} readings")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(sorted(set(problems)))


def test_a_candidature_event_names_its_states_in_french():
    """The admin's history of a candidature reads « brouillon → déposée », not raw codes."""
    candidature = f.CandidatureFactory()
    event = CandidatureEvent(candidature=candidature, from_state="draft", to_state="submitted")
    assert str(event) == f"{candidature} : brouillon → déposée"
