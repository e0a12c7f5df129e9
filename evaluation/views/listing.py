"""Sortable, filtered, paginated lists (the regional consolidation, the national dashboard): the
query string kept across links, the sortable headers, the DSFR pagination links, and the
pagination itself."""

from django.core.paginator import Paginator


def paginate(queryset, number, per_page):
    """The page ``number`` of ``queryset``, in two queries: the keys of the page (with only what
    the filters and the sort need), then its rows with every annotation, kept in that order.
    One query with OFFSET would compute the annotations of every row it skips: the review
    statistics of 5 000 candidatures for the hundredth page of the national dashboard."""
    return _with_rows(Paginator(queryset.values_list("pk", flat=True), per_page), number, queryset)


def paginate_keys(keys: list, queryset, number, per_page):
    """The page ``number`` of ``keys`` (every key of the list, in order, e.g. kept in a cache),
    its rows read from ``queryset``: one query. A key no longer in ``queryset`` is left out."""
    return _with_rows(Paginator(keys, per_page), number, queryset)


def _with_rows(paginator, number, queryset):
    page = paginator.get_page(number)
    keys = list(page.object_list)
    rows = {row.pk: row for row in queryset.filter(pk__in=keys).order_by()} if keys else {}
    page.object_list = [rows[key] for key in keys if key in rows]
    return page


def query(params, **changes) -> str:
    query = params.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


def headers(params, columns) -> list[dict]:
    """Header cells of a sortable table: ``columns`` are (label, sort key or None, whether the
    first click sorts from the highest value)."""
    current = params.get("tri", "")
    headers = []
    for label, key, descending_first in columns:
        header = {"label": label, "url": None, "sort": None, "next": ""}
        if key:
            if current == key:
                header["sort"], target = "ascending", f"-{key}"
            elif current == f"-{key}":
                header["sort"], target = "descending", key
            else:
                target = f"-{key}" if descending_first else key
            header["url"] = query(params, tri=target, page=None)
            header["next"] = "décroissant" if target.startswith("-") else "croissant"
        headers.append(header)
    return headers
