"""The audit trail (ami.audit, django-pghistory): every write of an audited model is kept with
its actor and time — through a view, a domain function, a bulk write or a bare
``QuerySet.update()`` — in event tables that refuse any UPDATE or DELETE."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ami import audit
from ami.models import Phase
from candidatures import workflow
from candidatures.models import Candidature, CandidatureState
from evaluation import admission
from evaluation.models import Decision, NationalReview
from tests import factories as f
from tests.evaluation import national_helpers as nh

pytestmark = pytest.mark.django_db

AUDITED = [
    "ami.Call",
    "ami.Criterion",
    "ami.DocumentType",
    "accounts.RegionalCell",
    "accounts.RegionalCellMembership",
    "accounts.NationalCell",
    "accounts.NationalCellMembership",
    "candidatures.Candidature",
    "candidatures.Document",
    "evaluation.Review",
    "evaluation.ReviewScore",
    "evaluation.RegionalOpinion",
    "evaluation.NationalReview",
    "evaluation.Deliberation",
    "evaluation.DeliberationLine",
    "evaluation.Decision",
    "evaluation.Assignment",
    "evaluation.ConflictOfInterest",
]


def _recent(at):
    return timezone.now() - timedelta(minutes=5) < at <= timezone.now()


def test_history_records_the_actor_of_each_change(client, world):
    """The issue's « done when »: three changes of one candidature by three actors — a view, a
    domain function, a bare update by the platform — each recorded with its actor and time."""
    candidature = world.candidature_a
    admin_of_cna = world.user("cna_admin")
    applicant = world.user("applicant")
    # 1. A domain function (as a command or a task would call it): its ``actor`` is recorded.
    admission.move_region(candidature, world.region_b, admin_of_cna, "Siège transféré.")
    # 2. A bare QuerySet.update() with no actor: the platform.
    Candidature.objects.filter(pk=candidature.pk).update(title="Titre corrigé")
    # 3. A view: the logged-in user.
    client.force_login(applicant)
    response = client.post(
        reverse("candidature_withdraw", args=[candidature.pk]), {"confirm": "oui"}
    )
    assert response.status_code == 302
    candidature.refresh_from_db()
    assert candidature.state == CandidatureState.WITHDRAWN

    changes = audit.history_of(candidature).changes  # newest first
    updates = [change for change in changes if change.action == "update"]
    by_field = {fc.name: change for change in updates for fc in change.fields}
    assert by_field["state"].actor == applicant
    assert by_field["title"].actor is None
    assert by_field["title"].actor_label == "la plateforme"
    assert by_field["region"].actor == admin_of_cna
    for change in changes:
        assert _recent(change.at)
    region = next(fc for fc in by_field["region"].fields if fc.name == "region")
    assert (region.label, region.before, region.after) == (
        "région d'instruction",
        world.region_a.name,
        world.region_b.name,
    )
    state = next(fc for fc in by_field["state"].fields if fc.name == "state")
    assert (state.before, state.after) == ("déposée", "retirée")


def test_domain_functions_record_their_actor_outside_any_request(world):
    applicant = world.user("applicant")
    workflow.transition(world.candidature_a, CandidatureState.WITHDRAWN, applicant)
    event = world.candidature_a.audit_events.order_by("-pgh_id").first()
    assert event.pgh_label == "update"
    assert event.state == CandidatureState.WITHDRAWN
    assert event.pgh_context["user"] == applicant.pk
    assert _recent(event.pgh_created_at)


def test_bulk_writes_are_recorded_with_their_actor():
    """``bulk_create`` (fixing the list) and ``bulk_update`` (publishing) are seen too."""
    edition = nh.national_edition({"11": ["80", "60"], "53": ["70"]})
    first, second, third = edition.candidatures
    nh.fix_list(edition, {first: "50000"})
    nh.publish(edition)
    history = Decision.pgh_event_models["update"].objects
    assert history.filter(pgh_label="insert").count() == 3
    published = history.filter(pgh_label="update", published_at__isnull=False)
    assert published.count() == 3
    assert {e.pgh_context["user"] for e in history.all()} == {edition.admin.pk}
    change = audit.history_of(Decision.objects.get(candidature=second)).changes[0]
    assert change.actor == edition.admin
    assert "publiée le" in {fc.label for fc in change.fields}


def test_a_change_through_a_view_records_the_logged_in_user_and_the_url(client):
    edition = nh.national_edition({"11": ["80"]})
    candidature = edition.candidatures[0]
    url = reverse("national_candidature", args=[candidature.pk])
    client.force_login(edition.member)
    response = client.post(url, {"score": "72", "opinion": "favorable", "comment": "Solide."})
    assert response.status_code == 302
    review = NationalReview.objects.get(candidature=candidature)
    event = review.audit_events.get()
    assert event.pgh_label == "insert"
    assert event.pgh_context["user"] == edition.member.pk
    assert event.pgh_context["url"] == url
    assert _recent(event.pgh_created_at)


def test_an_admin_form_records_the_staff_member(client, world):
    """No domain function here: the request's user comes from the middleware alone."""
    staff = world.user("staff")
    draft = f.CallFactory(phase=Phase.DRAFT)  # a grid changes only before the call opens
    criterion = f.CriterionFactory(call=draft, label="Ancrage territorial")
    client.force_login(staff)
    response = client.post(
        reverse("admin:ami_criterion_change", args=[criterion.pk]),
        {
            "call": draft.pk,
            "label": "Ancrage dans le territoire",
            "guidance": "",
            "weight": "2",
            "scale_min": "0",
            "scale_max": "5",
            "order": "1",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    change = audit.history_of(criterion).changes[0]
    assert change.actor == staff
    assert {fc.name: (fc.before, fc.after) for fc in change.fields}["label"] == (
        "Ancrage territorial",
        "Ancrage dans le territoire",
    )


def test_acting_nests_and_restores_the_outer_actor(world):
    outer, inner = world.user("cna_admin"), world.user("staff")
    call = world.call
    with audit.acting(outer):
        type(call).objects.filter(pk=call.pk).update(name="Un")
        with audit.acting(inner):
            type(call).objects.filter(pk=call.pk).update(name="Deux")
        type(call).objects.filter(pk=call.pk).update(name="Trois")
    type(call).objects.filter(pk=call.pk).update(name="Quatre")
    names = [
        (e.name, (e.pgh_context or {}).get("user"))
        for e in call.audit_events.filter(
            pgh_label="update", name__in=["Un", "Deux", "Trois", "Quatre"]
        ).order_by("pgh_id")
    ]
    assert names == [
        ("Un", outer.pk),
        ("Deux", inner.pk),
        ("Trois", outer.pk),
        ("Quatre", None),
    ]


def test_every_listed_model_is_audited_append_only():
    for label in AUDITED:
        model = apps.get_model(label)
        event_model = audit.event_model_of(model)
        assert event_model is not None, label
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
                [event_model._meta.db_table],
            )
            triggers = {row[0] for row in cursor.fetchall()}
        assert any("append_only" in name for name in triggers), label


def test_event_rows_cannot_be_updated_or_deleted(world):
    Candidature.objects.filter(pk=world.candidature_a.pk).update(title="Nouveau titre")
    history = world.candidature_a.audit_events
    event = history.order_by("-pgh_id").first()
    table = event._meta.db_table
    attempts = [
        lambda: history.filter(pk=event.pk).update(title="Falsifié"),
        lambda: history.filter(pk=event.pk).delete(),
        lambda: connection.cursor().execute(f'DELETE FROM "{table}"'),  # noqa: S608
        lambda: connection.cursor().execute(
            f"UPDATE \"{table}\" SET pgh_context = '{{}}'::jsonb"  # noqa: S608
        ),
    ]
    for attempt in attempts:
        with pytest.raises(DatabaseError, match="Cannot update or delete"):
            with transaction.atomic():
                attempt()
    event.refresh_from_db()
    assert event.title == "Nouveau titre"


# --- Reading: the admin's « Historique », the CNA's timeline -----------------------------------


def test_admin_history_lists_who_changed_what(client, world):
    staff = world.user("staff")
    admission.move_region(world.candidature_a, world.region_b, world.user("cna_admin"), "Motif")
    client.force_login(staff)
    url = reverse("admin:candidatures_candidature_history", args=[world.candidature_a.pk])
    page = client.get(url).content.decode()
    assert world.user("cna_admin").email in page
    assert "Région d&#x27;instruction" in page
    assert f"{world.region_a.name} → {world.region_b.name}" in page


def _national_page(client, candidature):
    return client.get(reverse("national_candidature", args=[candidature.pk]))


def test_national_candidature_page_shows_the_history_to_the_cna(client):
    edition = nh.national_edition({"11": ["80"]})
    candidature = edition.candidatures[0]
    with audit.acting(edition.admin):
        Candidature.objects.filter(pk=candidature.pk).update(requested_amount=Decimal("45000"))
    client.force_login(edition.member)
    page = _national_page(client, candidature).content.decode()
    assert "Historique des modifications" in page
    assert edition.admin.email in page
    assert "Montant demandé : 50000,00 → 45000,00" in page


def test_national_candidature_history_query_count_does_not_grow(client):
    edition = nh.national_edition({"11": ["80"]})
    candidature = edition.candidatures[0]
    with audit.acting(edition.admin):  # one change with a person, one kind of each query
        Candidature.objects.filter(pk=candidature.pk).update(title="Titre initial")
    client.force_login(edition.member)
    _national_page(client, candidature)  # warm caches (sessions, content types)
    with CaptureQueriesContext(connection) as few:
        _national_page(client, candidature)
    # Many more changes, of several kinds and by several people.
    reviewers = [f.UserFactory() for _ in range(5)]
    for number in range(25):
        with audit.acting(reviewers[number % 5]):
            Candidature.objects.filter(pk=candidature.pk).update(title=f"Titre {number}")
    for reviewer in reviewers:
        NationalReview.objects.create(
            candidature=candidature,
            reviewer=reviewer,
            score=Decimal("60"),
            opinion="reserved",
            comment="…",
        )
    # The national reviews above change the call's cached figures (evaluation.national_cache):
    # both pages are measured with the cache warm, so only the history's size differs.
    _national_page(client, candidature)
    with CaptureQueriesContext(connection) as many:
        response = _national_page(client, candidature)
    assert response.content.decode().count("Titre 2") >= 5
    assert len(many) == len(few), [q["sql"][:80] for q in many.captured_queries]
