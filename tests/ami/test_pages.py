import pytest
from django.template import Context, Template
from django.test import RequestFactory

from ami import views

pytestmark = pytest.mark.django_db


def test_unknown_url_gets_the_french_404_page(client):
    response = client.get("/nulle-part/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "Page introuvable" in html
    assert '<html lang="fr"' in html


@pytest.mark.parametrize(
    ("handler", "status", "title"),
    [
        (lambda r: views.error_403(r), 403, "Accès refusé"),
        (lambda r: views.error_404(r), 404, "Page introuvable"),
        (views.error_500, 500, "Erreur inattendue"),
    ],
)
def test_error_pages_are_in_french(handler, status, title):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    response = handler(request)
    assert response.status_code == status
    assert title in response.content.decode()


def test_layout_has_skip_links_header_footer_and_legal_pages(client):
    html = client.get("/").content.decode()
    assert 'class="fr-skiplinks"' in html
    assert 'href="#contenu"' in html and 'id="contenu"' in html
    assert 'role="banner"' in html and 'role="contentinfo"' in html
    for path in ("/accessibilite/", "/mentions-legales/", "/donnees-personnelles/"):
        assert f'href="{path}"' in html
        assert client.get(path).status_code == 200


def test_navigation_depends_on_the_role(client):
    from tests.factories import UserFactory

    html = client.get("/").content.decode()
    assert "Se connecter" in html and "Mon espace" not in html
    client.force_login(UserFactory(is_staff=True))
    html = client.get("/").content.decode()
    assert "Mon espace" in html and "Administration" in html


def test_project_templates_fail_on_undefined_variables(settings):
    from django.template import engines

    engine = engines["django"].engine
    template = engine.from_string("{{ missing }}")
    template.origin.name = str(settings.BASE_DIR / "templates" / "example.html")
    with pytest.raises(NameError, match="missing"):
        template.render(Context({}))
    # Templates of installed packages are left alone.
    assert Template("{{ missing }}").render(Context({})) == ""
