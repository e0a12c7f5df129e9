"""What a step page and an autosave cost during the deadline rush (issue 18, item 5;
``bench/request_cpu.py``, docs/performance.md): their queries are pinned, the questionnaire of
an open call is read once per process, the candidature once per write (already locked), the
team membership once per request."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ami.models import Phase, Question
from candidatures import drafting, questionnaire
from candidatures.models import Candidature
from candidatures.views.common import own_candidature_or_404
from tests import factories as f

pytestmark = pytest.mark.django_db

# Step page of a draft, once the call's questionnaire is known to the process: the user, their
# cell roles (second factor and navigation: one query), the candidature, the step it is on (with
# the audit trail's context, ami.audit), and the audit context cleared after that write.
STEP_PAGE_QUERIES = 5
# Autosave: the user, their cell roles, the call held in share mode, the candidature read locked,
# its update, the audit context cleared (savepoints left out: the view's transaction is one only
# inside the test's).
AUTOSAVE_QUERIES = 6


@pytest.fixture
def draft():
    membership = f.PtceMembershipFactory()
    candidature = f.CandidatureFactory(ptce=membership.ptce, requested_amount=None)
    return candidature, membership.user


def _queries(client, method, url, data=None, **headers):
    with CaptureQueriesContext(connection) as queries:
        response = getattr(client, method)(url, data or {}, headers=headers)
    sql = [q["sql"] for q in queries.captured_queries]
    return response, [q for q in sql if "SAVEPOINT" not in q]


def test_step_page_and_autosave_query_counts(client, draft):
    candidature, user = draft
    client.force_login(user)
    assert candidature.call.phase == Phase.OPEN
    client.get(reverse("candidature_step", args=[candidature.pk, "presentation"]))  # warm

    url = reverse("candidature_step", args=[candidature.pk, "projet"])
    response, sql = _queries(client, "get", url)
    assert response.status_code == 200
    assert len(sql) == STEP_PAGE_QUERIES, "\n".join(q[:150] for q in sql)  # 14 before
    assert not any("ami_question" in q or "ami_section" in q for q in sql)
    assert not any("django_session" in q for q in sql)  # read from the cache (cached_db)

    autosave = reverse("candidature_autosave", args=[candidature.pk, "presentation"])
    response, sql = _queries(client, "post", autosave, {"title": "Vite"}, HX_Request="true")
    assert response.status_code == 200 and "Enregistré à" in response.content.decode()
    assert len(sql) == AUTOSAVE_QUERIES, "\n".join(q[:200] for q in sql)  # 11 before
    locks = [q for q in sql if "FOR UPDATE" in q]
    assert len(locks) == 1 and "candidatures_ptcemembership" in locks[0]  # scoped, then locked
    assert 'FOR UPDATE OF "candidatures_candidature", "candidatures_ptce"' in locks[0]
    # The call in share mode, before: the other applicants' saves are not kept waiting.
    shares = [q for q in sql if "FOR SHARE" in q]
    assert len(shares) == 1 and 'FROM "ami_call"' in shares[0]
    assert sql.index(shares[0]) < sql.index(locks[0])
    assert Candidature.objects.get(pk=candidature.pk).title == "Vite"


def test_step_save_reads_the_candidature_once_locked(client, draft):
    candidature, user = draft
    client.force_login(user)
    url = reverse("candidature_step", args=[candidature.pk, "presentation"])
    response, sql = _queries(client, "post", url, {"title": "Titre", "go": "territoire"})
    assert response.status_code == 302
    reads = [q for q in sql if q.startswith('SELECT "candidatures_candidature"')]
    assert len(reads) == 1 and "FOR UPDATE" in reads[0]


def test_save_step_said_locked_refuses_a_row_that_is_not(draft):
    candidature, user = draft
    with pytest.raises(RuntimeError):
        drafting.save_step(candidature, "presentation", {"title": "x"}, user, row_locked=True)
    with transaction.atomic():
        unlocked = own_candidature_or_404(user, candidature.pk)
        with pytest.raises(RuntimeError):
            drafting.save_step(unlocked, "presentation", {"title": "x"}, user, row_locked=True)
        locked = own_candidature_or_404(user, candidature.pk, lock=True)
        drafting.save_step(locked, "presentation", {"title": "Verrouillé"}, user, row_locked=True)
    assert Candidature.objects.get(pk=candidature.pk).title == "Verrouillé"


def test_locked_save_still_refuses_after_the_deadline(client, draft):
    from datetime import timedelta

    from django.utils import timezone

    from ami.models import Call

    candidature, user = draft
    client.force_login(user)
    Call.objects.filter(pk=candidature.call_id).update(closes_at=timezone.now() - timedelta(1))
    autosave = reverse("candidature_autosave", args=[candidature.pk, "presentation"])
    response = client.post(autosave, {"title": "Trop tard"}, headers={"HX-Request": "true"})
    assert response.status_code == 403 and "clos" in response.content.decode()
    step = reverse("candidature_step", args=[candidature.pk, "presentation"])
    response = client.post(step, {"title": "Trop tard"})
    assert response.status_code == 302
    assert Candidature.objects.get(pk=candidature.pk).title != "Trop tard"


def test_membership_lost_between_requests_is_seen(client, draft):
    """The membership proved by the lookup is remembered for the request only."""
    candidature, user = draft
    client.force_login(user)
    url = reverse("candidature_step", args=[candidature.pk, "presentation"])
    assert client.get(url).status_code == 200
    candidature.ptce.memberships.filter(user=user).delete()
    assert client.get(url).status_code == 404
    autosave = reverse("candidature_autosave", args=[candidature.pk, "presentation"])
    assert client.post(autosave, {"title": "x"}, headers={"HX-Request": "true"}).status_code == 404


def test_an_open_calls_steps_are_read_once_per_process(draft, django_assert_num_queries):
    candidature, _ = draft
    call = candidature.call
    reread = type(call).objects.get(pk=call.pk)
    with django_assert_num_queries(2):
        first = questionnaire.steps(reread)
    fresh = type(call).objects.get(pk=call.pk)  # another request's call object
    with django_assert_num_queries(0):
        assert questionnaire.steps(fresh) == first
    # A question saved through the ORM (here behind the frozen phase's back) is seen at once.
    with f.configuring(call):
        question = Question.objects.filter(call=call).first()
        question.label = "Nouvelle question"
        question.save()
    labels = [
        q.label
        for s in questionnaire.steps(type(call).objects.get(pk=call.pk))
        for q in s.questions
    ]
    assert "Nouvelle question" in labels


def test_a_draft_calls_steps_are_not_kept(django_assert_num_queries):
    call = f.CallFactory(phase=Phase.DRAFT)
    questionnaire.steps(type(call).objects.get(pk=call.pk))
    reread = type(call).objects.get(pk=call.pk)
    with django_assert_num_queries(2):
        questionnaire.steps(reread)
    Question.objects.filter(call=call).delete()  # allowed in draft, and seen at once
    assert all(not s.questions for s in questionnaire.steps(type(call).objects.get(pk=call.pk)))


def test_the_submission_reads_the_cofinancing_lines_twice_not_three_times(client):
    from tests.candidatures.helpers import submittable

    candidature, user = submittable()
    client.force_login(user)
    response, sql = _queries(client, "post", reverse("candidature_submit", args=[candidature.pk]))
    assert response.status_code == 302 and "recepisse" in response.url
    lines = [
        q for q in sql if q.startswith("SELECT") and 'FROM "candidatures_cofinancingline"' in q
    ]
    assert len(lines) == 2  # the completeness check, then the snapshot with its budget total
