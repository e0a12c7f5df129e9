"""Rules of the admissibility transitions and of the hand-over (used by ``workflow``)."""

from ami.outbox import queue_templated_email

from . import letters
from .errors import TransitionRefused
from .models import LetterKind


def check_motivation(candidature, actor, comment, at):
    if not (comment or "").strip():
        raise TransitionRefused(
            "La motivation est obligatoire pour déclarer une candidature irrecevable : elle est "
            "transmise au porteur.",
            code="motivation",
        )


def check_regional_opinion(candidature, actor, comment, at):
    if not hasattr(candidature, "regional_opinion"):
        raise TransitionRefused(
            "L'avis collégial de la région doit être rédigé avant la transmission à la CNA.",
            code="opinion",
        )


def _notify_team(candidature, template, event_name, event, **extra):
    for email in candidature.ptce.team_emails():
        queue_templated_email(
            to=email,
            template=template,
            context={"candidature": candidature, "event": event, **extra},
            event=event_name,
            related=candidature,
            call=candidature.call,
        )


def notify_admissible(candidature, actor, event):
    _notify_team(candidature, "candidature_admissible", "candidature.admissible", event)


def notify_inadmissible(candidature, actor, event):
    letter = letters.letter_for(
        candidature, LetterKind.INADMISSIBLE, motivation=event.comment, decided_at=event.at
    )
    _notify_team(
        candidature, "candidature_inadmissible", "candidature.inadmissible", event, letter=letter
    )
