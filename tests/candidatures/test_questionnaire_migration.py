"""The migration that turned the answer columns into each call's questionnaire: a database
holding demo-like data (calls in every state of configuration, candidatures with every answer
filled, some empty, one submitted with its snapshot) is migrated back to before it, filled with
the historical models, migrated forward, and every answer compared."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

# Migrating the whole schema back and forth takes seconds: out of the inner loop (make test-fast).
pytestmark = pytest.mark.slow

BEFORE = [("ami", "0009_audit_history"), ("candidatures", "0005_ptce_history")]
OLD_COLUMNS = [
    "summary", "territory_description", "partners_description", "lever_governance",
    "lever_engineering", "lever_research", "lever_viability", "budget_comment",
]  # fmt: skip
LABELS = {
    "summary": ("presentation", "Résumé du projet"),
    "territory_description": ("territoire", "Territoire et ses enjeux"),
    "partners_description": ("territoire", "Coopération entre les membres"),
    "lever_governance": ("projet", "Animation territoriale et gouvernance"),
    "lever_engineering": (
        "projet",
        "Ingénierie de projet et résultats attendus (économiques, sociaux, écologiques)",
    ),
    "lever_research": ("projet", "Recherche et innovation"),
    "lever_viability": ("projet", "Viabilité économique"),
    "budget_comment": ("budget", "Commentaire sur le budget"),
}


def _latest(executor):
    return executor.loader.graph.leaf_nodes()


def _fill(apps) -> dict:
    """Demo-like rows with the historical models; returns the answers by candidature id."""
    Region = apps.get_model("ami", "Region")
    Call = apps.get_model("ami", "Call")
    Criterion = apps.get_model("ami", "Criterion")
    Ptce = apps.get_model("candidatures", "Ptce")
    Candidature = apps.get_model("candidatures", "Candidature")
    region, _ = Region.objects.get_or_create(code="11", defaults={"name": "Île-de-France"})
    now = timezone.now()
    dates = {
        "opens_at": now - timedelta(days=10),
        "closes_at": now + timedelta(days=10),
        "regional_review_deadline": now + timedelta(days=40),
        "national_review_deadline": now + timedelta(days=80),
        "envelope": Decimal("500000"),
        "min_amount": Decimal("30000"),
        "max_amount": Decimal("80000"),
    }
    calls = [
        Call.objects.create(name="AMI PTCE 2025", slug="m-2025", year=2025, phase="published",
                            **dates),
        Call.objects.create(name="AMI PTCE 2026", slug="m-2026", year=2026, phase="open", **dates),
        Call.objects.create(name="AMI PTCE 2027", slug="m-2027", year=2027, phase="draft", **dates),
    ]  # fmt: skip
    Criterion.objects.create(call=calls[1], label="Gouvernance", weight=Decimal("25"))
    expected = {}
    number = 0
    for call in calls[:2]:
        for index in range(3):
            number += 1
            ptce = Ptce.objects.create(name=f"PTCE {number}", region=region)
            answers = {
                name: f"{name} du PTCE {number} : « guillemets », accents éèà, retour\nà la ligne"
                for name in OLD_COLUMNS
            }
            if index == 1:
                answers["lever_research"] = ""  # left empty by the applicant
                answers["budget_comment"] = ""
            candidature = Candidature.objects.create(
                ptce=ptce, call=call, region=region, title=f"Projet {number}",
                requested_amount=Decimal("45000.50"), **answers,
            )  # fmt: skip
            if index == 2:
                candidature.state = "submitted"
                candidature.submitted_at = now
                candidature.snapshot = {"answers": {"title": candidature.title, **answers}}
                candidature.save()
            expected[candidature.pk] = {"title": f"Projet {number}", **answers}
    return expected


@pytest.mark.django_db(transaction=True)
def test_every_answer_survives_the_migration_and_migrating_back(transactional_db):
    """One round trip for both directions (each migrates the whole schema, seconds apiece):
    the rows filled before the migration are checked after it, then after migrating back."""
    executor = MigrationExecutor(connection)
    latest = _latest(executor)
    try:
        executor.migrate(BEFORE)
        expected = _fill(executor.loader.project_state(BEFORE).apps)
        MigrationExecutor(connection).migrate(latest)
        _assert_migrated(expected)
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        _assert_migrated_back(executor, expected)
    finally:
        MigrationExecutor(connection).migrate(latest)


def _assert_migrated(expected):
    """After the migration: the questionnaires, every answer, the history, the guard."""
    from ami.models import Call, Criterion, Question
    from candidatures import questionnaire
    from candidatures.models import Candidature

    # Every call has the questionnaire the columns made: same labels, same sections.
    for call in Call.objects.filter(slug__startswith="m-"):
        questions = {q.slug: (q.section.slug, q.label) for q in Question.objects.filter(call=call)}
        assert questions == LABELS
        steps = [step.slug for step in questionnaire.steps(call)]
        assert steps == [
            "presentation", "territoire", "projet", "budget", "pieces", "recapitulatif",
        ]  # fmt: skip
        assert questionnaire.budget_step(call).fields == ("requested_amount", "budget_comment")
    # Every answer moved, nothing lost nor changed.
    candidatures = {c.pk: c for c in Candidature.objects.filter(pk__in=expected)}
    assert len(candidatures) == len(expected) == 6
    for pk, answers in expected.items():
        candidature = candidatures[pk]
        assert candidature.title == answers["title"]
        assert candidature.requested_amount == Decimal("45000.50")
        for name in OLD_COLUMNS:
            assert candidature.answers.get(name, "") == answers[name], (pk, name)
        if candidature.snapshot:
            assert candidature.snapshot["answers"] == answers  # the frozen snapshot untouched
    # The audit trail keeps the history of every answer (its rows written before the migration).
    from django.apps import apps

    history_model = apps.get_model("candidatures", "CandidatureHistory")
    history = history_model.objects.filter(pgh_obj_id__in=expected)
    assert history.count() == 6 + 2  # the inserts, and the two submissions
    for row in history:
        for name in OLD_COLUMNS:
            assert row.answers.get(name, "") == expected[row.pgh_obj_id][name], (row.pk, name)
    # The guard exists from then on: the open call's grid can no longer change.
    criterion = Criterion.objects.get(call__slug="m-2026")
    with pytest.raises(IntegrityError, match="ne peuvent plus être modifiés"):
        with transaction.atomic():
            Criterion.objects.filter(pk=criterion.pk).update(weight=Decimal("30"))
    criterion.refresh_from_db()
    assert criterion.weight == Decimal("25")


def _assert_migrated_back(executor, expected):
    """After migrating back: every answer in its column again."""
    Candidature = executor.loader.project_state(BEFORE).apps.get_model(
        "candidatures", "Candidature"
    )
    assert Candidature.objects.filter(pk__in=expected).count() == len(expected)
    for candidature in Candidature.objects.filter(pk__in=expected):
        for name in OLD_COLUMNS:
            assert getattr(candidature, name) == expected[candidature.pk][name]
