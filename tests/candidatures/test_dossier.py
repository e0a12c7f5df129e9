"""The dossier (issue 15): who reads it, what it shows from the snapshot, the complements'
before/after, its query count, the « dossier complet » PDF and the documents shown inline."""

import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from accounts.models import NationalRole
from ami.pdf import render_pdf
from candidatures import dossier, questionnaire
from candidatures.complements import diff_snapshots
from candidatures.models import CofinancingLine, ComplementRequest, Document
from candidatures.submission import build_snapshot, freeze
from tests import factories as f
from tests.candidatures.helpers import add_document, complete_candidature
from tests.roles import LOGIN, NOT_FOUND, OK, ROLES, add_conflicted_evaluator, assert_outcome

pytestmark = pytest.mark.django_db

EXPECTED = {
    "anonymous": LOGIN,
    "applicant": OK,
    "other_applicant": NOT_FOUND,
    "cra_evaluator": OK,
    "cra_coordinator": OK,
    "other_region_evaluator": NOT_FOUND,
    "cna_member": OK,
    "cna_admin": OK,
    "staff": OK,
}


def _document(world):
    document_type = f.DocumentTypeFactory(call=world.call, label="Statuts")
    return add_document(world.candidature_a, document_type)


def _urls(world, document):
    pk = world.candidature_a.pk
    return {
        "dossier": reverse("dossier", args=[pk]),
        "dossier_pdf": reverse("dossier_pdf", args=[pk]),
        "document_view": reverse("document_view", args=[pk, document.pk]),
    }


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("screen", ["dossier", "dossier_pdf", "document_view"])
def test_permission_table(client, world, role, screen):
    url = _urls(world, _document(world))[screen]
    user = world.user(role)
    if user is not None:
        client.force_login(user)
    assert_outcome(client.get(url), EXPECTED[role], url, role)


@pytest.mark.parametrize("screen", ["dossier", "dossier_pdf", "document_view"])
def test_conflicted_evaluator_and_other_call_cna_get_404(client, world, screen):
    url = _urls(world, _document(world))[screen]
    client.force_login(add_conflicted_evaluator(world))
    assert client.get(url).status_code == NOT_FOUND
    other_call = f.CallFactory()
    other_cna = f.NationalMembershipFactory(
        cell=f.NationalCellFactory(call=other_call), role=NationalRole.MEMBER
    ).user
    client.force_login(other_cna)
    assert client.get(url).status_code == NOT_FOUND


def test_a_draft_is_no_dossier_even_for_its_team(client, world):
    member = f.PtceMembershipFactory(ptce=world.draft_a.ptce).user
    client.force_login(member)
    assert client.get(reverse("candidature_detail", args=[world.draft_a.pk])).status_code == OK
    assert client.get(reverse("dossier", args=[world.draft_a.pk])).status_code == NOT_FOUND
    assert client.get(reverse("dossier_pdf", args=[world.draft_a.pk])).status_code == NOT_FOUND


# --- What it shows ------------------------------------------------------------------------------


def _submitted(world):
    """Region A's candidature, complete (answers, members, a document), submitted."""
    candidature = complete_candidature(world.candidature_a)
    add_document(candidature, f.DocumentTypeFactory(call=world.call, label="Statuts"))
    freeze(candidature, None, "", candidature.submitted_at)
    candidature.save()
    return candidature


def test_the_dossier_shows_answers_budget_territory_members_and_documents(client, world):
    candidature = _submitted(world)
    CofinancingLine.objects.create(candidature=candidature, funder="Région", amount=12000)
    candidature.snapshot = build_snapshot(candidature)
    candidature.save()
    client.force_login(world.user("cra_coordinator"))
    html = client.get(reverse("dossier", args=[candidature.pk])).content.decode()
    for section in questionnaire.answer_rows(
        candidature.call, candidature.snapshot["answers"], with_title=True
    ):
        assert section.title in html
        for label, value in section.rows:
            assert str(label)[1:] in html
            if value:
                assert value.splitlines()[0].replace("'", "&#x27;") in html
    assert "Région" in html and "12\u202f000\xa0€" in html  # co-financing line
    assert "62\u202f000\xa0€" in html  # total: 50 000 requested + 12 000
    assert candidature.ptce.siret in html
    assert "Paris" in html and "Île-de-France" in html
    assert "Coopérative A" in html and "entreprise de l&#x27;économie sociale" in html
    document = candidature.documents.get()
    assert document.sha256 in html
    assert reverse("document_view", args=[candidature.pk, document.pk]) in html
    assert reverse("document_download", args=[candidature.pk, document.pk]) in html
    assert reverse("dossier_pdf", args=[candidature.pk]) in html
    assert "Territoire rural" in html and "Quartier prioritaire (QPV)" in html


def test_answers_changed_by_complements_show_before_and_after(client, world):
    candidature = _submitted(world)
    before = candidature.snapshot
    candidature.title = "Titre corrigé après compléments"
    candidature.save()
    after = build_snapshot(candidature)
    ComplementRequest.objects.create(
        candidature=candidature,
        message="Précisez le titre",
        fields=["title"],
        due_at=timezone.now() + timedelta(days=7),
        requested_by=world.user("cra_coordinator"),
        answered_at=timezone.now(),
        changes=diff_snapshots(before, after),
    )
    candidature.snapshot = after
    candidature.save()
    client.force_login(world.user("cna_member"))
    html = client.get(reverse("dossier", args=[candidature.pk])).content.decode()
    assert "Titre corrigé après compléments" in html
    assert "Avant : « Réponse title » ; après : « Titre corrigé après compléments »" in html


def test_the_dossier_page_scopes_the_candidature_once(client, world):
    """The scoping's subqueries (team, cells, conflicts) appear once in the lookup of the
    candidature: applied twice, they cost their compilation and planning twice."""
    client.force_login(world.user("cra_coordinator"))
    url = reverse("dossier", args=[world.candidature_a.pk])
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == OK
    lookups = [
        query["sql"]
        for query in queries.captured_queries
        if 'FROM "candidatures_candidature"' in query["sql"]
        and "conflictofinterest" in query["sql"]
    ]
    assert len(lookups) == 1
    assert lookups[0].count('FROM "evaluation_conflictofinterest"') == 1


def test_query_count_does_not_grow_with_documents(client, world):
    candidature = world.candidature_a
    client.force_login(world.user("cra_coordinator"))
    url = reverse("dossier", args=[candidature.pk])

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == OK
        return len(queries)

    for number in range(2):
        add_document(candidature, f.DocumentTypeFactory(call=world.call), name=f"p{number}.pdf")
    client.get(url)  # warm the per-call caches
    with_two = count()
    for number in range(2, 20):
        add_document(candidature, f.DocumentTypeFactory(call=world.call), name=f"p{number}.pdf")
    assert candidature.documents.count() == 20
    assert count() == with_two


# --- « Dossier complet (PDF) » ------------------------------------------------------------------


def test_dossier_pdf_holds_every_answer_then_the_pdf_documents(client, world):
    candidature = _submitted(world)
    annex = render_pdf(
        "<html lang='fr'><p>Annexe statutaire numéro 4242</p><p style='break-before: page'>Deux</p>"
    )
    add_document(candidature, f.DocumentTypeFactory(call=world.call, label="Annexe"), annex)
    client.force_login(world.user("cra_evaluator"))
    response = client.get(reverse("dossier_pdf", args=[candidature.pk]))
    assert response.status_code == OK
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    reader = PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    text = " ".join(page.extract_text() for page in reader.pages)
    flat = " ".join(text.split())
    for label, value in questionnaire.flat_rows(
        candidature.call, candidature.snapshot["answers"], with_title=True
    ):
        for line in value.splitlines():
            assert " ".join(line.split()) in flat, (label, line)
    # The annex's two pages come last, after the answers, named in the outline.
    assert "Annexe statutaire numéro 4242" in reader.pages[-2].extract_text()
    assert "Deux" in reader.pages[-1].extract_text()
    titles = list(_titles(reader.outline))
    assert "Pièces justificatives en annexe" in titles
    assert "Annexe – statuts.pdf" in titles


def _titles(outline):
    for item in outline:
        if isinstance(item, list):
            yield from _titles(item)
        else:
            yield item.title


def test_a_damaged_pdf_document_is_left_out_not_fatal(world):
    candidature = _submitted(world)
    output = io.BytesIO()
    result = dossier.write_dossier_pdf(candidature, output)
    # The helper's tiny PDF has no page tree: left out, named, the dossier still written.
    assert result["appended"] == []
    assert result["skipped"] == ["Statuts – statuts.pdf"]
    assert PdfReader(io.BytesIO(output.getvalue())).pages


# --- Documents in the browser -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "inline"),
    [
        ("application/pdf", True),
        ("image/png", True),
        ("image/jpeg", True),
        ("text/html", False),
        ("image/svg+xml", False),
        ("application/vnd.oasis.opendocument.text", False),
    ],
)
def test_inline_headers(client, world, content_type, inline):
    document = _document(world)
    Document.objects.filter(pk=document.pk).update(content_type=content_type)
    client.force_login(world.user("cra_coordinator"))
    response = client.get(reverse("document_view", args=[world.candidature_a.pk, document.pk]))
    assert response.status_code == OK
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    disposition = response["Content-Disposition"]
    if inline:
        assert disposition.startswith("inline")
        assert response["Content-Type"] == content_type
    else:
        assert disposition.startswith("attachment")
        assert response["Content-Type"] == "application/octet-stream"


def test_inline_view_of_a_document_of_another_candidature_is_404(client, world):
    document = _document(world)
    client.force_login(world.user("other_applicant"))
    url = reverse("document_view", args=[world.candidature_b.pk, document.pk])
    assert client.get(url).status_code == NOT_FOUND


# --- « Voir le dossier » from every screen that names the candidature ----------------------------


def _cell_a(world):
    from accounts.models import RegionalCell

    return RegionalCell.objects.get(call=world.call, region=world.region_a)


def test_every_screen_naming_the_candidature_links_to_its_dossier(client, world):
    from evaluation.models import Assignment
    from tests.accounts.test_permissions import national

    candidature = world.candidature_a
    link = reverse("dossier", args=[candidature.pk])
    cell = _cell_a(world)
    coordinator_screens = [
        reverse("admissibility", args=[candidature.pk]),
        reverse("complements_request", args=[candidature.pk]),
        reverse("cell_home", args=[cell.pk]),
        reverse("candidature_detail", args=[candidature.pk]),
    ]
    client.force_login(world.user("cra_coordinator"))
    for url in coordinator_screens:
        assert link in client.get(url).content.decode(), url
    # Assignments list the admissible candidatures.
    candidature.state = "admissible"
    candidature.save(update_fields=["state"])
    assert link in client.get(reverse("cell_assignments", args=[cell.pk])).content.decode()
    assert link in client.get(reverse("regional_ranking", args=[cell.pk])).content.decode()
    evaluator = world.user("cra_evaluator")
    Assignment.objects.create(
        candidature=candidature, evaluator=evaluator, assigned_by=world.user("cra_coordinator")
    )
    client.force_login(evaluator)
    assert link in client.get(reverse("evaluator_worklist")).content.decode()
    review = client.get(reverse("review_edit", args=[candidature.pk])).content.decode()
    assert link in review and "Territoire rural" in review and "quartier prioritaire" in review
    # From the regional opinion on, and the national screens.
    ids = national(world)
    client.force_login(world.user("cra_coordinator"))
    for url in (
        reverse("consolidation_list", args=[cell.pk]),
        reverse("regional_opinion", args=[candidature.pk]),
    ):
        assert link in client.get(url).content.decode(), url
    client.force_login(world.user("cna_admin"))
    call = world.call.pk
    for url in (
        reverse("national_dashboard", args=[call]),
        reverse("national_candidature", args=[candidature.pk]),
        reverse("deliberation", args=[call]),
        reverse("deliberation_line", args=[call, ids["line"]]),
        reverse("decision_list", args=[call]),
        reverse("decision_table", args=[call]),
        reverse("decision_edit", args=[call, ids["decision"]]),
    ):
        assert link in client.get(url).content.decode(), url
    client.force_login(world.user("staff"))
    admin_page = client.get(reverse("admin:candidatures_candidature_change", args=[candidature.pk]))
    assert link in admin_page.content.decode()
    client.force_login(world.user("applicant"))
    assert link in client.get(reverse("candidature_detail", args=[candidature.pk])).content.decode()
