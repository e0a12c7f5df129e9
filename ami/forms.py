"""What every app's forms share."""

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def add_errors(form, error: ValidationError) -> None:
    """Put a domain function's ``ValidationError`` on the ``form`` the view bound: per field when
    it names fields the form shows, otherwise among the form's general errors (the error summary
    lists both). A form's ``error_fields`` maps the domain's names to its own
    (``{"due_at": "due_date"}``; ``NON_FIELD_ERRORS`` for an error without a field that belongs
    to one)."""
    renamed = getattr(form, "error_fields", {})
    messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for name, field_errors in messages.items():
        name = NON_FIELD_ERRORS if name is None else name
        name = renamed.get(name, name)
        form.add_error(name if name in form.fields else None, field_errors)
