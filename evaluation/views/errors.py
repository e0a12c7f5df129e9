"""Domain errors shown on the screens' forms."""

from django.core.exceptions import ValidationError


def add_errors(form, error: ValidationError) -> None:
    """Put a domain ``ValidationError`` on ``form``: per field when it has them, otherwise (or
    for a field the form does not show) among the form's general errors."""
    if hasattr(error, "error_dict"):
        for field, field_errors in error.message_dict.items():
            form.add_error(field if field in form.fields else None, field_errors)
    else:
        form.add_error(None, error.messages)
