"""How a screen shows a field's error (issue 17, item 1): next to the field (the field template's
``<auto_id>_error``, linked to the control, or to its fieldset, by ``aria-describedby`` /
``aria-labelledby``) and in the error summary at the top of the form (a link to the field), both
in French."""

import html
import re


def assert_field_error(page: str, auto_id: str, message: str, *, target: str | None = None):
    """``page``: the HTML; ``auto_id``: the BoundField's ``auto_id``; ``message``: the error, or
    a part of it; ``target``: where the summary's link lands (the input's id when the widget sets
    its own)."""
    text = html.unescape(page)
    name = re.escape(auto_id)
    block = re.search(rf'<div class="fr-messages-group" id="{name}_error">(.*?)</div>', text, re.S)
    assert block, f"no error next to {auto_id}"
    assert message in block.group(1), block.group(1)
    assert re.search(rf'aria-(describedby|labelledby)="[^"]*\b{name}_error\b', text), (
        "error not linked to its control"
    )
    summary = re.search(r'<div class="fr-alert fr-alert--error[^>]*>(.*?)</div>', text, re.S)
    assert summary and "Le formulaire contient" in summary.group(1), "no error summary"
    link = re.search(
        rf'<a href="#{re.escape(target or auto_id)}">(.*?)</a>', summary.group(1), re.S
    )
    assert link and message in link.group(1), summary.group(1)
