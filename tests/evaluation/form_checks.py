"""How a refused form of the evaluation screens shows an error (issue 17, item 1): next to its
field (the field template's messages, linked to the control by ``aria-describedby``) and in the
error summary at the top of the form, linked to the field."""

import re

from django.utils.html import escape


def assert_field_error(html: str, auto_id: str, message: str, target: str | None = None) -> None:
    """``message`` is shown under the field whose ``auto_id`` is given, the control (or its
    fieldset) points to it, and the summary repeats it with a link to ``target`` (the control's
    id, ``auto_id`` unless told)."""
    text = escape(message)
    beside = re.search(
        rf'<div class="fr-messages-group" id="{re.escape(auto_id)}_error">(.*?)</div>', html, re.S
    )
    assert beside, f"no error under the field {auto_id}"
    assert text in beside.group(1), beside.group(1)
    assert re.search(rf'aria-(describedby|labelledby)="[^"]*\b{re.escape(auto_id)}_error\b', html)
    summary = re.search(
        r'<div class="fr-alert fr-alert--error[^"]*" role="alert"[^>]*>\s*'
        r'<h2 class="fr-alert__title">Le formulaire contient (.*?)</div>',
        html,
        re.S,
    )
    assert summary, "no error summary"
    link = re.search(
        rf'<a href="#{re.escape(target or auto_id)}">([^<]*(?:<span[^>]*>[^<]*</span>[^<]*)?)'
        rf" : [^<]*{re.escape(text)}[^<]*</a>",
        summary.group(1),
    )
    assert link, summary.group(1)
