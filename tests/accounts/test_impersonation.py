"""Staff acting as a user to help them (django-hijack): only with the dedicated permission,
never on staff or superusers, always with a reason; every session logged, shown to the user
and in the admin; writes meanwhile credited to the user with the staff member recorded."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import ImpersonationLog, User
from accounts.permissions import can_act_as
from tests import factories as f

pytestmark = pytest.mark.django_db


def _with_permission(user, *codenames) -> User:
    for codename in ("can_act_as_user", *codenames):
        user.user_permissions.add(
            Permission.objects.get(codename=codename, content_type__app_label="accounts")
        )
    return User.objects.get(pk=user.pk)  # fresh permission cache


@pytest.fixture
def helper():
    """A staff member allowed to see users and act as them (not a superuser)."""
    return _with_permission(f.UserFactory(is_staff=True), "view_user")


@pytest.fixture
def applicant():
    return f.PtceMembershipFactory().user


def _act_as_url(user):
    return reverse("admin:accounts_user_act_as", args=[user.pk])


def _start(client, target, reason="Aide par téléphone pour joindre les statuts."):
    return client.post(_act_as_url(target), {"reason": reason})


def test_refused_without_the_permission(client, applicant):
    staff = f.UserFactory(is_staff=True)
    client.force_login(staff)
    page = client.get(reverse("admin:accounts_user_change", args=[applicant.pk]))
    # Plain staff may not even see users; with the view permission they see no button.
    assert page.status_code in (302, 403)
    staff.user_permissions.add(
        Permission.objects.get(codename="view_user", content_type__app_label="accounts")
    )
    page = client.get(reverse("admin:accounts_user_change", args=[applicant.pk]))
    assert page.status_code == 200
    assert "Agir en tant que" not in page.content.decode()
    assert client.get(_act_as_url(applicant)).status_code == 403
    assert _start(client, applicant).status_code == 403
    assert "hijack_history" not in client.session
    assert not ImpersonationLog.objects.exists()


def test_the_permission_is_needed_even_for_a_non_staff_holder(applicant):
    outsider = _with_permission(f.UserFactory())
    assert not can_act_as(hijacker=outsider, hijacked=applicant)


def test_never_on_staff_superusers_oneself_or_inactive_accounts(helper, applicant):
    assert can_act_as(hijacker=helper, hijacked=applicant)
    superuser = f.UserFactory(is_staff=True, is_superuser=True)
    other_staff = f.UserFactory(is_staff=True)
    inactive = f.UserFactory(is_active=False)
    for target in (superuser, other_staff, helper, inactive):
        assert not can_act_as(hijacker=helper, hijacked=target)
    # A superuser holds every permission, this one included: not « superusers only » either.
    assert can_act_as(hijacker=superuser, hijacked=applicant)


def test_acting_needs_a_reason(client, helper, applicant):
    client.force_login(helper)
    page = client.get(reverse("admin:accounts_user_change", args=[applicant.pk]))
    assert _act_as_url(applicant) in page.content.decode()
    response = _start(client, applicant, reason="   ")
    assert response.status_code == 200
    assert "Indiquez pourquoi vous agissez en tant que cette personne." in response.content.decode()
    assert "hijack_history" not in client.session
    assert not ImpersonationLog.objects.exists()


def test_session_is_logged_signalled_and_shown_to_the_user(client, helper, applicant):
    client.force_login(helper)
    response = _start(client, applicant)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    log = ImpersonationLog.objects.get()
    assert (log.hijacker, log.hijacked, log.ended_at) == (helper, applicant, None)
    assert log.reason == "Aide par téléphone pour joindre les statuts."

    # The staff member now sees the platform as the user, with the DSFR banner (no script).
    page = client.get(reverse("dashboard")).content.decode()
    assert f"Vous agissez en tant que {applicant.email}" in page
    banner = page[page.index('class="fr-notice') : page.index("</header>")]
    assert "<script" not in banner and "onclick" not in banner
    assert reverse("hijack:release") in banner

    # Coming back ends the session.
    response = client.post(
        reverse("hijack:release"),
        {"next": reverse("admin:accounts_user_change", args=[applicant.pk])},
    )
    assert response.status_code == 302
    log.refresh_from_db()
    assert log.ended_at is not None
    assert int(client.session["_auth_user_id"]) == helper.pk

    # The user sees it on « Mon espace »; the staff in the admin.
    client.force_login(applicant)
    page = client.get(reverse("dashboard")).content.decode()
    assert "Un membre de l'équipe Coorace a agi sur votre compte le" in page
    assert "Aide par téléphone pour joindre les statuts." in page
    assert "Vous agissez en tant que" not in page
    client.force_login(f.UserFactory(is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:accounts_impersonationlog_changelist")).content.decode()
    assert applicant.email in listing and helper.email in listing
    user_page = client.get(reverse("admin:accounts_user_change", args=[applicant.pk]))
    assert "Aide par téléphone pour joindre les statuts." in user_page.content.decode()


def test_logging_out_while_acting_ends_the_session(client, helper, applicant):
    client.force_login(helper)
    _start(client, applicant)
    client.post(reverse("account_logout"))
    assert ImpersonationLog.objects.get().ended_at is not None


def test_other_users_see_nothing(client, helper, applicant):
    client.force_login(helper)
    _start(client, applicant)
    someone_else = f.PtceMembershipFactory().user
    client.force_login(someone_else)
    page = client.get(reverse("dashboard")).content.decode()
    assert "a agi sur votre compte" not in page


def test_writes_while_acting_record_the_user_and_the_staff_member(client, helper):
    membership = f.PtceMembershipFactory()
    applicant = membership.user
    candidature = f.CandidatureFactory(ptce=membership.ptce)
    client.force_login(helper)
    _start(client, applicant)
    response = client.post(
        reverse("candidature_autosave", args=[candidature.pk, "presentation"]),
        {"title": "Saisi pour la personne"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    event = candidature.audit_events.order_by("pgh_id").last()
    assert event.title == "Saisi pour la personne"
    assert event.pgh_context["user"] == applicant.pk
    assert event.pgh_context["impersonator"] == helper.pk
    from ami.audit import candidature_history

    change = next(c for c in candidature_history(candidature).changes if c.fields)
    assert (change.actor, change.impersonator) == (applicant, helper)


@pytest.mark.parametrize("role", ["cra_evaluator", "cra_coordinator", "cna_member", "cna_admin"])
def test_never_as_a_member_of_a_regional_or_national_cell(client, helper, world, role):
    """Acting as the CNA administrator, staff moved a candidature to another region: nobody
    acts as a cell member at all, so no review, national or publication screen can be written
    through someone else's rights (issue 12, defect 5)."""
    target = world.user(role)
    assert not can_act_as(hijacker=helper, hijacked=target)
    client.force_login(helper)
    assert client.get(_act_as_url(target)).status_code == 403
    assert _start(client, target).status_code == 403
    assert "hijack_history" not in client.session
    assert not ImpersonationLog.objects.exists()
    assert client.session["_auth_user_id"] == str(helper.pk)
