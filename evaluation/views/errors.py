"""Domain errors shown on the screens' forms."""

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def add_errors(form, error: ValidationError) -> None:
    """Put a domain ``ValidationError`` on ``form``: per field when it has them, otherwise (or
    for a field the form does not show) among the form's general errors. A form's
    ``error_fields`` maps the domain's names to its own (``{"due_at": "due_date"}``;
    ``NON_FIELD_ERRORS`` for an error without a field that belongs to one)."""
    renamed = getattr(form, "error_fields", {})
    messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for name, field_errors in messages.items():
        name = NON_FIELD_ERRORS if name is None else name
        name = renamed.get(name, name)
        form.add_error(name if name in form.fields else None, field_errors)


def flash_errors(request, error: ValidationError) -> None:
    """A domain refusal of an action without fields (a button in a table row), shown as
    messages on the page the action redirects to."""
    for text in error.messages:
        messages.error(request, text)
