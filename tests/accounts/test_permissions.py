"""Every role against every screen and every scoping queryset (extend the tables as screens
are added)."""

import copy

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from candidatures import letters
from candidatures.models import Candidature, Ptce
from candidatures.permissions import can_view_candidature
from tests.roles import (
    ADMIN_LOGIN,
    LOGIN,
    NOT_FOUND,
    OK,
    ROLES,
    assert_outcome,
)

ALL_OK = dict.fromkeys(ROLES, OK)
NATIONAL_ROLES = ("cna_member", "cna_admin", "staff")
SIGNED_IN = {role: (LOGIN if role == "anonymous" else OK) for role in ROLES}
STAFF_ONLY_ADMIN = {role: (OK if role == "staff" else ADMIN_LOGIN) for role in ROLES}

APPLICANT_ONLY = {
    role: (LOGIN if role == "anonymous" else OK if role == "applicant" else NOT_FOUND)
    for role in ROLES
}
# A submitted candidature of region A: its team, region A's cell, the CNA and staff.
CANDIDATURE_A = {
    "anonymous": LOGIN,
    "applicant": OK,
    "other_applicant": NOT_FOUND,
    "cra_evaluator": OK,
    "cra_coordinator": OK,
    "other_region_evaluator": NOT_FOUND,
    "cna_member": OK,
    "cna_admin": OK,
    "staff": OK,
}

COORDINATOR_ONLY = {
    role: (LOGIN if role == "anonymous" else OK if role == "cra_coordinator" else NOT_FOUND)
    for role in ROLES
}
# The region's consolidation: its coordinators, the CNA (read-only) and staff (read-only).
CONSOLIDATION_A = {
    **COORDINATOR_ONLY,
    "cna_member": OK,
    "cna_admin": OK,
    "staff": OK,
}
CNA_ADMIN_ONLY = {
    role: (LOGIN if role == "anonymous" else OK if role == "cna_admin" else NOT_FOUND)
    for role in ROLES
}


def cell_a(w):
    from accounts.models import RegionalCell

    return RegionalCell.objects.get(call=w.call, region=w.region_a).pk


# The national screens: the CNA of the call and the staff (read-only); nobody else.
NATIONAL = {
    role: (LOGIN if role == "anonymous" else OK if role in NATIONAL_ROLES else NOT_FOUND)
    for role in ROLES
}
CNA_ONLY = {**NATIONAL, "staff": NOT_FOUND}
PUBLIC_NOT_FOUND = dict.fromkeys(ROLES, NOT_FOUND)


def national(w):
    """Bring the world's call to a fixed deliberation (once per world): both candidatures
    handed over with an opinion, a scenario, the session, the list fixed by the CNA
    administrator. Returns the objects the national screens need."""
    if getattr(w, "national", None) is None:
        from datetime import date
        from decimal import Decimal

        from ami.models import Phase
        from candidatures.models import CandidatureState
        from evaluation import deliberation, scenarios
        from evaluation.models import Decision, Opinion, RegionalOpinion

        for candidature in (w.candidature_a, w.candidature_b):
            candidature.state = CandidatureState.REGIONAL_REVIEW_DONE
            candidature.save(update_fields=["state"])
            RegionalOpinion.objects.create(
                candidature=candidature,
                consolidated_score=Decimal("70"),
                opinion=Opinion.FAVORABLE,
                motivation="Bon dossier.",
                written_by=w.user("cra_coordinator"),
            )
        w.call.phase = Phase.NATIONAL_REVIEW
        w.call.save(update_fields=["phase"])
        admin = w.user("cna_admin")
        scenario = scenarios.save(w.call, admin, "Permissions", scenarios.Parameters())
        session = deliberation.open_deliberation(
            w.call, admin, held_on=date(2026, 11, 20), members_present=[admin], scenario=scenario
        )
        line = session.lines.get(candidature=w.candidature_a)
        deliberation.fix_list(session, admin)
        from ami import batches

        w.national = {
            "scenario": scenario.pk,
            "line": line.pk,
            "decision": Decision.objects.get(candidature=w.candidature_a).pk,
            "batch": batches.start("Envoi de test", "results", admin, w.call).pk,
        }
    return w.national


def message_a(w):
    """A message with an attachment in candidature A's thread (once per world)."""
    if getattr(w, "message_a", None) is None:
        from django.core.files.uploadedfile import SimpleUploadedFile

        from candidatures import messaging
        from tests.candidatures.helpers import PDF_BYTES

        attachment = SimpleUploadedFile("devis.pdf", PDF_BYTES)
        w.message_a = messaging.post_message(
            w.candidature_a, w.user("cra_coordinator"), "Bonjour", attachment
        ).pk
    return w.message_a


def unsubscribe_link(w):
    from accounts.preferences import REMINDER, unsubscribe_token

    return unsubscribe_token(w.user("applicant"), REMINDER)


SCREENS = [
    ("home", lambda w: reverse("home"), ALL_OK),
    ("call", lambda w: reverse("call_detail", args=[w.call.slug]), ALL_OK),
    ("accessibility", lambda w: reverse("accessibility"), ALL_OK),
    ("legal", lambda w: reverse("legal"), ALL_OK),
    ("personal_data", lambda w: reverse("personal_data"), ALL_OK),
    ("dashboard", lambda w: reverse("dashboard"), SIGNED_IN),
    ("email", lambda w: reverse("account_email"), SIGNED_IN),
    ("password_change", lambda w: reverse("account_change_password"), SIGNED_IN),
    ("email_preferences", lambda w: reverse("email_preferences"), SIGNED_IN),
    # « Mes données »: each person's own data only, whatever the role (the deletion screen
    # shows a role's refusals instead of the form, still a 200).
    ("my_data", lambda w: reverse("my_data"), SIGNED_IN),
    ("my_data_download", lambda w: reverse("my_data_download"), SIGNED_IN),
    ("account_delete", lambda w: reverse("account_delete"), SIGNED_IN),
    # The link of an email: the signed token is the credential, whoever opens it.
    ("unsubscribe", lambda w: reverse("unsubscribe", args=[unsubscribe_link(w)]), ALL_OK),
    ("admin", lambda w: reverse("admin:index"), STAFF_ONLY_ADMIN),
    ("applicant_dashboard", lambda w: reverse("applicant_dashboard"), SIGNED_IN),
    ("ptce_create", lambda w: reverse("ptce_create"), SIGNED_IN),
    ("ptce_detail", lambda w: reverse("ptce_detail", args=[w.ptce_a.pk]), APPLICANT_ONLY),
    ("ptce_edit", lambda w: reverse("ptce_edit", args=[w.ptce_a.pk]), APPLICANT_ONLY),
    ("ptce_members", lambda w: reverse("ptce_members", args=[w.ptce_a.pk]), APPLICANT_ONLY),
    ("ptce_team", lambda w: reverse("ptce_team", args=[w.ptce_a.pk]), APPLICANT_ONLY),
    (
        "candidature_detail",
        lambda w: reverse("candidature_detail", args=[w.candidature_a.pk]),
        CANDIDATURE_A,
    ),
    ("dossier", lambda w: reverse("dossier", args=[w.candidature_a.pk]), CANDIDATURE_A),
    ("dossier_pdf", lambda w: reverse("dossier_pdf", args=[w.candidature_a.pk]), CANDIDATURE_A),
    (
        "candidature_step",
        lambda w: reverse("candidature_step", args=[w.candidature_a.pk, "presentation"]),
        APPLICANT_ONLY,
    ),
    (
        "candidature_completeness",
        lambda w: reverse("candidature_completeness", args=[w.candidature_a.pk]),
        APPLICANT_ONLY,
    ),
    (
        "candidature_receipt",
        lambda w: reverse("candidature_receipt", args=[w.candidature_a.pk]),
        APPLICANT_ONLY,
    ),
    ("evaluator_worklist", lambda w: reverse("evaluator_worklist"), SIGNED_IN),
    ("cell_home", lambda w: reverse("cell_home", args=[cell_a(w)]), COORDINATOR_ONLY),
    ("cell_members", lambda w: reverse("cell_members", args=[cell_a(w)]), COORDINATOR_ONLY),
    # The thread with the applicant (issue 15): whoever sees the candidature reads it.
    (
        "candidature_messages",
        lambda w: reverse("candidature_messages", args=[w.candidature_a.pk]),
        CANDIDATURE_A,
    ),
    (
        "message_attachment",
        lambda w: reverse("message_attachment", args=[w.candidature_a.pk, message_a(w)]),
        CANDIDATURE_A,
    ),
    # The internal notes: region A's cell and the CNA; never the applicant, nor staff as such.
    (
        "candidature_notes",
        lambda w: reverse("candidature_notes", args=[w.candidature_a.pk]),
        {**CNA_ONLY, "cra_evaluator": OK, "cra_coordinator": OK},
    ),
    (
        "cell_assignments",
        lambda w: reverse("cell_assignments", args=[cell_a(w)]),
        COORDINATOR_ONLY,
    ),
    (
        "admissibility",
        lambda w: reverse("admissibility", args=[w.candidature_a.pk]),
        COORDINATOR_ONLY,
    ),
    (
        "complements_request",
        lambda w: reverse("complements_request", args=[w.candidature_a.pk]),
        COORDINATOR_ONLY,
    ),
    (
        "consolidation_list",
        lambda w: reverse("consolidation_list", args=[cell_a(w)]),
        CONSOLIDATION_A,
    ),
    (
        "regional_opinion",
        lambda w: reverse("regional_opinion", args=[w.candidature_a.pk]),
        CONSOLIDATION_A,
    ),
    ("region_exports", lambda w: reverse("region_exports", args=[cell_a(w)]), COORDINATOR_ONLY),
    (
        "consolidation_export",
        lambda w: reverse("consolidation_export", args=[cell_a(w)]),
        CONSOLIDATION_A,
    ),
    ("region_move", lambda w: reverse("region_move", args=[w.candidature_a.pk]), CNA_ADMIN_ONLY),
    # National review (CNA).
    ("national_dashboard", lambda w: reverse("national_dashboard", args=[w.call.pk]), NATIONAL),
    (
        "national_candidature",
        lambda w: reverse("national_candidature", args=[w.candidature_a.pk]),
        NATIONAL,
    ),
    ("selection_assistant", lambda w: reverse("selection_assistant", args=[w.call.pk]), CNA_ONLY),
    ("scenario_list", lambda w: reverse("scenario_list", args=[w.call.pk]), NATIONAL),
    (
        "scenario_detail",
        lambda w: reverse("scenario_detail", args=[national(w)["scenario"]]),
        NATIONAL,
    ),
    ("deliberation", lambda w: reverse("deliberation", args=[w.call.pk]), NATIONAL),
    (
        "deliberation_line",
        lambda w: reverse("deliberation_line", args=[w.call.pk, national(w)["line"]]),
        NATIONAL,
    ),
    (
        "decision_list",
        lambda w: (national(w), reverse("decision_list", args=[w.call.pk]))[1],
        NATIONAL,
    ),
    (
        "decision_edit",
        lambda w: reverse("decision_edit", args=[w.call.pk, national(w)["decision"]]),
        NATIONAL,
    ),
    (
        "batch_list",
        lambda w: (national(w), reverse("batch_list", args=[w.call.pk]))[1],
        CNA_ADMIN_ONLY,
    ),
    (
        "batch_detail",
        lambda w: reverse("batch_detail", args=[w.call.pk, national(w)["batch"]]),
        CNA_ADMIN_ONLY,
    ),
    (
        "decision_table",
        lambda w: (national(w), reverse("decision_table", args=[w.call.pk]))[1],
        NATIONAL,
    ),
    (
        "publication",
        lambda w: (national(w), reverse("publication", args=[w.call.pk]))[1],
        CNA_ADMIN_ONLY,
    ),
    # Public results: nothing published in this world.
    ("call_laureates", lambda w: reverse("call_laureates", args=[w.call.slug]), PUBLIC_NOT_FOUND),
    (
        "call_subsidies_csv",
        lambda w: reverse("call_subsidies_csv", args=[w.call.slug]),
        PUBLIC_NOT_FOUND,
    ),
    (
        "admin_email_catalogue",
        lambda w: reverse("admin:ami_outboxmessage_catalogue"),
        STAFF_ONLY_ADMIN,
    ),
    (
        "admin_email_preview",
        lambda w: reverse(
            "admin:ami_outboxmessage_catalogue_preview", args=["candidature.submitted"]
        ),
        STAFF_ONLY_ADMIN,
    ),
    (
        "admin_call",
        lambda w: reverse("admin:ami_call_change", args=[w.call.pk]),
        STAFF_ONLY_ADMIN,
    ),
]


@pytest.fixture(scope="module")
def _sessions(_module_world, django_db_blocker):
    """One signed-in session per role for the module's 550 requests (instead of a login per
    case), made with ``force_login`` in the module's transaction, after its world: each case's
    own writes to a session are rolled back with the rest of its transaction."""
    sessions = {}
    with django_db_blocker.unblock():
        for role in ROLES:
            user = _module_world.user(role)
            if user is not None:
                client = Client()
                client.force_login(copy.deepcopy(user))  # the world's objects stay as built
                sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return sessions


@pytest.fixture
def signed_in(client, world, _sessions):
    """``signed_in(role)``: the test client with that role's session (none for anonymous)."""

    def sign_in(role):
        if role in _sessions:
            client.cookies[settings.SESSION_COOKIE_NAME] = _sessions[role]
        return client

    return sign_in


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("screen", SCREENS, ids=[s[0] for s in SCREENS])
def test_screen_access(signed_in, world, role, screen):
    _name, url_of, expected = screen
    url = url_of(world)
    response = signed_in(role).get(url)
    assert_outcome(response, expected[role], url, role)


# POST-only screens: what each role gets when it sends the form.
POSTED_SCREENS = [
    # The letter preview of unsaved edits (admin, issue 16): staff only.
    (
        "admin_letter_preview_draft",
        lambda w: reverse("admin:candidatures_lettertemplate_preview_draft"),
        lambda w: {
            "call": w.call.pk,
            "kind": "laureate",
            "subject": "Objet {porteur}",
            "body": "Texte. " + letters.APPEAL_PARAGRAPH,
        },
        STAFF_ONLY_ADMIN,
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("screen", POSTED_SCREENS, ids=[s[0] for s in POSTED_SCREENS])
def test_posted_screen_access(signed_in, world, role, screen):
    _name, url_of, data_of, expected = screen
    url = url_of(world)
    response = signed_in(role).post(url, data_of(world))
    assert_outcome(response, expected[role], url, role)


# Which candidatures each role sees (DESIGN §3): never a draft of someone else, never another
# region's, everything of the call for the CNA once submitted.
VISIBLE_CANDIDATURES = {
    "anonymous": set(),
    "applicant": {"candidature_a"},
    "other_applicant": {"candidature_b"},
    "cra_evaluator": {"candidature_a"},
    "cra_coordinator": {"candidature_a"},
    "other_region_evaluator": {"candidature_b"},
    "cna_member": {"candidature_a", "candidature_b"},
    "cna_admin": {"candidature_a", "candidature_b"},
    "staff": {"candidature_a", "candidature_b", "draft_a"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_candidatures_visible_to(world, role):
    from django.contrib.auth.models import AnonymousUser

    user = world.user(role) or AnonymousUser()
    names = {"candidature_a", "candidature_b", "draft_a"}
    expected = {getattr(world, name).pk for name in VISIBLE_CANDIDATURES[role]}
    visible = set(Candidature.objects.visible_to(user).values_list("pk", flat=True))
    assert visible == expected
    for name in names:
        candidature = getattr(world, name)
        assert can_view_candidature(user, candidature) == (candidature.pk in expected)


VISIBLE_PTCES = {
    "anonymous": set(),
    "applicant": {"ptce_a"},
    "other_applicant": {"ptce_b"},
    "cra_evaluator": set(),
    "cra_coordinator": set(),
    "other_region_evaluator": set(),
    "cna_member": set(),
    "cna_admin": set(),
    "staff": {"ptce_a", "ptce_b", "ptce_c"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
def test_ptces_visible_to(world, role):
    from django.contrib.auth.models import AnonymousUser

    user = world.user(role) or AnonymousUser()
    visible = Ptce.objects.visible_to(user)
    if role == "staff":
        assert visible.count() == Ptce.objects.count()
    else:
        expected = {getattr(world, name).pk for name in VISIBLE_PTCES[role]}
        assert set(visible.values_list("pk", flat=True)) == expected


def test_every_role_is_in_every_table():
    for _name, _url, expected in SCREENS:
        assert set(expected) == set(ROLES)
    assert set(VISIBLE_CANDIDATURES) == set(ROLES)
    assert set(VISIBLE_PTCES) == set(ROLES)
