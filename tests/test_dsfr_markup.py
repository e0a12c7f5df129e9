"""DSFR markup rules the browser cannot see on every page, checked on the templates themselves
(issue 17, « buttons with visible text »)."""

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
GROUP = re.compile(r'<(ul|div) class="(fr-btns-group[^"]*)"')
ICON_BUTTON = re.compile(r'class="(?=[^"]*\bfr-btn\b)(?=[^"]*\bfr-icon-)([^"]*)"')


def test_icon_buttons_keep_their_text():
    """In a DSFR button group without ``fr-btns-group--icon-left`` (or right), a button with an
    icon is drawn icon-only, its text hidden, whatever its own ``fr-btn--icon-left``; alone, a
    button with an icon needs ``fr-btn--icon-left`` (or right) to show its text. The header's
    tools (the DSFR's own markup) are left as the DSFR writes them."""
    problems = []
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        name = path.relative_to(TEMPLATES)
        header = re.search(r"<header[^>]*fr-header.*?</header>", text, re.S)
        in_header = range(header.start(), header.end()) if header else range(0)
        for group in GROUP.finditer(text):
            end = text.find(f"</{group.group(1)}>", group.end())
            block = text[group.start() : end]
            if "fr-icon-" in block and "--icon-" not in group.group(2):
                if group.start() not in in_header:
                    problems.append(f"{name}: group « {group.group(2)} » without --icon-left")
        for button in ICON_BUTTON.finditer(text):
            classes = button.group(1)
            if "fr-btn--icon-" not in classes and button.start() not in in_header:
                problems.append(f"{name}: « {classes} » without fr-btn--icon-left")
    assert not problems, "\n".join(problems)


DJANGO_PLURALIZE = re.compile(r"\|\s*pluralize\b(?!_fr)")


def test_no_django_pluralize_in_templates():
    """Django's ``|pluralize`` writes « 0 lauréats »: French takes the singular for 0 and 1, so
    every template (pages, emails, PDFs) goes through ``plural`` / ``pluralize_fr`` (issue 17)."""
    problems = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in sorted(TEMPLATES.rglob("*"))
        if path.suffix in {".html", ".txt", ".xml"}
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if DJANGO_PLURALIZE.search(line)
    ]
    assert not problems, "Django's |pluralize left in:\n" + "\n".join(problems)


def test_breadcrumbs_and_paginations_are_drawn_one_way():
    """Every breadcrumb goes through ``{% breadcrumb %}`` and every pagination through
    ``includes/pagination.html``, both django-dsfr's markup: no template writes its own."""
    problems = [
        f"{path.relative_to(TEMPLATES)}: « {component} » written by hand"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for component in ("fr-breadcrumb", "fr-pagination")
        if component in path.read_text()
    ]
    assert not problems, "\n".join(problems)


# --- One field template (issue 17, item 1) -----------------------------------------------------

FIELD_TEMPLATE = TEMPLATES / "django" / "forms" / "field.html"
APP_TEMPLATES = [TEMPLATES, *TEMPLATES.parent.glob("*/templates")]
FIELD_GROUP = re.compile(r'class="[^"]*\bfr-(input|select|checkbox|radio|upload)-group\b')
BOUND_FIELD = re.compile(
    r"\.(auto_id|html_name|id_for_label|as_widget)\b|field\.errors"
    r"|\{\{\s*(bound_)?field\s*(\||\}\}|\.(?!as_field_group\b))"
    r"|\{\{\s*\w*form\.\w+\s*(\||\}\})"  # a form's field drawn bare: {{ form.name }}
)
REMOVED_FIELD_TEMPLATES = re.compile(
    r"includes/dsfr_field\.html|candidatures/ptce/_field\.html|candidatures/_question_field\.html"
    r"|evaluation/national/_members_field\.html|evaluation/consolidation/_select\.html"
    r"|allauth/elements/_widget_attrs\.html"
)


def test_every_form_field_is_drawn_by_the_one_field_template():
    """A Django form field is drawn by ``{{ field.as_field_group }}`` only, through
    ``templates/django/forms/field.html``: no other template writes a DSFR field group around a
    BoundField, nor includes one of the field templates it replaced."""
    problems = []
    for root in APP_TEMPLATES:
        for path in sorted(root.rglob("*.html")):
            if path == FIELD_TEMPLATE:
                continue
            text = path.read_text()
            if FIELD_GROUP.search(text) and BOUND_FIELD.search(text):
                problems.append(f"{path}: a field group written around a form field")
            if removed := REMOVED_FIELD_TEMPLATES.search(text):
                problems.append(f"{path}: includes {removed.group(0)}")
    assert not problems, "\n".join(problems)


def test_the_rule_catches_a_hand_written_field_group():
    hand_written = (
        '<div class="fr-input-group">\n  <label for="{{ form.name.auto_id }}">Nom</label>\n'
        "  {{ form.name }}\n</div>"
    )
    assert FIELD_GROUP.search(hand_written) and BOUND_FIELD.search(hand_written)
    assert REMOVED_FIELD_TEMPLATES.search('{% include "includes/dsfr_field.html" %}')
    assert BOUND_FIELD.search('<div class="fr-checkbox-group">{{ field }}</div>')
    assert BOUND_FIELD.search('<div class="fr-input-group">{{ field.value }}</div>')
    assert not BOUND_FIELD.search("{{ form.name.as_field_group }} {{ field.as_field_group }}")


# --- Every control is a Django form field (issue 17, item 1) ------------------------------------

# An input written by hand is a field the form renderer does not draw (no French error next to
# it, no error summary, no DSFR states). Hidden values and submit inputs carry no field. Left
# out: the Django admin's pages (the admin's own look and widgets), allauth's element templates
# (allauth fills them from its own form fields) and the field template and widgets themselves.
NOT_SCREENS = ("admin/", "allauth/elements/", "django/forms/")
HAND_WRITTEN_CONTROL = re.compile(r"<(input|select|textarea)\b[^>]*>", re.S)
NOT_A_FIELD = re.compile(r'\btype="(hidden|submit)"')
# path (relative to its templates folder) -> why it writes a control by hand. Empty: none needs to.
HAND_WRITTEN_ALLOWED: dict[str, str] = {}


def hand_written_controls(text: str) -> list[str]:
    return [
        control.group(0)
        for control in HAND_WRITTEN_CONTROL.finditer(text)
        if control.group(1) != "input" or not NOT_A_FIELD.search(control.group(0))
    ]


def test_screens_write_no_form_control_by_hand():
    """On every screen (the applicants', the cells', the evaluators', the CNA's, the account
    pages) every ``<input>``, ``<select>`` and ``<textarea>`` is a form field's widget drawn by
    ``{{ field.as_field_group }}``; only hidden values and submit inputs are written by hand."""
    problems = []
    for root in APP_TEMPLATES:
        for path in sorted(root.rglob("*.html")):
            name = str(path.relative_to(root))
            if name.startswith(NOT_SCREENS) or name in HAND_WRITTEN_ALLOWED:
                continue
            for control in hand_written_controls(path.read_text()):
                problems.append(f"{name}: {' '.join(control.split())[:120]}")
    assert not problems, "Controls written by hand (use a Django form):\n" + "\n".join(problems)


def test_the_rule_catches_a_hand_written_control():
    assert hand_written_controls('<input class="fr-input" id="q" name="q">')
    assert hand_written_controls('<input type="checkbox"\n  name="confirm" value="oui">')
    assert hand_written_controls('<select class="fr-select" name="region"></select>')
    assert hand_written_controls('<textarea name="text" rows="3"></textarea>')
    assert not hand_written_controls('<input type="hidden" name="back" value="{{ back }}">')
    assert not hand_written_controls('<input type="submit" value="Envoyer">')
    assert not hand_written_controls("{{ form.text.as_field_group }}<button>Envoyer</button>")
