"""Retention of documents: ``manage.py purge_documents`` deletes the documents of candidatures
that were not selected, DOCUMENT_RETENTION_YEARS years after their call's results were published;
nothing without ``--wet-run``; never a laureate's."""

from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from ami.models import CallPhaseChange, Phase
from candidatures import retention
from candidatures.models import Candidature, CandidatureState, Document, Message, MessageSide
from candidatures.submission import build_snapshot
from tests import factories as f
from tests.candidatures.helpers import add_document

pytestmark = pytest.mark.django_db

YEARS = 5
S = CandidatureState


@pytest.fixture(autouse=True)
def _retention(settings):
    settings.DOCUMENT_RETENTION_YEARS = YEARS


def published_call(at, **fields):
    """A call whose results were published at ``at`` (the phase log says so)."""
    call = f.CallFactory(phase=Phase.PUBLISHED, **fields)
    CallPhaseChange.objects.create(
        call=call, from_phase=Phase.DELIBERATED, to_phase=Phase.PUBLISHED, at=at
    )
    return call


def with_documents(call, state, count=1):
    candidature = f.CandidatureFactory(call=call, state=state)
    types = [f.DocumentTypeFactory(call=call) for _ in range(count)]
    for document_type in types:
        add_document(candidature, document_type)
    candidature.snapshot = build_snapshot(candidature)
    candidature.save(update_fields=["snapshot"])
    return candidature


def years_ago(years, days=0):
    return retention.years_before(timezone.now(), years) + timedelta(days=days)


@pytest.fixture
def editions():
    """An edition published N years + 1 day ago (past retention) and one N years − 1 day ago
    (not yet), each with a laureate and the other outcomes."""
    old = published_call(years_ago(YEARS, days=-1))
    recent = published_call(years_ago(YEARS, days=1))
    made = {}
    for name, call in (("old", old), ("recent", recent)):
        made[name] = {
            state: with_documents(call, state, count=2 if state == S.NOT_SELECTED else 1)
            for state in (S.LAUREATE, S.NOT_SELECTED, S.INADMISSIBLE, S.WITHDRAWN, S.DRAFT)
        }
    return made


def state_of_the_storage():
    storage = Document._meta.get_field("file").storage
    rows = list(Document.objects.order_by("pk").values_list("pk", "file", "sha256"))
    return rows, {name: storage.exists(name) for _pk, name, _sha in rows}


def run(*args) -> str:
    out = StringIO()
    call_command("purge_documents", *args, stdout=out)
    return out.getvalue()


def test_without_wet_run_nothing_changes(editions, django_capture_on_commit_callbacks):
    before = state_of_the_storage()
    assert all(before[1].values())

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run()

    assert state_of_the_storage() == before
    assert callbacks == []
    # What it would purge: the old edition's 5 documents of 4 candidatures, not the laureate's.
    assert "Simulation, rien n'est supprimé : 5 pièces de 4 candidatures" in output
    assert "--wet-run" in output


def test_wet_run_purges_past_retention_and_never_a_laureate(
    editions, django_capture_on_commit_callbacks
):
    storage = Document._meta.get_field("file").storage
    old_laureate = editions["old"][S.LAUREATE]
    purged = [c for state, c in editions["old"].items() if state != S.LAUREATE]
    purged_files = list(
        Document.objects.filter(candidature__in=purged).values_list("file", flat=True)
    )
    kept_before = set(Document.objects.exclude(candidature__in=purged).values_list("pk", flat=True))

    with django_capture_on_commit_callbacks(execute=True):
        output = run("--wet-run")

    assert "Supprimé : 5 pièces de 4 candidatures" in output
    assert set(Document.objects.values_list("pk", flat=True)) == kept_before
    assert not Document.objects.filter(candidature__in=purged).exists()
    assert not any(storage.exists(name) for name in purged_files)
    # The laureate of the old edition and every document of the recent one are untouched.
    assert old_laureate.documents.count() == 1
    for candidature in editions["recent"].values():
        for document in candidature.documents.all():
            assert storage.exists(document.file.name)
    # The candidatures stay, with the snapshot that records each document's SHA-256.
    not_selected = Candidature.objects.get(pk=editions["old"][S.NOT_SELECTED].pk)
    assert not_selected.state == S.NOT_SELECTED
    assert len(not_selected.snapshot["documents"]) == 2
    assert all(len(d["sha256"]) == 64 for d in not_selected.snapshot["documents"])


def test_a_second_wet_run_purges_nothing_more(editions, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run("--wet-run")
    after_first = state_of_the_storage()

    with django_capture_on_commit_callbacks(execute=True):
        output = run("--wet-run")

    assert state_of_the_storage() == after_first
    assert "Supprimé : 0 pièce de 0 candidature" in output


def test_the_cut_off_date_is_respected(settings):
    """A call published N years + 1 day ago is past retention; N years − 1 day ago is not."""
    past = published_call(years_ago(YEARS, days=-1))
    not_yet = published_call(years_ago(YEARS, days=1))
    assert list(retention.calls_past_retention()) == [past]
    assert not_yet not in retention.calls_past_retention()
    # The setting drives it.
    settings.DOCUMENT_RETENTION_YEARS = YEARS - 1
    assert set(retention.calls_past_retention()) == {past, not_yet}


def test_calls_not_published_are_never_purged():
    long_ago = timezone.now() - timedelta(days=365 * (YEARS + 3))
    call = f.CallFactory(
        phase=Phase.NATIONAL_REVIEW,
        opens_at=long_ago,
        closes_at=long_ago + timedelta(days=30),
        regional_review_deadline=long_ago + timedelta(days=60),
        national_review_deadline=long_ago + timedelta(days=90),
    )
    with_documents(call, S.REGIONAL_REVIEW_DONE)
    assert retention.purge_documents(wet_run=True).documents == 0
    assert Document.objects.count() == 1


def test_a_published_call_without_phase_log_counts_from_its_national_deadline():
    long_ago = timezone.now() - timedelta(days=365 * (YEARS + 2))
    call = f.CallFactory(
        phase=Phase.ARCHIVED,
        opens_at=long_ago,
        closes_at=long_ago + timedelta(days=30),
        regional_review_deadline=long_ago + timedelta(days=60),
        national_review_deadline=long_ago + timedelta(days=90),
    )
    assert list(retention.calls_past_retention()) == [call]


def test_a_laureate_by_decision_is_kept_whatever_its_state():
    from evaluation.models import Decision, DecisionOutcome, Deliberation

    call = published_call(years_ago(YEARS + 1))
    candidature = with_documents(call, S.REGIONAL_REVIEW_DONE)
    deliberation = Deliberation.objects.create(
        call=call, held_on=timezone.now().date(), created_by=f.UserFactory()
    )
    Decision.objects.create(
        candidature=candidature,
        deliberation=deliberation,
        outcome=DecisionOutcome.LAUREATE,
        granted_amount=50000,
        motivation="Retenue.",
    )
    assert retention.purge_documents(wet_run=True).documents == 0
    assert candidature.documents.count() == 1


def test_scheduled_task_runs_the_wet_purge(editions, django_capture_on_commit_callbacks):
    from ami.celery import app
    from candidatures.tasks import purge_documents

    entry = django_settings.CELERY_BEAT_SCHEDULE["purge-documents"]
    assert entry["task"] == purge_documents.name == "candidatures.purge_documents"
    assert entry["task"] in app.tasks

    with django_capture_on_commit_callbacks(execute=True):
        result = purge_documents.delay().get()

    assert result["documents"] == 5
    assert (
        not Document.objects.filter(candidature__call=editions["old"][S.DRAFT].call)
        .exclude(candidature__state=S.LAUREATE)
        .exists()
    )


# --- Message attachments ------------------------------------------------------------------------


def with_attachment(candidature, name="devis.pdf", data=b"%PDF-1.4 devis"):
    """A message of the thread with a stored attachment (written as ``post_message`` does)."""
    storage = Message._meta.get_field("attachment").storage
    stored = storage.save(f"candidatures/{candidature.pk}/messages/piece", ContentFile(data))
    return Message.objects.create(
        candidature=candidature,
        author=f.UserFactory(),
        side=MessageSide.REGIONAL,
        text="Voici le devis.",
        attachment=stored,
        attachment_name=name,
        attachment_size=len(data),
        attachment_type="application/pdf",
        attachment_sha256="a" * 64,
    )


def test_message_attachments_follow_the_documents_retention(
    editions, django_capture_on_commit_callbacks
):
    storage = Message._meta.get_field("attachment").storage
    purged = with_attachment(editions["old"][S.NOT_SELECTED])
    kept = [
        with_attachment(editions["old"][S.LAUREATE]),
        with_attachment(editions["recent"][S.NOT_SELECTED]),
    ]
    file_name = purged.attachment.name

    output = run()
    assert "Simulation, rien n'est supprimé : 5 pièces de 4 candidatures" in output
    assert "1 pièce jointe de messages, 14\u00a0octets" in output
    assert storage.exists(file_name)

    with django_capture_on_commit_callbacks(execute=True):
        output = run("--wet-run")
    assert "Supprimé : 5 pièces de 4 candidatures" in output
    assert "1 pièce jointe de messages" in output
    assert not storage.exists(file_name)
    # The message stays, with what was sent; only the file and its field are gone.
    message = Message.objects.get(pk=purged.pk)
    assert message.attachment.name == "" and message.attachment_purged_at is not None
    assert (message.text, message.attachment_name, message.attachment_size) == (
        "Voici le devis.",
        "devis.pdf",
        14,
    )
    assert message.attachment_sha256 == "a" * 64
    # Recorded in the audit trail.
    assert message.audit_events.order_by("pgh_id").last().pgh_label == "update"
    for other in kept:
        other.refresh_from_db()
        assert other.attachment_purged_at is None and storage.exists(other.attachment.name)

    output = run("--wet-run")
    assert "0 pièce jointe de messages" in output


def test_a_purged_attachment_is_named_in_the_thread_without_a_link(client, editions):
    candidature = editions["old"][S.NOT_SELECTED]
    Candidature.objects.filter(pk=candidature.pk).update(submitted_at=years_ago(YEARS + 1))
    message = with_attachment(candidature)
    retention.purge_documents(wet_run=True)
    applicant = f.PtceMembershipFactory(ptce=candidature.ptce).user
    client.force_login(applicant)
    page = client.get(reverse("candidature_messages", args=[candidature.pk])).content.decode()
    assert "Pièce jointe « devis.pdf »" in page and "la durée de conservation est écoulée" in page
    assert reverse("message_attachment", args=[candidature.pk, message.pk]) not in page
    url = reverse("message_attachment", args=[candidature.pk, message.pk])
    assert client.get(url).status_code == 404


def test_the_message_trigger_allows_only_the_attachment_purge(editions):
    message = with_attachment(editions["old"][S.NOT_SELECTED])
    rows = Message.objects.filter(pk=message.pk)
    now = timezone.now()
    refused = [
        lambda: rows.update(text="changé"),
        lambda: rows.update(attachment=""),  # without the purge stamp
        lambda: rows.update(attachment_purged_at=now),  # the file kept
        lambda: rows.update(attachment="", attachment_purged_at=now, text="changé"),
        lambda: rows.update(attachment="", attachment_purged_at=now, attachment_name="x.pdf"),
        lambda: rows.update(attachment="autre", attachment_purged_at=now),
        lambda: rows.delete(),
    ]
    for attempt in refused:
        with pytest.raises(DatabaseError, match="Cannot"), transaction.atomic():
            attempt()
    rows.update(attachment="", attachment_purged_at=now)  # the purge itself
    # Once purged, nothing more: not even the stamp again.
    for attempt in (
        lambda: rows.update(attachment_purged_at=now + timedelta(days=1)),
        lambda: rows.update(text="changé"),
        lambda: rows.delete(),
    ):
        with pytest.raises(DatabaseError, match="Cannot"), transaction.atomic():
            attempt()
    # A message that never had an attachment cannot take the stamp either.
    plain = Message.objects.create(
        candidature=message.candidature, author=message.author, side=MessageSide.REGIONAL, text="Un"
    )
    with pytest.raises(DatabaseError, match="Cannot"), transaction.atomic():
        Message.objects.filter(pk=plain.pk).update(attachment="", attachment_purged_at=now)
