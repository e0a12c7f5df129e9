"""Template helpers of the forms' error summary (``templates/includes/form_errors.html``)."""

from django import template

register = template.Library()


@register.filter
def error_count(form) -> int:
    """How many errors ``form`` shows: each message of each field, and the general ones."""
    if form is None or not hasattr(form, "errors"):
        return 0
    return sum(len(messages) for messages in form.errors.values())
