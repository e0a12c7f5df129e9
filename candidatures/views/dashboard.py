from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.shortcuts import render
from django.utils import timezone

from ami.models import Call, Phase

from ..messaging import unread_count
from ..models import Candidature, Ptce, PtceMembership
from .candidature import resume_url


@login_required
def applicant_dashboard(request):
    """The applicant's PTCEs and candidatures, with state and time left (fixed query count)."""
    ptces = list(
        Ptce.objects.filter(pk__in=PtceMembership.objects.filter(user=request.user).values("ptce"))
        .select_related("region", "seat_commune")
        .prefetch_related(
            Prefetch(
                "candidatures",
                queryset=Candidature.objects.select_related("call")
                .annotate(unread_messages=unread_count(request.user))
                .order_by("-call__year"),
            )
        )
    )
    now = timezone.now()
    open_calls = list(Call.objects.filter(phase=Phase.OPEN, closes_at__gt=now))
    rows = []
    for ptce in ptces:
        candidatures = list(ptce.candidatures.all())
        started = {c.call_id for c in candidatures}
        rows.append(
            {
                "ptce": ptce,
                "candidatures": [(c, resume_url(c, look_up=False)) for c in candidatures],
                "callable": [call for call in open_calls if call.pk not in started],
            }
        )
    return render(request, "candidatures/dashboard.html", {"rows": rows, "now": now})
