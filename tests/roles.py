"""The role-parametrised permission harness.

``build_world()`` makes one small edition with one user per role (DESIGN §3). Permission tests
parametrise over ``ROLES`` and check each screen or queryset against a table of expectations;
later issues add their screens to those tables.
"""

from dataclasses import dataclass, field

from django.utils import timezone

from accounts.models import NationalRole, RegionalRole
from candidatures.models import CandidatureState
from candidatures.submission import freeze

from . import factories as f

ROLES = [
    "anonymous",
    "applicant",
    "other_applicant",
    "cra_evaluator",
    "cra_coordinator",
    "other_region_evaluator",
    "cna_member",
    "cna_admin",
    "staff",
]

# Expected outcomes of a GET.
OK = 200
LOGIN = "login"  # redirect to the login page
ADMIN_LOGIN = "admin_login"  # redirect to the admin's login page
FORBIDDEN = 403
NOT_FOUND = 404


@dataclass
class World:
    call: object
    region_a: object
    region_b: object
    ptce_a: object
    ptce_b: object
    candidature_a: object  # submitted, region A
    candidature_b: object  # submitted, region B
    draft_a: object  # draft, region A, third PTCE
    users: dict = field(default_factory=dict)

    def user(self, role):
        return self.users.get(role)


def build_world() -> World:
    call = f.CallFactory()
    region_a, region_b = f.region("11"), f.region("53")
    ptce_a = f.PtceFactory(region=region_a)
    ptce_b = f.PtceFactory(region=region_b)
    ptce_c = f.PtceFactory(region=region_a)
    now = timezone.now()
    submitted = {"state": CandidatureState.SUBMITTED, "submitted_at": now}
    candidature_a = f.CandidatureFactory(ptce=ptce_a, call=call, **submitted)
    candidature_b = f.CandidatureFactory(ptce=ptce_b, call=call, **submitted)
    draft_a = f.CandidatureFactory(ptce=ptce_c, call=call)
    for candidature in (candidature_a, candidature_b):
        freeze(candidature, None, "", now)  # snapshot and receipt number, as a real submission
        candidature.save()

    cell_a = f.RegionalCellFactory(call=call, region=region_a)
    cell_b = f.RegionalCellFactory(call=call, region=region_b)
    national = f.NationalCellFactory(call=call)
    users = {"anonymous": None}
    users["applicant"] = f.PtceMembershipFactory(ptce=ptce_a).user
    users["other_applicant"] = f.PtceMembershipFactory(ptce=ptce_b).user
    users["cra_evaluator"] = f.RegionalMembershipFactory(
        cell=cell_a, role=RegionalRole.EVALUATOR
    ).user
    users["cra_coordinator"] = f.RegionalMembershipFactory(
        cell=cell_a, role=RegionalRole.COORDINATOR
    ).user
    users["other_region_evaluator"] = f.RegionalMembershipFactory(
        cell=cell_b, role=RegionalRole.EVALUATOR
    ).user
    users["cna_member"] = f.NationalMembershipFactory(cell=national, role=NationalRole.MEMBER).user
    users["cna_admin"] = f.NationalMembershipFactory(
        cell=national, role=NationalRole.ADMINISTRATOR
    ).user
    users["staff"] = f.UserFactory(is_staff=True, is_superuser=True)
    return World(
        call=call,
        region_a=region_a,
        region_b=region_b,
        ptce_a=ptce_a,
        ptce_b=ptce_b,
        candidature_a=candidature_a,
        candidature_b=candidature_b,
        draft_a=draft_a,
        users=users,
    )


def client_as(client, world: World, role: str):
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    return client


def assert_outcome(response, expected, url: str, role: str):
    """Check a response against one expectation of the tables."""
    where = f"{role} GET {url}"
    if expected == LOGIN:
        assert response.status_code == 302, f"{where}: {response.status_code}"
        assert response["Location"].startswith("/compte/login/"), where
    elif expected == ADMIN_LOGIN:
        assert response.status_code == 302, f"{where}: {response.status_code}"
        assert response["Location"].startswith("/admin/login/"), where
    else:
        assert response.status_code == expected, f"{where}: {response.status_code}"


def add_conflicted_evaluator(world: World):
    """An evaluator of region A's cell, assigned candidature_a, who then declared a conflict of
    interest on it (through the real ``declare_conflict``, which withdraws the assignment): from
    then on they must reach nothing of it. Registered as ``world.user("conflicted_evaluator")``."""
    from evaluation.conflicts import declare_conflict
    from evaluation.models import Assignment

    if "conflicted_evaluator" not in world.users:
        cell = f.RegionalCellFactory(call=world.call, region=world.region_a)
        user = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.EVALUATOR).user
        Assignment.objects.create(
            candidature=world.candidature_a,
            evaluator=user,
            assigned_by=world.user("cra_coordinator"),
        )
        declare_conflict(world.candidature_a, user, "Salariée d'un membre du PTCE")
        world.users["conflicted_evaluator"] = user
    return world.users["conflicted_evaluator"]
