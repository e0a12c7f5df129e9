from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .models import Call, Phase
from .observability import OK, health_report


def _call_context(call):
    return {
        "call": call,
        "criteria": list(call.criteria.all()) if call else [],
        "document_types": list(call.document_types.all()) if call else [],
        "now": timezone.now(),
        "past_editions": [c for c in published_calls() if c != call],
    }


def published_calls():
    """The editions whose laureates are public, newest first (their page is the
    ``call_laureates`` route, reversed by name in the templates)."""
    return list(
        Call.objects.filter(phase__in=[Phase.PUBLISHED, Phase.ARCHIVED]).order_by("-year", "-pk")
    )


def legal_information() -> dict:
    """What the legal notice and the accessibility statement say of who runs the site."""
    return {
        "publisher": settings.LEGAL_PUBLISHER,
        "publication_director": settings.LEGAL_PUBLICATION_DIRECTOR,
        "host": settings.LEGAL_HOST,
        "contact_email": settings.LEGAL_CONTACT_EMAIL,
    }


@require_GET
def home(request):
    call = Call.objects.current()
    return render(request, "ami/home.html", _call_context(call))


@require_GET
def call_detail(request, slug):
    call = get_object_or_404(Call.objects.visible_to(request.user), slug=slug)
    return render(request, "ami/home.html", _call_context(call))


@require_GET
def page(request, template):
    return render(request, f"pages/{template}.html", {"legal": legal_information()})


def error_403(request, exception=None):
    return render(request, "403.html", status=403)


def error_404(request, exception=None):
    return render(request, "404.html", status=404)


def error_500(request):
    return render(request, "500.html", status=500)


def csrf_failure(request, reason=""):
    """An expired or missing security token, explained in French (htmx gets a short line)."""
    if request.headers.get("HX-Request"):
        return HttpResponse(
            '<span class="fr-error-text">La page a expiré (reconnexion ou longue inactivité) : '
            "rechargez-la. Vos saisies sont gardées sur cet appareil et seront restaurées.</span>",
            status=403,
        )
    return render(request, "403_csrf.html", status=403)


@never_cache
@require_GET
def health(request):
    """Health of the platform for load balancers and container healthchecks: 200 when the
    database, the cache and the task broker answer, 503 naming the failing part otherwise."""
    report = health_report()
    healthy = all(state in (OK, "non configuré") for state in report.values())
    return JsonResponse(
        {"statut": OK if healthy else "erreur", "services": report},
        status=200 if healthy else 503,
        json_dumps_params={"ensure_ascii": False},
    )
