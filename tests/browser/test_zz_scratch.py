import pytest
from pathlib import Path
from tests.factories import UserFactory, PASSWORD

pytestmark = pytest.mark.browser

@pytest.mark.parametrize("hook", [False, True])
def test_shots(page, live_server, settings, tmp_path, hook, axe_check):
    if hook:
        base = Path("templates/base.html").read_text()
        assert "{% block content %}{% endblock content %}" in base
        base = base.replace("{% if messages %}", "{% block main %}{% if messages %}", 1).replace(
            "{% block content %}{% endblock content %}", "{% block content %}{% endblock content %}{% endblock main %}")
        (tmp_path / "base.html").write_text(base)
        settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]
    suffix = "hook" if hook else "plain"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/compte/signup/")
    page.screenshot(path=f"/tmp/scratch/signup_{suffix}.png", full_page=True)
    page.get_by_label("Prénom").fill("Claire")
    page.get_by_label("Courriel").fill("pas-une-adresse")
    page.get_by_label("Mot de passe", exact=True).fill("court")
    page.get_by_role("button", name="Création de compte").click()
    page.screenshot(path=f"/tmp/scratch/signup_err_{suffix}.png", full_page=True)
    axe_check(page)
    page.goto("/compte/login/")
    page.get_by_label("Courriel").fill("x@example.org")
    page.get_by_label("Mot de passe", exact=True).fill("mauvais-mot-de-passe")
    page.get_by_role("button", name="Connexion").click()
    page.screenshot(path=f"/tmp/scratch/login_err_{suffix}.png", full_page=True)
    axe_check(page)
    user = UserFactory(email="marie@example.org")
    page.goto("/compte/login/")
    page.get_by_label("Courriel").fill(user.email)
    page.get_by_label("Mot de passe", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.goto("/compte/email/")
    page.screenshot(path=f"/tmp/scratch/email_{suffix}.png", full_page=True)
    axe_check(page)
    page.get_by_label("Changer pour").fill("marie.nouvelle@example.org")
    page.get_by_role("button", name="Changer d'e-mail").click()
    page.screenshot(path=f"/tmp/scratch/email_pending_{suffix}.png", full_page=True)
    axe_check(page)
    page.goto("/compte/password/change/")
    page.get_by_role("button", name="Modifier le mot de passe").click()
    page.screenshot(path=f"/tmp/scratch/pwchange_err_{suffix}.png", full_page=True)
    axe_check(page)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto("/compte/logout/")
    page.screenshot(path=f"/tmp/scratch/logout_mobile_{suffix}.png", full_page=True)
    axe_check(page)
