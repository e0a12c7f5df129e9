"""The evaluation app's part of « Mes données » (``accounts.personal_data``): what the user wrote
as a member of a cell (reviews with their scores, national analyses, collegial opinions,
deliberation changes, conflicts declared, assignments) and the published decisions on their
PTCEs' candidatures; a review the user still owes blocks the deletion of their account.

Nothing here is erased at deletion: reviews, opinions and decisions are the record of how public
money was granted and stay, attached to the anonymised account. Registered in
``EvaluationConfig.ready()``."""

from django.db.models import Exists, OuterRef, Prefetch

from accounts.personal_data import FINISHED_PHASES, Contribution
from ami.formats import plural
from candidatures.models import Candidature, CandidatureState

from .models import (
    Assignment,
    ConflictOfInterest,
    Decision,
    DeliberationOverride,
    NationalReview,
    RegionalOpinion,
    RegionHandover,
    Review,
    ReviewScore,
    ReviewState,
)

# A review is still expected while the candidature is in the regional review.
REVIEWABLE = (
    CandidatureState.SUBMITTED,
    CandidatureState.ADMISSIBLE,
    CandidatureState.COMPLEMENTS_REQUESTED,
)


def _reference(candidature) -> dict:
    return {
        "candidature": candidature.receipt_number or f"n° {candidature.pk}",
        "ptce": candidature.ptce.name,
        "appel": candidature.call.name,
    }


def export(user, archive) -> dict:
    about = ("candidature__call", "candidature__ptce")
    reviews = (
        Review.objects.filter(evaluator=user)
        .select_related(*about)
        .prefetch_related(
            Prefetch(
                "scores",
                queryset=ReviewScore.objects.select_related("criterion").order_by(
                    "criterion__order", "criterion__pk"
                ),
            )
        )
        .order_by("created_at", "pk")
    )
    national_reviews = (
        NationalReview.objects.filter(reviewer=user).select_related(*about).order_by("pk")
    )
    opinions = RegionalOpinion.objects.filter(written_by=user).select_related(*about).order_by("pk")
    overrides = (
        DeliberationOverride.objects.filter(actor=user)
        .select_related("line__candidature__call", "line__candidature__ptce")
        .order_by("at", "pk")
    )
    conflicts = (
        ConflictOfInterest.objects.filter(evaluator=user).select_related(*about).order_by("pk")
    )
    assignments = Assignment.objects.filter(evaluator=user).select_related(*about).order_by("pk")
    decisions = (
        Decision.objects.filter(
            candidature__in=Candidature.objects.of_applicant(user), published_at__isnull=False
        )
        .select_related(*about)
        .order_by("published_at", "pk")
    )
    return {
        "evaluations_redigees": [
            {
                **_reference(review.candidature),
                "etat": review.get_state_display(),
                "avis": review.get_opinion_display() if review.opinion else "",
                "commentaire": review.comment,
                "note_sur_100": review.total,
                "commencee_le": review.created_at,
                "rendue_le": review.submitted_at,
                "notes": [
                    {
                        "critere": score.criterion.label,
                        "note": score.score,
                        "non_applicable": score.not_applicable,
                        "commentaire": score.comment,
                    }
                    for score in review.scores.all()
                ],
            }
            for review in reviews
        ],
        "analyses_nationales_redigees": [
            {
                **_reference(analysis.candidature),
                "note_sur_100": analysis.score,
                "avis": analysis.get_opinion_display(),
                "note_interne": analysis.comment,
                "motivation_communicable": analysis.motivation,
                "redigee_le": analysis.created_at,
            }
            for analysis in national_reviews
        ],
        "avis_regionaux_rediges": [
            {
                **_reference(opinion.candidature),
                "note_consolidee": opinion.consolidated_score,
                "justification_de_la_note": opinion.score_justification,
                "avis": opinion.get_opinion_display(),
                "motivation_communicable": opinion.motivation,
                "note_interne": opinion.internal_note,
                "rang": opinion.rank,
            }
            for opinion in opinions
        ],
        "modifications_de_deliberation": [
            {
                **_reference(override.line.candidature),
                "le": override.at,
                "retenue": override.selected,
                "montant": override.amount,
                "justification": override.justification,
                "motivation_communicable": override.motivation,
            }
            for override in overrides
        ],
        "conflits_d_interets": [
            {
                **_reference(conflict.candidature),
                "origine": conflict.get_source_display(),
                "statut": conflict.get_status_display(),
                "motif": conflict.reason,
                "declare_le": conflict.declared_at,
            }
            for conflict in conflicts
        ],
        "attributions": [
            {**_reference(assignment.candidature), "attribuee_le": assignment.assigned_at}
            for assignment in assignments
        ],
        "decisions_publiees_sur_vos_candidatures": [
            {
                **_reference(decision.candidature),
                "decision": decision.get_outcome_display(),
                "montant_accorde": decision.granted_amount,
                "motivation": decision.motivation,
                "publiee_le": decision.published_at,
            }
            for decision in decisions
        ],
    }


def pending_assignments(user):
    """Assignments of a call still running for which the user has not submitted a review, while
    the region's review is open (not handed over to the CNA)."""
    submitted = Review.objects.filter(
        candidature=OuterRef("candidature"), evaluator=user, state=ReviewState.SUBMITTED
    )
    handed_over = RegionHandover.objects.filter(
        cell__call=OuterRef("candidature__call"), cell__region=OuterRef("candidature__region")
    )
    return (
        Assignment.objects.filter(evaluator=user, candidature__state__in=REVIEWABLE)
        .exclude(candidature__call__phase__in=FINISHED_PHASES)
        .filter(~Exists(submitted), ~Exists(handed_over))
        .select_related("candidature__ptce", "candidature__call")
        .order_by("candidature__call__year", "candidature__ptce__name", "pk")
    )


def refusals(user, *, withdraw: bool) -> list[str]:
    pending = list(pending_assignments(user))
    if not pending:
        return []
    names = ", ".join(
        f"« {a.candidature.ptce.name} » ({a.candidature.call.name})" for a in pending[:5]
    )
    more = f" et {plural(len(pending) - 5, 'autre')}" if len(pending) > 5 else ""
    return [
        f"Vous avez {plural(len(pending), 'évaluation')} à rendre dans un appel en cours : "
        f"{names}{more}. "
        "Rendez-les, ou demandez à la personne qui coordonne votre cellule régionale de vous les "
        "retirer, puis supprimez votre compte."
    ]


CONTRIBUTION = Contribution(name="evaluation", export=export, refusals=refusals)
