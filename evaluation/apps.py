from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    verbose_name = "évaluation"
    name = "evaluation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # A blocking conflict of interest hides the candidature (candidatures' visible_to).
        from candidatures.models import register_hiding_rule

        from .permissions import conflicted_for

        register_hiding_rule(conflicted_for)

        # What the national dashboard keeps in the cache is forgotten when its data changes.
        from . import national_cache

        national_cache.connect()

        # This app's part of « Mes données » (export, account deletion): accounts.personal_data.
        from accounts.personal_data import register

        from .personal_data import CONTRIBUTION

        register(CONTRIBUTION)

        # The call's CNA administrator manages its held bulk sends (ami.batches).
        from ami.batches import MANAGERS

        from .permissions import can_manage_batch

        if can_manage_batch not in MANAGERS:
            MANAGERS.append(can_manage_batch)

        # The CNA's « Mon espace » groups the regions by the stage of their review.
        from accounts.navigation import register_cell_stage

        from .permissions import handed_over_cells

        register_cell_stage(handed_over_cells)
        # Files under « exports/ » belong to the regions' ZIP exports (ami.orphans).
        from ami import orphans

        from .region_export import referenced_files

        orphans.register("exports/", referenced_files)
        # The region's ZIP is queued by name (evaluation.region_export): register the tasks.
        from . import tasks  # noqa: F401
