import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from ami.models import Phase
from candidatures.models import Candidature, CandidatureState, CofinancingLine
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft():
    membership = f.PtceMembershipFactory()
    candidature = f.CandidatureFactory(ptce=membership.ptce, requested_amount=None)
    return candidature, membership.user


def _autosave(client, candidature, step, data):
    return client.post(
        reverse("candidature_autosave", args=[candidature.pk, step]), data, HTTP_HX_REQUEST="true"
    )


def test_autosave_of_a_field_then_reload_shows_it(client, draft):
    candidature, user = draft
    client.force_login(user)
    response = _autosave(client, candidature, "presentation", {"title": "Tiers-lieu nourricier"})
    assert response.status_code == 200
    assert "Enregistré à" in response.content.decode()
    page = client.get(reverse("candidature_step", args=[candidature.pk, "presentation"]))
    assert 'value="Tiers-lieu nourricier"' in page.content.decode()
    # A field that was not sent is left alone.
    _autosave(client, candidature, "presentation", {"summary": "Résumé"})
    candidature.refresh_from_db()
    assert (candidature.title, candidature.answers["summary"]) == (
        "Tiers-lieu nourricier",
        "Résumé",
    )


def test_autosave_keeps_valid_fields_and_reports_invalid_ones(client, draft):
    candidature, user = draft
    client.force_login(user)
    response = _autosave(
        client, candidature, "budget", {"requested_amount": "cinquante", "budget_comment": "ok"}
    )
    html = response.content.decode()
    assert "sauf 1 champ à corriger" in html
    assert "Montant demandé : Saisissez un montant en euros" in html
    candidature.refresh_from_db()
    assert candidature.answers["budget_comment"] == "ok"
    assert candidature.requested_amount is None


def test_autosave_when_the_session_has_expired_says_so(client, draft):
    candidature, _ = draft
    response = _autosave(client, candidature, "presentation", {"title": "x"})
    assert response.status_code == 401
    assert "session a expiré" in response.content.decode()
    assert Candidature.objects.get(pk=candidature.pk).title == ""


def test_autosave_by_another_applicant_is_404(client, draft):
    candidature, _ = draft
    client.force_login(f.PtceMembershipFactory().user)
    assert _autosave(client, candidature, "presentation", {"title": "x"}).status_code == 404


def test_autosave_after_the_deadline_is_refused(client, draft):
    candidature, user = draft
    Candidature.objects.filter(pk=candidature.pk)
    call = candidature.call
    call.closes_at = timezone.now() - timedelta(seconds=1)
    call.opens_at = call.closes_at - timedelta(days=1)
    call.save()
    client.force_login(user)
    response = _autosave(client, candidature, "presentation", {"title": "x"})
    assert response.status_code == 403
    assert "clos" in response.content.decode()


def test_leaving_a_step_saves_it_and_the_next_visit_resumes_there(client, draft):
    candidature, user = draft
    client.force_login(user)
    response = client.post(
        reverse("candidature_step", args=[candidature.pk, "presentation"]),
        {"title": "Titre", "summary": "Résumé", "go": "territoire"},
    )
    assert response["Location"] == reverse("candidature_step", args=[candidature.pk, "territoire"])
    client.get(response["Location"])
    candidature.refresh_from_db()
    assert candidature.title == "Titre"
    assert candidature.current_step == "territoire"
    # After logging out and in again, the dashboard resumes at the same step.
    client.logout()
    client.force_login(user)
    dashboard = client.get(reverse("applicant_dashboard")).content.decode()
    assert reverse("candidature_step", args=[candidature.pk, "territoire"]) in dashboard


def test_invalid_value_on_leaving_stays_on_the_step_with_the_error(client, draft):
    candidature, user = draft
    client.force_login(user)
    response = client.post(
        reverse("candidature_step", args=[candidature.pk, "budget"]),
        {"requested_amount": "abc", "budget_comment": "note", "go": "pieces"},
    )
    assert response.status_code == 422
    assert "Saisissez un montant en euros" in response.content.decode()
    candidature.refresh_from_db()
    assert candidature.answers["budget_comment"] == "note"


def test_cofinancing_lines_and_shares(client, draft):
    candidature, user = draft
    client.force_login(user)
    url = reverse("candidature_step", args=[candidature.pk, "budget"])
    client.post(url, {"requested_amount": "60000", "add_line": "1"})
    line = CofinancingLine.objects.get(candidature=candidature)
    _autosave(
        client,
        candidature,
        "budget",
        {f"line-{line.pk}-funder": "Région", f"line-{line.pk}-status": "acquired",
         f"line-{line.pk}-amount": "40000"},
    )  # fmt: skip
    line.refresh_from_db()
    assert (line.funder, line.status, line.amount) == ("Région", "acquired", Decimal("40000"))
    html = client.get(url).content.decode()
    assert "100\u202f000\u00a0€" in html  # total
    assert "60,0 %" in html and "40,0 %" in html
    client.post(url, {"delete_line": str(line.pk)})
    assert not CofinancingLine.objects.filter(candidature=candidature).exists()


def test_start_from_previous_edition_copies_answers(client):
    membership = f.PtceMembershipFactory()
    old_call = f.CallFactory(phase=Phase.PUBLISHED, year=2025)
    old = f.CandidatureFactory(
        ptce=membership.ptce,
        call=old_call,
        title="Ancien titre",
        answers={"lever_research": "Labo", "no_longer_asked": "x"},
    )
    CofinancingLine.objects.create(candidature=old, funder="Département", amount=Decimal("5000"))
    call = f.CallFactory()
    client.force_login(membership.user)
    url = reverse("candidature_start", args=[membership.ptce.pk, call.slug])
    assert "Reprendre les réponses" in client.get(url).content.decode()
    response = client.post(url, {"from": str(old.pk)})
    new = Candidature.objects.get(ptce=membership.ptce, call=call)
    assert response["Location"] == reverse("candidature_step", args=[new.pk, "presentation"])
    assert (new.title, new.answers, new.cloned_from) == (
        "Ancien titre",
        {"lever_research": "Labo"},
        old,
    )
    assert new.requested_amount is None
    assert new.cofinancing_lines.get().funder == "Département"
    # Starting again opens the same draft: one candidature per PTCE and call.
    client.post(url)
    assert Candidature.objects.filter(ptce=membership.ptce, call=call).count() == 1


def test_cannot_start_from_another_ptces_candidature(client):
    membership = f.PtceMembershipFactory()
    foreign = f.CandidatureFactory(call=f.CallFactory(phase=Phase.PUBLISHED))
    call = f.CallFactory()
    client.force_login(membership.user)
    url = reverse("candidature_start", args=[membership.ptce.pk, call.slug])
    assert client.post(url, {"from": str(foreign.pk)}).status_code == 404


@pytest.mark.parametrize("step", ["presentation", "territoire", "projet", "budget", "pieces",
                                  "recapitulatif"])  # fmt: skip
def test_every_step_renders_for_the_team_and_is_404_for_others(client, draft, step):
    candidature, user = draft
    url = reverse("candidature_step", args=[candidature.pk, step])
    client.force_login(user)
    assert client.get(url).status_code == 200
    client.force_login(f.PtceMembershipFactory().user)
    assert client.get(url).status_code == 404


def test_submitted_candidature_is_read_only(client, draft):
    candidature, user = draft
    Candidature.objects.filter(pk=candidature.pk).update(
        state=CandidatureState.SUBMITTED, submitted_at=timezone.now()
    )
    client.force_login(user)
    html = client.get(reverse("candidature_step", args=[candidature.pk, "projet"])).content.decode()
    assert "ne peut plus être modifiée" in html
    assert "data-autosave" not in html


ANSWER_CONTROL = re.compile(r"<(?:input|textarea|select)\b[^>]*>")


def _answer_controls(client, url) -> list[str]:
    html = client.get(url).content.decode()
    return [
        tag
        for tag in ANSWER_CONTROL.findall(html)
        if 'type="hidden"' not in tag and 'type="submit"' not in tag and "data-" not in tag
    ]


@pytest.mark.parametrize("step", ["presentation", "projet", "budget"])
def test_answers_of_a_submitted_candidature_are_read_only_fields(client, draft, step):
    """Drawn by the one field template: text in readonly inputs, choices disabled; a draft's
    answers are neither."""
    candidature, user = draft
    CofinancingLine.objects.create(candidature=candidature, funder="Région")
    client.force_login(user)
    url = reverse("candidature_step", args=[candidature.pk, step])
    editable = _answer_controls(client, url)
    assert editable and not [t for t in editable if " readonly" in t or " disabled" in t]
    Candidature.objects.filter(pk=candidature.pk).update(
        state=CandidatureState.SUBMITTED, submitted_at=timezone.now()
    )
    shown = _answer_controls(client, url)
    assert len(shown) == len(editable)
    for tag in shown:
        choice = tag.startswith("<select") or 'type="checkbox"' in tag
        assert (" disabled" if choice else " readonly") in tag, tag


def _dashboard_queries(client, user):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("applicant_dashboard")).status_code == 200
    return len(queries.captured_queries)


def test_dashboard_query_count_is_the_same_for_2_and_30_candidatures(client):
    def applicant_with(n):
        user = f.UserFactory()
        for _ in range(n):
            ptce = f.PtceMembershipFactory(user=user).ptce
            f.CandidatureFactory(ptce=ptce)
        return user

    few, many = applicant_with(2), applicant_with(30)
    client.force_login(few)
    count_few = _dashboard_queries(client, few)
    client.force_login(many)
    count_many = _dashboard_queries(client, many)
    assert count_few == count_many
    html = client.get(reverse("applicant_dashboard")).content.decode()
    assert html.count("Reprendre") == 30


@pytest.mark.parametrize(
    ("typed", "saved", "shown"),
    [
        ("50 000", Decimal("50000"), 'value="50000"'),
        ("50\u202f000,50 €", Decimal("50000.50"), 'value="50000,5"'),
        ("50000.25", Decimal("50000.25"), 'value="50000,25"'),
    ],
)
def test_amounts_typed_the_french_way_are_accepted_and_shown_back(
    client, draft, typed, saved, shown
):
    candidature, user = draft
    client.force_login(user)
    response = _autosave(client, candidature, "budget", {"requested_amount": typed})
    assert "sauf" not in response.content.decode()
    candidature.refresh_from_db()
    assert candidature.requested_amount == saved
    page = client.get(reverse("candidature_step", args=[candidature.pk, "budget"]))
    assert shown in page.content.decode()
    # Saving the page as shown keeps the amount (no « 50000,00 » refused on the way back).
    _autosave(client, candidature, "budget", {"requested_amount": shown[7:-1]})
    candidature.refresh_from_db()
    assert candidature.requested_amount == saved


# --- Autosave against a concurrent submission (issue 12, defect 1) ---------------------------


def _submitted_behind_a_stale_instance():
    """A complete draft read by an autosave, then submitted before that autosave writes."""
    from candidatures import workflow

    from .helpers import submittable

    candidature, user = submittable()
    stale = Candidature.objects.get(pk=candidature.pk)
    workflow.transition(candidature, CandidatureState.SUBMITTED, user)
    return stale, user


def test_autosave_read_before_a_submission_cannot_write_after_it():
    from django.core.exceptions import PermissionDenied

    from candidatures import drafting

    stale, user = _submitted_behind_a_stale_instance()
    assert stale.state == CandidatureState.DRAFT
    with pytest.raises(PermissionDenied):
        drafting.save_step(stale, "presentation", {"title": "Changé après le dépôt"}, user)
    fresh = Candidature.objects.get(pk=stale.pk)
    assert fresh.state == CandidatureState.SUBMITTED
    assert fresh.title == fresh.snapshot["answers"]["title"] != "Changé après le dépôt"


def test_cofinancing_lines_read_before_a_submission_cannot_change_after_it():
    from django.core.exceptions import PermissionDenied

    from candidatures import drafting

    stale, user = _submitted_behind_a_stale_instance()
    lines = CofinancingLine.objects.filter(candidature=stale).count()
    with pytest.raises(PermissionDenied):
        drafting.add_line(stale, user)
    line = CofinancingLine.objects.create(candidature=stale, funder="x", amount=Decimal("1"))
    with pytest.raises(PermissionDenied):
        drafting.delete_line(stale, line.pk, user)
    assert CofinancingLine.objects.filter(candidature=stale).count() == lines + 1


@pytest.mark.django_db(transaction=True)
def test_twenty_autosaves_racing_a_submission_never_change_the_submitted_candidature():
    import threading

    from django.core.exceptions import PermissionDenied
    from django.db import close_old_connections

    from candidatures import drafting, workflow

    from .helpers import submittable

    candidature, user = submittable()
    barrier = threading.Barrier(21)

    def autosave(number):
        close_old_connections()
        try:
            instance = Candidature.objects.get(pk=candidature.pk)
            barrier.wait()
            drafting.save_step(instance, "presentation", {"title": f"Titre {number}"}, user)
        except PermissionDenied:
            pass
        finally:
            close_old_connections()

    def submit():
        close_old_connections()
        try:
            instance = Candidature.objects.get(pk=candidature.pk)
            barrier.wait()
            workflow.transition(instance, CandidatureState.SUBMITTED, user)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=autosave, args=(n,)) for n in range(20)]
    threads.append(threading.Thread(target=submit))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fresh = Candidature.objects.get(pk=candidature.pk)
    assert fresh.state == CandidatureState.SUBMITTED
    assert fresh.title == fresh.snapshot["answers"]["title"]


@pytest.mark.django_db(transaction=True)
def test_saves_of_one_call_run_side_by_side_and_a_phase_move_waits_for_them():
    """At the deadline rush every applicant saves into the same call: a save holds its call
    in share mode only, so another applicant's save and submission go through at once, while a
    phase move (and any update of the call) waits for the save under way."""
    import threading

    from django.db import OperationalError, close_old_connections, transaction

    from ami.calls import set_phase
    from candidatures import drafting, workflow

    from .helpers import complete_candidature, submittable

    first, first_user = submittable()
    call = first.call
    membership = f.PtceMembershipFactory()
    second = complete_candidature(
        f.CandidatureFactory(ptce=membership.ptce, call=call, requested_amount=None)
    )
    holding, release = threading.Event(), threading.Event()

    def hold_a_save():
        close_old_connections()
        try:
            with transaction.atomic():
                drafting.save_step(first, "presentation", {"title": "Pendant la ruée"}, first_user)
                holding.set()
                release.wait(30)
        finally:
            close_old_connections()

    thread = threading.Thread(target=hold_a_save)
    thread.start()
    try:
        assert holding.wait(30)

        def with_lock_timeout(action):
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                return action()

        # Another applicant of the call: saved and submitted while the first save is open.
        with_lock_timeout(
            lambda: drafting.save_step(second, "presentation", {"title": "À côté"}, membership.user)
        )
        with_lock_timeout(
            lambda: workflow.transition(second, CandidatureState.SUBMITTED, membership.user)
        )
        # The phase move waits for the save under way.
        with pytest.raises(OperationalError, match="lock timeout"):
            with_lock_timeout(lambda: set_phase(call, Phase.REGIONAL_REVIEW, actor=None))
    finally:
        release.set()
        thread.join()
    second.refresh_from_db()
    assert (second.title, second.state) == ("À côté", CandidatureState.SUBMITTED)
    assert Candidature.objects.get(pk=first.pk).title == "Pendant la ruée"
    set_phase(call, Phase.REGIONAL_REVIEW, actor=None)  # once the save is committed


def test_start_blank_with_an_empty_post_and_the_starting_points_as_radios(client):
    """Without a previous candidature the form posts nothing: a blank one is started. With one,
    the starting points are radios drawn by the one field template."""
    membership = f.PtceMembershipFactory()
    client.force_login(membership.user)
    call = f.CallFactory()
    url = reverse("candidature_start", args=[membership.ptce.pk, call.slug])
    assert 'type="radio"' not in client.get(url).content.decode()
    assert client.post(url).status_code == 302
    assert Candidature.objects.get(ptce=membership.ptce, call=call).cloned_from is None
    other = f.CallFactory()
    page = client.get(reverse("candidature_start", args=[membership.ptce.pk, other.slug]))
    html = page.content.decode()
    assert '<fieldset class="fr-fieldset" id="id_from"' in html
    assert '<input type="radio" name="from" value="" id="id_from_0" checked>' in html
    assert "Une candidature vierge" in html and f"à « {call.name} »" in html
