"""The DSFR components drawn one way on every page, with django-dsfr's own markup (issue 17):
the breadcrumb (``{% breadcrumb %}``) and the pagination (``includes/pagination.html``)."""

from django import template
from django.urls import reverse

register = template.Library()

ELLIPSIS = "…"  # what django-dsfr's pagination template draws as a gap


@register.inclusion_tag("dsfr/breadcrumb.html")
def breadcrumb(*trail):
    """The breadcrumb after « Accueil »: title and URL of each link, then the current page's
    title: ``{% breadcrumb "Mon espace" dashboard_url "Mes données" %}``."""
    *pairs, current = trail
    if len(pairs) % 2:
        raise template.TemplateSyntaxError("breadcrumb: a title and a URL per link, then a title")
    titles, urls = pairs[::2], pairs[1::2]
    links = [{"title": title, "url": url} for title, url in zip(titles, urls, strict=True)]
    # A fixed id (one breadcrumb per page): django-dsfr's random one would change every render.
    # root_dir: the « Accueil » link (django-dsfr's template writes an empty href without it).
    home = reverse("home")
    return {"self": {"links": links, "current": current, "id": "fil-ariane", "root_dir": home}}


@register.filter
def with_page_list(page):
    """``page`` with the numbers django-dsfr's pagination draws (``pages_list``): the first and
    last pages and two on each side of the current one, gaps as « … »."""
    numbers = page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)
    gap = page.paginator.ELLIPSIS
    page.pages_list = [ELLIPSIS if number == gap else number for number in numbers]
    return page
