"""Routes of the national review (CNA): a candidature's change of region, dashboard, analyses,
assistant and scenarios, deliberation, decisions and publication."""

from django.urls import path

from ..views import deliberation, national, region_move

urlpatterns = [
    path(
        "candidatures/<int:pk>/changer-de-region/",
        region_move.region_move,
        name="region_move",
    ),
    path("national/<int:call_pk>/", national.national_dashboard, name="national_dashboard"),
    path(
        "national/candidatures/<int:pk>/",
        national.national_candidature,
        name="national_candidature",
    ),
    path(
        "national/<int:call_pk>/assistant/",
        national.selection_assistant,
        name="selection_assistant",
    ),
    path("national/<int:call_pk>/scenarios/", national.scenario_list, name="scenario_list"),
    path("national/scenarios/<int:pk>/", national.scenario_detail, name="scenario_detail"),
    path(
        "national/<int:call_pk>/deliberation/",
        deliberation.deliberation_view,
        name="deliberation",
    ),
    path(
        "national/<int:call_pk>/deliberation/lignes/<int:line_pk>/",
        deliberation.deliberation_line,
        name="deliberation_line",
    ),
    path(
        "national/<int:call_pk>/deliberation/scenario/",
        deliberation.deliberation_apply_scenario,
        name="deliberation_apply_scenario",
    ),
    path(
        "national/<int:call_pk>/deliberation/arreter/",
        deliberation.deliberation_fix,
        name="deliberation_fix",
    ),
    path(
        "national/<int:call_pk>/deliberation/rouvrir/",
        deliberation.deliberation_reopen,
        name="deliberation_reopen",
    ),
    path("national/<int:call_pk>/decisions/", deliberation.decision_list, name="decision_list"),
    path(
        "national/<int:call_pk>/decisions/tableau/",
        deliberation.decision_table,
        name="decision_table",
    ),
    path(
        "national/<int:call_pk>/decisions/lot/",
        deliberation.decision_bulk,
        name="decision_bulk",
    ),
    path(
        "national/<int:call_pk>/decisions/<int:pk>/enregistrer/",
        deliberation.decision_autosave,
        name="decision_autosave",
    ),
    path(
        "national/<int:call_pk>/decisions/<int:pk>/",
        deliberation.decision_edit,
        name="decision_edit",
    ),
    path("national/<int:call_pk>/envois/", deliberation.batch_list, name="batch_list"),
    path(
        "national/<int:call_pk>/envois/<int:batch_pk>/",
        deliberation.batch_detail,
        name="batch_detail",
    ),
    path(
        "national/<int:call_pk>/publication/",
        deliberation.publication_view,
        name="publication",
    ),
]
