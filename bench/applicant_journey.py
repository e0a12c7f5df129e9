"""What one applicant's browser does in the last minutes before the deadline, written against a
small HTTP interface so that Locust (``bench/locustfile.py``) and the test suite (Django's test
client, ``tests/test_load_seed.py``) drive the very same journey. No Django, no Locust here.

The journey reads the pages as a browser would: the login form and its CSRF token, the step form
and its ``hx-post`` autosave URL, the « Enregistrer et continuer » button, the « Étape suivante »
link, the « Déposer la candidature » form. It sends what the browser sends: every control of the
form (htmx posts the whole form, CSRF token included, with its ``HX-*`` headers), form-encoded.

Every acknowledged write is reported to ``record`` (one dict, written as one JSON line by
Locust), so the runner can check the database afterwards:

- ``{"kind": "sending" | "saved", "candidature", "field", "value", "seq", "via"}``: a save
  (autosave, or the step form's « Enregistrer et continuer ») carrying this value for a field the
  user typed is sent, then acknowledged (autosave 200, step form redirect); ``seq`` orders the
  saves of one user;
- ``{"kind": "submitting", "candidature"}`` then ``{"kind": "submitted", "candidature",
  "receipt"}``: the submission is sent, then the server said it is submitted and showed this
  receipt number;
- ``{"kind": "late_autosave" | "late_submit", "candidature", "outcome": "refused" | "accepted"}``:
  an attempt after the deadline;
- ``{"kind": "journey", "candidature", "group", "outcome": "done" | "failed" | "stopped",
  "error"}`` (stopped: the run's time limit came first).
"""

import re
import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

RECEIPT_NUMBER = re.compile(r"PTCE-\d{4}-\d{6}")
TYPED = re.compile(r" ?\[saisie [^\]]*\]")  # what an earlier save of the journey added
CLOSED_MESSAGE = "clos"  # « Le dépôt est clos… », « Le dépôt des candidatures est clos… »
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
AUTOSAVE_TARGET = "etat-enregistrement"  # the step form's hx-target (without the #)


class JourneyError(Exception):
    """The server answered something a browser user would see as a failure."""


@dataclass
class Response:
    status: int
    text: str
    location: str = ""  # the Location header of a redirect, as a path


@dataclass
class Control:
    tag: str  # input, textarea, select, button
    name: str
    type: str = ""
    value: str = ""
    text: str = ""  # a button's label
    disabled: bool = False
    checked: bool = False
    options: list = field(default_factory=list)  # select: [value, selected, text] each


@dataclass
class Form:
    attrs: dict
    controls: list = field(default_factory=list)

    @property
    def action(self) -> str:
        return self.attrs.get("action", "")

    def data(self, *, submitter: Control | None = None) -> list[tuple[str, str]]:
        """The form data set a browser builds (HTML « constructing the entry list »)."""
        entries = []
        for control in self.controls:
            if not control.name or control.disabled:
                continue
            if control.tag == "button" or control.type in ("submit", "image", "reset", "button"):
                if control is submitter:
                    entries.append((control.name, control.value))
                continue
            if control.type in ("checkbox", "radio") and not control.checked:
                continue
            if control.type == "file":
                continue
            if control.tag == "select":
                chosen = [o[0] for o in control.options if o[1]] or [
                    o[0] for o in control.options[:1]
                ]
                entries += [(control.name, value) for value in chosen]
                continue
            if control.type in ("checkbox", "radio"):
                entries.append((control.name, control.value or "on"))
                continue
            if control.tag == "textarea":  # line breaks are sent as CRLF
                entries.append((control.name, re.sub(r"\r?\n", "\r\n", control.value)))
                continue
            entries.append((control.name, control.value))
        return entries

    def control(self, name: str) -> Control | None:
        return next((c for c in self.controls if c.name == name and c.tag != "button"), None)

    def button(self, label_start: str) -> Control | None:
        return next(
            (c for c in self.controls if c.tag == "button" and c.text.startswith(label_start)),
            None,
        )


class PageParser(HTMLParser):
    """The forms (with their controls) and the links of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._form = None
        self._text_of = None  # the control or link whose text is being read
        self._link = None
        self._option = None

    def handle_starttag(self, tag, attrs):
        attrs = {name: (value if value is not None else "") for name, value in attrs}
        if tag == "form":
            self._form = Form(attrs)
            self.forms.append(self._form)
        elif tag == "a" and "href" in attrs:
            self._link = [attrs["href"], ""]
        elif self._form is not None and tag in ("input", "textarea", "select", "button"):
            control = Control(
                tag=tag,
                name=attrs.get("name", ""),
                type=attrs.get("type", "submit" if tag == "button" else "").lower(),
                value=attrs.get("value", ""),
                disabled="disabled" in attrs,
                checked="checked" in attrs,
            )
            self._form.controls.append(control)
            if tag in ("textarea", "button"):
                self._text_of = control
        elif tag == "option" and self._form is not None and self._form.controls:
            select = self._form.controls[-1]
            if select.tag == "select":
                self._option = [attrs.get("value"), "selected" in attrs, ""]
                select.options.append(self._option)

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "a" and self._link is not None:
            self.links.append((self._link[0], " ".join(self._link[1].split())))
            self._link = None
        elif tag in ("textarea", "button"):
            if self._text_of is not None and tag == "button":
                self._text_of.text = " ".join(self._text_of.text.split())
            if self._text_of is not None and tag == "textarea":
                # A line break right after <textarea> is not part of the value.
                self._text_of.value = re.sub(r"^\r?\n", "", self._text_of.value)
            self._text_of = None
        elif tag == "option" and self._option is not None:
            if self._option[0] is None:  # an option without value: its text is the value
                self._option[0] = " ".join(self._option[2].split())
            self._option = None

    def handle_data(self, data):
        if self._text_of is not None:
            if self._text_of.tag == "textarea":
                self._text_of.value += data
            else:
                self._text_of.text += data
        if self._link is not None:
            self._link[1] += data
        if self._option is not None:
            self._option[2] += data


@dataclass
class Page:
    path: str
    forms: list
    links: list
    text: str

    @classmethod
    def parse(cls, path: str, html: str) -> "Page":
        parser = PageParser()
        parser.feed(html)
        parser.close()
        return cls(path, parser.forms, parser.links, html)

    def form_where(self, predicate) -> Form | None:
        return next((form for form in self.forms if predicate(form)), None)

    def link(self, text: str) -> str | None:
        return next((href for href, label in self.links if label == text), None)


def as_path(location: str) -> str:
    """A Location header (absolute or not) as a path with its query string."""
    parts = urlsplit(location)
    return parts.path + (f"?{parts.query}" if parts.query else "")


class Browser:
    """The HTTP side of the journey. ``send`` performs one request without following redirects
    and returns a ``Response``; ``expect`` is called with it and returns an error message (the
    request counts as failed and the journey stops) or None. ``think`` is the user's pause."""

    base_url = "http://127.0.0.1"
    headers: dict = {}  # sent with every request (e.g. the X-Forwarded-For of a TLS proxy)
    interruptions: tuple = ()  # exceptions that stop the user (end of the run), not failures

    def send(self, method, path, *, name, data=None, headers=None, expect=None) -> Response:
        raise NotImplementedError

    def think(self) -> None:
        pass

    # What every browser adds ---------------------------------------------------------------

    def get(self, path, *, name, expect=None) -> Response:
        return self.send(
            "GET", path, name=name, headers=dict(self.headers), expect=expect or expect_status(200)
        )

    def post_form(self, path, entries, *, name, referer, headers=None, expect=None) -> Response:
        """A form-encoded POST with the Origin and Referer a browser sends."""
        all_headers = {
            **self.headers,
            "Content-Type": FORM_CONTENT_TYPE,
            "Origin": self.base_url,
            "Referer": self.base_url + referer,
            **(headers or {}),
        }
        return self.send(
            "POST", path, name=name, data=urlencode(entries), headers=all_headers, expect=expect
        )


def said(response) -> str:
    """What the page says, in short (the text of an error fragment or page title)."""
    title = re.search(r"<title>(.*?)</title>", response.text, re.S)
    text = title.group(1) if title else re.sub("<[^>]+>", " ", response.text)
    return " ".join(text.split())[:160]


def expect_status(*codes):
    def check(response):
        if response.status not in codes:
            expected = ", ".join(map(str, codes))
            return f"HTTP {response.status} (attendu : {expected}) {said(response)}".strip()
        return None

    return check


def expect_redirect(fragment):
    def check(response):
        if response.status != 302:
            return f"HTTP {response.status} au lieu d'une redirection vers …{fragment}…"
        if fragment not in response.location:
            return f"redirection vers {response.location} au lieu de …{fragment}…"
        return None

    return check


# --- Steps of the journey -------------------------------------------------------------------


def open_page(browser, path, *, name) -> Page:
    response = browser.get(path, name=name)
    return Page.parse(path, response.text)


def log_in(browser, login_path, email, password) -> Page:
    """The login page, its form filled in, then the page it leads to."""
    page = open_page(browser, login_path, name="connexion (page)")
    form = page.form_where(lambda f: f.control("password") is not None)
    if form is None:
        raise JourneyError("pas de formulaire de connexion")
    entries = [
        (name, {"login": email, "password": password}.get(name, value))
        for name, value in form.data()
    ]
    response = browser.post_form(
        form.action or login_path,
        entries,
        name="connexion (envoi)",
        referer=login_path,
        expect=expect_status(302),
    )
    target = as_path(response.location)
    if target.startswith(login_path):
        raise JourneyError("connexion refusée")
    return open_page(browser, target, name="mon espace")


def autosave_headers(browser, page_path) -> dict:
    """The headers htmx 2 adds to the step form's autosave (hx-target="#etat-enregistrement";
    the form has neither id nor name, so no HX-Trigger nor HX-Trigger-Name)."""
    return {
        "HX-Request": "true",
        "HX-Target": AUTOSAVE_TARGET,
        "HX-Current-URL": browser.base_url + page_path,
    }


def _typed_value(form, name, candidature, seq, tag) -> str:
    """A unique value, as the user would type it in that field."""
    if name == "requested_amount":
        euros = 30000 + (candidature * 37 + seq) % 50000
        return f"{euros},{seq % 100:02d}"
    base = TYPED.sub("", form.control(name).value).strip()[:120]
    return f"{base} [saisie {tag}]" if base else f"[saisie {tag}]"


class Applicant:
    """One applicant's state: the values it typed and the server acknowledged."""

    def __init__(self, browser, record, *, email, password, candidature, paths):
        self.browser = browser
        self.record = record
        self.email = email
        self.password = password
        self.candidature = int(candidature)
        self.paths = paths
        self.seq = 0  # writes sent, in order
        self.keystrokes = 0  # values typed
        self.typed = {}  # field → the value last typed in it

    def _write(self, form, kind, **post):
        """Send a save of ``form`` (``post``: the arguments of ``post_form``), reporting the
        typed values it carries before (« sending ») and once acknowledged (« saved »): a value
        sent but never acknowledged (time-out, end of the run) may or may not be stored."""
        self.seq += 1
        values = {n: v for n, v in self.typed.items() if form.control(n) is not None}
        self._report("sending", values, kind)
        response = self.browser.post_form(**post)
        self._report("saved", values, kind)
        return response

    def _report(self, outcome, values, kind):
        for name, value in values.items():
            self.record(
                {
                    "kind": outcome,
                    "candidature": self.candidature,
                    "field": name,
                    "value": value,
                    "seq": self.seq,
                    "via": kind,
                }
            )

    def _type(self, form, name):
        self.keystrokes += 1
        tag = f"{self.candidature}-{self.keystrokes}-{secrets.token_hex(3)}"
        value = _typed_value(form, name, self.candidature, self.keystrokes, tag)
        form.control(name).value = value
        self.typed[name] = value
        return value

    def fill_step(self, page: Page, autosaves: int) -> Page:
        """Type in ``autosaves`` fields of the step, one autosave after each, then « Enregistrer
        et continuer »: returns the next step's page."""
        form = page.form_where(lambda f: "hx-post" in f.attrs)
        if form is None:
            raise JourneyError(f"{page.path} : pas d'enregistrement automatique (étape close ?)")
        names = [
            c.name
            for c in form.controls
            if c.tag in ("input", "textarea")
            and c.type not in ("hidden", "submit", "checkbox", "radio")
            and c.name
            and not c.name.startswith("line-")
        ]
        step = page.path.rstrip("/").rsplit("/", 1)[-1]
        for index in range(autosaves):
            self.browser.think()
            self._type(form, names[index % len(names)])
            self._write(
                form,
                f"autosave:{step}",
                path=form.attrs["hx-post"],
                entries=form.data(),
                name="enregistrement automatique",
                referer=page.path,
                headers=autosave_headers(self.browser, page.path),
                expect=_expect_autosaved,
            )
        next_button = form.button("Enregistrer et continuer")
        if next_button is None:
            raise JourneyError(f"{page.path} : pas de bouton « Enregistrer et continuer »")
        response = self._write(
            form,
            f"step:{step}",
            path=form.action,
            entries=form.data(submitter=next_button),
            name="étape (enregistrer et continuer)",
            referer=page.path,
            expect=expect_redirect(f"/etapes/{next_button.value}/"),
        )
        return open_page(self.browser, as_path(response.location), name="étape (page)")

    def rush(self, autosaves_per_step: int = 2):
        """Log in, go through the steps typing and autosaving, submit, read the receipt."""
        log_in(self.browser, self.paths["login_path"], self.email, self.password)
        page = open_page(self.browser, self.paths["first_step_path"], name="étape (page)")
        while page.form_where(lambda f: "hx-post" in f.attrs) is not None:
            page = self.fill_step(page, autosaves_per_step)
        following = page.link("Étape suivante")  # pièces justificatives → récapitulatif
        if following:
            self.browser.think()
            page = open_page(self.browser, following, name="récapitulatif")
        submit = page.form_where(lambda f: f.action.endswith("/deposer/"))
        if submit is None:
            raise JourneyError(f"{page.path} : pas de bouton « Déposer la candidature »")
        self.browser.think()
        self.record({"kind": "submitting", "candidature": self.candidature})
        response = self.browser.post_form(
            submit.action,
            submit.data(),
            name="dépôt",
            referer=page.path,
            expect=expect_redirect("/recepisse/"),
        )
        receipt = self.browser.get(as_path(response.location), name="récépissé")
        number = RECEIPT_NUMBER.search(receipt.text)
        if number is None:
            raise JourneyError("récépissé sans numéro de dépôt")
        self.record(
            {"kind": "submitted", "candidature": self.candidature, "receipt": number.group()}
        )

    def _late_attempt(self, kind, refused, **details):
        """The expectation of an attempt after the deadline: it reports the outcome (refused,
        accepted, or no answer) and fails unless refused."""

        def expect(response):
            if refused(response):
                outcome = "refused"
            else:
                outcome = "no answer" if response.status == 0 else "accepted"
            self.record(
                {"kind": kind, "candidature": self.candidature, "outcome": outcome, **details}
            )
            if outcome == "refused":
                return None
            return (
                f"après la clôture : HTTP {response.status} {response.location} au lieu d'un refus"
            )

        return expect

    def late(self):
        """After the deadline: the pages no longer offer to save nor submit; a tab left open
        from before (same URLs, a valid CSRF token) tries both, and both must be refused."""
        log_in(self.browser, self.paths["login_path"], self.email, self.password)
        recap = open_page(self.browser, self.paths["recap_path"], name="récapitulatif (clos)")
        if recap.form_where(lambda f: f.action.endswith("/deposer/")) is not None:
            raise JourneyError("le récapitulatif propose encore le dépôt après la clôture")
        page = open_page(self.browser, self.paths["first_step_path"], name="étape (close)")
        form = page.form_where(lambda f: f.control("title") is not None)
        if form is None or "hx-post" in form.attrs:
            raise JourneyError("l'étape propose encore l'enregistrement après la clôture")
        value = self._type(form, "title")
        expect = self._late_attempt("late_autosave", _autosave_refused, field="title", value=value)
        self.browser.think()
        self.browser.post_form(
            self.paths["autosave_path"],
            form.data(),
            name="enregistrement automatique (après clôture)",
            referer=page.path,
            headers=autosave_headers(self.browser, page.path),
            expect=expect,
        )
        token = form.control("csrfmiddlewaretoken").value
        self.browser.think()
        response = self.browser.post_form(
            self.paths["submit_path"],
            [("csrfmiddlewaretoken", token)],
            name="dépôt (après clôture)",
            referer=self.paths["recap_path"],
            expect=self._late_attempt("late_submit", _submission_refused),
        )
        shown = self.browser.get(as_path(response.location), name="complétude (refus)")
        if "Le dépôt est clos" not in shown.text:
            raise JourneyError("le refus du dépôt n'est pas expliqué à l'utilisateur")


def _expect_autosaved(response):
    if response.status != 200:
        return f"HTTP {response.status} {said(response)}".strip()
    if "fr-valid-text" not in response.text:
        return f"enregistrement refusé : {said(response)}"
    return None


def _autosave_refused(response) -> bool:
    return response.status == 403 and CLOSED_MESSAGE in response.text


def _submission_refused(response) -> bool:
    return response.status == 302 and "/completude/" in response.location


def run_journey(applicant: Applicant, group: str, **options) -> bool:
    """Run the rush or late journey and report how it ended; True when it went through."""
    try:
        applicant.rush(**options) if group == "rush" else applicant.late()
    except applicant.browser.interruptions:
        applicant.record(_journey(applicant, group, "stopped", "fin du temps imparti"))
        raise
    except JourneyError as error:
        applicant.record(_journey(applicant, group, "failed", str(error)))
        return False
    except Exception as error:  # a page the journey could not read: reported, not raised
        applicant.record(_journey(applicant, group, "failed", repr(error)))
        return False
    applicant.record(_journey(applicant, group, "done", ""))
    return True


def _journey(applicant, group, outcome, error):
    return {
        "kind": "journey",
        "candidature": applicant.candidature,
        "group": group,
        "outcome": outcome,
        "error": error,
    }
