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


# --- Legal pages, site map, footer, home links (issue 17) --------------------------------------

STATE_LINKS = ("legifrance.gouv.fr", "info.gouv.fr", "service-public.gouv.fr", "data.gouv.fr")


def test_legal_pages_show_the_configured_identities(client, settings):
    settings.LEGAL_PUBLISHER = "Ministère de l'Économie, 139 rue de Bercy, 75012 Paris"
    settings.LEGAL_PUBLICATION_DIRECTOR = "Camille Martin"
    settings.LEGAL_HOST = "Hébergeur SAS, 2 rue du Serveur, 59000 Lille"
    settings.LEGAL_CONTACT_EMAIL = "contact@ami.example.org"
    html = client.get("/mentions-legales/").content.decode().replace("&#x27;", "'")
    for text in (
        "Ministère de l'Économie, 139 rue de Bercy",
        "Camille Martin",
        "Hébergeur SAS, 2 rue du Serveur",
        'href="mailto:contact@ami.example.org"',
    ):
        assert text in html
    html = client.get("/accessibilite/").content.decode().replace("&#x27;", "'")
    assert 'href="mailto:contact@ami.example.org"' in html
    assert "Ministère de l'Économie" in html and 'href="/plan-du-site/"' in html


def test_footer_has_the_state_links_and_the_site_map(client):
    html = client.get("/").content.decode()
    footer = html[html.index('id="pied-de-page"') :]
    for domain in STATE_LINKS:
        assert f"//www.{domain}" in footer
    assert 'href="/plan-du-site/"' in footer


def test_site_map_lists_public_and_role_entries(client):
    from ami.models import Phase
    from tests.factories import CallFactory, UserFactory

    past = CallFactory(name="AMI PTCE 2024", slug="ami-2024", year=2024, phase=Phase.PUBLISHED)
    CallFactory(name="AMI PTCE 2026", slug="ami-2026")
    response = client.get("/plan-du-site/")
    assert response.status_code == 200
    html = response.content.decode()
    for path in (
        "/",
        "/appels/ami-2026/",
        f"/appels/{past.slug}/laureats/",
        "/mentions-legales/",
        "/accessibilite/",
        "/donnees-personnelles/",
        "/compte/login/",
        "/mon-espace/",
        "/candidatures/",
        "/candidatures/ptce/nouveau/",
        "/instruction/mes-evaluations/",
        "/admin/",
    ):
        assert f'href="{path}"' in html, path
    assert "Vos accès" not in html
    client.force_login(UserFactory())
    assert "Vos accès" in client.get("/plan-du-site/").content.decode()


def test_home_links_the_call_text_and_past_laureates(client):
    from ami.models import Phase
    from tests.factories import CallFactory

    CallFactory(name="AMI PTCE 2024", slug="ami-2024", year=2024, phase=Phase.ARCHIVED)
    CallFactory(name="AMI PTCE 2025", slug="ami-2025", year=2025, phase=Phase.PUBLISHED)
    current = CallFactory(
        name="AMI PTCE 2026", slug="ami-2026", text_url="https://www.example.gouv.fr/ami.pdf"
    )
    html = client.get("/").content.decode()
    assert current.name in html
    assert 'href="https://www.example.gouv.fr/ami.pdf"' in html
    assert html.index('href="/appels/ami-2025/laureats/"') < html.index(
        'href="/appels/ami-2024/laureats/"'
    )
