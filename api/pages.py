"""The API's pages for people: « Mes jetons d'API » in « Mon espace » and the documentation."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from drf_spectacular.generators import SchemaGenerator

from .tokens import LIFETIMES, MAX_NAME_LENGTH, create_token, revoke_token, tokens_of


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Nom du jeton",
        max_length=MAX_NAME_LENGTH,
        help_text="Pour le reconnaître, par exemple « Tableau de suivi de la cellule ».",
    )
    days = forms.TypedChoiceField(
        label="Durée de validité",
        coerce=int,
        choices=[(days, f"{days} jours") for days in LIFETIMES],
        initial=LIFETIMES[1],
    )


@login_required
def tokens(request):
    new = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        new = create_token(request.user, form.cleaned_data["name"], form.cleaned_data["days"])
        form = TokenForm()
    return render(
        request,
        "api/tokens.html",
        {"form": form, "new": new, "tokens": tokens_of(request.user)},
    )


@login_required
@require_POST
def token_revoke(request, pk):
    if not revoke_token(request.user, pk):
        raise Http404
    messages.success(request, "Le jeton a été révoqué : il ne permet plus aucun accès.")
    return redirect("api_tokens")


def _operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    rows = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            rows.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": (operation.get("description") or "").strip(),
                    "parameters": [
                        parameter["name"]
                        for parameter in operation.get("parameters", [])
                        if parameter.get("in") == "query"
                    ],
                    "public": {} in operation.get("security", [{}]),
                }
            )
    return rows


@require_GET
def documentation(request):
    return render(request, "api/documentation.html", {"operations": _operations()})


def not_found(request):
    return JsonResponse({"detail": "Adresse inconnue dans l'API."}, status=404)
