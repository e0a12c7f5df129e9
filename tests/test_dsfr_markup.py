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


# --- The regional and evaluator screens draw their controls through Django's forms ---------------

REGIONAL_TEMPLATES = [
    TEMPLATES / "evaluation" / folder for folder in ("coordinator", "evaluator", "consolidation")
]
CONTROL = re.compile(r"<(input|select|textarea)\b[^>]*>", re.S)
# Allowed only with a reason: (template, the control's name).
HAND_WRITTEN_ALLOWED: set[tuple[str, str]] = set()


def hand_written_controls(text: str) -> list[str]:
    """The ``<input>``, ``<select>`` and ``<textarea>`` written in ``text``, except hidden
    inputs (the action of a row's button, the object it acts on, the sort kept by a filter) and
    submit buttons."""
    found = []
    for control in CONTROL.finditer(text):
        tag = control.group(0)
        kind = re.search(r'\btype="([^"]*)"', tag)
        if control.group(1) == "input" and kind and kind.group(1) in {"hidden", "submit"}:
            continue
        found.append(tag)
    return found


def test_regional_screens_write_no_control_by_hand():
    """Every control of the regional cell's and the evaluators' screens is a Django form field
    drawn by ``templates/django/forms/field.html`` (``{{ form.x.as_field_group }}``): no template
    of ``evaluation/coordinator``, ``evaluator`` or ``consolidation`` writes one itself."""
    problems = []
    for folder in REGIONAL_TEMPLATES:
        for path in sorted(folder.rglob("*.html")):
            name = str(path.relative_to(TEMPLATES))
            for tag in hand_written_controls(path.read_text()):
                control = re.search(r'\bname="([^"]*)"', tag)
                if (name, control.group(1) if control else "") not in HAND_WRITTEN_ALLOWED:
                    problems.append(f"{name}: {tag}")
    assert not problems, "controls written by hand:\n" + "\n".join(problems)


def test_the_rule_catches_a_hand_written_control():
    assert hand_written_controls('<textarea class="fr-input" name="comment"></textarea>')
    assert hand_written_controls('<select class="fr-select"\n  name="role">')
    assert hand_written_controls('<input class="fr-input" type="number" name="rang-1">')
    assert hand_written_controls('<input type="checkbox" name="points">')
    assert not hand_written_controls('<input type="hidden" name="action" value="add">')
    assert not hand_written_controls("{{ form.comment.as_field_group }}")
