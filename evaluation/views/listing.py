"""Sortable, filtered, paginated lists (the regional consolidation, the national dashboard): the
query string kept across links, the sortable headers and the DSFR pagination links."""


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


def page_links(page, params) -> list[dict]:
    """Links of the DSFR pagination, with the filters and the sort kept."""
    if page.paginator.num_pages <= 1:
        return []
    links = []
    for number in page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1):
        if number == page.paginator.ELLIPSIS:
            links.append({"number": None, "url": None, "current": False})
        else:
            links.append(
                {
                    "number": number,
                    "url": query(params, page=str(number)),
                    "current": number == page.number,
                }
            )
    return links
