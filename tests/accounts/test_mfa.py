"""Authentication: two-factor authentication required for staff and cell members before any review
screen (accounts.mfa), setting it up and logging in with it, login rate limits, shorter staff
sessions, the admin's login through allauth."""

import re
import time

import pytest
from allauth.mfa.models import Authenticator
from django.contrib.auth import SESSION_KEY
from django.urls import reverse

from accounts import mfa
from accounts.middleware import LAST_ACTIVITY_SESSION_KEY
from accounts.models import NationalRole, RegionalRole
from ami.settings import base as base_settings
from tests import factories as f
from tests.accounts.test_accounts import assert_accessible_form, parse

pytestmark = pytest.mark.django_db

SETUP_URL = "/compte/2fa/totp/activate/"
TOO_MANY = "Trop de tentatives de connexion échouées"


def reauthenticate(client):
    """Confirm the password, as allauth asks before sensitive actions."""
    response = client.post(reverse("account_reauthenticate"), {"password": f.PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]


def log_in_with_password(client, user, **extra):
    return client.post(
        reverse("account_login"), {"login": user.email, "password": f.PASSWORD, **extra}
    )


def coordinator_without_totp():
    cell = f.RegionalCellFactory()
    membership = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR, totp=False)
    return membership.user, cell


# --- The policy -----------------------------------------------------------------------------


def test_cra_member_without_totp_is_sent_to_set_it_up_before_any_review_screen(client):
    coordinator, cell = coordinator_without_totp()
    client.force_login(coordinator)
    url = reverse("cell_home", args=[cell.pk])

    response = client.get(url)

    assert response.status_code == 302
    assert response.url == reverse("mfa_activate_totp") == SETUP_URL
    # The reason is shown on the next page (here allauth first asks for the password again).
    page = client.get(response.url, follow=True).content.decode()
    assert "La double authentification est obligatoire" in page
    # Once the authenticator app is there, the screen opens.
    f.give_totp(coordinator)
    assert client.get(url).status_code == 200


def test_every_protected_space_waits_for_the_second_factor(client, world):
    """Review screens, exports, the candidature files cells read, and the admin."""
    Authenticator.objects.all().delete()
    cell = world.candidature_a.ptce.region.cells.get(call=world.call)
    cases = {
        "cra_evaluator": [reverse("evaluator_worklist")],
        "cra_coordinator": [
            reverse("cell_home", args=[cell.pk]),
            reverse("consolidation_export", args=[cell.pk]),
            reverse("documents_zip", args=[world.candidature_a.pk]),
            reverse("candidature_detail", args=[world.candidature_a.pk]),
        ],
        "cna_member": [
            reverse("national_dashboard", args=[world.call.pk]),
            reverse("national_export", args=[world.call.pk]),
        ],
        "cna_admin": [reverse("publication", args=[world.call.pk])],
        "staff": [reverse("admin:index"), reverse("applicant_dashboard")],
    }
    for role, urls in cases.items():
        client.force_login(world.user(role))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, f"{role} {url}"
            assert response.url == SETUP_URL, f"{role} {url}"
        # A POST (an htmx autosave, a form) is stopped too.
        response = client.post(urls[0], {}, headers={"HX-Request": "true"})
        assert response.headers.get("HX-Redirect") == SETUP_URL, role


def test_own_account_logout_and_mfa_pages_stay_reachable(client):
    coordinator, _ = coordinator_without_totp()
    client.force_login(coordinator)
    for name in ("account_email", "account_change_password", "mfa_index", "home", "legal"):
        assert client.get(reverse(name)).status_code == 200, name
    # The setup page only asks for the password first (allauth), it does not loop.
    response = client.get(SETUP_URL)
    assert response.url.startswith(reverse("account_reauthenticate"))
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302
    assert SESSION_KEY not in client.session


@pytest.mark.parametrize(
    "name", ["dashboard", "my_data", "my_data_download", "email_preferences", "account_delete"]
)
def test_every_screen_outside_the_allow_list_waits_for_the_second_factor(client, name):
    """« Mes données » gave a cell member's collegial opinions without the second factor: now
    everything but the explicit allow-list waits for it (issue 12, defect 3)."""
    coordinator, _ = coordinator_without_totp()
    client.force_login(coordinator)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response.url == SETUP_URL
    page = client.get(response.url, follow=True).content.decode()
    assert "La double authentification est obligatoire" in page
    f.give_totp(coordinator)
    assert client.get(reverse(name)).status_code == 200


def test_applicants_are_not_forced(client, world):
    applicant = world.user("applicant")
    client.force_login(applicant)
    assert client.get(reverse("applicant_dashboard")).status_code == 200
    assert (
        client.get(reverse("candidature_detail", args=[world.candidature_a.pk])).status_code == 200
    )
    # Out of scope is still a 404, not a detour through the setup.
    assert client.get(reverse("national_dashboard", args=[world.call.pk])).status_code == 404
    assert not mfa.mfa_required(applicant)


def test_who_must_have_it():
    call = f.CallFactory()
    evaluator = f.RegionalMembershipFactory(cell__call=call, totp=False).user
    cna_member = f.NationalMembershipFactory(
        cell__call=call, role=NationalRole.MEMBER, totp=False
    ).user
    staff = f.UserFactory(is_staff=True, totp=False)
    applicant = f.PtceMembershipFactory().user
    for user in (evaluator, cna_member, staff):
        assert mfa.mfa_required(user) and mfa.needs_mfa_setup(user)
    assert not mfa.mfa_required(applicant) and not mfa.needs_mfa_setup(applicant)
    f.give_totp(evaluator)
    assert mfa.mfa_required(evaluator) and not mfa.needs_mfa_setup(evaluator)


def test_the_setting_turns_the_policy_off(client, settings):
    settings.AMI_MFA_REQUIRED = False
    coordinator, cell = coordinator_without_totp()
    client.force_login(coordinator)
    assert client.get(reverse("cell_home", args=[cell.pk])).status_code == 200


def test_only_the_allow_list_is_open_before_the_second_factor(world):
    cell = world.candidature_a.ptce.region.cells.get(call=world.call)
    for url in (
        reverse("evaluator_worklist"),
        reverse("cell_home", args=[cell.pk]),
        reverse("national_dashboard", args=[world.call.pk]),
        reverse("pv_pdf", args=[world.call.pk]),
        reverse("candidature_detail", args=[world.candidature_a.pk]),
        reverse("admin:index"),
        reverse("dashboard"),
        reverse("my_data_download"),
    ):
        assert mfa.is_protected_path(url), url
    assert not mfa.is_protected_path("/une-page-inconnue/")  # answers its own 404
    for url in (
        SETUP_URL,
        reverse("account_logout"),
        reverse("home"),
        reverse("call_detail", args=[world.call.slug]),
        reverse("mfa_index"),
        reverse("hijack:release"),
    ):
        assert not mfa.is_protected_path(url), url


# --- Setting it up and logging in with it ---------------------------------------------------


def test_setup_through_the_pages_then_back_to_the_screen(client):
    coordinator, cell = coordinator_without_totp()
    client.force_login(coordinator)
    target = reverse("cell_home", args=[cell.pk])
    assert client.get(target).url == SETUP_URL
    reauthenticate(client)
    page = client.get(SETUP_URL).content.decode()
    secret = re.search(r'id="authenticator_secret" value="([A-Z2-7]+)"', page).group(1)
    assert "Code QR à scanner" in page
    assert "Votre rôle (cellule régionale" in page  # why it is required

    response = client.post(
        SETUP_URL, {"code": "000000" if f.totp_code(secret) != "000000" else "111111"}
    )
    assert "Code incorrect" in response.content.decode()
    assert not Authenticator.objects.filter(user=coordinator).exists()

    response = client.post(SETUP_URL, {"code": f.totp_code(secret)})
    assert response.status_code == 302
    assert response.url == reverse("mfa_view_recovery_codes")
    assert f.totp_secret(coordinator) == secret
    codes = (
        Authenticator.objects.get(user=coordinator, type=Authenticator.Type.RECOVERY_CODES)
        .wrap()
        .get_unused_codes()
    )
    page = client.get(response.url).content.decode()
    assert "Codes de récupération" in page
    assert all(code in page for code in codes)
    # « Continuer » leads back to the screen the user was sent away from.
    assert f'href="{target}"' in page
    assert client.get(target).status_code == 200


def test_login_asks_for_the_code_and_accepts_a_recovery_code_once(client):
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    user = f.RegionalMembershipFactory().user
    recovery = RecoveryCodes.activate(user).get_unused_codes()[0]

    response = log_in_with_password(client, user)
    assert response.url == reverse("mfa_authenticate")
    assert SESSION_KEY not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": "12345"})
    assert "Code incorrect" in response.content.decode()
    assert SESSION_KEY not in client.session
    response = client.post(reverse("mfa_authenticate"), {"code": f.totp_code(f.totp_secret(user))})
    assert response.url == reverse("dashboard")
    assert client.session[SESSION_KEY] == str(user.pk)

    for expected in ("ok", "used"):
        client.post(reverse("account_logout"))
        log_in_with_password(client, user)
        response = client.post(reverse("mfa_authenticate"), {"code": recovery})
        if expected == "ok":
            assert client.session[SESSION_KEY] == str(user.pk)
        else:
            assert SESSION_KEY not in client.session
            assert "Code incorrect" in response.content.decode()


def test_a_cell_member_cannot_turn_it_off_but_an_applicant_can(client):
    member = f.RegionalMembershipFactory().user
    client.force_login(member)
    reauthenticate(client)
    page = client.get(reverse("mfa_index")).content.decode()
    assert "Elle est obligatoire" in page
    assert reverse("mfa_deactivate_totp") not in page
    response = client.post(reverse("mfa_deactivate_totp"))
    assert "vous ne pouvez pas la désactiver" in response.content.decode()
    assert mfa.has_totp(member)

    applicant = f.give_totp(f.PtceMembershipFactory().user)
    client.force_login(applicant)
    reauthenticate(client)
    assert reverse("mfa_deactivate_totp") in client.get(reverse("mfa_index")).content.decode()
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not mfa.has_totp(applicant)


def test_admin_login_goes_through_allauth(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("account_login"))
    staff = f.UserFactory(is_staff=True, is_superuser=True)
    response = client.post(
        reverse("admin:login"), {"username": staff.email, "password": f.PASSWORD}
    )
    assert SESSION_KEY not in client.session
    assert response.url.startswith(reverse("account_login"))


# --- Login rate limits ----------------------------------------------------------------------


@pytest.fixture
def rate_limits(settings):
    """The production limits (the test settings turn them off)."""
    settings.ACCOUNT_RATE_LIMITS = base_settings.ACCOUNT_RATE_LIMITS
    assert settings.ACCOUNT_RATE_LIMITS["login_failed"] == "10/m/ip,5/5m/key"


def test_sixth_failed_login_of_an_account_is_refused(client, rate_limits):
    user = f.UserFactory()
    for _ in range(5):
        response = client.post(
            reverse("account_login"), {"login": user.email, "password": "pas-le-bon-1"}
        )
        page = response.content.decode()
        assert "incorrect" in page and TOO_MANY not in page
    # Even the right password is refused now, with a French message.
    response = log_in_with_password(client, user)
    assert response.status_code == 200
    assert TOO_MANY in response.content.decode()
    assert SESSION_KEY not in client.session


def test_eleventh_failed_login_from_one_address_is_refused(client, rate_limits):
    users = [f.UserFactory() for _ in range(11)]
    for user in users[:10]:
        response = client.post(
            reverse("account_login"), {"login": user.email, "password": "pas-le-bon-1"}
        )
        assert TOO_MANY not in response.content.decode()
    response = log_in_with_password(client, users[10])
    assert TOO_MANY in response.content.decode()
    assert SESSION_KEY not in client.session


def test_wrong_codes_count_as_failed_logins(client, rate_limits):
    user = f.RegionalMembershipFactory().user
    log_in_with_password(client, user)
    for _ in range(5):
        response = client.post(reverse("mfa_authenticate"), {"code": "000000x"})
        assert "Code incorrect" in response.content.decode()
    response = client.post(reverse("mfa_authenticate"), {"code": f.totp_code(f.totp_secret(user))})
    assert TOO_MANY in response.content.decode()
    assert SESSION_KEY not in client.session


# --- Shorter sessions for staff -------------------------------------------------------------


def log_in_fully(client, user, **extra):
    log_in_with_password(client, user, **extra)
    if mfa.has_totp(user):
        client.post(reverse("mfa_authenticate"), {"code": f.totp_code(f.totp_secret(user))})
    assert client.session[SESSION_KEY] == str(user.pk)


def test_staff_sessions_end_with_the_browser_others_keep_the_default(client):
    staff = f.UserFactory(is_staff=True)
    log_in_fully(client, staff, remember="on")
    client.get(reverse("dashboard"))
    assert client.session.get_expire_at_browser_close()
    assert "expires" not in str(client.cookies["sessionid"]).lower()

    client.post(reverse("account_logout"))
    member = f.RegionalMembershipFactory().user
    log_in_fully(client, member, remember="on")
    client.get(reverse("dashboard"))
    assert not client.session.get_expire_at_browser_close()
    assert LAST_ACTIVITY_SESSION_KEY not in client.session


def test_staff_session_expires_after_two_hours_without_a_request(client, settings):
    assert settings.STAFF_SESSION_IDLE_TIMEOUT == 2 * 60 * 60
    staff = f.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    assert client.get(reverse("admin:index")).status_code == 200

    session = client.session
    session[LAST_ACTIVITY_SESSION_KEY] = time.time() - (2 * 60 * 60 - 120)
    session.save()
    assert client.get(reverse("admin:index")).status_code == 200  # active: refreshed
    assert time.time() - client.session[LAST_ACTIVITY_SESSION_KEY] < 5

    session = client.session
    session[LAST_ACTIVITY_SESSION_KEY] = time.time() - (2 * 60 * 60 + 1)
    session.save()
    response = client.get(reverse("admin:index"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("account_login"))
    assert "Votre session a expiré" in response.content.decode()
    assert SESSION_KEY not in client.session


def test_other_users_are_not_logged_out_after_two_hours(client):
    member = f.RegionalMembershipFactory().user
    client.force_login(member)
    session = client.session
    session[LAST_ACTIVITY_SESSION_KEY] = time.time() - 3 * 60 * 60
    session.save()
    assert client.get(reverse("evaluator_worklist")).status_code == 200


# --- The MFA pages: French, in our layout ---------------------------------------------------

ENGLISH = re.compile(
    r"\b(Sign|Authenticator|Recovery|Activate|Deactivate|Generate|Download|Two-Factor|"
    r"Cancel|Confirm|View|Use|Enter|unused)\b"
)
FORM_PAGES = ["mfa_activate_totp", "mfa_authenticate", "mfa_reauthenticate"]


def _page_text(response) -> str:
    return parse(response).text


@pytest.mark.parametrize(
    "name",
    [
        "mfa_index",
        "mfa_activate_totp",
        "mfa_view_recovery_codes",
        "mfa_generate_recovery_codes",
        "mfa_deactivate_totp",
        "mfa_reauthenticate",
        "mfa_authenticate",
    ],
)
def test_mfa_pages_are_french_in_our_layout(client, name):
    """Rendered with the templates that raise on undefined variables (see ami/testing.py)."""
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes

    user = f.PtceMembershipFactory().user  # an applicant: may turn it on and off
    if name == "mfa_authenticate":
        f.give_totp(user)
        log_in_with_password(client, user)
    else:
        if name != "mfa_activate_totp":
            f.give_totp(user)
            RecoveryCodes.activate(user)
        client.force_login(user)
        reauthenticate(client)

    response = client.get(reverse(name))

    assert response.status_code == 200
    content = response.content.decode()
    assert "fr-header" in content and "<h1>" in content
    text = re.sub(r"\b[A-Z2-7]{32}\b", "", _page_text(response))  # the secret key
    text = re.sub(r"(Google|Microsoft) Authenticator", "", text)  # names of apps
    assert not ENGLISH.search(text), ENGLISH.search(text)
    if name in FORM_PAGES:
        assert_accessible_form(response)


# --- Re-authentication ----------------------------------------------------------------------


def test_reauthentication_by_password_or_app_never_by_an_emailed_code(client):
    member = f.NationalMembershipFactory().user
    client.force_login(member)
    page = client.get(reverse("account_reauthenticate")).content.decode()
    assert reverse("mfa_reauthenticate") in page
    assert "code de connexion" not in page  # « Envoyez-moi un code de connexion »
    assert client.get(reverse("account_request_reauthentication_code")).status_code == 403
    assert client.get(reverse("mfa_generate_recovery_codes")).status_code == 302
    # The app's code is enough.
    response = client.post(
        reverse("mfa_reauthenticate"), {"code": f.totp_code(f.totp_secret(member))}
    )
    assert response.status_code == 302
    # A sensitive page now opens without asking again.
    assert client.get(reverse("mfa_generate_recovery_codes")).status_code == 200


def test_deployment_check_refuses_the_policy_off(settings):
    from django.core.checks import run_checks

    def ids():
        return {m.id for m in run_checks(include_deployment_checks=True, tags=["security"])}

    assert "accounts.E003" not in ids()
    settings.AMI_MFA_REQUIRED = False
    assert "accounts.E003" in ids()
