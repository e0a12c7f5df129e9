# The database guard of DESIGN §4: a call's questionnaire, grid and required documents change
# only while the call is in draft. Added after the existing answers were moved into the
# questionnaire of every call (candidatures 0005 runs before this one).

import pgtrigger.compiler
import pgtrigger.migrations
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("ami", "0010_questionnaire"),
    ]

    operations = [
        pgtrigger.migrations.AddTrigger(
            model_name="criterion",
            trigger=pgtrigger.compiler.Trigger(
                name="criterion_frozen_once_open",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="\nDECLARE\n    call_phase text;\n    call_name text;\nBEGIN\n    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = OLD.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = NEW.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n        \n    END IF;\n    IF TG_OP = 'DELETE' THEN\n        RETURN OLD;\n    END IF;\n    RETURN NEW;\nEND;\n",
                    hash="cef451487a41097850fdd02dcba6d46cad586807",
                    operation="INSERT OR UPDATE OR DELETE",
                    pgid="pgtrigger_criterion_frozen_once_open_d9c5a",
                    table="ami_criterion",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="documenttype",
            trigger=pgtrigger.compiler.Trigger(
                name="document_type_frozen_once_open",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="\nDECLARE\n    call_phase text;\n    call_name text;\nBEGIN\n    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = OLD.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = NEW.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n        \n    END IF;\n    IF TG_OP = 'DELETE' THEN\n        RETURN OLD;\n    END IF;\n    RETURN NEW;\nEND;\n",
                    hash="d87aefc8d71eec0358e104b085a56fc201cb5852",
                    operation="INSERT OR UPDATE OR DELETE",
                    pgid="pgtrigger_document_type_frozen_once_open_c98ec",
                    table="ami_documenttype",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="section",
            trigger=pgtrigger.compiler.Trigger(
                name="section_frozen_once_open",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="\nDECLARE\n    call_phase text;\n    call_name text;\nBEGIN\n    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = OLD.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = NEW.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n        \n    END IF;\n    IF TG_OP = 'DELETE' THEN\n        RETURN OLD;\n    END IF;\n    RETURN NEW;\nEND;\n",
                    hash="e5c9d777e3bebc55b5d1d67b3c2013849c24f80b",
                    operation="INSERT OR UPDATE OR DELETE",
                    pgid="pgtrigger_section_frozen_once_open_d9e9c",
                    table="ami_section",
                    when="BEFORE",
                ),
            ),
        ),
        pgtrigger.migrations.AddTrigger(
            model_name="question",
            trigger=pgtrigger.compiler.Trigger(
                name="question_frozen_once_open",
                sql=pgtrigger.compiler.UpsertTriggerSql(
                    func="\nDECLARE\n    call_phase text;\n    call_name text;\nBEGIN\n    IF TG_OP IN ('UPDATE', 'DELETE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = OLD.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n    END IF;\n    IF TG_OP IN ('INSERT', 'UPDATE') THEN\n        SELECT phase, name INTO call_phase, call_name FROM ami_call WHERE id = NEW.call_id;\n        IF call_phase IS NOT NULL AND call_phase <> 'draft' THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = format(\n                'L''appel « %s » est ouvert : son questionnaire, sa grille d''évaluation et ses '\n                'pièces demandées ne peuvent plus être modifiés.', call_name);\n        END IF;\n        IF NEW.call_id IS DISTINCT FROM (\n            SELECT call_id FROM ami_section WHERE id = NEW.section_id) THEN\n            RAISE EXCEPTION USING ERRCODE = 'check_violation',\n                MESSAGE = 'Une question appartient à l''appel de sa rubrique.';\n        END IF;\n    END IF;\n    IF TG_OP = 'DELETE' THEN\n        RETURN OLD;\n    END IF;\n    RETURN NEW;\nEND;\n",
                    hash="4ac8738a45c4a17f93f260964776aba279fec75b",
                    operation="INSERT OR UPDATE OR DELETE",
                    pgid="pgtrigger_question_frozen_once_open_06174",
                    table="ami_question",
                    when="BEFORE",
                ),
            ),
        ),
    ]
