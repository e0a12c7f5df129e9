"""Every URL pattern of the project, requested as each role against objects that role must not
reach: every one must be refused (404, or the login page for an anonymous visitor).

The walker reads the patterns from the resolver, so a new view is walked as soon as it is
routed. It fills each URL keyword from an explicit table (``KWARG_KINDS`` / ``SEGMENT_KINDS``:
which object a keyword names) and the objects each role must not reach (``build_scenes``). A
pattern it cannot fill, or one that needs no check (public page, the user's own space, a link
whose token is the credential), must be listed below with its reason; anything else unlisted
fails the walk. So a new view that forgets its permission check fails here, and so does a new
view the walker cannot understand until someone says how to fill it or why it is exempt
(``test_the_walker_catches_…`` prove it on a scratch URL configuration).

The refusals are not vacuous: ``test_walked_objects_are_reachable_by_someone`` checks that
each walked URL, with the same objects, is answered to some user of the world (the objects
exist and are in a state where the screen works).
"""

import copy
import re
import time
import types
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.decorators import login_required
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, path, reverse

from accounts.models import RegionalCell
from api.tokens import create_token
from candidatures import messaging
from candidatures.models import Candidature, MemberCategory, PtceInvitation, PtceMember
from tests import factories as f
from tests.accounts.test_permissions import national
from tests.candidatures.helpers import PDF_BYTES, add_document
from tests.roles import add_conflicted_evaluator, build_world
from tests.shared import built_once

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# The roles walked (DESIGN §3) and what each must not reach (see ``build_scenes``).
WALKED_ROLES = [
    "anonymous",
    "other_applicant",  # the team of PTCE B, against PTCE A's objects
    "other_region_evaluator",  # region B's evaluator, against region A's candidature
    "conflicted_evaluator",  # region A's evaluator with a conflict declared on it
    "cna_member",  # the CNA of this call, against another call's objects
    "staff",  # Coorace staff: read-only outside the admin (``READS``)
]

# --- Which object a URL keyword names -----------------------------------------------------------

# A keyword that always names the same kind of object.
KWARG_KINDS = {
    "call_pk": "call",
    "cell_pk": "cell",
    "line_pk": "line",
    "batch_pk": "batch",
    "review_pk": "review",
    "document_pk": "document",
    "export_pk": "region_export",
    "message_pk": "message",
    "type_pk": "document_type",
    "member_pk": "ptce_member",
    "membership_pk": "ptce_membership",
    "call_slug": "call_slug",
    "step": "step",
}
# ``pk``, ``slug`` and ``token`` name different objects: the path segment before them says which.
SEGMENT_KINDS = {
    ("pk", "candidatures"): "candidature",
    ("pk", "ptce"): "ptce",
    ("pk", "scenarios"): "scenario",
    ("pk", "decisions"): "decision",
    ("slug", "appels"): "call_slug",
    ("token", "invitations"): "invitation",
    ("pk", "jetons-api"): "api_token",
}
# Kinds of the national review: they come from an edition in national review (``national``).
NATIONAL_KINDS = {"call", "scenario", "line", "decision", "batch"}
# The admin checks ``is_staff`` before looking at any keyword: any value does.
ADMIN_FILLERS = {
    "object_id": "1",
    "id": "1",
    "content_type_id": "1",
    "app_label": "ami",
    "event": "candidature.submitted",
}

# --- Patterns that need no refusal, each with its reason ----------------------------------------

# Public pages: whoever asks gets them (DESIGN §3, « visitor »).
PUBLIC = {
    "home": "the current calls",
    "call_detail": "a published call's page",
    "call_laureates": "published laureates (404 before publication, tested in evaluation)",
    "call_subsidies_csv": "published open data (404 before publication)",
    "accessibility": "legal page",
    "legal": "legal page",
    "personal_data": "legal page",
    "site_map": "the site map (public entries, the signed-in user's own menu)",
    "unsubscribe": "the signed token of the email is the credential (RFC 8058 one-click)",
    "admin:login": "the admin's login form (goes through allauth and its second factor)",
    "health": "service health for healthchecks: names the parts, no platform data",
    "api_schema": "the read API's OpenAPI schema (no data)",
    "api_docs": "the read API's documentation page (no data)",
    "api_not_found": "the read API's JSON 404 for unknown addresses",
    "proconnect_login": "starts a ProConnect login (404 when ProConnect is not configured)",
    "proconnect_callback": "ProConnect's answer; the state in the session is the credential",
}
# Pages without an object in their URL that show the signed-in user's own things only (their
# scoping is tested in tests/accounts/test_permissions.py): walked for anonymous visitors only.
OWN_SPACE = {
    "dashboard": "« Mon espace » of the user",
    "organisation_edit": "the user's own organisation field",
    "applicant_dashboard": "the user's own PTCEs and candidatures",
    "ptce_create": "creates a PTCE whose team is the user",
    "company_lookup": "public company registry lookup, no platform data",
    "evaluator_worklist": "the user's own assignments",
    "email_preferences": "the user's own email preferences",
    "my_data": "the user's own personal data",
    "my_data_download": "the user's own personal data, as a file",
    "account_delete": "deletes the user's own account",
    "api_tokens": "the user's own API tokens (create, list)",
    "hijack:release": "ends the staff member's own « act as » session (django-hijack)",
}
# Links whose token is the credential, sent by email to one person: walked for anonymous
# visitors (who must sign in first); a signed-in stranger sees the refusal in the page
# (candidatures.ptce.invitation_refusal, tested in tests/candidatures/test_ptce.py).
CREDENTIAL_LINKS = {
    "invitation_accept": "PTCE team invitation (64-character random token)",
}
# Modules whose views are walked by nobody: third-party screens about the user's own account,
# with no object of another user in their URL (keys there are one-time credentials).
SKIPPED_MODULES = {
    "allauth.": "allauth's own account pages (login, signup, email, password, second factor)",
    "api.views": "the read API: token authentication, never the session; what each role's token "
    "reaches is the permission table of tests/api/test_api.py (public calls included)",
}
# Unnamed patterns cannot be reversed; only the admin's are known and harmless.
SKIPPED_UNNAMED = {
    "django.views.generic.base": "the admin's « <id>/ » redirect to « <id>/change/ » (no data)",
    "django.contrib.admin.sites": "the admin's catch-all (404, or a redirect to the login page)",
}

# What staff may read (never write) outside the admin: every candidature and every screen of
# the regional and national review, read-only (DESIGN §3). GET answers (200, or 405 for an
# action of a screen they read); POST must still be refused: 404, or 403 (« you see it, you
# cannot change it »), or 405, or ignored (``POST_IS_A_READ``).
STAFF_READS = {
    "candidature_detail": "the candidature file, read-only",
    "region_handover": "the handover page of a region, read-only (POST: 403)",
    "deliberation_fix": "an action of the deliberation they read (POST: 403)",
    "deliberation_reopen": "an action of the deliberation they read (POST: 403)",
    "document_download": "a document of a candidature they read",
    "document_view": "a document of a candidature they read, shown inline",
    "dossier": "the dossier of a submitted candidature, read-only",
    "dossier_pdf": "the « dossier complet » PDF of a candidature they read",
    "candidature_messages": "the thread of a candidature they read (POST: 403)",
    "message_attachment": "an attachment of a thread they read",
    "documents_zip": "the documents of a candidature they read",
    "consolidation_list": "a region's consolidation, read-only",
    "regional_ranking": "a region's ranking, read-only",
    "consolidation_export": "a region's XLSX export",
    "regional_opinion": "a collegial opinion, read-only",
    "national_dashboard": "the national dashboard, read-only",
    "national_candidature": "a candidature's national analyses, read-only",
    "scenario_list": "the scenarios, read-only",
    "scenario_detail": "a scenario, read-only",
    "deliberation": "the deliberation, read-only",
    "deliberation_line": "a line of the deliberation, read-only",
    "decision_list": "the pending decisions, read-only",
    "decision_edit": "a pending decision, read-only",
    "decision_table": "the decisions table, read-only",
    "decision_autosave": "an action of the decisions table they read (POST: 403)",
    "decision_bulk": "an action of the decisions table they read (POST: 403)",
    "national_export": "the national XLSX",
    "pv_pdf": "the procès-verbal",
    "pv_xlsx": "the procès-verbal as a workbook",
    "questionnaire_preview": "the preview of a call's questionnaire, built by staff (POST: 405)",
    "questionnaire_preview_step": "a step of that preview (POST: 405)",
}
READS = {"staff": STAFF_READS}
# Read views that ignore the method: a POST shows the same page and changes nothing.
POST_IS_A_READ = {
    "candidature_detail": "no form on the page; the view reads, whatever the method",
}
# The admin is the staff's tool; superusers reach every object there by design.
ADMIN_ROLES = {"staff"}
# Django's admin_view lets in active staff only, whoever else asks, whatever the object and the
# method: its ~140 patterns are walked with GET, as a visitor and as one signed-in user.
ADMIN_WALKED_BY = {"anonymous", "other_applicant"}


# --- Patterns -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str | None  # with its namespace, as reverse() wants it
    route: str  # the pattern's text, includes joined
    kwargs: tuple[str, ...]
    module: str

    @property
    def short_name(self) -> str:
        return self.name or f"<unnamed {self.route}>"

    @property
    def is_admin(self) -> bool:
        return bool(self.name and self.name.startswith("admin:")) or self.route.startswith("admin/")


def routes(urlconf=None) -> list[Route]:
    """Every pattern of the URL configuration, through every include."""
    found = []

    def walk(resolver, prefix, namespace, outer_kwargs):
        for entry in resolver.url_patterns:
            kwargs = outer_kwargs + tuple(entry.pattern.regex.groupindex)
            text = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                inner = ":".join(part for part in (namespace, entry.namespace) if part)
                walk(entry, text, inner, kwargs)
            elif isinstance(entry, URLPattern):
                name = entry.name and (f"{namespace}:{entry.name}" if namespace else entry.name)
                module = getattr(entry.callback, "__module__", "") or ""
                found.append(Route(name, text, kwargs, module))

    walk(get_resolver(urlconf), "", "", ())
    return found


def segment_before(route: str, kwarg: str) -> str | None:
    """The literal path segment just before ``<conv:kwarg>`` (or ``(?P<kwarg>…)``)."""
    match = re.search(rf"([\w-]+)/(?:<(?:\w+:)?{kwarg}>|\(\?P<{kwarg}>)", route)
    return match.group(1) if match else None


def kind_of(route: Route, kwarg: str) -> str | None:
    if kwarg in KWARG_KINDS:
        return KWARG_KINDS[kwarg]
    return SEGMENT_KINDS.get((kwarg, segment_before(route.route, kwarg)))


def exemption(route: Route) -> str | None:
    """Why the walker leaves this pattern alone for signed-in roles, or None."""
    for prefix, reason in SKIPPED_MODULES.items():
        if route.module.startswith(prefix):
            return reason
    if route.name is None:
        return SKIPPED_UNNAMED.get(route.module)
    return PUBLIC.get(route.name) or OWN_SPACE.get(route.name) or CREDENTIAL_LINKS.get(route.name)


# --- The world: objects each role must not reach -----------------------------------------------


def objects_of(world) -> dict:
    """Region A's submitted candidature of ``world`` and everything hanging from it, by kind:
    its PTCE (a legal-person member, the team membership, a pending invitation), a document, a
    submitted review, region A's cell."""
    from evaluation.models import Assignment
    from tests.evaluation.test_scoring import make_review

    candidature, ptce = world.candidature_a, world.ptce_a
    document_type = f.DocumentTypeFactory(call=world.call, label="Statuts")
    evaluator = world.user("cra_evaluator")
    Assignment.objects.create(
        candidature=candidature, evaluator=evaluator, assigned_by=world.user("cra_coordinator")
    )
    return {
        "candidature": candidature.pk,
        "ptce": ptce.pk,
        "ptce_member": PtceMember.objects.create(
            ptce=ptce, name="Coopérative A", category=MemberCategory.ESS_ENTERPRISE
        ).pk,
        "ptce_membership": ptce.memberships.get(user=world.user("applicant")).pk,
        "invitation": PtceInvitation.objects.create(
            ptce=ptce, email="invitee@exemple.test", invited_by=world.user("applicant")
        ).token,
        "document_type": document_type.pk,
        "document": add_document(candidature, document_type).pk,
        "message": messaging.post_message(
            candidature,
            world.user("cra_coordinator"),
            "Bonjour",
            SimpleUploadedFile("devis.pdf", PDF_BYTES),
        ).pk,
        "review": make_review(candidature, {}, evaluator=evaluator).pk,
        "cell": RegionalCell.objects.get(call=world.call, region=world.region_a).pk,
        "region_export": ready_export(world).pk,
        "call_slug": world.call.slug,
        "step": "presentation",
        "api_token": create_token(world.user("applicant"), "suivi", 30).token.pk,
    }


def ready_export(world):
    """A ready ZIP of region A's dossiers, asked for by its coordinator."""
    from datetime import timedelta

    from django.core.files.base import ContentFile
    from django.utils import timezone

    from evaluation.models import ExportStatus, RegionExport

    export = RegionExport(
        cell=RegionalCell.objects.get(call=world.call, region=world.region_a),
        created_by=world.user("cra_coordinator"),
        status=ExportStatus.READY,
        total=1,
        done=1,
        size=4,
        expires_at=timezone.now() + timedelta(hours=48),
    )
    export.file.save("export.zip", ContentFile(b"PK\x05\x06"), save=False)
    export.save()
    return export


def national_objects_of(world) -> dict:
    """The national review of ``world``'s call, list fixed (``national`` of the permission
    tables), by kind."""
    objects = national(world)
    return {
        "call": world.call.pk,
        "scenario": objects["scenario"],
        "line": objects["line"],
        "decision": objects["decision"],
        "step": "presentation",
        "batch": objects["batch"],
    }


@dataclass
class Scene:
    """A user and the objects they must not reach (regional ones, national ones)."""

    user: object
    regional: dict
    national: dict
    national_user: object = None

    def user_for(self, route_kinds) -> object:
        if route_kinds & NATIONAL_KINDS and self.national_user is not None:
            return self.national_user
        return self.user


@dataclass
class Walk:
    main: object  # the world whose users are walked, its candidatures submitted
    in_national_review: object  # another edition, in national review, list fixed
    other_call: object  # a third edition, like ``main``
    scenes: dict = field(default_factory=dict)
    regional: dict = field(default_factory=dict)
    national: dict = field(default_factory=dict)


def build_scenes() -> Walk:
    """Three editions. ``main``: the users, and region A's objects (``objects_of``). A second
    edition in national review gives the national objects, and the same roles there (an applicant
    or a regional evaluator of that edition is walked against its national screens). A third
    edition gives the CNA member of ``main`` objects of a call whose CNA they are not in."""
    main, in_review, other = build_world(), build_world(), build_world()
    for world in (main, in_review):
        add_conflicted_evaluator(world)
    walk = Walk(main, in_review, other)
    walk.regional = objects_of(main)
    walk.national = national_objects_of(in_review)
    other_call_objects = {**objects_of(other), **national_objects_of(other)}
    for role in WALKED_ROLES:
        if role == "cna_member":
            scene = Scene(main.user(role), other_call_objects, other_call_objects)
        else:
            scene = Scene(main.user(role), walk.regional, walk.national, in_review.user(role))
        walk.scenes[role] = scene
    return walk


# --- Requests -----------------------------------------------------------------------------------


def fill(route: Route, objects: dict) -> tuple[str | None, str | None]:
    """(url, None) or (None, why it cannot be filled)."""
    kwargs = {}
    for kwarg in route.kwargs:
        if route.is_admin and kwarg in ADMIN_FILLERS:
            kwargs[kwarg] = ADMIN_FILLERS[kwarg]
            continue
        kind = kind_of(route, kwarg)
        if kind is None:
            return None, f"no kind for the keyword « {kwarg} » (add it to KWARG_KINDS)"
        if kind not in objects:
            return None, f"no object of kind « {kind} » in the scene"
        kwargs[kwarg] = objects[kind]
    return reverse(route.name, kwargs=kwargs), None


def route_kinds(route: Route) -> set[str]:
    return {kind_of(route, kwarg) for kwarg in route.kwargs} - {None}


def login_redirect(response) -> bool:
    if response.status_code != 302:
        return False
    target = urlsplit(response["Location"]).path
    return target.startswith(("/compte/login/", "/admin/login/"))


def admin_refusal(response) -> bool:
    """The admin sends non-staff users to its login, or (its logout) to its index, which is
    staff-only itself (and walked)."""
    return login_redirect(response) or (
        response.status_code == 302 and urlsplit(response["Location"]).path == "/admin/"
    )


def sign_in(client, user) -> None:
    """Log ``user`` in as if they had just typed their password: allauth's « confirm your
    password » step (``reauthentication_required``) then lets the request through to the view's
    own checks, which are what the walk is about."""
    client.logout()
    if user is None:
        return
    from allauth.account.internal.flows import login as allauth_login
    from allauth.account.internal.userkit import user_id_to_str

    client.force_login(user)
    session = client.session
    session[allauth_login.AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time(), "reauthenticated": True}
    ]
    session[allauth_login._AUTHENTICATION_METHODS_USER_SESSION_KEY] = user_id_to_str(user)
    session.save()


def is_refused(response, anonymous: bool, admin: bool, has_object: bool = True) -> bool:
    if response.status_code == 404:
        return True
    if response.status_code == 403 and not has_object:  # nothing whose existence it confirms
        return True
    if anonymous and response.status_code == 401:  # htmx autosave: « session expired » line
        return True
    if admin:
        return admin_refusal(response)
    return anonymous and login_redirect(response)


def request(client, method: str, url: str):
    try:
        return getattr(client, method)(url, {}), None
    except Exception as error:  # a crash is a failure of the walk, reported with the others
        return None, f"{method.upper()} {url} raised {error.__class__.__name__}: {error}"


def check_route(client, role: str, scene: Scene, route: Route) -> list[str]:
    """The problems of one pattern for one role (empty: refused as it must be)."""
    anonymous = role == "anonymous"
    if route.is_admin and (role in ADMIN_ROLES or role not in ADMIN_WALKED_BY):
        return []
    if not anonymous and exemption(route):
        return []
    if anonymous and route.name in PUBLIC:
        return []
    if route.name is None:
        if route.module in SKIPPED_UNNAMED or any(
            route.module.startswith(prefix) for prefix in SKIPPED_MODULES
        ):
            return []
        return [f"{route.route}: unnamed pattern (name it, or list it in SKIPPED_UNNAMED)"]
    if any(route.module.startswith(prefix) for prefix in SKIPPED_MODULES):
        return []
    kinds = route_kinds(route)
    objects = scene.national if kinds & NATIONAL_KINDS else scene.regional
    url, why = fill(route, objects)
    if url is None:
        return [f"{route.name} ({route.route}): {why}"]
    if not route.kwargs and not anonymous and not route.is_admin:
        return [
            f"{route.name}: no object in the URL; list it in PUBLIC or OWN_SPACE with its reason"
        ]
    user = scene.user_for(kinds)
    reads = READS.get(role, {})
    outcomes = {}
    for method in ("get",) if route.is_admin else ("get", "post"):
        if getattr(client, "walker_user", "nobody") != user:
            sign_in(client, user)
            client.walker_user = user
        response, crash = request(client, method, url)
        if crash:
            return [f"{role}: {crash}"]
        outcomes[method] = response
        if user is not None and not response.wsgi_request.user.is_authenticated:
            client.walker_user = "nobody"  # the view logged them out: sign in again
    problems = []
    if route.name in reads:
        get, post = outcomes["get"], outcomes["post"]
        if get.status_code not in (200, 405):
            problems.append(f"{role} GET {url} ({route.name}): {get.status_code}, listed as read")
        post_refused = is_refused(post, anonymous, route.is_admin) or post.status_code in (403, 405)
        if not (post_refused or (route.name in POST_IS_A_READ and post.status_code == 200)):
            problems.append(f"{role} POST {url} ({route.name}): {post.status_code} on a read")
        return problems
    refused = {
        method: is_refused(response, anonymous, route.is_admin, bool(route.kwargs))
        for method, response in outcomes.items()
    }
    allowed = {method: response.status_code != 405 for method, response in outcomes.items()}
    if not any(allowed.values()):
        return [f"{role} {url} ({route.name}): 405 to both GET and POST"]
    for method, response in outcomes.items():
        if allowed[method] and not refused[method]:
            where = response.get("Location", "")
            problems.append(
                f"{role} {method.upper()} {url} ({route.name}): {response.status_code} {where}"
            )
    return problems


def walk_problems(client, walk: Walk, role: str, urlconf=None, only=None) -> list[str]:
    """The problems of every pattern (or of the patterns named in ``only``) for ``role``."""
    problems = []
    for route in routes(urlconf):
        if only is None or route.name in only:
            problems += check_route(client, role, walk.scenes[role], route)
    return problems


@pytest.fixture(scope="module")
def _module_walk(django_db_setup, django_db_blocker, tmp_path_factory):
    """The three editions built once for the module (tests/shared.py), their documents in a
    temporary folder that stays the storage of the module's tests (``_private_storage``)."""
    files = tmp_path_factory.mktemp("walk") / "private"
    yield from built_once(django_db_blocker, build_scenes, files)


@pytest.fixture
def _private_storage():
    """The walked documents stay where ``_module_walk`` put them (instead of
    tests/conftest.py's per-test folder)."""


@pytest.fixture
def walk(_module_walk, db, settings):
    return copy.deepcopy(_module_walk)


@pytest.mark.parametrize("role", WALKED_ROLES)
def test_every_url_refuses_what_the_role_must_not_reach(client, walk, role):
    problems = walk_problems(client, walk, role)
    assert not problems, "\n".join(problems)


# --- The objects are reachable by someone: the refusals above mean something --------------------

# Users of the edition that owns the objects, tried in this order for each URL.
CONTROL_ROLES = [
    "staff",
    "applicant",
    "cra_coordinator",
    "cra_evaluator",
    "cna_admin",
    "cna_member",
]
# Walked patterns that answer nobody on GET with these objects, and why that is fine.
UNREACHABLE_ON_GET = {
    "candidature_step": "steps of a submitted candidature redirect to its page: reachable",
    "notification_pdf": "the laureate's notification exists once the results are published "
    "(tests/evaluation/test_decision_pdfs.py downloads it)",
}


def test_walked_objects_are_reachable_by_someone(client, walk):
    problems = []
    for route in routes():
        if route.is_admin or exemption(route) or not route.kwargs or route.name is None:
            continue
        kinds = route_kinds(route)
        world = walk.in_national_review if kinds & NATIONAL_KINDS else walk.main
        url, why = fill(route, walk.national if kinds & NATIONAL_KINDS else walk.regional)
        if url is None:
            continue  # reported by the walk itself
        statuses = []
        for role in CONTROL_ROLES:
            sign_in(client, world.user(role))
            response = client.get(url)
            statuses.append(response.status_code)
            if response.status_code == 405 or not is_refused(response, False, False):
                break
        else:
            if route.name not in UNREACHABLE_ON_GET:
                problems.append(f"{route.name} {url}: nobody reaches it ({statuses})")
    assert not problems, "\n".join(problems)


# --- The walker itself: a new view without a check fails it -------------------------------------


@login_required
def leaky_candidature(request, pk):
    """A view that forgets ``visible_to``."""
    candidature = get_object_or_404(Candidature, pk=pk)
    return HttpResponse(candidature.ptce.name)


def scratch_urlconf(*extra):
    module = types.ModuleType("scratch_urls")
    from wiring import urls

    module.urlpatterns = [*urls.urlpatterns, *extra]
    return module


def test_the_walker_catches_a_view_without_a_check(client, walk):
    urlconf = scratch_urlconf(
        path("candidatures/<int:pk>/fuite/", leaky_candidature, name="leaky_candidature")
    )
    with override_settings(ROOT_URLCONF=urlconf):
        for role in ("other_applicant", "other_region_evaluator", "conflicted_evaluator"):
            problems = walk_problems(client, walk, role, urlconf, only={"leaky_candidature"})
            assert problems == [
                f"{role} GET /candidatures/{walk.regional['candidature']}/fuite/ "
                "(leaky_candidature): 200 ",
                f"{role} POST /candidatures/{walk.regional['candidature']}/fuite/ "
                "(leaky_candidature): 200 ",
            ]
        # The view's login_required still turns anonymous visitors away: no problem there.
        assert walk_problems(client, walk, "anonymous", urlconf, {"leaky_candidature"}) == []


def test_the_walker_fails_on_a_pattern_it_cannot_fill(client, walk):
    urlconf = scratch_urlconf(
        path("instruction/choses/<int:thing_pk>/", leaky_candidature, name="thing"),
        path("instruction/tout/", leaky_candidature, name="everything"),
    )
    with override_settings(ROOT_URLCONF=urlconf):
        problems = walk_problems(client, walk, "cna_member", urlconf, {"thing", "everything"})
    assert problems == [
        "thing (instruction/choses/<int:thing_pk>/): no kind for the keyword « thing_pk » "
        "(add it to KWARG_KINDS)",
        "everything: no object in the URL; list it in PUBLIC or OWN_SPACE with its reason",
    ]


def test_every_listed_pattern_exists():
    """The lists above name real patterns (a renamed view must not leave a stale exemption)."""
    names = {route.name for route in routes()}
    listed_names = (
        PUBLIC,
        OWN_SPACE,
        CREDENTIAL_LINKS,
        STAFF_READS,
        POST_IS_A_READ,
        UNREACHABLE_ON_GET,
    )
    for listed in listed_names:
        assert set(listed) <= names, set(listed) - names
