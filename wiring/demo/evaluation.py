"""Demo material for the regional review (``seed_demo``): each cell gets two more evaluators,
then most regions are instructed through the domain functions — admissibility, automatic
assignment, reviews, collegial opinions and ranking — so that a demo coordinator and a demo CNA
member have something to look at.

- Three regions are left untouched: their coordinator starts with the admissibility checks.
- Île-de-France (the printed demo coordinator's region) has every review submitted and no
  opinion yet: the consolidation is the step the demo shows.
- About half of the other regions have written their opinions and ranking; the rest have
  reviews submitted, in draft or not started yet.
- Cells score with different severity (some systematically higher), so that the normalisation
  of the CNA has something to correct.
- No region is handed over to the CNA.

Deterministic (seeded ``random.Random``) and idempotent: a region whose admissibility has
started is left as it is, so a second run changes nothing, not even what a demo user did.

Going through the domain functions queues notification emails: ``wiring.demo.seed.quiet_outbox``
keeps them from being sent (see there)."""

import random
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import RegionalCell, RegionalCellMembership, RegionalRole
from ami.calls import set_phase
from ami.models import Phase
from candidatures.models import Candidature, CandidatureState
from evaluation import national, scenarios
from evaluation.admission import MANUAL_ITEMS, decide_admissibility
from evaluation.assignment import auto_assign
from evaluation.consolidation import (
    default_ranking,
    hand_over,
    rankable,
    rounded,
    save_opinion,
    set_ranking,
)
from evaluation.models import AdmissibilityCheck, Assignment, Opinion, RegionHandover
from evaluation.permissions import region_handed_over
from evaluation.reviews import (
    GENERAL_COMMENT,
    GRID_MARKER,
    OPINION,
    comment_field,
    get_or_start_review,
    save_review,
    score_field,
    submit_review,
)
from evaluation.scoring import compute_total, with_review_stats
from wiring.demo import DEMO_DOMAIN

# Regions left as they are: their coordinator starts with the admissibility checks.
NOT_STARTED = {"02", "52", "84"}
# Île-de-France: every review submitted, no opinion yet (the consolidation is to do).
SHOWCASE = "11"
# Regions whose cell has written its collegial opinions and its ranking.
WITH_OPINIONS = {"01", "04", "24", "27", "32", "44", "53", "75"}
# Regions where one candidature is declared inadmissible…
WITH_INADMISSIBLE = {"24", "76"}
# …and where one submitted candidature is left to check.
WITH_PENDING = {"93"}
# Severity of each cell, in points of the 0–5 scale added to every score (0 elsewhere).
SEVERITY = {
    "04": 1.0,
    "27": 0.8,
    "44": 0.8,
    "93": 1.0,
    "06": -0.8,
    "32": -1.0,
    "53": -0.8,
    "76": -1.0,
}
# Each evaluator of a cell leans a little (by their position in the cell).
EVALUATOR_LEAN = (0.0, 0.3, -0.3)
# About one candidature in five divides its reviewers (« désaccord » on the consolidation list).
CONTROVERSIAL_SHARE = 0.2
CONTROVERSY = 0.7
# Regions where the cell raised the consolidated score of one candidature, with a justification.
WITH_RAISED_SCORE = {"44"}
# In the regions still reviewing: share of the assignments submitted / left in draft (the rest
# is not started).
SUBMITTED_SHARE = 0.6
DRAFT_SHARE = 0.25

SCORE_COMMENTS = {
    0: "Point non traité dans le dossier.",
    1: "Très insuffisant : les éléments fournis ne permettent pas d'apprécier ce point.",
    2: "Insuffisant : des intentions, peu d'éléments concrets.",
    3: "Correct : des éléments solides, quelques points à préciser.",
    4: "Bon : une démarche structurée et crédible.",
    5: "Excellent : une démarche exemplaire, des résultats déjà visibles.",
}
REVIEW_COMMENTS = {
    Opinion.FAVORABLE: "Projet solide, bien ancré dans son territoire ; je recommande un soutien.",
    Opinion.RESERVED: "Projet intéressant, mais le plan d'action et le modèle économique restent "
    "à consolider.",
    Opinion.UNFAVORABLE: "Le dossier ne démontre pas encore une coopération suffisante entre "
    "les membres du pôle.",
}
COLLEGIAL_MOTIVATIONS = {
    Opinion.FAVORABLE: "La cellule souligne la maturité de la coopération et la qualité du plan "
    "d'action ; elle recommande le financement.",
    Opinion.RESERVED: "La cellule reconnaît l'intérêt du projet mais attend des engagements plus "
    "précis des membres et des cofinanceurs.",
    Opinion.UNFAVORABLE: "La cellule estime que le projet n'est pas assez mûr pour cette édition ; "
    "elle encourage le pôle à candidater de nouveau.",
}
INADMISSIBLE_MOTIVATION = (
    "La convention de coopération jointe ne réunit que deux personnes morales : le PTCE ne "
    "remplit pas la condition de l'article 9 de la loi ESS (au moins trois personnes morales)."
)
RAISED_SCORE_JUSTIFICATION = (
    "Après échange collégial, la cellule relève la note : l'ancrage rural du projet et le soutien "
    "de l'intercommunalité ont été sous-estimés par les évaluations."
)


def seed_regional_review(call, user_factory) -> None:
    """Give the regional cells of ``call`` demo material (see the module's docstring).
    ``user_factory(email, first, last)`` returns a verified demo user."""
    with transaction.atomic():
        cells = RegionalCell.objects.filter(call=call).select_related("region", "call")
        for cell in cells.order_by("region__code"):
            evaluators = _evaluators(cell, user_factory)
            if _left_alone(cell):
                continue
            _instruct(cell, _coordinator(cell), evaluators)


def seed_national_review(call, user_factory) -> None:
    """A past edition (``call``, its candidatures submitted) brought to the national review:
    every region instructed to the end — admissibility, reviews, collegial opinions, ranking —
    and handed over to the CNA; two CNA analyses and one scenario of the selection assistant, so
    that the dashboard and the assistant show real-looking data. The list is not fixed: the demo
    CNA deliberates and publishes. Skipped when a region is already handed over."""
    if RegionHandover.objects.filter(cell__call=call).exists():
        return
    set_phase(call, Phase.REGIONAL_REVIEW, None, comment="Clôture des candidatures (démo).")
    cells = RegionalCell.objects.filter(call=call).select_related("region", "call")
    for cell in cells.order_by("region__code"):
        evaluators = _evaluators(cell, user_factory)
        coordinator = _coordinator(cell)
        _instruct(cell, coordinator, evaluators, complete=True)
        hand_over(cell, coordinator, "Instruction régionale terminée.")
    set_phase(call, Phase.NATIONAL_REVIEW, None, comment="Fin de l'instruction régionale (démo).")
    member = user_factory(f"cna-membre@{DEMO_DOMAIN}", "Nicolas", "Membre")
    handed = list(
        Candidature.objects.filter(call=call, state=CandidatureState.REGIONAL_REVIEW_DONE)
        .select_related("regional_opinion", "call")
        .order_by("-regional_opinion__consolidated_score", "pk")[:2]
    )
    for candidature, (score, opinion, comment) in zip(handed, NATIONAL_ANALYSES, strict=False):
        national.save_analysis(
            candidature, member, score=Decimal(score), opinion=opinion, comment=comment
        )
    scenarios.save(
        call,
        member,
        "Enveloppe seule, note normalisée",
        scenarios.Parameters(basis="normalised"),
    )


NATIONAL_ANALYSES = [
    (
        "82",
        Opinion.FAVORABLE,
        "Projet exemplaire par sa gouvernance ; la CNA partage l'avis de la région.",
    ),
    (
        "64",
        Opinion.RESERVED,
        "Modèle économique encore fragile : la part des cofinancements acquis reste faible.",
    ),
]


def _evaluators(cell, user_factory) -> list:
    """The cell's demo evaluators: the one of ``_cells`` and two more."""
    code = cell.region.code.lower()
    users = []
    for suffix, first_name in (("", "Évaluation"), ("-2", "Évaluation 2"), ("-3", "Évaluation 3")):
        user = user_factory(
            f"cra-{code}-evaluation{suffix}@{DEMO_DOMAIN}", first_name, f"CRA {cell.region.name}"
        )
        RegionalCellMembership.objects.get_or_create(
            cell=cell, user=user, defaults={"role": RegionalRole.EVALUATOR}
        )
        users.append(user)
    return users


def _coordinator(cell):
    return (
        RegionalCellMembership.objects.filter(cell=cell, role=RegionalRole.COORDINATOR)
        .select_related("user")
        .order_by("pk")
        .first()
        .user
    )


def _left_alone(cell) -> bool:
    """Regions kept for the coordinator to start, and regions already instructed (by an earlier
    run or by a demo user): never touched again."""
    return (
        cell.region.code in NOT_STARTED
        or region_handed_over(cell.call, cell.region)
        or AdmissibilityCheck.objects.filter(
            candidature__call=cell.call, candidature__region=cell.region
        ).exists()
    )


def _instruct(cell, coordinator, evaluators, *, complete=False) -> None:
    """Instruct the region. ``complete``: every review submitted, every opinion written, every
    candidature decided (a past edition)."""
    code = cell.region.code
    _decide_admissibility(cell, coordinator, complete=complete)
    auto_assign(cell, coordinator)
    assignments = (
        Assignment.objects.filter(candidature__call=cell.call, candidature__region=cell.region)
        .select_related(
            "candidature__ptce", "candidature__call", "candidature__region", "evaluator"
        )
        .order_by("candidature__ptce__name", "evaluator__email")
    )
    everything = complete or code == SHOWCASE or code in WITH_OPINIONS
    leans = {user.pk: lean for user, lean in zip(evaluators, EVALUATOR_LEAN, strict=True)}
    seen = set()
    for index, assignment in enumerate(assignments):
        candidature, evaluator = assignment.candidature, assignment.evaluator
        rng = random.Random(f"demo-review:{candidature.ptce.name}:{evaluator.email}")  # noqa: S311
        fate = rng.random()
        bias = SEVERITY.get(code, 0.0) + leans.get(evaluator.pk, 0.0)
        if _controversial(candidature):  # the first reviewer likes it, the next ones do not
            bias += -CONTROVERSY if candidature.pk in seen else CONTROVERSY
        seen.add(candidature.pk)
        if everything or index == 0 or fate < SUBMITTED_SHARE:
            _review(candidature, evaluator, bias, rng, submit=True)
        elif fate < SUBMITTED_SHARE + DRAFT_SHARE:
            _review(candidature, evaluator, bias, rng, submit=False)
    if complete or code in WITH_OPINIONS:
        _opinions(cell, coordinator)


def _decide_admissibility(cell, coordinator, *, complete=False) -> None:
    """Every submitted candidature declared admissible, all points checked, except one declared
    inadmissible (``WITH_INADMISSIBLE``) or left to check (``WITH_PENDING``)."""
    submitted = list(
        Candidature.objects.filter(
            call=cell.call, region=cell.region, state=CandidatureState.SUBMITTED
        )
        .select_related("call", "region", "ptce")
        .order_by("ptce__name", "pk")
    )
    if not complete and cell.region.code in WITH_PENDING and len(submitted) > 1:
        submitted.pop()
    # Every point ticked by hand is checked; the automatic ones are computed by the decision.
    answers = {f"rule:{index}": True for index, _ in enumerate(cell.call.eligibility_rule_list, 1)}
    answers.update({key: True for key, _label in MANUAL_ITEMS})
    for index, candidature in enumerate(submitted):
        if index == 0 and cell.region.code in WITH_INADMISSIBLE and len(submitted) > 1:
            decide_admissibility(
                candidature,
                coordinator,
                False,
                {**answers, "three_members": False},
                motivation=INADMISSIBLE_MOTIVATION,
            )
            continue
        try:
            decide_admissibility(candidature, coordinator, True, answers)
        except ValidationError:  # an automatic point fails: left for the coordinator to see
            if complete:  # a past edition: the coordinator found it inadmissible
                decide_admissibility(
                    candidature,
                    coordinator,
                    False,
                    answers,
                    motivation=INADMISSIBLE_MOTIVATION,
                )


def _rng(candidature):
    return random.Random(f"demo-candidature:{candidature.ptce.name}")  # noqa: S311


def _controversial(candidature) -> bool:
    return _rng(candidature).random() < CONTROVERSIAL_SHARE


def _levels(candidature, criteria) -> dict:
    """What the candidature deserves on each criterion, on the 0–5 scale, before the biases."""
    rng = _rng(candidature)
    rng.random()  # the draw of ``_controversial``
    level = rng.uniform(2.0, 3.8)
    return {criterion.pk: level + rng.uniform(-0.7, 0.7) for criterion in criteria}


def _review(candidature, evaluator, bias, rng, *, submit) -> None:
    """A review through the evaluator's own functions: submitted (whole grid, overall opinion),
    or a draft with the first criteria scored."""
    criteria = list(candidature.call.criteria.all())
    levels = _levels(candidature, criteria)
    data, scores = {}, {}
    for criterion in criteria if submit else criteria[: rng.randint(1, 3)]:
        raw = levels[criterion.pk] + bias + rng.gauss(0, 0.45)
        score = max(criterion.scale_min, min(criterion.scale_max, round(raw)))
        scores[criterion.pk] = (score, False)
        data[score_field(criterion)] = str(score)
        data[comment_field(criterion)] = SCORE_COMMENTS.get(score, "")
    review = get_or_start_review(candidature, evaluator)
    if submit:
        opinion = _opinion(compute_total(criteria, scores))
        data.update({GRID_MARKER: "1", OPINION: opinion, GENERAL_COMMENT: REVIEW_COMMENTS[opinion]})
    save_review(review, evaluator, data)
    if submit:
        submit_review(review, evaluator)


def _opinion(score) -> str:
    if score >= 65:
        return Opinion.FAVORABLE
    if score >= 45:
        return Opinion.RESERVED
    return Opinion.UNFAVORABLE


def _opinions(cell, coordinator) -> None:
    """The collegial opinion of every admissible candidature (the mean of its reviews, raised
    with a justification once in a while), then the ranking by score."""
    rows = (
        with_review_stats(
            Candidature.objects.filter(
                call=cell.call, region=cell.region, state=CandidatureState.ADMISSIBLE
            )
        )
        .filter(regional_opinion__isnull=True)
        .select_related("call", "region", "ptce")
        .order_by("ptce__name", "pk")
    )
    for index, candidature in enumerate(rows):
        if candidature.score_mean is None:
            continue
        score, justification = rounded(candidature.score_mean), ""
        if index == 0 and cell.region.code in WITH_RAISED_SCORE:
            score, justification = min(score + 6, Decimal(100)), RAISED_SCORE_JUSTIFICATION
        opinion = _opinion(score)
        save_opinion(
            candidature, coordinator, score, justification, opinion, COLLEGIAL_MOTIVATIONS[opinion]
        )
    if rankable(cell).filter(regional_opinion__rank__isnull=True).exists():
        set_ranking(cell, coordinator, default_ranking(cell))
