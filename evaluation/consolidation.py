"""Regional consolidation (DESIGN §3–5): the region's candidatures with the statistics of their
reviews, the collegial opinion of the cell, the regional ranking and the hand-over to the CNA.

Plain functions over model instances and the acting user, never an ``HttpRequest``. Who may see
the consolidation of a cell: its coordinators, the CNA of the call (read-only) and the staff
(read-only). Evaluators do not: the screens show every evaluator's scores, and an evaluator may
only see them per candidature once their own review is submitted (``can_see_reviews``), which a
region-wide list cannot honour row by row.
"""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse

from accounts.models import NationalCellMembership, RegionalCell
from ami.audit import audited
from ami.formats import paris_datetime
from ami.outbox import queue_templated_email
from candidatures import workflow
from candidatures.models import Candidature, CandidatureState

from . import national_cache
from .models import (
    BLOCKING_CONFLICT,
    ConflictOfInterest,
    Opinion,
    RegionalOpinion,
    RegionHandover,
    Review,
    ReviewState,
)
from .permissions import can_coordinate, check_regional_phase, is_cell_coordinator
from .scoring import CENT, with_review_stats

# Candidatures past submission: everything but drafts and withdrawn ones.
HIDDEN_STATES = (CandidatureState.DRAFT, CandidatureState.WITHDRAWN)
# The consolidated score may differ from the mean by rounding only without a justification.
MEAN_TOLERANCE = Decimal("0.005")
MAX_SCORE = Decimal("100")
HANDOVER_COMMENT = "Transmission de la région à la CNA."


# --- Who may do what -------------------------------------------------------------------------


def handover_of(cell: RegionalCell) -> RegionHandover | None:
    return RegionHandover.objects.filter(cell=cell).select_related("handed_over_by").first()


def _handed_over_refusal(handover: RegionHandover) -> str:
    return (
        f"La région a été transmise à la CNA le {paris_datetime(handover.handed_over_at)} par "
        f"{handover.handed_over_by} : l'instruction régionale ne peut plus être modifiée."
    )


# --- The region's candidatures ----------------------------------------------------------------


def region_candidatures(cell: RegionalCell, user):
    """The cell's candidatures past submission that ``user`` may see (conflicts hidden)."""
    return (
        Candidature.objects.visible_to(user)
        .filter(call_id=cell.call_id, region_id=cell.region_id)
        .exclude(state__in=HIDDEN_STATES)
    )


def with_consolidation(queryset, *, texts=False):
    """Review statistics (``with_review_stats``), the PTCE and the collegial opinion's fields,
    in the one query of the rows. ``texts`` adds the motivation and the justification (left out
    of the list: grouping by long texts costs for nothing there)."""
    opinion_fields = {
        "collegial_opinion": F("regional_opinion__opinion"),
        "collegial_score": F("regional_opinion__consolidated_score"),
        "collegial_rank": F("regional_opinion__rank"),
    }
    if texts:
        opinion_fields["collegial_motivation"] = F("regional_opinion__motivation")
        opinion_fields["collegial_internal_note"] = F("regional_opinion__internal_note")
        opinion_fields["collegial_justification"] = F("regional_opinion__score_justification")
    return with_review_stats(queryset).select_related("ptce").annotate(**opinion_fields)


# What the lists read of a candidature and its PTCE: not the long answers nor the snapshot,
# which every row would otherwise carry through the sort (``queryset.only(*LIST_FIELDS)``).
LIST_FIELDS = (
    "call_id",
    "region_id",
    "ptce_id",
    "state",
    "requested_amount",
    "is_rural",
    "in_qpv",
    "ptce__name",
)


def default_order(queryset):
    """Ranked first by rank, then by mean (best first), then by PTCE name."""
    return queryset.order_by(
        F("collegial_rank").asc(nulls_last=True),
        F("score_mean").desc(nulls_last=True),
        "ptce__name",
        "pk",
    )


def consolidation_rows(cell: RegionalCell, user, *, texts=False):
    return default_order(with_consolidation(region_candidatures(cell, user), texts=texts))


def opinion_label(value) -> str:
    return Opinion(value).label if value else ""


def rounded(value) -> Decimal | None:
    """A score shown or proposed to two decimals (PostgreSQL's averages carry many more)."""
    if value is None:
        return None
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def score_fr(value) -> str:
    """``Decimal("63.335")`` → ``63,34``."""
    return "" if value is None else str(rounded(value)).replace(".", ",")


# --- Side by side -----------------------------------------------------------------------------


@dataclass
class CriterionRow:
    criterion: object
    scores: list  # one ReviewScore or None per review, in the order of the reviews
    mean: Decimal | None


def submitted_reviews():
    return (
        Review.objects.filter(state=ReviewState.SUBMITTED)
        .select_related("evaluator")
        .prefetch_related("scores")
        .order_by("evaluator__last_name", "evaluator__first_name", "pk")
    )


def criterion_mean(scores) -> Decimal | None:
    """Mean of the raw scores on one criterion, « not applicable » left out."""
    values = [
        s.score for s in scores if s is not None and not s.not_applicable and s.score is not None
    ]
    if not values:
        return None
    return rounded(Decimal(sum(values)) / len(values))


def criterion_rows(criteria, reviews) -> list[CriterionRow]:
    rows = []
    for criterion in criteria:
        scores = [
            next((s for s in review.scores.all() if s.criterion_id == criterion.pk), None)
            for review in reviews
        ]
        rows.append(CriterionRow(criterion, scores, criterion_mean(scores)))
    return rows


def side_by_side(candidature) -> dict:
    """Every submitted review of the candidature as a column, one row per criterion of the
    call, the statistics of the totals and the collegial opinion (or None)."""
    stats = with_consolidation(Candidature.objects.filter(pk=candidature.pk)).get()
    reviews = list(submitted_reviews().filter(candidature=candidature))
    criteria = list(candidature.call.criteria.all())
    opinion = RegionalOpinion.objects.filter(candidature=candidature).first()
    return {
        "stats": stats,
        "reviews": reviews,
        "criterion_rows": criterion_rows(criteria, reviews),
        "opinion": opinion,
        "proposed_score": rounded(stats.score_mean),
    }


# --- The collegial opinion --------------------------------------------------------------------


def _parse_score(score) -> Decimal | None:
    if score in (None, ""):
        return None
    try:
        return Decimal(str(score).replace(",", ".").strip())
    except InvalidOperation:
        return None


def opinion_errors(score, justification, opinion, motivation, mean) -> dict:
    """The rules of the collegial opinion, field by field (French messages)."""
    errors = {}
    value = _parse_score(score)
    if value is None:
        errors["score"] = "Indiquez la note consolidée, sur 100."
    elif not value.is_finite() or not Decimal(0) <= value <= MAX_SCORE:
        errors["score"] = "La note consolidée doit être comprise entre 0 et 100."
    elif value != value.quantize(CENT):
        errors["score"] = "La note consolidée a au plus deux décimales."
    elif not (justification or "").strip():
        if mean is None:
            errors["justification"] = (
                "Aucune évaluation n'a été rendue : justifiez la note consolidée."
            )
        elif abs(value - Decimal(mean)) > MEAN_TOLERANCE:
            errors["justification"] = (
                "La note consolidée diffère de la moyenne des évaluations "
                f"({score_fr(mean)}) : justifiez-la."
            )
    if opinion not in Opinion.values:
        errors["opinion"] = "Choisissez l'avis collégial."
    if not (motivation or "").strip():
        errors["motivation"] = (
            "La motivation communicable au porteur est obligatoire : elle peut être reprise dans "
            "la lettre de décision (gardez pour la note interne ce qui ne doit pas lui parvenir)."
        )
    return errors


@audited
def save_opinion(
    candidature, actor, score, justification, opinion, motivation, internal_note=""
) -> RegionalOpinion:
    """Write (or rewrite) the collegial opinion of an admissible candidature. The consolidated
    score defaults to the mean of the submitted reviews; any other value needs a justification.
    ``motivation`` is communicable to the applicant, ``internal_note`` stays with the cells and
    the CNA (DESIGN §3). The rank, if any, is kept. Raises PermissionDenied or ValidationError
    (by field)."""
    if not can_coordinate(actor, candidature):
        raise PermissionDenied(
            "Seul un coordinateur de la cellule, sans conflit d'intérêts, rédige l'avis collégial."
        )
    with transaction.atomic():
        locked = (
            Candidature.objects.select_for_update(of=("self",))
            .select_related("call")
            .get(pk=candidature.pk)
        )
        handover = (
            RegionHandover.objects.filter(
                cell__call_id=locked.call_id, cell__region_id=locked.region_id
            )
            .select_related("handed_over_by")
            .first()
        )
        if handover is not None:
            raise ValidationError(_handed_over_refusal(handover), code="handed_over")
        check_regional_phase(locked.call)
        if locked.state != CandidatureState.ADMISSIBLE:
            raise ValidationError(
                f"La candidature est « {locked.get_state_display()} » : seule une candidature "
                "recevable reçoit un avis collégial.",
                code="state",
            )
        mean = with_review_stats(Candidature.objects.filter(pk=locked.pk)).values_list(
            "score_mean", flat=True
        )[0]
        errors = opinion_errors(score, justification, opinion, motivation, mean)
        if errors:
            raise ValidationError(errors)
        regional_opinion, _created = RegionalOpinion.objects.update_or_create(
            candidature=locked,
            defaults={
                "consolidated_score": _parse_score(score),
                "score_justification": (justification or "").strip(),
                "opinion": opinion,
                "motivation": motivation.strip(),
                "internal_note": (internal_note or "").strip(),
                "needs_review": False,  # saving it again confirms or changes it
                "written_by": actor,
            },
        )
    return regional_opinion


# --- Ranking ----------------------------------------------------------------------------------


def rankable(cell: RegionalCell):
    """The candidatures the region ranks: admissible ones with a collegial opinion."""
    return Candidature.objects.filter(
        call_id=cell.call_id,
        region_id=cell.region_id,
        state=CandidatureState.ADMISSIBLE,
        regional_opinion__isnull=False,
    )


def default_ranking(cell: RegionalCell) -> list[int]:
    """Candidature ids by consolidated score (best first), ties by mean, then PTCE name."""
    return list(
        with_review_stats(rankable(cell))
        .order_by(
            F("regional_opinion__consolidated_score").desc(),
            F("score_mean").desc(nulls_last=True),
            "ptce__name",
            "pk",
        )
        .values_list("pk", flat=True)
    )


def ranking_from_inputs(current: list[int], entered: dict[int, int]) -> list[int]:
    """The order given by rank numbers typed in a form. ``current`` is the order shown (rank
    ``i + 1`` at index ``i``). Rows are sorted by the number typed; a row whose number was
    changed takes the place typed: on equal numbers it goes before the row already there when it
    moves up (typing 2 on the fifth row) and after it when it moves down (typing 3 on the first
    row). Rows without a number keep their current one."""
    position = {pk: index for index, pk in enumerate(current)}

    def key(pk):
        shown = position[pk] + 1
        typed = entered.get(pk, shown)
        moved = 0 if typed < shown else 2 if typed > shown else 1
        return (typed, moved, position[pk])

    return sorted(current, key=key)


def _conflicted_ids(actor, candidature_ids) -> set[int]:
    return set(
        ConflictOfInterest.objects.filter(
            BLOCKING_CONFLICT, evaluator=actor, candidature_id__in=candidature_ids
        ).values_list("candidature_id", flat=True)
    )


@audited
def set_ranking(cell: RegionalCell, actor, ordered_candidature_ids) -> None:
    """Rank the region: ``ordered_candidature_ids`` lists every admissible candidature with an
    opinion, best first; they get ranks 1…n. Other opinions of the region lose their rank."""
    if not is_cell_coordinator(actor, cell):
        raise PermissionDenied("Seul un coordinateur de la cellule établit le classement.")
    ordered = [int(pk) for pk in ordered_candidature_ids]
    with transaction.atomic():
        RegionalCell.objects.select_for_update().filter(pk=cell.pk).first()
        handover = handover_of(cell)
        if handover is not None:
            raise ValidationError(_handed_over_refusal(handover), code="handed_over")
        check_regional_phase(cell.call)
        expected = set(rankable(cell).values_list("pk", flat=True))
        if _conflicted_ids(actor, expected):
            raise PermissionDenied(
                "Vous avez un conflit d'intérêts sur une candidature de la région : le "
                "classement doit être établi par un autre coordinateur."
            )
        if len(ordered) != len(set(ordered)):
            raise ValidationError("Une candidature figure deux fois dans le classement.")
        if set(ordered) != expected:
            raise ValidationError(
                "Le classement doit comprendre toutes les candidatures recevables ayant un avis "
                "collégial, et elles seules. Rechargez la page puis recommencez.",
                code="stale",
            )
        opinions = {
            o.candidature_id: o for o in RegionalOpinion.objects.filter(candidature_id__in=expected)
        }
        for rank, pk in enumerate(ordered, start=1):
            opinions[pk].rank = rank
        RegionalOpinion.objects.bulk_update(opinions.values(), ["rank"])
        RegionalOpinion.objects.filter(
            candidature__call_id=cell.call_id, candidature__region_id=cell.region_id
        ).exclude(candidature_id__in=expected).update(rank=None)
        national_cache.changed(cell.call_id)  # bulk writes: no signal


def rank_by_score(cell: RegionalCell, actor) -> list[int]:
    """The « classer par note » action: the default ranking, saved."""
    ordered = default_ranking(cell)
    set_ranking(cell, actor, ordered)
    return ordered


# --- Hand-over to the CNA ---------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    message: str
    candidature_id: int | None = None


def handover_problems(cell: RegionalCell, at=None) -> list[Problem]:
    """What still blocks the hand-over, in one query over the region's candidatures."""
    problems = []
    call = cell.call
    if call.accepts_submissions(at):
        problems.append(
            Problem(
                f"Le dépôt des candidatures est ouvert jusqu'au {paris_datetime(call.closes_at)} : "
                "d'autres candidatures peuvent encore arriver."
            )
        )
    rows = (
        Candidature.objects.filter(
            call_id=cell.call_id,
            region_id=cell.region_id,
            state__in=[
                CandidatureState.SUBMITTED,
                CandidatureState.COMPLEMENTS_REQUESTED,
                CandidatureState.ADMISSIBLE,
            ],
        )
        .order_by("ptce__name", "pk")
        .values_list(
            "pk",
            "state",
            "ptce__name",
            "regional_opinion__pk",
            "regional_opinion__rank",
            "regional_opinion__needs_review",
        )
    )
    for pk, state, name, opinion_pk, rank, needs_review in rows:
        if state == CandidatureState.SUBMITTED:
            message = f"« {name} » : la recevabilité n'a pas été décidée."
        elif state == CandidatureState.COMPLEMENTS_REQUESTED:
            message = f"« {name} » : des compléments sont attendus du porteur."
        elif opinion_pk is None:
            message = f"« {name} » : l'avis collégial n'est pas rédigé."
        elif needs_review:
            message = (
                f"« {name} » : l'avis collégial est à revoir (une évaluation a été rouverte) : "
                "confirmez-le ou modifiez-le."
            )
        elif rank is None:
            message = f"« {name} » : la candidature n'est pas classée."
        else:
            continue
        problems.append(Problem(message, pk))
    return problems


def _notify_national_cell(cell, handover, transmitted):
    emails = NationalCellMembership.objects.filter(
        cell__call_id=cell.call_id, user__is_active=True
    ).values_list("user__email", flat=True)
    for email in emails:
        queue_templated_email(
            to=email,
            template="region_handover",
            context={
                "cell": cell,
                "handover": handover,
                "transmitted": transmitted,
                "list_path": reverse("consolidation_list", args=[cell.pk]),
            },
            event="region.handed_over",
            related=handover,
            call=cell.call,
        )


@audited
def hand_over(cell: RegionalCell, actor, comment: str = "") -> RegionHandover:
    """Hand the region over to the CNA: refused while something is left to do (the message lists
    it); then, in one transaction, record the hand-over, move every admissible candidature to
    « avis régional rendu » and notify each member of the CNA. Afterwards nothing of the
    region's review changes. A second hand-over is refused."""
    if not is_cell_coordinator(actor, cell):
        raise PermissionDenied("Seul un coordinateur de la cellule transmet la région à la CNA.")
    try:
        with transaction.atomic():
            cell = (
                RegionalCell.objects.select_for_update()
                .select_related("call", "region")
                .get(pk=cell.pk)
            )
            previous = handover_of(cell)
            if previous is not None:
                raise ValidationError(
                    f"La région a déjà été transmise à la CNA le "
                    f"{paris_datetime(previous.handed_over_at)} par {previous.handed_over_by}.",
                    code="already",
                )
            check_regional_phase(cell.call)
            # Lock the region's candidatures: no decision may slip in between the check and the
            # hand-over (every transition locks its row too).
            list(
                Candidature.objects.select_for_update()
                .filter(call_id=cell.call_id, region_id=cell.region_id)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            problems = handover_problems(cell)
            if problems:
                raise ValidationError(
                    [
                        "La région ne peut pas encore être transmise à la CNA :",
                        *(problem.message for problem in problems),
                    ],
                    code="problems",
                )
            handover = RegionHandover.objects.create(
                cell=cell, handed_over_by=actor, comment=(comment or "").strip()
            )
            transmitted = list(rankable(cell).select_related("call", "ptce").order_by("pk"))
            for candidature in transmitted:
                workflow.transition(
                    candidature,
                    CandidatureState.REGIONAL_REVIEW_DONE,
                    actor,
                    comment=HANDOVER_COMMENT,
                )
            _notify_national_cell(cell, handover, len(transmitted))
    except IntegrityError:  # another hand-over won the race on the one-per-cell constraint
        raise ValidationError(
            "La région vient d'être transmise à la CNA.", code="already"
        ) from None
    return handover
