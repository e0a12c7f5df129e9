"""The breadcrumb and the pagination, drawn one way with django-dsfr's markup (issue 17)."""

import re

from django.core.paginator import Paginator
from django.template import Context, Template
from django.template.loader import render_to_string
from django.test import RequestFactory


def test_the_breadcrumb_links_each_step_and_marks_the_current_page():
    html = Template(
        '{% load ami_dsfr %}{% breadcrumb "Mon espace" "/espace/" name "/ptce/3/" "Membres" %}'
    ).render(Context({"name": "PTCE <Drôme>"}))
    assert 'aria-label="vous êtes ici\u00a0:"' in html
    assert "Voir le fil d’Ariane" in html and 'aria-controls="fil-ariane"' in html
    links = re.findall(r'<a class="fr-breadcrumb__link"([^>]*)>([^<]*)</a>', html)
    assert links == [
        (' href="/"', "Accueil"),
        (' href="/espace/"', "Mon espace"),
        (' href="/ptce/3/"', "PTCE &lt;Drôme&gt;"),
        (' aria-current="page"', "Membres"),
    ]


def render_pagination(number, query=""):
    page = Paginator(range(200), 10).page(number)
    request = RequestFactory().get(f"/liste/?{query}")
    return render_to_string("includes/pagination.html", {"page": page, "request": request})


def test_the_pagination_keeps_the_filters_and_elides_far_pages():
    html = render_pagination(7, "etat=submitted&tri=-score&page=7")
    assert 'class="fr-pagination"' in html and 'aria-label="Pagination"' in html
    numbers = re.findall(r'title="Page (\d+)"', html)
    assert numbers == ["1", "5", "6", "7", "8", "9", "20"]
    assert html.count("…") == 2
    assert re.search(r'aria-current="page"\s+title="Page 7"', html)
    assert 'href="?etat=submitted&amp;tri=-score&amp;page=8"' in html
    assert "Page précédente" in html and "Page suivante" in html


def test_one_page_draws_no_pagination():
    page = Paginator(range(5), 10).page(1)
    request = RequestFactory().get("/liste/")
    html = render_to_string("includes/pagination.html", {"page": page, "request": request})
    assert html.strip() == ""
