"""Domain errors shown on the screens' forms."""

from django.contrib import messages
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError


def add_errors(form, error: ValidationError) -> None:
    """Put a domain ``ValidationError`` on ``form``: per field when it has them, otherwise (or
    for a field the form does not show) among the form's general errors."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)


def errors_of(error: ValidationError) -> dict:
    """Field errors by name; errors without a field under ``general`` (templates cannot read
    ``__all__``)."""
    errors = error.message_dict if hasattr(error, "error_dict") else {"general": error.messages}
    return {("general" if key == NON_FIELD_ERRORS else key): v for key, v in errors.items()}


def flash_errors(request, error: ValidationError):
    for text in error.messages:
        messages.error(request, text)
