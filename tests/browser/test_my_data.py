"""« Mes données » in a real browser: the personal-data page, the download, the deletion of the
account with the password, with axe-core on each screen."""

import io
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from accounts.models import User
from tests import factories as f
from tests.browser.helpers import expect_message, log_in, tick

pytestmark = pytest.mark.browser


def test_download_then_delete_my_account(page, live_server, axe_check):
    user = f.UserFactory(email="claire.dupont@example.org", first_name="Claire")
    membership = f.PtceMembershipFactory(user=user)
    f.PtceMembershipFactory(ptce=membership.ptce)  # a colleague follows the PTCE
    log_in(page, user.email)

    page.get_by_role("link", name="Mes données").first.click()
    expect(page).to_have_url(re.compile(r"/mon-espace/mes-donnees/$"))
    axe_check(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Télécharger mes données (ZIP)").click()
    with zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())) as archive:
        data = json.loads(archive.read("donnees.json"))
    assert data["compte"]["prenom"] == "Claire"

    page.get_by_role("link", name="Données personnelles").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Données personnelles")
    axe_check(page)
    page.go_back()

    page.get_by_role("link", name="Supprimer mon compte").click()
    expect(page).to_have_url(re.compile(r"/mon-espace/supprimer-mon-compte/$"))
    axe_check(page)
    page.get_by_label("Votre mot de passe").fill(f.PASSWORD)
    tick(page.get_by_label("Je comprends que la suppression de mon compte est définitive."))
    page.get_by_role("button", name="Supprimer définitivement mon compte").click()

    expect(page).to_have_url(re.compile(r"/$"))
    expect_message(page, "Votre compte est supprimé")
    expect(page.get_by_role("link", name="Se connecter")).to_be_visible()
    axe_check(page)
    assert User.objects.get(pk=user.pk).is_deleted
