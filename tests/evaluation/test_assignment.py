"""Assignments of evaluators: by hand, automatically with a balanced load and no conflicted
evaluator, and the assignments page."""

import itertools
import random
from collections import Counter

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import RegionalRole
from ami.models import OutboxMessage
from candidatures.models import CandidatureState
from evaluation import assignment
from evaluation.models import (
    Assignment,
    ConflictOfInterest,
    ConflictSource,
    ConflictStatus,
    RegionHandover,
    Review,
    ReviewState,
)
from tests import factories as f
from tests.form_errors import assert_field_error

pytestmark = pytest.mark.django_db


def make_cell(evaluators=3, reviews=2, coordinators=1, region="11"):
    call = f.CallFactory(reviews_per_candidature=reviews)
    cell = f.RegionalCellFactory(call=call, region=f.region(region))
    coordinator = None
    for _ in range(coordinators):
        coordinator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR).user
    people = [
        f.RegionalMembershipFactory(cell=cell, role=RegionalRole.EVALUATOR).user
        for _ in range(evaluators)
    ]
    return cell, coordinator, people


def admissible(cell, count=1, state=CandidatureState.ADMISSIBLE):
    return [
        f.CandidatureFactory(
            call=cell.call,
            ptce=f.PtceFactory(region=cell.region),
            state=state,
            submitted_at=timezone.now(),
        )
        for _ in range(count)
    ]


def conflict(candidature, evaluator, source=ConflictSource.DECLARED, status="confirmed"):
    return ConflictOfInterest.objects.create(
        candidature=candidature, evaluator=evaluator, source=source, status=status, reason="Lien"
    )


def pairs():
    return set(Assignment.objects.values_list("candidature", "evaluator"))


def loads_of(people, call):
    counts = assignment.loads(call, [p.pk for p in people])
    return [counts[p.pk] for p in people]


# --- Automatic assignment ---------------------------------------------------------------------


def test_seven_candidatures_two_reviews_three_evaluators_gives_5_5_4(world):
    cell, coordinator, people = make_cell(evaluators=3, reviews=2)
    candidatures = admissible(cell, 7)
    admissible(cell, 1, state=CandidatureState.SUBMITTED)  # not admissible yet: left alone
    result = assignment.auto_assign(cell, coordinator)
    assert len(result.created) == 14
    assert result.understaffed == []
    assert sorted(loads_of(people, cell.call), reverse=True) == [5, 5, 4]
    per_candidature = Counter(c for c, _e in pairs())
    assert per_candidature == {c.pk: 2 for c in candidatures}
    assert coordinator.pk not in {e for _c, e in pairs()}  # coordinators are not picked
    # One email per evaluator, listing their candidatures.
    mails = OutboxMessage.objects.filter(event="evaluation.assigned")
    assert sorted(m.recipient for m in mails) == sorted(p.email for p in people)
    # Running it again changes nothing.
    before = pairs()
    again = assignment.auto_assign(cell, coordinator)
    assert again.created == [] and pairs() == before
    assert OutboxMessage.objects.filter(event="evaluation.assigned").count() == 3


def test_never_a_conflicted_evaluator_and_loads_within_one(world):
    cell, coordinator, people = make_cell(evaluators=4, reviews=2)
    candidatures = admissible(cell, 6)
    a, b, c, d = people
    blocked = {
        (candidatures[0].pk, a.pk),  # declared
        (candidatures[1].pk, b.pk),  # detected, pending: blocks too
        (candidatures[2].pk, a.pk),
        (candidatures[2].pk, b.pk),
    }
    conflict(candidatures[0], a)
    conflict(candidatures[1], b, ConflictSource.DETECTED, ConflictStatus.PENDING)
    conflict(candidatures[2], a)
    conflict(candidatures[2], b, ConflictSource.DETECTED, ConflictStatus.CONFIRMED)
    conflict(candidatures[3], c, ConflictSource.DETECTED, ConflictStatus.DISMISSED)  # allowed
    result = assignment.auto_assign(cell, coordinator)
    assert not (pairs() & blocked)
    assert set(Assignment.objects.filter(candidature=candidatures[2]).values_list(
        "evaluator", flat=True)) == {c.pk, d.pk}  # fmt: skip
    assert result.understaffed == []
    loads = loads_of(people, cell.call)
    assert sum(loads) == 12 and max(loads) - min(loads) <= 1


def test_candidatures_that_cannot_be_fully_staffed_are_reported(world):
    cell, coordinator, people = make_cell(evaluators=2, reviews=2)
    candidatures = admissible(cell, 2)
    conflict(candidatures[1], people[0])
    result = assignment.auto_assign(cell, coordinator)
    assert [(c.pk, missing) for c, missing in result.understaffed] == [(candidatures[1].pk, 1)]
    assert Assignment.objects.filter(candidature=candidatures[1]).count() == 1
    # Rerunning reports it again and creates nothing.
    again = assignment.auto_assign(cell, coordinator)
    assert again.created == [] and len(again.understaffed) == 1


def test_existing_assignments_count_and_are_kept(world):
    cell, coordinator, people = make_cell(evaluators=3, reviews=2)
    candidatures = admissible(cell, 3)
    # The coordinator assigned themselves by hand: it counts towards the two reviews.
    Assignment.objects.create(
        candidature=candidatures[0], evaluator=coordinator, assigned_by=coordinator
    )
    # Another cell of the same call gave the first evaluator work already.
    other_cell = f.RegionalCellFactory(call=cell.call, region=f.region("53"))
    for candidature in admissible(other_cell, 2):
        Assignment.objects.create(
            candidature=candidature, evaluator=people[0], assigned_by=coordinator
        )
    assignment.auto_assign(cell, coordinator)
    assert Assignment.objects.filter(candidature=candidatures[0]).count() == 2
    assert Assignment.objects.filter(candidature=candidatures[0], evaluator=coordinator).exists()
    assert sorted(loads_of(people, cell.call)) == [2, 2, 3]  # 2 done elsewhere + 5 new


@pytest.mark.parametrize("seed", range(4))
def test_auto_assign_reaches_the_most_balanced_load(world, seed):
    """In the database, on small cells with random conflicts and prior load elsewhere: no
    conflicted pair, every candidature as staffed as its conflicts allow, and the smallest
    possible sum of squared loads (hence loads within one whenever conflicts allow)."""
    rng = random.Random(seed)
    cell, coordinator, people = make_cell(evaluators=rng.choice([3, 4]), reviews=2)
    candidatures = admissible(cell, rng.choice([4, 5]))
    other = admissible(f.RegionalCellFactory(call=cell.call, region=f.region("53")), 1)[0]
    prior = Counter()
    for person in people:
        if rng.random() < 0.4:
            Assignment.objects.create(candidature=other, evaluator=person, assigned_by=person)
            prior[person.pk] += 1
    blocked = {c.pk: set() for c in candidatures}
    for candidature in candidatures:
        for person in people:
            if rng.random() < 0.3:
                conflict(candidature, person)
                blocked[candidature.pk].add(person.pk)
    ids = [p.pk for p in people]

    assignment.auto_assign(cell, coordinator)
    mine = {c.pk: set() for c in candidatures}
    for candidature_id, evaluator_id in pairs():
        if candidature_id in mine:
            mine[candidature_id].add(evaluator_id)
    assert not [c for c, es in mine.items() if es & blocked[c]]
    assert all(len(mine[c]) == min(2, len(ids) - len(blocked[c])) for c in mine)
    final = assignment.loads(cell.call, ids)
    best = brute_force_best(list(mine), ids, 2, blocked, prior)
    assert sum(final[e] ** 2 for e in ids) == best


def test_rebalancing_undoes_an_unlucky_greedy_pick():
    """Evaluator 2 cannot take 101–103, evaluator 3 cannot take 100. Least-loaded picks in
    order give 1 → {100, 102}, 3 → {101, 103}, 2 → nothing; the chain 1 →(100)→ 2 fixes it."""
    blocked = {100: {3}, 101: {2}, 102: {2}, 103: {2}}
    new, missing = assignment.plan([100, 101, 102, 103], [1, 2, 3], 1, {}, blocked, Counter())
    assert missing == {}
    assert sorted(len(given) for given in new.values()) == [1, 1, 2]
    assert new[2] == {100}


def brute_force_best(candidatures, pool, wanted, blocked, prior):
    """The smallest sum of squared loads over every way of staffing each candidature as much
    as its conflicts allow."""
    eligible = {c: [e for e in pool if e not in blocked.get(c, ())] for c in candidatures}
    best = None
    for combo in itertools.product(
        *(itertools.combinations(eligible[c], min(wanted, len(eligible[c]))) for c in candidatures)
    ):
        load = Counter(prior)
        for chosen in combo:
            load.update(chosen)
        cost = sum(load[e] ** 2 for e in pool)
        best = cost if best is None else min(best, cost)
    return best


def test_plan_is_optimal_on_random_small_cells():
    for seed in range(400):
        rng = random.Random(seed)
        pool = list(range(1, rng.choice([3, 4, 5]) + 1))
        candidatures = list(range(100, 100 + rng.choice([3, 4, 5, 6])))
        wanted = rng.choice([1, 2])
        prior = Counter({e: rng.choice([0, 0, 1, 2]) for e in pool})
        blocked = {c: {e for e in pool if rng.random() < 0.4} for c in candidatures}
        new, missing = assignment.plan(candidatures, pool, wanted, {}, blocked, prior)
        given = [(c, e) for e, cs in new.items() for c in cs]
        assert not [(c, e) for c, e in given if e in blocked[c]], seed
        staffed = Counter(c for c, _e in given)
        for c in candidatures:
            possible = min(wanted, len(pool) - len(blocked[c]))
            assert staffed[c] == possible and missing.get(c, 0) == wanted - possible, seed
        load = prior + Counter(e for _c, e in given)
        cost = sum(load[e] ** 2 for e in pool)
        assert cost == brute_force_best(candidatures, pool, wanted, blocked, prior), seed


def test_only_a_coordinator_of_the_cell_auto_assigns(world):
    cell, coordinator, people = make_cell()
    admissible(cell, 2)
    for user in (people[0], f.UserFactory(is_staff=True)):
        with pytest.raises(PermissionDenied):
            assignment.auto_assign(cell, user)
    RegionHandover.objects.create(cell=cell, handed_over_by=coordinator)
    with pytest.raises(ValidationError, match="transmise à la CNA"):
        assignment.auto_assign(cell, coordinator)
    assert not Assignment.objects.exists()


# --- By hand ----------------------------------------------------------------------------------


def test_manual_assignment_notifies_and_refuses_what_it_must(world):
    cell, coordinator, people = make_cell(evaluators=3)
    candidature, submitted = admissible(cell, 1)[0], admissible(cell, 1, "submitted")[0]
    a, b, c = people
    created = assignment.assign(candidature, a, coordinator)
    assert created.assigned_by == coordinator
    mail = OutboxMessage.objects.get(event="evaluation.assigned")
    assert mail.recipient == a.email and candidature.ptce.name in mail.body_text
    assignment.assign(candidature, coordinator, coordinator)  # a coordinator may take one
    with pytest.raises(ValidationError, match="déjà attribuée"):
        assignment.assign(candidature, a, coordinator)
    conflict(candidature, b)
    with pytest.raises(ValidationError, match="conflit d'intérêts"):
        assignment.assign(candidature, b, coordinator)
    conflict(candidature, c, ConflictSource.DETECTED, ConflictStatus.PENDING)
    with pytest.raises(ValidationError, match="conflit d'intérêts"):
        assignment.assign(candidature, c, coordinator)
    with pytest.raises(ValidationError, match="ne fait pas partie de la cellule"):
        assignment.assign(candidature, f.UserFactory(), coordinator)
    with pytest.raises(ValidationError, match="seules les candidatures recevables"):
        assignment.assign(submitted, a, coordinator)
    with pytest.raises(PermissionDenied):
        assignment.assign(candidature, b, a)
    assert Assignment.objects.count() == 2


def test_unassign_refused_once_the_review_is_submitted(world):
    cell, coordinator, people = make_cell(evaluators=2)
    candidature = admissible(cell, 1)[0]
    first = assignment.assign(candidature, people[0], coordinator)
    second = assignment.assign(candidature, people[1], coordinator)
    Review.objects.create(
        candidature=candidature, evaluator=people[0], state=ReviewState.SUBMITTED,
        submitted_at=timezone.now(),
    )  # fmt: skip
    with pytest.raises(ValidationError, match="déjà rendu son évaluation"):
        assignment.unassign(first, coordinator)
    assignment.unassign(second, coordinator)
    assert list(Assignment.objects.values_list("pk", flat=True)) == [first.pk]
    assert OutboxMessage.objects.filter(
        event="evaluation.unassigned", recipient=people[1].email
    ).exists()


# --- The page ---------------------------------------------------------------------------------


def test_assignments_page_actions(client, world):
    cell, coordinator, people = make_cell(evaluators=3, reviews=2)
    candidatures = admissible(cell, 2)
    conflict(candidatures[0], people[2], ConflictSource.DETECTED, ConflictStatus.PENDING)
    url = reverse("cell_assignments", args=[cell.pk])
    client.force_login(coordinator)
    page = client.get(url).content.decode()
    assert "Répartir automatiquement" in page
    assert "détecté par la plateforme" in page and "à examiner" in page
    response = client.post(url, {"action": "auto"}, follow=True)
    assert "4 attributions créées" in response.content.decode()
    assert (candidatures[0].pk, people[2].pk) not in pairs()
    row = Assignment.objects.filter(candidature=candidatures[1]).first()
    client.post(url, {"action": "unassign", "assignment": row.pk})
    assert not Assignment.objects.filter(pk=row.pk).exists()
    client.post(
        url, {"action": "assign", "candidature": candidatures[1].pk, "evaluator": row.evaluator_id}
    )
    assert Assignment.objects.filter(candidature=candidatures[1]).count() == 2
    refused = client.post(
        url,
        {"action": "assign", "candidature": candidatures[0].pk, "evaluator": people[2].pk},
        follow=True,
    )
    assert "conflit d&#x27;intérêts" in refused.content.decode()
    # A candidature of another cell cannot be reached through this one.
    elsewhere = admissible(f.RegionalCellFactory(call=cell.call, region=f.region("53")), 1)[0]
    response = client.post(
        url, {"action": "assign", "candidature": elsewhere.pk, "evaluator": people[0].pk}
    )
    assert response.status_code == 404


def test_assignments_page_query_count_does_not_grow(client, world):
    cell, coordinator, people = make_cell(evaluators=4, reviews=2)
    url = reverse("cell_assignments", args=[cell.pk])
    client.force_login(coordinator)

    def grow_to(total):
        existing = Assignment.objects.values("candidature").distinct().count()
        for candidature in admissible(cell, total - existing):
            conflict(candidature, people[3], ConflictSource.DETECTED, ConflictStatus.PENDING)
        assignment.auto_assign(cell, coordinator)
        for row in Assignment.objects.all()[: total // 2]:
            Review.objects.get_or_create(
                candidature_id=row.candidature_id, evaluator_id=row.evaluator_id,
                defaults={"state": ReviewState.SUBMITTED, "submitted_at": timezone.now()},
            )  # fmt: skip

    def count():
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        return len(queries), response

    grow_to(5)
    small, response = count()
    assert len(response.context["rows"]) == 5
    grow_to(25)
    large, response = count()
    assert len(response.context["rows"]) == 25
    assert small == large


def test_a_refused_assignment_is_shown_in_its_row_and_in_the_summary(client):
    cell, coordinator, people = make_cell(evaluators=2, reviews=2)
    candidature = admissible(cell)[0]
    conflict(candidature, people[1])
    client.force_login(coordinator)
    response = client.post(
        reverse("cell_assignments", args=[cell.pk]),
        {"action": "assign", "candidature": candidature.pk, "evaluator": people[1].pk},
    )
    assert response.status_code == 422
    assert_field_error(
        response.content.decode(), f"attribution-{candidature.pk}-evaluator", "conflit d'intérêts"
    )
    assert not Assignment.objects.exists()
