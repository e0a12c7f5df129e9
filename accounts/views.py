from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .forms import OrganisationForm
from .navigation import roles_of


@login_required
def dashboard(request):
    user = request.user
    form = OrganisationForm(
        initial={"organisation": user.organisation, "organisation_siren": user.organisation_siren}
    )
    return render(request, "accounts/dashboard.html", {**roles_of(user), "organisation_form": form})


@login_required
@require_POST
def organisation_edit(request):
    form = OrganisationForm(request.POST)
    if form.is_valid():
        request.user.organisation = form.cleaned_data["organisation"]
        request.user.organisation_siren = form.cleaned_data["organisation_siren"]
        request.user.save(update_fields=["organisation", "organisation_siren"])
        messages.success(request, "Votre organisation est enregistrée.")
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect("dashboard")
