"""The staff's admin: every registered page loads, search works, the actions do what they say
(export, resend, move a candidature to another region, reopen a review) and the home page
counts candidatures per call and state."""

import csv
import io
import logging
from datetime import timedelta
from decimal import Decimal

import openpyxl
import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts import invitations
from accounts.models import ImpersonationLog, RegionalCell, RegionalRole
from ami.audit import history_of
from ami.models import (
    CallPhaseChange,
    Commune,
    OutboxMessage,
    OutboxState,
    Phase,
    Qpv,
    ReminderKind,
    ReminderSent,
)
from ami.templatetags.admin_dashboard import candidature_counts
from candidatures import letters, messaging
from candidatures.models import (
    Candidature,
    CandidatureState,
    CofinancingLine,
    ComplementRequest,
    Document,
    LetterTemplate,
    PtceInvitation,
    PtceMember,
    RegionMove,
)
from evaluation import national
from evaluation.models import (
    AdmissibilityCheck,
    Assignment,
    ConflictOfInterest,
    RegionExport,
    Review,
    ReviewScore,
    ReviewState,
    ScenarioLine,
    SelectionScenario,
)
from tests import factories as f
from tests.candidatures.helpers import PDF_BYTES
from tests.evaluation import national_helpers as nh

# Admins with no row in the world below: their changelist is still checked.
NO_ROW_EXPECTED = {"accounts.accountdeletion"}


def _url(model, name, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{name}", args=args)


@pytest.fixture
def every_model(db):
    """A published edition with at least one row of every model of the platform."""
    edition = nh.national_edition({"11": ["80", "60"], "53": ["70"]})
    call = edition.call
    first, second, third = edition.candidatures
    superuser = f.UserFactory(is_staff=True, is_superuser=True)
    criterion = f.CriterionFactory(call=call)
    document_type = f.DocumentTypeFactory(call=call)
    coordinator = edition.coordinators["11"]
    cell = RegionalCell.objects.get(call=call, region__code="11")
    evaluator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.EVALUATOR).user
    Assignment.objects.create(candidature=first, evaluator=evaluator, assigned_by=coordinator)
    review = Review.objects.create(
        candidature=first,
        evaluator=evaluator,
        state=ReviewState.SUBMITTED,
        opinion="favorable",
        total=Decimal("80"),
        submitted_at=timezone.now(),
    )
    ReviewScore.objects.create(review=review, criterion=criterion, score=4)
    ConflictOfInterest.objects.create(
        candidature=second, evaluator=evaluator, source="declared", reason="Ancien salarié"
    )
    AdmissibilityCheck.objects.create(candidature=first, checked_by=coordinator)
    national.save_analysis(
        first, edition.member, score=Decimal("75"), opinion="favorable", comment="Solide."
    )
    messaging.post_message(first, coordinator, "Bonjour", SimpleUploadedFile("a.pdf", PDF_BYTES))
    messaging.post_note(first, coordinator, "Note interne de la cellule.")
    scenario = SelectionScenario.objects.create(
        call=call, name="Scénario A", created_by=edition.admin
    )
    ScenarioLine.objects.create(
        scenario=scenario,
        candidature=first,
        selected=True,
        amount=Decimal("50000"),
        score=Decimal("80"),
        rank=1,
        explanation="Meilleure note.",
    )
    nh.fix_list(edition, {first: "50000"})
    nh.publish(edition)
    Document.objects.create(
        candidature=first,
        document_type=document_type,
        file="candidatures/x/opaque",
        original_name="statuts.pdf",
        size=1024,
        content_type="application/pdf",
        sha256="0" * 64,
    )
    CofinancingLine.objects.create(candidature=first, funder="Région", amount=Decimal("1000"))
    RegionExport.objects.create(cell=cell, created_by=coordinator)
    ComplementRequest.objects.create(
        candidature=second,
        message="Merci de joindre les statuts.",
        due_at=timezone.now() + timedelta(days=7),
        requested_by=coordinator,
        answered_at=timezone.now(),
    )
    RegionMove.objects.create(
        candidature=third,
        from_region=f.region("53"),
        to_region=f.region("11"),
        reason="Siège déménagé.",
        actor=edition.admin,
    )
    PtceMember.objects.create(ptce=first.ptce, name="Coop du Val", category="ess_enterprise")
    PtceInvitation.objects.create(
        ptce=first.ptce, email="invitee@example.org", invited_by=edition.applicants[first.pk]
    )
    ImpersonationLog.objects.create(
        hijacker=superuser, hijacked=edition.applicants[first.pk], reason="Aide au dépôt."
    )
    invitations.invite(cell, "future.evaluatrice@example.org", RegionalRole.EVALUATOR, superuser)
    CallPhaseChange.objects.create(
        call=call, from_phase=Phase.DELIBERATED, to_phase=Phase.PUBLISHED, actor=superuser
    )
    commune = Commune.objects.create(code="75056", name="Paris", department=f.department("75"))
    Qpv.objects.create(code="QN07501M", name="Quartier test").communes.add(commune)
    subject, body = letters.DEFAULT_LETTERS["not_selected"]
    LetterTemplate.objects.create(call=call, kind="not_selected", subject=subject, body=body)
    ReminderSent.claim(
        kind=ReminderKind.choices[0][0],
        milestone="J-7",
        recipient=edition.member,
        related=call,
    )
    return edition, superuser


@pytest.mark.slow
def test_every_admin_page_loads_for_a_superuser(client, every_model):
    _edition, superuser = every_model
    client.force_login(superuser)
    assert client.get(reverse("admin:index")).status_code == 200
    checked_change_pages = set()
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        changelist = _url(model, "changelist")
        response = client.get(changelist)
        assert response.status_code == 200, f"{label} changelist: {response.status_code}"
        if model_admin.search_fields:
            response = client.get(changelist, {"q": "zzz-introuvable"})
            assert response.status_code == 200, f"{label} search: {response.status_code}"
        obj = model_admin.get_queryset(response.wsgi_request).first()
        if obj is None:
            assert label in NO_ROW_EXPECTED or not label.startswith(
                ("ami.", "accounts.", "candidatures.", "evaluation.")
            ), f"no row of {label} in the test world"
            continue
        response = client.get(_url(model, "change", obj.pk))
        assert response.status_code == 200, f"{label} change page: {response.status_code}"
        try:
            history = _url(model, "history", obj.pk)
        except NoReverseMatch:
            continue
        response = client.get(history)
        assert response.status_code == 200, f"{label} history: {response.status_code}"
        checked_change_pages.add(label)
    # Every model of the platform is registered, its event table included.
    from django.apps import apps

    ours = {
        m._meta.label_lower
        for m in apps.get_models()
        if m._meta.app_label in {"ami", "accounts", "candidatures", "evaluation"}
    }
    registered = {m._meta.label_lower for m in admin.site._registry}
    assert ours <= registered, sorted(ours - registered)
    assert ours - NO_ROW_EXPECTED <= checked_change_pages, sorted(
        ours - NO_ROW_EXPECTED - checked_change_pages
    )


def test_candidature_search(client, every_model):
    edition, superuser = every_model
    client.force_login(superuser)
    wanted = edition.candidatures[1]
    wanted.ptce.name = "Pôle Ardoise et Schiste"
    wanted.ptce.save()
    url = _url(Candidature, "changelist")
    found = client.get(url, {"q": "ardoise"}).context["cl"]
    assert [c.pk for c in found.result_list] == [wanted.pk]
    found = client.get(url, {"q": wanted.receipt_number}).context["cl"]
    assert [c.pk for c in found.result_list] == [wanted.pk]
    assert client.get(url, {"q": "zzz-introuvable"}).context["cl"].result_count == 0


def test_event_table_search_by_object_number(client, every_model):
    edition, superuser = every_model
    client.force_login(superuser)
    wanted = edition.candidatures[0]
    history_model = Candidature.pgh_event_models["update"]
    url = _url(history_model, "changelist")
    listed = client.get(url, {"q": str(wanted.pk)}).context["cl"].result_list
    assert listed and {e.pgh_obj_id for e in listed} == {wanted.pk}
    assert client.get(url, {"q": "pas-un-numéro"}).status_code == 200


def test_audited_records_cannot_be_deleted_from_the_admin(client, every_model):
    _edition, superuser = every_model
    client.force_login(superuser)
    from evaluation.models import Decision, DeliberationOverride

    for model in (Decision, DeliberationOverride, Candidature.pgh_event_models["update"]):
        obj = model.objects.first()
        assert client.get(_url(model, "delete", obj.pk)).status_code == 403
        assert model.objects.filter(pk=obj.pk).exists()


# --- Actions ----------------------------------------------------------------------------------


def _select(client, model, action, pks, **extra):
    return client.post(
        _url(model, "changelist"), {"action": action, "_selected_action": pks, **extra}
    )


def test_export_selection_as_xlsx_neutralises_formulas(client, world, caplog):
    staff = world.user("staff")
    world.ptce_a.name = '=HYPERLINK("http://evil.example","clic")'
    world.ptce_a.save()
    client.force_login(staff)
    with caplog.at_level(logging.INFO, logger="ami.admin"):
        response = _select(
            client,
            Candidature,
            "export_xlsx",
            [world.candidature_a.pk, world.candidature_b.pk],
        )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("PTCE", "appel", "région d'instruction", "état")
    assert len(rows) == 3  # the header and the two selected candidatures
    names = {row[0] for row in rows[1:]}
    assert "'" + world.ptce_a.name in names  # text, never a formula
    assert world.ptce_b.name in names
    assert {row[3] for row in rows[1:]} == {"déposée"}
    assert "exported 2 candidatures.Candidature row(s) as XLSX" in caplog.text


def test_export_selection_as_csv(client, world, caplog):
    client.force_login(world.user("staff"))
    world.ptce_b.name = "@SUM(A1:A9)"
    world.ptce_b.save()
    with caplog.at_level(logging.INFO, logger="ami.admin"):
        response = _select(client, Candidature, "export_csv", [world.candidature_b.pk])
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "PTCE"
    assert rows[1][0] == "'@SUM(A1:A9)"
    assert rows[1][3] == "déposée"
    assert "exported 1 candidatures.Candidature row(s) as CSV" in caplog.text


def test_resend_a_failed_notification(client, world):
    message = OutboxMessage.objects.create(
        recipient="porteur@example.org", subject="Dépôt", body_text="…", event="test"
    )
    OutboxMessage.objects.filter(pk=message.pk).update(state=OutboxState.FAILED)
    client.force_login(world.user("staff"))
    _select(client, OutboxMessage, "resend", [message.pk])
    message.refresh_from_db()
    assert message.state != OutboxState.FAILED


def test_move_a_candidature_to_another_region_with_a_reason(client, world):
    staff = world.user("staff")
    candidature = world.candidature_a
    client.force_login(staff)
    form = _select(client, Candidature, "move_to_region", [candidature.pk])
    assert form.status_code == 200
    assert 'name="reason"' in form.content.decode()
    # No reason: nothing moves, the form says why.
    refused = _select(
        client,
        Candidature,
        "move_to_region",
        [candidature.pk],
        apply="1",
        region=world.region_b.pk,
        reason="",
    )
    assert "Indiquez le motif du changement de région." in refused.content.decode()
    assert not RegionMove.objects.exists()
    done = _select(
        client,
        Candidature,
        "move_to_region",
        [candidature.pk],
        apply="1",
        region=world.region_b.pk,
        reason="Siège transféré à Rennes.",
    )
    assert done.status_code == 302
    move = RegionMove.objects.get()
    assert (move.actor, move.to_region, move.reason) == (
        staff,
        world.region_b,
        "Siège transféré à Rennes.",
    )
    candidature.refresh_from_db()
    assert candidature.region == world.region_b
    # Logged in the audit trail with the staff member as actor.
    change = next(
        c for c in history_of(candidature).changes if any(fc.name == "region" for fc in c.fields)
    )
    assert change.actor == staff


def test_move_refused_by_the_rule_is_reported(client, world):
    """A candidature whose region already handed over stays where it is, with the reason."""
    from evaluation.models import RegionHandover

    cell_a = RegionalCell.objects.get(call=world.call, region=world.region_a)
    RegionHandover.objects.create(cell=cell_a, handed_over_by=world.user("cra_coordinator"))
    client.force_login(world.user("staff"))
    response = _select(
        client,
        Candidature,
        "move_to_region",
        [world.candidature_a.pk],
        apply="1",
        region=world.region_b.pk,
        reason="Motif",
    )
    page = client.get(response["Location"]).content.decode()
    assert "a déjà transmis son instruction" in page
    assert not RegionMove.objects.exists()


def test_staff_without_the_permission_cannot_move(world):
    from django.core.exceptions import PermissionDenied

    from evaluation.admission import move_region

    plain_staff = f.UserFactory(is_staff=True)
    with pytest.raises(PermissionDenied):
        move_region(world.candidature_a, world.region_b, plain_staff, "Motif")
    plain_staff.user_permissions.add(
        Permission.objects.get(
            codename="change_candidature", content_type__app_label="candidatures"
        )
    )
    plain_staff = type(plain_staff).objects.get(pk=plain_staff.pk)  # fresh permission cache
    move_region(world.candidature_a, world.region_b, plain_staff, "Motif")
    assert RegionMove.objects.get().actor == plain_staff


def test_reopen_a_submitted_review(client, world):
    staff = world.user("staff")
    evaluator = world.user("cra_evaluator")
    Assignment.objects.create(
        candidature=world.candidature_a,
        evaluator=evaluator,
        assigned_by=world.user("cra_coordinator"),
    )
    review = Review.objects.create(
        candidature=world.candidature_a,
        evaluator=evaluator,
        state=ReviewState.SUBMITTED,
        opinion="favorable",
        submitted_at=timezone.now(),
    )
    client.force_login(staff)
    form = _select(client, Review, "reopen", [review.pk])
    assert 'name="message"' in form.content.decode()
    done = _select(
        client, Review, "reopen", [review.pk], apply="1", message="Merci de revoir le critère 2."
    )
    assert done.status_code == 302
    review.refresh_from_db()
    assert review.state == ReviewState.DRAFT and review.submitted_at is None
    email = OutboxMessage.objects.get(event="review.reopened")
    assert email.recipient == evaluator.email
    assert "Merci de revoir le critère 2." in email.body_text
    latest = history_of(review).changes[0]
    assert latest.actor == staff
    assert {fc.name for fc in latest.fields} >= {"state", "submitted_at"}


# --- Admin home -------------------------------------------------------------------------------


def test_admin_home_counts_candidatures_per_call_and_state(client, world):
    other_call = f.CallFactory(name="AMI PTCE vide")
    client.force_login(world.user("staff"))
    with CaptureQueriesContext(connection) as queries:
        counts = candidature_counts()
    assert len(queries) == 1
    rows = {row.name: row for row in counts["rows"]}
    row = rows[world.call.name]
    assert row.total == 3
    states = [value for value, _label in CandidatureState.choices]
    by_state = dict(zip(states, (cell["n"] for cell in row.cells), strict=True))
    assert by_state[CandidatureState.SUBMITTED] == 2
    assert by_state[CandidatureState.DRAFT] == 1
    assert rows[other_call.name].total == 0
    page = client.get(reverse("admin:index")).content.decode()
    assert "Candidatures par appel et par état" in page
    submitted_link = (
        f"{reverse('admin:candidatures_candidature_changelist')}"
        f"?call__id__exact={world.call.pk}&amp;state__exact=submitted"
    )
    assert submitted_link in page
