"""Rules of the admissibility transitions and of the hand-over (used by ``workflow``)."""

from . import letters
from .errors import TransitionRefused
from .models import LetterKind
from .notify import notify_team


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


def notify_admissible(candidature, actor, event):
    notify_team(candidature, "candidature_admissible", "candidature.admissible", {"event": event})


def notify_inadmissible(candidature, actor, event):
    letter = letters.letter_for(
        candidature, LetterKind.INADMISSIBLE, motivation=event.comment, decided_at=event.at
    )
    notify_team(
        candidature,
        "candidature_inadmissible",
        "candidature.inadmissible",
        {"event": event, "letter": letter},
    )
