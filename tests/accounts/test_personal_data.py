"""« Mes données »: the export of everything held about a person, account deletion (anonymised,
candidatures kept), its refusals, and the screens."""

import html
import io
import json
import zipfile
from datetime import timedelta
from decimal import Decimal

import pytest
from allauth.account.models import EmailAddress
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import personal_data
from accounts.models import (
    AccountDeletion,
    ImpersonationLog,
    NationalRole,
    RegionalCellMembership,
    RegionalRole,
    User,
)
from ami.models import OutboxMessage, OutboxState, Phase
from candidatures.models import (
    CandidatureEvent,
    CandidatureState,
    CofinancingLine,
    PtceInvitation,
    PtceMembership,
)
from evaluation.models import Assignment, Review, ReviewState
from tests import factories as f
from tests.candidatures.helpers import add_document

pytestmark = pytest.mark.django_db

OWN_PDF = b"%PDF-1.4\n% piece du PTCE de la personne\n%%EOF\n"
OTHER_PDF = b"%PDF-1.4\n% piece d'un autre PTCE\n%%EOF\n"


def read_zip(data: bytes) -> tuple[dict, dict]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop(personal_data.JSON_NAME)), files


def submitted(ptce, call, **fields):
    return f.CandidatureFactory(
        ptce=ptce,
        call=call,
        state=CandidatureState.SUBMITTED,
        submitted_at=timezone.now(),
        **fields,
    )


@pytest.fixture
def scene():
    """A person who is in a PTCE's team and also evaluates another PTCE's candidature in the
    regional cell; another applicant with a document of their own."""
    call = f.CallFactory(phase=Phase.REGIONAL_REVIEW)
    statuts = f.DocumentTypeFactory(call=call, label="Statuts")
    person = f.UserFactory(first_name="Camille", last_name="Martin", email="camille@example.org")
    own = submitted(f.PtceMembershipFactory(user=person).ptce, call, receipt_number="PTCE-A")
    add_document(own, statuts, content=OWN_PDF, name="statuts-a.pdf")
    CofinancingLine.objects.create(candidature=own, funder="Région", amount=Decimal("10000"))
    CandidatureEvent.objects.create(
        candidature=own, actor=person, from_state="draft", to_state="submitted"
    )
    other_applicant = f.UserFactory(email="autre@example.org")
    other = submitted(
        f.PtceMembershipFactory(user=other_applicant).ptce, call, receipt_number="PTCE-B"
    )
    add_document(other, statuts, content=OTHER_PDF, name="statuts-b.pdf")
    cell = f.RegionalCellFactory(call=call, region=other.region)
    RegionalCellMembership.objects.create(cell=cell, user=person, role=RegionalRole.EVALUATOR)
    Assignment.objects.create(candidature=other, evaluator=person, assigned_by=f.UserFactory())
    Review.objects.create(
        candidature=other,
        evaluator=person,
        state=ReviewState.SUBMITTED,
        comment="Mon évaluation personnelle.",
        total=Decimal("72.5"),
        submitted_at=timezone.now(),
    )
    OutboxMessage.objects.create(
        recipient=person.email, subject="Pour Camille", body_text="x", event="test"
    )
    OutboxMessage.objects.create(
        recipient=other_applicant.email, subject="Pour quelqu'un d'autre", body_text="x", event="t"
    )
    return {"person": person, "own": own, "other": other, "other_applicant": other_applicant}


# --- Export ------------------------------------------------------------------------------------


def test_export_holds_the_persons_data_and_only_their_ptces_documents(scene):
    person = scene["person"]
    staff = f.UserFactory(is_staff=True, first_name="Agent", last_name="Coorace")
    ImpersonationLog.objects.create(hijacker=staff, hijacked=person, reason="Aide au dépôt")

    data, files = read_zip(personal_data.export_user_data(person))

    assert data["compte"]["adresse_electronique"] == "camille@example.org"
    assert data["compte"]["prenom"] == "Camille" and data["compte"]["nom"] == "Martin"
    assert data["adresses_electroniques"][0]["adresse"] == "camille@example.org"
    assert data["roles"]["cellules_regionales"][0]["role"] == "évaluateur"
    [candidature] = data["candidatures"]["candidatures"]
    assert candidature["numero_de_depot"] == "PTCE-A"
    assert candidature["budget"]["cofinancements"][0]["financeur"] == "Région"
    [document] = candidature["pieces_justificatives"]
    assert files[document["fichier_dans_l_archive"]] == OWN_PDF
    assert document["fichier_dans_l_archive"].startswith("documents/")
    assert [e["vers"] for e in data["candidatures"]["actions_realisees_sur_des_candidatures"]] == [
        "déposée"
    ]
    [review] = data["evaluation"]["evaluations_redigees"]
    assert review["commentaire"] == "Mon évaluation personnelle."
    assert review["note_sur_100"] == "72.50"
    assert [m["objet"] for m in data["courriels_envoyes"]] == ["Pour Camille"]
    [log] = data["connexions_de_l_equipe_a_votre_place"]
    assert log["motif"] == "Aide au dépôt" and log["utilisateur aidé"] == "vous"
    # Never another PTCE's document (the person may read it as an evaluator, it is not theirs),
    # nor another person's address.
    assert all(content != OTHER_PDF for content in files.values())
    dump = json.dumps(data, ensure_ascii=False)
    assert "statuts-b.pdf" not in dump and "autre@example.org" not in dump
    assert "LISEZMOI.txt" in files


def test_export_of_someone_without_a_ptce_has_no_documents():
    data, files = read_zip(personal_data.export_user_data(f.UserFactory()))
    assert data["candidatures"]["candidatures"] == []
    assert not [name for name in files if name.startswith("documents/")]


def test_export_queries_do_not_grow_with_candidatures(django_assert_num_queries):
    """Everything but the documents' own permission check (one query per file, by
    ``open_for_download``) is read in a fixed number of queries."""
    person = f.UserFactory()

    def add_candidatures(n):
        for _ in range(n):
            call = f.CallFactory()
            ptce = f.PtceMembershipFactory(user=person).ptce
            candidature = submitted(ptce, call)
            CofinancingLine.objects.create(candidature=candidature, funder="Ville")
            CandidatureEvent.objects.create(
                candidature=candidature, actor=person, to_state="submitted"
            )

    add_candidatures(1)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        personal_data.export_user_data(person)
    add_candidatures(4)
    with django_assert_num_queries(len(one.captured_queries)):
        data, _files = read_zip(personal_data.export_user_data(person))
    assert len(data["candidatures"]["candidatures"]) == 5


def test_download_screen_streams_the_zip(client, scene):
    f.give_totp(scene["person"])  # an evaluator too: the second factor first (accounts.mfa)
    client.force_login(scene["person"])
    response = client.get(reverse("my_data_download"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    data, files = read_zip(b"".join(response.streaming_content))
    assert data["compte"]["adresse_electronique"] == "camille@example.org"
    assert OWN_PDF in files.values()


# --- Deletion ----------------------------------------------------------------------------------


@pytest.fixture
def applicant_with_colleague():
    """An applicant whose PTCE has a colleague to follow its submitted candidature."""
    call = f.CallFactory()
    membership = f.PtceMembershipFactory(
        user=f.UserFactory(first_name="Camille", last_name="Martin", email="camille@example.org")
    )
    f.PtceMembershipFactory(ptce=membership.ptce)
    candidature = submitted(membership.ptce, call)
    statuts = f.DocumentTypeFactory(call=call)
    document = add_document(candidature, statuts)
    document.uploaded_by = membership.user
    document.save(update_fields=["uploaded_by"])
    CandidatureEvent.objects.create(
        candidature=candidature, actor=membership.user, from_state="draft", to_state="submitted"
    )
    return membership.user, candidature


def test_deletion_anonymises_the_person_and_keeps_the_candidature(
    applicant_with_colleague, django_capture_on_commit_callbacks
):
    user, candidature = applicant_with_colleague
    f.give_totp(user)
    sent = OutboxMessage.objects.create(
        recipient=user.email, subject="Accusé", body_text="x", event="t", state=OutboxState.SENT
    )
    OutboxMessage.objects.create(recipient=user.email, subject="Rappel", body_text="x", event="t")
    PtceInvitation.objects.create(ptce=f.PtceFactory(), email="Camille@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        deletion = personal_data.delete_account(user)

    user.refresh_from_db()
    assert user.get_full_name() == "Utilisateur supprimé" and str(user) == "Utilisateur supprimé"
    assert user.email == f"supprime-{user.pk}@compte-supprime.invalid" and user.is_deleted
    assert not user.is_active and not user.has_usable_password()
    assert (user.organisation, user.wants_reminders, user.wants_digests) == ("", False, False)
    assert not EmailAddress.objects.filter(user=user).exists()
    assert not PtceMembership.objects.filter(user=user).exists()
    assert not PtceInvitation.objects.exists()
    from allauth.mfa.models import Authenticator

    assert not Authenticator.objects.filter(user=user).exists()
    # The candidature, its documents and its history are kept, pointing to the anonymised row.
    candidature.refresh_from_db()
    assert candidature.state == CandidatureState.SUBMITTED
    assert candidature.documents.get().uploaded_by == user
    event = CandidatureEvent.objects.get(candidature=candidature)
    assert str(event.actor) == "Utilisateur supprimé"
    # Emails: the record of what was sent stays without the address, what was not is dropped.
    sent.refresh_from_db()
    assert sent.recipient == user.email
    assert not OutboxMessage.objects.filter(recipient__icontains="camille").exists()
    assert OutboxMessage.objects.count() == 1
    # Logged: who and when, nothing personal.
    assert deletion.account == user and deletion.self_service and deletion.actor is None
    assert "camille" not in json.dumps(deletion.summary).lower()
    assert AccountDeletion.objects.count() == 1


def test_a_deleted_person_cannot_log_in(applicant_with_colleague, client):
    user, _candidature = applicant_with_colleague
    personal_data.delete_account(user)

    for login in ("camille@example.org", f"supprime-{user.pk}@compte-supprime.invalid"):
        response = client.post(reverse("account_login"), {"login": login, "password": f.PASSWORD})
        assert response.status_code == 200, login
        assert "_auth_user_id" not in client.session


def test_deletion_ends_every_session(applicant_with_colleague, django_capture_on_commit_callbacks):
    user, _candidature = applicant_with_colleague
    other_device = Client()
    other_device.force_login(user)

    def sessions_of(pk):
        return [s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(pk)]

    assert sessions_of(user.pk)
    with django_capture_on_commit_callbacks(execute=True):
        personal_data.delete_account(user)
    assert sessions_of(user.pk) == []
    response = other_device.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith("/compte/login/")


def test_only_staff_delete_someone_elses_account(applicant_with_colleague):
    user, _candidature = applicant_with_colleague
    with pytest.raises(PermissionDenied):
        personal_data.delete_account(user, f.UserFactory())
    staff = f.UserFactory(is_staff=True)
    deletion = personal_data.delete_account(user, staff)
    assert deletion.actor == staff and not deletion.self_service
    with pytest.raises(ValidationError, match="déjà supprimé"):
        personal_data.delete_account(user, staff)


def test_last_person_of_a_team_withdraws_a_draft_only_when_confirming():
    call = f.CallFactory()
    membership = f.PtceMembershipFactory()
    user = membership.user
    draft = f.CandidatureFactory(ptce=membership.ptce, call=call)

    [refusal] = personal_data.deletion_refusals(user)
    assert membership.ptce.name in refusal and "confirmez son retrait" in refusal
    with pytest.raises(ValidationError):
        personal_data.delete_account(user)
    user.refresh_from_db()
    assert user.is_active and PtceMembership.objects.filter(user=user).exists()

    deletion = personal_data.delete_account(user, withdraw=True)

    draft.refresh_from_db()
    assert draft.state == CandidatureState.WITHDRAWN
    event = draft.events.get()
    assert event.actor_id == user.pk and event.to_state == CandidatureState.WITHDRAWN
    assert deletion.summary["candidatures"]["candidatures_retirees"] == 1
    # The withdrawal email to the person was not sent: the address is erased.
    assert not OutboxMessage.objects.filter(event="candidature.withdrawn").exists()


def test_draft_of_a_closed_call_does_not_hold_the_deletion():
    call = f.CallFactory(
        opens_at=timezone.now() - timedelta(days=60), closes_at=timezone.now() - timedelta(days=1)
    )
    membership = f.PtceMembershipFactory()
    f.CandidatureFactory(ptce=membership.ptce, call=call)
    assert personal_data.deletion_refusals(membership.user) == []


def test_last_person_of_a_team_cannot_leave_a_candidature_under_review():
    membership = f.PtceMembershipFactory()
    f.CandidatureFactory(
        ptce=membership.ptce, state=CandidatureState.ADMISSIBLE, submitted_at=timezone.now()
    )
    [refusal] = personal_data.deletion_refusals(membership.user, withdraw=True)
    assert "ne peut plus être retirée" in refusal
    with pytest.raises(ValidationError):
        personal_data.delete_account(membership.user, withdraw=True)


def test_a_colleague_in_the_team_lets_the_person_leave():
    membership = f.PtceMembershipFactory()
    f.CandidatureFactory(
        ptce=membership.ptce, state=CandidatureState.ADMISSIBLE, submitted_at=timezone.now()
    )
    f.PtceMembershipFactory(ptce=membership.ptce)
    assert personal_data.deletion_refusals(membership.user) == []


def test_last_coordinator_of_a_running_call_cannot_leave():
    call = f.CallFactory(phase=Phase.REGIONAL_REVIEW)
    cell = f.RegionalCellFactory(call=call)
    coordinator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR).user
    [refusal] = personal_data.deletion_refusals(coordinator)
    assert "coordonne la cellule régionale" in refusal

    f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR)
    assert personal_data.deletion_refusals(coordinator) == []
    personal_data.delete_account(coordinator)
    assert not RegionalCellMembership.objects.filter(user=coordinator).exists()


def test_cells_of_a_published_call_need_nobody():
    call = f.CallFactory(phase=Phase.PUBLISHED)
    coordinator = f.RegionalMembershipFactory(
        cell=f.RegionalCellFactory(call=call), role=RegionalRole.COORDINATOR
    ).user
    f.NationalMembershipFactory(
        cell=f.NationalCellFactory(call=call), role=NationalRole.ADMINISTRATOR, user=coordinator
    )
    assert personal_data.deletion_refusals(coordinator) == []


def test_last_national_administrator_of_a_running_call_cannot_leave():
    call = f.CallFactory(phase=Phase.NATIONAL_REVIEW)
    admin = f.NationalMembershipFactory(
        cell=f.NationalCellFactory(call=call), role=NationalRole.ADMINISTRATOR
    ).user
    [refusal] = personal_data.deletion_refusals(admin)
    assert "administre la cellule nationale" in refusal


def test_an_evaluator_owing_a_review_cannot_leave():
    call = f.CallFactory(phase=Phase.REGIONAL_REVIEW)
    candidature = submitted(f.PtceFactory(), call)
    evaluator = f.RegionalMembershipFactory(
        cell=f.RegionalCellFactory(call=call, region=candidature.region)
    ).user
    Assignment.objects.create(candidature=candidature, evaluator=evaluator, assigned_by=evaluator)
    [refusal] = personal_data.deletion_refusals(evaluator)
    assert "1 évaluation à rendre" in refusal

    Review.objects.create(candidature=candidature, evaluator=evaluator, state=ReviewState.SUBMITTED)
    assert personal_data.deletion_refusals(evaluator) == []
    personal_data.delete_account(evaluator)
    assert Review.objects.get(candidature=candidature).evaluator_id == evaluator.pk


# --- Screens -----------------------------------------------------------------------------------


def test_deletion_screen_asks_for_the_password(client, applicant_with_colleague):
    user, _candidature = applicant_with_colleague
    client.force_login(user)
    url = reverse("account_delete")
    assert "Votre mot de passe" in client.get(url).content.decode()

    response = client.post(url, {"password": "pas-le-bon", "confirm": "on"})
    assert response.status_code == 200
    assert "Ce mot de passe n'est pas le bon." in html.unescape(response.content.decode())
    user.refresh_from_db()
    assert user.is_active and not user.is_deleted

    response = client.post(url, {"password": f.PASSWORD})
    assert response.status_code == 200 and not User.objects.get(pk=user.pk).is_deleted

    response = client.post(url, {"password": f.PASSWORD, "confirm": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Votre compte est supprimé" in response.content.decode()
    user.refresh_from_db()
    assert user.is_deleted
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302 and response["Location"].startswith("/compte/login/")


def test_deletion_screen_asks_to_confirm_the_withdrawal(client):
    membership = f.PtceMembershipFactory()
    draft = f.CandidatureFactory(ptce=membership.ptce)
    client.force_login(membership.user)
    url = reverse("account_delete")
    page = client.get(url).content.decode()
    assert "Candidatures à retirer" in page and "Je retire les candidatures" in page

    response = client.post(url, {"password": f.PASSWORD, "confirm": "on"})
    assert response.status_code == 200
    assert "Cochez cette case pour retirer ces candidatures." in html.unescape(
        response.content.decode()
    )
    draft.refresh_from_db()
    assert draft.state == CandidatureState.DRAFT

    client.post(url, {"password": f.PASSWORD, "confirm": "on", "withdraw": "on"})
    draft.refresh_from_db()
    assert draft.state == CandidatureState.WITHDRAWN
    assert User.objects.get(pk=membership.user.pk).is_deleted


def test_deletion_screen_lists_what_blocks_and_has_no_form(client):
    cell = f.RegionalCellFactory(call=f.CallFactory(phase=Phase.REGIONAL_REVIEW))
    coordinator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR).user
    client.force_login(f.give_totp(coordinator))
    url = reverse("account_delete")
    page = client.get(url).content.decode()
    assert "ne peut pas être supprimé pour le moment" in page
    assert 'name="password"' not in page
    client.post(url, {"password": f.PASSWORD, "confirm": "on"})
    coordinator.refresh_from_db()
    assert coordinator.is_active


@pytest.mark.parametrize("name", ["my_data", "my_data_download", "account_delete"])
def test_screens_need_a_login(client, name):
    response = client.get(reverse(name))
    assert response.status_code == 302 and response["Location"].startswith("/compte/login/")


def test_personal_data_page_shows_the_settings(client, settings):
    settings.DOCUMENT_RETENTION_YEARS = 7
    settings.PERSONAL_DATA_CONTACT_EMAIL = "dpd@example.org"
    page = client.get(reverse("personal_data")).content.decode()
    assert "<strong>7 ans</strong>" in page
    assert 'href="mailto:dpd@example.org"' in page
    assert "responsable de traitement" in page.lower()
    assert "https://www.cnil.fr/" in page
    assert reverse("my_data") in page
