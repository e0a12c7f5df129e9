"""``ami.compiled.CompiledLookup``: the SQL of a hot lookup compiled once per process gives the
very instances the queryset gives (issue 18, item 5), and the applicant's candidature lookup
built on it keeps its scope (a 404 outside the team, for an inactive account, a locked row only
inside a transaction)."""

import pytest
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.test.utils import CaptureQueriesContext

from ami.compiled import CompiledLookup
from candidatures.models import Candidature, PtceMembership
from candidatures.views.common import own_candidature_or_404
from tests import factories as f

pytestmark = pytest.mark.django_db


def _fields(instance):
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }


def _lookup():
    def build(user_pk, pk):
        team = PtceMembership.objects.filter(ptce=OuterRef("ptce"), user_id=user_pk)
        return Candidature.objects.filter(Exists(team), pk=pk).select_related(
            "call", "ptce", "region"
        )

    return CompiledLookup(build, arity=2)


def test_the_compiled_lookup_gives_what_the_queryset_gives(django_assert_num_queries):
    membership = f.PtceMembershipFactory()
    candidature = f.CandidatureFactory(
        ptce=membership.ptce, answers={"summary": "Résumé", "n": 3}, title="Tiers-lieu"
    )
    other = f.CandidatureFactory()
    lookup = _lookup()
    expected = lookup.build(membership.user_id, candidature.pk).get()
    got = lookup.get(membership.user_id, candidature.pk)
    assert type(got) is Candidature and got.pk == candidature.pk and not got._state.adding
    assert _fields(got) == _fields(expected)
    assert got.answers == {"summary": "Résumé", "n": 3}  # JSON converted as the ORM does
    with django_assert_num_queries(0):  # the related rows came with it
        assert _fields(got.call) == _fields(expected.call)
        assert _fields(got.ptce) == _fields(expected.ptce)
        assert got.region.name == expected.region.name
    # Each call runs the same SQL with its own values.
    assert lookup.get(membership.user_id, other.pk) is None
    assert lookup.get(f.UserFactory().pk, candidature.pk) is None
    with CaptureQueriesContext(connection) as queries:
        lookup.get(membership.user_id, candidature.pk)
    assert len(queries) == 1 and str(candidature.pk) in queries[0]["sql"]


def test_stand_ins_must_all_reach_the_sql():
    lookup = CompiledLookup(lambda a, b: Candidature.objects.filter(pk=a), arity=2)
    with pytest.raises(ValueError):
        lookup.get(1, 2)


def test_the_applicants_lookup_keeps_its_scope():
    membership = f.PtceMembershipFactory()
    candidature = f.CandidatureFactory(ptce=membership.ptce)
    user = membership.user
    assert own_candidature_or_404(user, candidature.pk).pk == candidature.pk
    with pytest.raises(Http404):
        own_candidature_or_404(f.PtceMembershipFactory().user, candidature.pk)
    with pytest.raises(Http404):
        own_candidature_or_404(user, "abc")
    with transaction.atomic():
        locked = own_candidature_or_404(user, candidature.pk, lock=True)
        assert locked._locked_for_update
    user.is_active = False
    user.save()
    with pytest.raises(Http404):
        own_candidature_or_404(user, candidature.pk)


@pytest.mark.django_db(transaction=True)
def test_a_locked_lookup_needs_a_transaction():
    membership = f.PtceMembershipFactory()
    candidature = f.CandidatureFactory(ptce=membership.ptce)
    with pytest.raises(transaction.TransactionManagementError):
        own_candidature_or_404(membership.user, candidature.pk, lock=True)
    with transaction.atomic():
        assert (
            own_candidature_or_404(membership.user, candidature.pk, lock=True).pk == candidature.pk
        )
