"""Invitations to join a cell by email (accounts.invitations): accepted by signing up or logging
in with the address once verified; expiry, re-sending, revoking, used once; bulk invitations
with a dry run; who may invite; the admin's screens."""

import re
from datetime import timedelta
from html import unescape

import pytest
from allauth.account.models import EmailAddress
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import invitations
from accounts.models import (
    CellInvitation,
    NationalCell,
    NationalCellMembership,
    NationalRole,
    RegionalCell,
    RegionalCellMembership,
    RegionalRole,
    User,
)
from ami import audit
from ami.models import OutboxMessage
from tests import factories as f

pytestmark = pytest.mark.django_db

SIGNUP = {
    "email": "nouvelle@example.org",
    "first_name": "Nina",
    "last_name": "Nouvelle",
    "password1": "un-mot-de-passe-solide-42",
    "password2": "un-mot-de-passe-solide-42",
}


def cell_a(world) -> RegionalCell:
    return RegionalCell.objects.get(call=world.call, region=world.region_a)


def national_cell(world) -> NationalCell:
    return NationalCell.objects.get(call=world.call)


def invite(world, email="nouvelle@example.org", role=RegionalRole.EVALUATOR, cell=None):
    return invitations.invite(cell or cell_a(world), email, role, world.user("cra_coordinator"))


def is_in_cell_a(world, email) -> bool:
    return RegionalCellMembership.objects.filter(cell=cell_a(world), user__email=email).exists()


# --- Invite ------------------------------------------------------------------------------------


def test_invitation_is_sent_through_the_outbox_with_the_role_and_expiry(world, settings):
    settings.CELL_INVITATION_DAYS = 10

    invitation = invite(world, "  Nouvelle@Example.org ")

    assert invitation.email == "nouvelle@example.org"
    assert invitation.state == "pending"
    expected = timezone.now() + timedelta(days=10)
    assert abs(invitation.expires_at - expected) < timedelta(minutes=1)
    mail = OutboxMessage.objects.get(event="cell.invitation")
    assert mail.recipient == "nouvelle@example.org"
    assert world.region_a.name in mail.subject
    assert "évaluateur" in mail.body_text
    assert reverse("account_signup") in mail.body_text
    assert mail.call_id == world.call.pk


def test_inviting_again_resends_the_open_invitation_instead_of_a_second_one(world):
    first = invite(world)
    second = invite(world, role=RegionalRole.COORDINATOR)

    assert second.pk == first.pk
    assert CellInvitation.objects.count() == 1
    assert (second.role, second.sent_count) == (RegionalRole.COORDINATOR, 2)
    assert OutboxMessage.objects.filter(event="cell.invitation").count() == 2


def test_bad_email_wrong_role_and_members_are_refused_in_french(world):
    with pytest.raises(ValidationError, match="pas une adresse électronique valide"):
        invite(world, "pas-une-adresse")
    with pytest.raises(ValidationError, match="Choisissez le rôle"):
        invite(world, role=NationalRole.ADMINISTRATOR)
    with pytest.raises(ValidationError, match="fait déjà partie"):
        invite(world, world.user("cra_evaluator").email.upper())
    assert not CellInvitation.objects.exists()


# --- Accept ------------------------------------------------------------------------------------


def confirmation_url(email) -> str:
    mail = OutboxMessage.objects.filter(recipient=email, event__startswith="account.").latest("pk")
    return re.search(r"/compte/confirm-email/[^/\s]+/", mail.body_text).group(0)


def test_accepted_by_signing_up_and_confirming_the_address(
    client, world, django_capture_on_commit_callbacks
):
    invitation = invite(world)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_signup"), SIGNUP)
    user = User.objects.get(email=SIGNUP["email"])
    assert not is_in_cell_a(world, user.email)  # not verified yet

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(confirmation_url(user.email), follow=True)

    assert response.status_code == 200
    membership = RegionalCellMembership.objects.get(cell=cell_a(world), user=user)
    assert membership.role == RegionalRole.EVALUATOR
    invitation.refresh_from_db()
    assert (invitation.state, invitation.accepted_by) == ("accepted", user)


def test_accepted_by_logging_in_with_a_verified_address(client, world):
    user = f.UserFactory(email="deja.inscrite@example.org")
    invitation = invitations.invite(
        national_cell(world), user.email, NationalRole.ADMINISTRATOR, world.user("staff")
    )

    response = client.post(
        reverse("account_login"), {"login": user.email, "password": f.PASSWORD}, follow=True
    )

    membership = NationalCellMembership.objects.get(cell=national_cell(world), user=user)
    assert membership.role == NationalRole.ADMINISTRATOR
    assert "Vous faites désormais partie de la cellule nationale" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.accepted_at is not None
    # Logging in again changes nothing, and the invitation cannot be used again.
    client.logout()
    client.post(reverse("account_login"), {"login": user.email, "password": f.PASSWORD})
    assert NationalCellMembership.objects.filter(user=user).count() == 1
    assert invitations.accept(invitation, user) == membership  # idempotent for its user
    other = f.UserFactory()
    EmailAddress.objects.create(user=other, email="autre@example.org", verified=True)
    with pytest.raises(ValidationError, match="déjà été utilisée"):
        invitations.accept(invitation, other)


def test_an_unverified_address_does_not_accept(client, world):
    user = f.UserFactory(email="principale@example.org")
    EmailAddress.objects.create(user=user, email="seconde@example.org", verified=False)
    invitation = invite(world, "seconde@example.org")

    client.post(reverse("account_login"), {"login": user.email, "password": f.PASSWORD})

    assert not RegionalCellMembership.objects.filter(user=user).exists()
    with pytest.raises(PermissionDenied):
        invitations.accept(invitation, user)


def test_an_expired_invitation_is_not_accepted_until_resent(client, world):
    user = f.UserFactory(email="tardive@example.org")
    invitation = invite(world, user.email)
    CellInvitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )
    invitation.refresh_from_db()
    assert invitation.state == "expired"

    client.post(reverse("account_login"), {"login": user.email, "password": f.PASSWORD})
    assert not is_in_cell_a(world, user.email)
    with pytest.raises(ValidationError, match="a expiré"):
        invitations.accept(invitation, user)

    resent = invitations.resend(invitation, world.user("cra_coordinator"))
    assert resent.state == "pending" and resent.sent_count == 2
    assert resent.expires_at > timezone.now() + timedelta(days=13)
    assert OutboxMessage.objects.filter(event="cell.invitation").count() == 2
    client.logout()
    client.post(reverse("account_login"), {"login": user.email, "password": f.PASSWORD})
    assert is_in_cell_a(world, user.email)


def test_a_revoked_invitation_is_not_accepted_nor_resent(client, world):
    user = f.UserFactory(email="revoquee@example.org")
    invitation = invite(world, user.email)

    invitations.revoke(invitation, world.user("cra_coordinator"))
    client.post(reverse("account_login"), {"login": user.email, "password": f.PASSWORD})

    assert not is_in_cell_a(world, user.email)
    with pytest.raises(ValidationError, match="révoquée"):
        invitations.accept(invitation, user)
    with pytest.raises(ValidationError, match="ne peut plus être renvoyée"):
        invitations.resend(invitation, world.user("cra_coordinator"))
    # A new invitation can then be sent (the revoked one stays, for the record).
    assert invite(world, user.email).pk != invitation.pk


def test_accepting_as_an_existing_member_keeps_their_role(world):
    user = f.UserFactory(email="double@example.org")
    invitation = invite(world, user.email)
    f.RegionalMembershipFactory(cell=cell_a(world), user=user, role=RegionalRole.COORDINATOR)

    membership = invitations.accept(invitation, user)

    assert membership.role == RegionalRole.COORDINATOR
    assert RegionalCellMembership.objects.filter(user=user).count() == 1


# --- Who may invite ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, regional, national",
    [
        ("applicant", False, False),
        ("other_applicant", False, False),
        ("cra_evaluator", False, False),
        ("cra_coordinator", True, False),
        ("other_region_evaluator", False, False),
        ("cna_member", False, False),
        ("cna_admin", False, True),
        ("staff", True, True),
    ],
)
def test_only_the_cells_coordinators_and_staff_invite(world, role, regional, national):
    user = world.user(role)
    for cell, allowed, invite_role in (
        (cell_a(world), regional, RegionalRole.EVALUATOR),
        (national_cell(world), national, NationalRole.MEMBER),
    ):
        assert invitations.can_invite(user, cell) is allowed
        if allowed:
            invitation = invitations.invite(cell, f"{role}@example.org", invite_role, user)
            invitations.resend(invitation, user)
            invitations.revoke(invitation, user)
        else:
            with pytest.raises(PermissionDenied):
                invitations.invite(cell, f"{role}@example.org", invite_role, user)
    staff_invitation = invitations.invite(
        cell_a(world), "cible@example.org", RegionalRole.EVALUATOR, world.user("staff")
    )
    if not regional:
        with pytest.raises(PermissionDenied):
            invitations.resend(staff_invitation, user)
        with pytest.raises(PermissionDenied):
            invitations.revoke(staff_invitation, user)


def test_the_members_screen_of_another_cell_is_not_found(client, world):
    other = RegionalCell.objects.get(call=world.call, region=world.region_b)
    for role in ("cra_evaluator", "cra_coordinator", "cna_admin", "applicant"):
        client.force_login(world.user(role))
        response = client.post(
            reverse("cell_members", args=[other.pk]),
            {"action": "add", "email": "x@example.org", "role": "evaluator"},
        )
        assert response.status_code == 404
    assert not CellInvitation.objects.exists()


def test_bulk_is_for_staff_only(world):
    with pytest.raises(PermissionDenied):
        invitations.plan_bulk(world.call, "11;évaluateur;a@example.org", world.user("cna_admin"))


# --- Bulk: dry run, then exactly the valid lines -----------------------------------------------

BULK = """région;rôle;email
11;évaluateur;un@example.org
Bretagne;coordinatrice;deux@example.org
;administrateur;trois@example.org
11;évaluateur;pas-une-adresse
Atlantide;évaluateur;quatre@example.org
11;président;cinq@example.org
11;évaluateur;{member}
11;Evaluateur;UN@example.org
;évaluateur;six@example.org
11;évaluateur
Île-de-France;coordinateur;sept@example.org
"""


def test_bulk_dry_run_reports_each_line_and_writes_nothing(world):
    text = BULK.format(member=world.user("cra_evaluator").email)

    plan = invitations.plan_bulk(world.call, text, world.user("staff"))

    assert not CellInvitation.objects.exists()
    assert not OutboxMessage.objects.exists()
    report = {line.number: (line.accepted, line.reason) for line in plan.lines}
    assert 1 not in report  # the header
    assert [n for n, (ok, _) in report.items() if ok] == [2, 3, 4, 12]
    reasons = {n: reason for n, (ok, reason) in report.items() if not ok}
    assert "Adresse électronique invalide" in reasons[5]
    assert "Région inconnue : « Atlantide »" in reasons[6]
    assert "Rôle inconnu" in reasons[7]
    assert "fait déjà partie" in reasons[8]
    assert "Ligne en double" in reasons[9]
    assert "Rôle inconnu" in reasons[10]  # an evaluator of the national cell
    assert "Trois colonnes" in reasons[11]


def test_bulk_confirm_creates_exactly_the_valid_lines(world):
    text = BULK.format(member=world.user("cra_evaluator").email)
    plan = invitations.plan_bulk(world.call, text, world.user("staff"))

    sent = invitations.apply_bulk(plan, world.user("staff"))

    created = set(
        CellInvitation.objects.values_list(
            "email", "regional_cell__region_id", "national_cell__call_id", "role"
        )
    )
    assert created == {
        ("un@example.org", "11", None, RegionalRole.EVALUATOR),
        ("deux@example.org", "53", None, RegionalRole.COORDINATOR),
        ("trois@example.org", None, world.call.pk, NationalRole.ADMINISTRATOR),
        ("sept@example.org", "11", None, RegionalRole.COORDINATOR),
    }
    assert len(sent) == 4
    assert OutboxMessage.objects.filter(event="cell.invitation").count() == 4


def test_admin_bulk_csv_upload_shows_the_report_then_confirms(client, world):
    staff = world.user("staff")
    client.force_login(staff)
    url = reverse("admin:accounts_cellinvitation_bulk")
    assert client.get(url).status_code == 200
    csv_file = SimpleUploadedFile(
        "invitations.csv",
        "région,rôle,email\n11,évaluateur,un@example.org\nXX,évaluateur,deux@example.org\n".encode(
            "cp1252"
        ),
        content_type="text/csv",
    )

    preview = client.post(url, {"call": world.call.pk, "file": csv_file})

    html = preview.content.decode()
    assert preview.status_code == 200
    assert "Vérification avant envoi" in html
    assert "Région inconnue : « XX »" in html
    assert "Envoyer l’invitation" in html
    assert not CellInvitation.objects.exists()
    # The confirmation form carries the list read from the file, as it was.
    hidden = re.search(r'<textarea name="text" hidden[^>]*>(.*?)</textarea>', html, re.S)
    text = unescape(hidden.group(1))
    assert text.startswith("région,rôle,email\n11,évaluateur,un@example.org")

    response = client.post(url, {"call": world.call.pk, "text": text, "confirm": "yes"})

    assert response.status_code == 302
    invitation = CellInvitation.objects.get()
    assert (invitation.email, invitation.regional_cell, invitation.invited_by) == (
        "un@example.org",
        cell_a(world),
        staff,
    )


def test_admin_bulk_is_refused_to_non_staff_and_to_staff_without_the_permission(client, world):
    url = reverse("admin:accounts_cellinvitation_bulk")
    client.force_login(world.user("cra_coordinator"))
    assert client.get(url).status_code == 302  # the admin's login page
    client.force_login(f.UserFactory(is_staff=True))
    assert client.get(url).status_code == 403


# --- Admin: one invitation, actions, and the membership email -----------------------------------


def test_admin_add_form_sends_the_invitation(client, world):
    client.force_login(world.user("staff"))
    response = client.post(
        reverse("admin:accounts_cellinvitation_add"),
        {"national_cell": national_cell(world).pk, "email": "admin@example.org", "role": "member"},
    )
    assert response.status_code == 302
    invitation = CellInvitation.objects.get()
    assert invitation.invited_by == world.user("staff")
    assert OutboxMessage.objects.get(event="cell.invitation").recipient == "admin@example.org"
    refused = client.post(
        reverse("admin:accounts_cellinvitation_add"),
        {"regional_cell": cell_a(world).pk, "email": "x@example.org", "role": "member"},
    )
    assert "le rôle est : coordinateur ou évaluateur" in refused.content.decode()


def test_admin_actions_resend_and_revoke(client, world):
    invitation = invite(world)
    client.force_login(world.user("staff"))
    url = reverse("admin:accounts_cellinvitation_changelist")
    client.post(url, {"action": "resend_invitations", "_selected_action": [invitation.pk]})
    invitation.refresh_from_db()
    assert invitation.sent_count == 2
    client.post(url, {"action": "revoke_invitations", "_selected_action": [invitation.pk]})
    invitation.refresh_from_db()
    assert invitation.state == "revoked"


def test_a_membership_added_in_the_admin_sends_the_members_screen_email(client, world):
    person = f.UserFactory()
    client.force_login(world.user("staff"))
    client.post(
        reverse("admin:accounts_regionalcellmembership_add"),
        {"cell": cell_a(world).pk, "user": person.pk, "role": "evaluator"},
    )
    mail = OutboxMessage.objects.get(event="cell.member_added")
    assert mail.recipient == person.email
    assert world.region_a.name in mail.subject
    assert reverse("evaluator_worklist") in mail.body_text


def test_a_membership_added_inline_in_the_cell_admin_sends_the_email(client, world):
    person = f.UserFactory()
    cell = cell_a(world)
    client.force_login(world.user("staff"))
    existing = list(cell.memberships.order_by("pk"))
    data = {
        "call": world.call.pk,
        "region": cell.region_id,
        "memberships-TOTAL_FORMS": str(len(existing) + 1),
        "memberships-INITIAL_FORMS": str(len(existing)),
        "memberships-MIN_NUM_FORMS": "0",
        "memberships-MAX_NUM_FORMS": "1000",
        "invitations-TOTAL_FORMS": "0",  # the read-only inline of open invitations
        "invitations-INITIAL_FORMS": "0",
    }
    for i, membership in enumerate(existing):
        data |= {
            f"memberships-{i}-id": membership.pk,
            f"memberships-{i}-cell": cell.pk,
            f"memberships-{i}-user": membership.user_id,
            f"memberships-{i}-role": membership.role,
        }
    n = len(existing)
    data |= {
        f"memberships-{n}-cell": cell.pk,
        f"memberships-{n}-user": person.pk,
        f"memberships-{n}-role": "coordinator",
    }
    response = client.post(reverse("admin:accounts_regionalcell_change", args=[cell.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    assert OutboxMessage.objects.get(event="cell.member_added").recipient == person.email


# --- Query counts of the lists -----------------------------------------------------------------


def _queries(client, url) -> int:
    client.get(url)  # warm the per-process caches (content types, session) first
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def _invite_many(world, n, start):
    staff = world.user("staff")
    for i in range(start, start + n):
        cell = cell_a(world) if i % 2 else national_cell(world)
        role = RegionalRole.EVALUATOR if i % 2 else NationalRole.MEMBER
        invitations.invite(cell, f"invitee{i}@example.org", role, staff)


def test_admin_invitation_list_query_count_does_not_grow(client, world):
    client.force_login(world.user("staff"))
    url = reverse("admin:accounts_cellinvitation_changelist")
    _invite_many(world, 2, 0)
    few = _queries(client, url)
    _invite_many(world, 48, 2)
    assert CellInvitation.objects.count() == 50
    assert _queries(client, url) == few


def test_members_screen_query_count_does_not_grow_with_invitations(client, world):
    client.force_login(world.user("cra_coordinator"))
    url = reverse("cell_members", args=[cell_a(world).pk])
    coordinator = world.user("cra_coordinator")
    for i in range(2):
        invitations.invite(cell_a(world), f"a{i}@example.org", "evaluator", coordinator)
    few = _queries(client, url)
    for i in range(2, 50):
        invitations.invite(cell_a(world), f"a{i}@example.org", "evaluator", coordinator)
    assert _queries(client, url) == few


# --- Personal data ---------------------------------------------------------------------------


def test_invitations_are_in_the_export_and_deleted_with_the_account(world):
    import json

    from accounts import personal_data
    from tests.accounts.test_personal_data import read_zip

    user = f.UserFactory(email="exportee@example.org")
    invite(world, user.email)
    data, _files = read_zip(personal_data.export_user_data(user))
    exported = json.dumps(data, default=str)
    assert "invitations_dans_les_cellules" in exported
    assert "exportee@example.org" in exported

    personal_data.delete_account(user)

    assert not CellInvitation.objects.exists()
    history = audit.event_model_of(CellInvitation)  # the audit trail keeps no address
    assert history.objects.exists()
    assert "email" not in {field.name for field in history._meta.fields}


def test_the_cell_admin_shows_its_open_invitations(client, world):
    invite(world, "ouverte@example.org")
    invitations.revoke(invite(world, "revoquee@example.org"), world.user("staff"))
    client.force_login(world.user("staff"))

    page = client.get(reverse("admin:accounts_regionalcell_change", args=[cell_a(world).pk]))

    html = page.content.decode()
    assert "ouverte@example.org" in html
    assert "revoquee@example.org" not in html
