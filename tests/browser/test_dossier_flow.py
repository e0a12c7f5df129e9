"""The dossier in a real browser (issue 15): the coordinator opens it from the admissibility
page, reads the answers, budget, territory and documents, and opens a PDF document inline in a
new tab (sandboxed, ``nosniff``); then asks for the region's ZIP and sees it ready. axe-core on
the dossier and the export pages."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import RegionalRole
from ami.pdf import render_pdf
from candidatures import workflow
from candidatures.models import CandidatureState, Document
from tests import factories as f
from tests.candidatures.helpers import add_document, commune, complete_candidature

from .flows import open_admissibility, open_cell_dashboard, sign_in

pytestmark = pytest.mark.browser

PTCE_NAME = "Pôle Coopératif du Bocage"
SUMMARY = "Une légumerie solidaire qui approvisionne 14 cantines du bocage."


def test_coordinator_reads_the_dossier_and_opens_a_pdf_inline(page, live_server, axe_check):
    call = f.CallFactory(name="AMI PTCE 2026")
    statuts = f.DocumentTypeFactory(call=call, label="Statuts", mandatory=True)
    bretagne = f.region("53")
    applicant = f.UserFactory(email="paul.porteur@example.org")
    ptce = f.PtceMembershipFactory(user=applicant, ptce__name=PTCE_NAME, ptce__region=bretagne).ptce
    candidature = complete_candidature(
        f.CandidatureFactory(ptce=ptce, call=call, requested_amount=None)
    )
    ptce.seat_commune = commune("35238", "Rennes", "35", "53")
    ptce.save()
    candidature.answers["summary"] = SUMMARY
    candidature.save()
    Document.objects.filter(candidature=candidature).delete()
    add_document(
        candidature,
        statuts,
        render_pdf("<html lang='fr'><body><p>Statuts du pôle</p></body></html>"),
        name="statuts-du-pole.pdf",
    )
    workflow.transition(candidature, CandidatureState.SUBMITTED, applicant)
    cell = f.RegionalCellFactory(call=call, region=bretagne)
    coordinator = f.RegionalMembershipFactory(
        cell=cell,
        role=RegionalRole.COORDINATOR,
        user=f.UserFactory(email="claire.coord@example.org"),
    ).user

    sign_in(page, axe_check, coordinator.email)
    open_cell_dashboard(page, axe_check, "Bretagne")
    open_admissibility(page, axe_check, PTCE_NAME)
    page.get_by_role("link", name="Voir le dossier", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Dossier de candidature : {PTCE_NAME}"
    )
    expect(page.get_by_text(SUMMARY)).to_be_visible()
    expect(page.get_by_role("heading", name="Budget et cofinancements")).to_be_visible()
    expect(page.get_by_text("Rennes (35238)")).to_be_visible()
    expect(page.get_by_role("link", name="Dossier complet (PDF)")).to_be_visible()
    axe_check(page)

    # The PDF opens in a new tab, served inline, sandboxed, with its checked type.
    link = page.get_by_role("link", name=re.compile(r"^Ouvrir « statuts-du-pole.pdf »"))
    with page.context.expect_page() as new_tab:
        link.click()
    tab = new_tab.value
    expect(tab).to_have_url(re.compile(r"/pieces/\d+/voir/$"))
    # Chromium shows it in its PDF viewer despite the sandbox (a blocked page would be its
    # HTML error page).
    tab.wait_for_function("document.contentType === 'application/pdf'")
    response = page.request.get(tab.url)
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["content-security-policy"] == "sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.body().startswith(b"%PDF-")
    tab.close()

    # The region's ZIP: asked for, built (eager Celery here), downloadable.
    page.goto(f"/instruction/cellules/{cell.pk}/export-dossiers/")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Export des dossiers de la région Bretagne"
    )
    axe_check(page)
    page.get_by_role("button", name="Préparer un nouvel export").click()
    download_link = page.get_by_role("link", name=re.compile(r"^Télécharger le ZIP \(1 dossier"))
    expect(download_link).to_be_visible()
    axe_check(page)
    with page.expect_download() as download:
        download_link.click()
    assert download.value.suggested_filename.startswith("dossiers-Bretagne-")
