"""Domain refusals of actions without a form (a button in a table row). Those of a form go on
the form: ``ami.forms.add_errors``."""

from django.contrib import messages
from django.core.exceptions import ValidationError


def flash_errors(request, error: ValidationError) -> None:
    """A domain refusal of an action without fields (a button in a table row), shown as
    messages on the page the action redirects to."""
    for text in error.messages:
        messages.error(request, text)
