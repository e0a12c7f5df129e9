"""A candidature's answers as the API gives them: read through the submission's snapshot
(``candidatures.submission.build_snapshot``, frozen at submission in ``Candidature.snapshot``),
so that when the questionnaire becomes data the API follows by changing this one function."""

from candidatures.submission import build_snapshot


def answers_of(candidature) -> dict:
    """The frozen answers once submitted; a draft's current ones otherwise."""
    return (candidature.snapshot or build_snapshot(candidature)).get("answers", {})
