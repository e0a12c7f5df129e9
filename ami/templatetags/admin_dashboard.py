"""The staff's admin home: candidatures per call and state, in one query."""

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django import template
from django.apps import apps
from django.db.models import Count
from django.urls import reverse

register = template.Library()


@dataclass
class CallCounts:
    call_id: int
    name: str
    total: int = 0
    url: str = ""
    cells: list[dict] = field(default_factory=list)


@register.simple_tag
def candidature_counts() -> dict:
    """One row per call (newest first, calls without candidatures included) with its count of
    candidatures in each state, each linking to the filtered changelist."""
    call_model = apps.get_model("ami", "Call")
    candidature_model = apps.get_model("candidatures", "Candidature")
    states = candidature_model._meta.get_field("state").choices
    counts = (
        call_model.objects.values("pk", "name", "year", "candidatures__state")
        .annotate(n=Count("candidatures"))
        .order_by("-year", "name", "pk")
    )
    changelist = reverse("admin:candidatures_candidature_changelist")
    rows: dict[int, CallCounts] = {}
    found: dict[tuple[int, str], int] = {}
    for line in counts:
        row = rows.setdefault(line["pk"], CallCounts(line["pk"], line["name"]))
        if line["candidatures__state"] is not None:
            found[line["pk"], line["candidatures__state"]] = line["n"]
            row.total += line["n"]
    for row in rows.values():
        for value, label in states:
            n = found.get((row.call_id, value), 0)
            query = urlencode({"call__id__exact": row.call_id, "state__exact": value})
            row.cells.append(
                {"state": value, "label": label, "n": n, "url": f"{changelist}?{query}"}
            )
        row.url = f"{changelist}?{urlencode({'call__id__exact': row.call_id})}"
    return {"rows": list(rows.values())}
