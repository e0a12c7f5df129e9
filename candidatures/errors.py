from django.core.exceptions import ValidationError


class TransitionRefused(ValidationError):
    """A change the rules refuse; the message tells the user what to do."""
