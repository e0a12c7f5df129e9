"""The applicant's stepper: the steps of a candidature and the fields each one edits."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    fields: tuple[str, ...] = ()


STEPS = (
    Step("presentation", "Présentation", ("title", "summary")),
    Step(
        "territoire", "Territoire et partenaires", ("territory_description", "partners_description")
    ),
    Step(
        "projet",
        "Projet",
        ("lever_governance", "lever_engineering", "lever_research", "lever_viability"),
    ),
    Step("budget", "Budget", ("requested_amount", "budget_comment")),
    Step("pieces", "Pièces justificatives"),
    Step("recapitulatif", "Récapitulatif et dépôt"),
)
STEP_SLUGS = tuple(step.slug for step in STEPS)
FIRST_STEP = STEPS[0].slug


def get_step(slug: str) -> Step | None:
    return next((step for step in STEPS if step.slug == slug), None)


def neighbours(slug: str) -> tuple[Step | None, Step | None]:
    index = STEP_SLUGS.index(slug)
    previous = STEPS[index - 1] if index > 0 else None
    following = STEPS[index + 1] if index + 1 < len(STEPS) else None
    return previous, following
