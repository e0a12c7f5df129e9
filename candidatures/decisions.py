"""Rules of the decision transitions (used by ``workflow``): a candidature becomes laureate or
not selected only when the CNA's pending decision says so, at publication; the letter goes to
the PTCE's team in the same transaction. The decision itself lives in ``evaluation`` (reached
through the ``candidature.decision`` relation, never imported: DESIGN §6)."""

from . import letters
from .errors import TransitionRefused
from .models import CandidatureState
from .notify import notify_team

TEMPLATES = {
    CandidatureState.LAUREATE: ("decision_laureate", "decision.laureate"),
    CandidatureState.NOT_SELECTED: ("decision_not_selected", "decision.not_selected"),
}


def _decision(candidature):
    return getattr(candidature, "decision", None)


def published_decision(candidature):
    """The CNA's decision once published, else None: a pending decision is never shown to the
    applicant (DESIGN §4)."""
    decision = _decision(candidature)
    if decision is None or decision.published_at is None:
        return None
    return decision


def check_decision_is(outcome):
    """The check of the transition to ``outcome``: it must follow the recorded decision."""

    def check(candidature, actor, comment, at):
        decision = _decision(candidature)
        if decision is None or decision.outcome != outcome:
            raise TransitionRefused(
                "Aucune décision de la CNA ne correspond à ce changement : arrêtez d'abord la "
                "liste en délibération.",
                code="decision",
            )

    return check


def notify_decision(candidature, actor, event):
    template, event_name = TEMPLATES[candidature.state]
    decision = _decision(candidature)
    letter = letters.decision_letter(candidature, decision, at=event.at)
    notify_team(candidature, template, event_name, {"decision": decision, "letter": letter})
