"""An evaluator's review on the call's grid (DESIGN §5): a score per criterion (or « non
applicable » where the criterion allows it) with a comment, an overall opinion and a general
comment. Saved field by field as typed (valid values are kept, invalid ones reported in French),
submitted when complete, then locked until a coordinator of the cell reopens it.

Reopening puts the review back to draft and clears ``submitted_at``, so that « submitted_at is
set » always means « currently submitted » and the next submission records its own time. The
trace of the reopening (who, when, the first submission's time, the coordinator's message) is
kept in the log and in the outbox row of the email that tells the evaluator."""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.permissions import is_regional_member, is_support_staff
from ami.audit import audited
from ami.outbox import queue_templated_email

from .models import Assignment, Opinion, RegionalOpinion, Review, ReviewScore, ReviewState
from .permissions import (
    can_coordinate,
    can_review,
    has_blocking_conflict,
    region_handed_over,
    regional_phase_refusal,
    review_phase_refusal,
)
from .scoring import compute_total

logger = logging.getLogger(__name__)

MAX_COMMENT = 10_000

# Names of the form fields, shared with the template.
GRID_MARKER = "grid"  # present when the whole grid was sent: an absent checkbox means « no »
OPINION = "opinion"
GENERAL_COMMENT = "comment"


def score_field(criterion) -> str:
    return f"score-{criterion.pk}"


def not_applicable_field(criterion) -> str:
    return f"na-{criterion.pk}"


def comment_field(criterion) -> str:
    return f"comment-{criterion.pk}"


@dataclass
class SaveResult:
    saved_at: object
    total: object = None
    errors: dict = field(default_factory=dict)  # field name → list of messages
    labels: dict = field(default_factory=dict)  # field name → label the user sees

    @property
    def ok(self) -> bool:
        return not self.errors

    def labelled_errors(self) -> list[tuple[str, list[str]]]:
        return [(self.labels.get(name, name), messages) for name, messages in self.errors.items()]


def review_refusal(candidature, user, review=None) -> str | None:
    """Why ``user`` may not edit their review of ``candidature`` now, in French, or None."""
    if review is not None and review.evaluator_id != user.pk:
        return "Cette évaluation n'est pas la vôtre."
    if review is not None and review.state == ReviewState.SUBMITTED:
        return (
            "Votre évaluation est rendue : elle ne peut plus être modifiée, sauf si un "
            "coordinateur de la cellule la rouvre."
        )
    if can_review(user, candidature):
        return review_phase_refusal(candidature.call) or None
    if region_handed_over(candidature.call, candidature.region):
        return (
            "La région a été transmise à la cellule nationale : les évaluations ne peuvent plus "
            "être modifiées."
        )
    if has_blocking_conflict(user, candidature):
        return (
            "Vous avez un conflit d'intérêts sur cette candidature : vous ne pouvez pas l'évaluer."
        )
    if not is_regional_member(user, candidature.call, candidature.region):
        return "Vous n'êtes pas membre de la cellule régionale de cette candidature."
    return "Cette candidature ne vous est pas attribuée."


@audited(actor="evaluator")
def get_or_start_review(candidature, evaluator) -> Review:
    """The evaluator's review of the candidature, created (empty draft) on first use. Needs
    ``can_review``: reading a review one may no longer edit is the views' business."""
    refusal = review_refusal(candidature, evaluator)
    if refusal:
        raise PermissionDenied(refusal)
    review, _created = Review.objects.get_or_create(candidature=candidature, evaluator=evaluator)
    return review


def _check_editable(review, actor) -> None:
    refusal = review_refusal(review.candidature, actor, review)
    if refusal:
        raise PermissionDenied(refusal)


def _criteria(review):
    return list(review.candidature.call.criteria.all())


def scale_message(criterion) -> str:
    return (
        f"La note doit être un nombre entier entre {criterion.scale_min} et {criterion.scale_max}."
    )


def _parse_score(criterion, raw):
    """(score or None, error or None) for a raw form value."""
    raw = str(raw).strip()
    if raw == "":
        return None, None
    try:
        score = int(raw)
    except ValueError:
        return None, scale_message(criterion)
    if not criterion.scale_min <= score <= criterion.scale_max:
        return None, scale_message(criterion)
    return score, None


def is_checked(raw) -> bool:
    return str(raw).strip().lower() in {"1", "on", "true", "oui"}


@audited
def save_review(review, actor, data) -> SaveResult:
    """Save what was sent (a QueryDict or dict); valid values are kept even when others are
    not. The total is recomputed on each save (None while the grid is incomplete)."""
    _check_editable(review, actor)
    criteria = _criteria(review)
    errors, labels = {}, {}
    whole_grid = GRID_MARKER in data
    with transaction.atomic():
        locked = Review.objects.select_for_update().get(pk=review.pk)
        if locked.state != ReviewState.DRAFT:
            raise PermissionDenied(review_refusal(review.candidature, actor, locked))
        scores = {s.criterion_id: s for s in locked.scores.all()}
        for criterion in criteria:
            current = scores.get(criterion.pk) or ReviewScore(review=locked, criterion=criterion)
            changed = False
            na_name, score_name = not_applicable_field(criterion), score_field(criterion)
            comment_name = comment_field(criterion)
            labels[na_name] = f"« {criterion.label} » (non applicable)"
            labels[score_name] = f"« {criterion.label} » (note)"
            labels[comment_name] = f"« {criterion.label} » (commentaire)"
            if na_name in data or whole_grid:
                wanted = is_checked(data.get(na_name, ""))
                if wanted and not criterion.allows_not_applicable:
                    errors[na_name] = ["Ce critère ne peut pas être déclaré « non applicable »."]
                elif wanted != current.not_applicable:
                    current.not_applicable = wanted
                    changed = True
            if current.not_applicable:
                if current.score is not None:
                    current.score = None  # « non applicable » wins over a score
                    changed = True
            elif score_name in data:
                score, error = _parse_score(criterion, data.get(score_name))
                if error:
                    errors[score_name] = [error]
                elif score != current.score:
                    current.score = score
                    changed = True
            if comment_name in data:
                comment = str(data.get(comment_name))
                if len(comment) > MAX_COMMENT:
                    errors[comment_name] = [too_long()]
                elif comment != current.comment:
                    current.comment = comment
                    changed = True
            if changed:
                current.save()
                scores[criterion.pk] = current
        update_fields = ["total", "updated_at"]
        labels[OPINION] = "Avis global"
        if OPINION in data:
            opinion = str(data.get(OPINION)).strip()
            if opinion and opinion not in Opinion.values:
                errors[OPINION] = ["Choisissez un avis : favorable, réservé ou défavorable."]
            else:
                locked.opinion = opinion
                update_fields.append("opinion")
        labels[GENERAL_COMMENT] = "Commentaire général"
        if GENERAL_COMMENT in data:
            comment = str(data.get(GENERAL_COMMENT))
            if len(comment) > MAX_COMMENT:
                errors[GENERAL_COMMENT] = [too_long()]
            else:
                locked.comment = comment
                update_fields.append("comment")
        locked.total = compute_total(
            criteria, {pk: (s.score, s.not_applicable) for pk, s in scores.items()}
        )
        locked.save(update_fields=update_fields)
    for name in ("opinion", "comment", "total", "updated_at"):
        setattr(review, name, getattr(locked, name))
    return SaveResult(saved_at=timezone.now(), total=locked.total, errors=errors, labels=labels)


def too_long() -> str:
    return f"Le commentaire ne doit pas dépasser {MAX_COMMENT:_} caractères.".replace("_", "\u202f")


def missing_for_submission(review) -> list[str]:
    """What keeps the review from being submitted, in French (empty when complete)."""
    problems = []
    scores = {s.criterion_id: s for s in review.scores.all()}
    for criterion in _criteria(review):
        score = scores.get(criterion.pk)
        if score is None or (score.score is None and not score.not_applicable):
            hint = " ou cochez « non applicable »" if criterion.allows_not_applicable else ""
            problems.append(f"Critère « {criterion.label} » : donnez une note{hint}.")
    if not problems and review.total is None:
        problems.append("Au moins un critère doit être noté.")
    if not review.opinion:
        problems.append("Choisissez un avis global : favorable, réservé ou défavorable.")
    return problems


@audited
def submit_review(review, actor) -> Review:
    """Submit a complete review: it is locked afterwards."""
    _check_editable(review, actor)
    with transaction.atomic():
        locked = Review.objects.select_for_update().get(pk=review.pk)
        _check_editable(locked, actor)
        criteria = _criteria(locked)
        locked.total = compute_total(
            criteria, {s.criterion_id: (s.score, s.not_applicable) for s in locked.scores.all()}
        )
        problems = missing_for_submission(locked)
        if problems:
            raise ValidationError(problems, code="incomplete")
        locked.state = ReviewState.SUBMITTED
        locked.submitted_at = timezone.now()
        locked.save(update_fields=["state", "submitted_at", "total", "updated_at"])
    for name in ("state", "submitted_at", "total", "updated_at"):
        setattr(review, name, getattr(locked, name))
    logger.info("Review %s submitted by user %s (total %s)", review.pk, actor.pk, review.total)
    return review


@audited(actor="coordinator")
def reopen_review(review, coordinator, message: str = "") -> Review:
    """A coordinator of the cell sends a submitted review back to its evaluator (draft again)."""
    candidature = review.candidature
    if not (
        can_coordinate(coordinator, candidature)
        or is_support_staff(coordinator, "evaluation.change_review")  # from the admin
    ):
        raise PermissionDenied(
            "Seuls les coordinateurs de la cellule régionale peuvent rouvrir une évaluation."
        )
    if region_handed_over(candidature.call, candidature.region):
        raise PermissionDenied(
            "La région a été transmise à la cellule nationale : les évaluations ne peuvent plus "
            "être rouvertes."
        )
    if regional_phase_refusal(candidature.call):
        raise PermissionDenied(regional_phase_refusal(candidature.call))
    if has_blocking_conflict(review.evaluator, candidature):
        raise PermissionDenied(
            "L'évaluateur a un conflit d'intérêts sur cette candidature : son évaluation ne peut "
            "pas être rouverte."
        )
    if not Assignment.objects.filter(candidature=candidature, evaluator=review.evaluator).exists():
        raise PermissionDenied(
            "Cette candidature n'est plus attribuée à l'évaluateur : attribuez-la-lui de nouveau "
            "avant de rouvrir son évaluation."
        )
    with transaction.atomic():
        locked = Review.objects.select_for_update().get(pk=review.pk)
        if locked.state != ReviewState.SUBMITTED:
            raise PermissionDenied("Cette évaluation n'est pas rendue : elle est déjà modifiable.")
        first_submitted_at = locked.submitted_at
        locked.state = ReviewState.DRAFT
        locked.submitted_at = None
        locked.save(update_fields=["state", "submitted_at", "updated_at"])
        # The collegial score and rank were set on the reviews as they stood: « à revoir »
        # until the coordinator confirms or changes the opinion (the hand-over waits).
        RegionalOpinion.objects.filter(candidature=candidature).update(needs_review=True)
        queue_templated_email(
            to=review.evaluator.email,
            template="review_reopened",
            context={
                "review": locked,
                "candidature": candidature,
                "coordinator": coordinator,
                "message": (message or "").strip(),
                "first_submitted_at": first_submitted_at,
            },
            event="review.reopened",
            related=locked,
            call=candidature.call,
        )
    logger.info(
        "Review %s (submitted at %s) reopened by coordinator %s: %s",
        review.pk,
        first_submitted_at.isoformat() if first_submitted_at else "?",
        coordinator.pk,
        (message or "").strip()[:500],
    )
    for name in ("state", "submitted_at", "updated_at"):
        setattr(review, name, getattr(locked, name))
    return review
