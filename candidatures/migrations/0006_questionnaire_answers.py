# The answers become data (issue 14): the written answers of ``Candidature`` become the
# questionnaire of every existing call (same labels and help texts as the forms showed), every
# answer is moved into ``Candidature.answers`` under its question's slug, then the old columns
# are dropped. The title and the requested amount stay typed columns. Reversible: migrating back
# puts every answer back in its column.

import pgtrigger
import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations, models

# The audit trail's rows are append-only (a trigger refuses updates): the move of their answers
# is the one write this migration lets through, so that the history of every answer is kept.
HISTORY_APPEND_ONLY = "candidatures.CandidatureHistory:append_only"

# The questionnaire the columns made, as the applicant's forms showed it (label, help text).
LEGACY_SECTIONS = (
    ("presentation", "Présentation", "questions", (
        ("summary", "Résumé du projet",
         "En quelques lignes : ce que le PTCE fera avec ce financement.", True),
    )),
    ("territoire", "Territoire et partenaires", "questions", (
        ("territory_description", "Territoire et ses enjeux",
         "Le territoire du PTCE, ses besoins et ses ressources.", True),
        ("partners_description", "Coopération entre les membres",
         "Comment les membres coopèrent, ce qu'ils mutualisent.", True),
    )),
    ("projet", "Projet", "questions", (
        ("lever_governance", "Animation territoriale et gouvernance",
         "Gouvernance partagée, animation du territoire, implication des membres.", True),
        ("lever_engineering",
         "Ingénierie de projet et résultats attendus (économiques, sociaux, écologiques)",
         "Plan d'action, moyens, résultats attendus et indicateurs.", True),
        ("lever_research", "Recherche et innovation",
         "Liens avec la recherche, innovations sociales ou techniques.", True),
        ("lever_viability", "Viabilité économique",
         "Modèle économique, perspectives d'autonomie financière.", True),
    )),
    ("budget", "Budget", "budget", (
        ("budget_comment", "Commentaire sur le budget",
         "Facultatif : précisions sur le budget et les cofinancements.", False),
    )),
)  # fmt: skip
LEGACY_FIELDS = [slug for *_s, questions in LEGACY_SECTIONS for slug, *_q in questions]


def _move(model, to_answers: bool) -> None:
    fields = ["answers"] if to_answers else LEGACY_FIELDS
    batch = []
    for row in model.objects.only("pk", "answers", *LEGACY_FIELDS).iterator(chunk_size=500):
        if to_answers:
            row.answers = {name: getattr(row, name) for name in LEGACY_FIELDS if getattr(row, name)}
        else:
            for name in LEGACY_FIELDS:
                value = (row.answers or {}).get(name, "")
                setattr(row, name, value if isinstance(value, str) else str(value))
        batch.append(row)
        if len(batch) >= 500:
            model.objects.bulk_update(batch, fields)
            batch = []
    model.objects.bulk_update(batch, fields)


def forward(apps, schema_editor):
    Call = apps.get_model("ami", "Call")
    Section = apps.get_model("ami", "Section")
    Question = apps.get_model("ami", "Question")
    Candidature = apps.get_model("candidatures", "Candidature")
    for call in Call.objects.all():
        for section_order, (slug, title, kind, questions) in enumerate(LEGACY_SECTIONS, 1):
            section = Section.objects.create(
                call=call, slug=slug, title=title, kind=kind, order=section_order
            )
            Question.objects.bulk_create(
                Question(
                    call=call, section=section, slug=question_slug, label=label,
                    help_text=help_text, kind="long_text", required=required, order=order,
                )
                for order, (question_slug, label, help_text, required) in enumerate(questions, 1)
            )  # fmt: skip
    _move(Candidature, to_answers=True)
    with pgtrigger.ignore(HISTORY_APPEND_ONLY):
        _move(apps.get_model("candidatures", "CandidatureHistory"), to_answers=True)


def backward(apps, schema_editor):
    _move(apps.get_model("candidatures", "Candidature"), to_answers=False)
    with pgtrigger.ignore(HISTORY_APPEND_ONLY):
        _move(apps.get_model("candidatures", "CandidatureHistory"), to_answers=False)


class Migration(migrations.Migration):
    dependencies = [
        ("candidatures", "0005_ptce_history"),
        ("ami", "0010_questionnaire"),
    ]
    # The questionnaires of open calls are written before the guard that freezes them exists.
    run_before = [("ami", "0011_frozen_once_open")]

    operations = [
        pgtrigger.migrations.RemoveTrigger(
            model_name="candidature",
            name="insert_insert",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="candidature",
            name="update_update",
        ),
        pgtrigger.migrations.RemoveTrigger(
            model_name="candidature",
            name="delete_delete",
        ),
        migrations.AddField(
            model_name="candidature",
            name="answers",
            field=models.JSONField(blank=True, default=dict, verbose_name="réponses"),
        ),
        migrations.AddField(
            model_name="candidaturehistory",
            name="answers",
            field=models.JSONField(blank=True, default=dict, verbose_name="réponses"),
        ),
        migrations.RunPython(forward, backward),
        migrations.RemoveField(
            model_name="candidature",
            name="budget_comment",
        ),
        migrations.RemoveField(
            model_name="candidature",
            name="lever_engineering",
        ),
        migrations.RemoveField(
            model_name="candidature",
            name="lever_governance",
        ),
        migrations.RemoveField(
            model_name="candidature",
            name="lever_research",
        ),
        migrations.RemoveField(
            model_name="candidature",
            name="lever_viability",
        ),
        migrations.RemoveField(
            model_name="candidature",
            name="partners_description",
        ),
        migrations.RemoveField(
            model_name="candidature",
            name="summary",
        ),
        migrations.RemoveField(
            model_name="candidature",
            name="territory_description",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="budget_comment",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="lever_engineering",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="lever_governance",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="lever_research",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="lever_viability",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="partners_description",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="summary",
        ),
        migrations.RemoveField(
            model_name="candidaturehistory",
            name="territory_description",
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="candidature",
            trigger=pgtrigger.compiler.Trigger(
                name="insert_insert",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "candidatures_candidaturehistory" ("answers", "call_id", "cloned_from_id", "created_at", "current_step", "id", "in_qpv", "is_rural", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "ptce_id", "receipt_number", "region_id", "requested_amount", "state", "submitted_at", "title", "updated_at") VALUES (NEW."answers", NEW."call_id", NEW."cloned_from_id", NEW."created_at", NEW."current_step", NEW."id", NEW."in_qpv", NEW."is_rural", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'insert\', NEW."id", NEW."ptce_id", NEW."receipt_number", NEW."region_id", NEW."requested_amount", NEW."state", NEW."submitted_at", NEW."title", NEW."updated_at"); RETURN NULL;',
                    hash="4345b7b495b378e045e2196b117eec7fb858c4ae",
                    operation="INSERT",
                    pgid="pgtrigger_insert_insert_ea3e9",
                    table="candidatures_candidature",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="candidature",
            trigger=pgtrigger.compiler.Trigger(
                name="update_update",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    condition='WHEN (OLD."answers" IS DISTINCT FROM (NEW."answers") OR OLD."call_id" IS DISTINCT FROM (NEW."call_id") OR OLD."cloned_from_id" IS DISTINCT FROM (NEW."cloned_from_id") OR OLD."created_at" IS DISTINCT FROM (NEW."created_at") OR OLD."current_step" IS DISTINCT FROM (NEW."current_step") OR OLD."id" IS DISTINCT FROM (NEW."id") OR OLD."in_qpv" IS DISTINCT FROM (NEW."in_qpv") OR OLD."is_rural" IS DISTINCT FROM (NEW."is_rural") OR OLD."ptce_id" IS DISTINCT FROM (NEW."ptce_id") OR OLD."receipt_number" IS DISTINCT FROM (NEW."receipt_number") OR OLD."region_id" IS DISTINCT FROM (NEW."region_id") OR OLD."requested_amount" IS DISTINCT FROM (NEW."requested_amount") OR OLD."state" IS DISTINCT FROM (NEW."state") OR OLD."submitted_at" IS DISTINCT FROM (NEW."submitted_at") OR OLD."title" IS DISTINCT FROM (NEW."title") OR OLD."updated_at" IS DISTINCT FROM (NEW."updated_at"))',
                    func='INSERT INTO "candidatures_candidaturehistory" ("answers", "call_id", "cloned_from_id", "created_at", "current_step", "id", "in_qpv", "is_rural", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "ptce_id", "receipt_number", "region_id", "requested_amount", "state", "submitted_at", "title", "updated_at") VALUES (NEW."answers", NEW."call_id", NEW."cloned_from_id", NEW."created_at", NEW."current_step", NEW."id", NEW."in_qpv", NEW."is_rural", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'update\', NEW."id", NEW."ptce_id", NEW."receipt_number", NEW."region_id", NEW."requested_amount", NEW."state", NEW."submitted_at", NEW."title", NEW."updated_at"); RETURN NULL;',
                    hash="7dad9be5735adda12d945c91b1d1e2ee9b9c3001",
                    operation="UPDATE",
                    pgid="pgtrigger_update_update_72fdc",
                    table="candidatures_candidature",
                    when="AFTER",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="candidature",
            trigger=pgtrigger.compiler.Trigger(
                name="delete_delete",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func='INSERT INTO "candidatures_candidaturehistory" ("answers", "call_id", "cloned_from_id", "created_at", "current_step", "id", "in_qpv", "is_rural", "pgh_context", "pgh_context_id", "pgh_created_at", "pgh_label", "pgh_obj_id", "ptce_id", "receipt_number", "region_id", "requested_amount", "state", "submitted_at", "title", "updated_at") VALUES (OLD."answers", OLD."call_id", OLD."cloned_from_id", OLD."created_at", OLD."current_step", OLD."id", OLD."in_qpv", OLD."is_rural", COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_metadata\', TRUE), \'\'), NULL)::JSONB, COALESCE(NULLIF(CURRENT_SETTING(\'pghistory.context_id\', TRUE), \'\'), NULL)::UUID, NOW(), \'delete\', OLD."id", OLD."ptce_id", OLD."receipt_number", OLD."region_id", OLD."requested_amount", OLD."state", OLD."submitted_at", OLD."title", OLD."updated_at"); RETURN NULL;',
                    hash="7dcc779874a0b1127f8b99c118517e0eca9d8069",
                    operation="DELETE",
                    pgid="pgtrigger_delete_delete_a5c74",
                    table="candidatures_candidature",
                    when="AFTER",
                ),
            ),
        ),
    ]
