from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.core.exceptions import ValidationError
from django.http import FileResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import personal_data, preferences
from .forms import AccountDeletionForm, EmailPreferencesForm, OrganisationForm
from .models import User
from .navigation import navigation_for, roles_of, site_map_sections


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


@login_required
def email_preferences(request):
    user = request.user
    if request.method == "POST":
        form = EmailPreferencesForm(request.POST)
        if form.is_valid():
            for field in form.fields:
                setattr(user, field, form.cleaned_data[field])
            user.save(update_fields=list(form.fields))
            messages.success(request, "Vos préférences de courriel sont enregistrées.")
            return redirect("email_preferences")
    else:
        form = EmailPreferencesForm(
            initial={"wants_reminders": user.wants_reminders, "wants_digests": user.wants_digests}
        )
    return render(request, "accounts/email_preferences.html", {"form": form})


KIND_DESCRIPTIONS = {
    preferences.REMINDER: "les rappels avant une échéance (candidature encore en brouillon, "
    "évaluations à rendre)",
    preferences.DIGEST: "les récapitulatifs quotidiens des changements dans votre région",
}


def mask_email(email: str) -> str:
    """``camille.martin@example.org`` → ``c••••••••••••n@example.org``: enough to recognise one's
    own address, not enough to learn someone else's from a forwarded link."""
    local, _, domain = email.partition("@")
    if len(local) <= 2:
        masked = local[:1] + "•" * max(len(local) - 1, 1)
    else:
        masked = local[0] + "•" * (len(local) - 2) + local[-1]
    return f"{masked}@{domain}"


def _read_unsubscribe_token(token: str):
    """(user, kind) of a valid token, without changing anything; None when it is bad, expired,
    of an unknown kind or for a deleted account."""
    try:
        return preferences.read_token(token)
    except (signing.BadSignature, User.DoesNotExist):
        return None


def _unsubscribe_invalid(request):
    return render(request, "accounts/unsubscribe_invalid.html", status=400)


@csrf_exempt  # the signed token is the credential; lets mail clients do RFC 8058 one-click
def unsubscribe(request, token):
    """One-click unsubscribe from a non-essential email, logged in or not. GET only shows a
    confirmation (link scanners open links), POST turns the emails off."""
    if request.method not in ("GET", "HEAD", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    found = _read_unsubscribe_token(token)
    if found is None:
        return _unsubscribe_invalid(request)
    user, kind = found
    context = {
        "token": token,
        "kind": kind,
        "kind_description": KIND_DESCRIPTIONS[kind],
        "masked_email": mask_email(user.email),
    }
    if request.method == "POST":
        try:
            preferences.unsubscribe(token)
        except (signing.BadSignature, User.DoesNotExist):
            return _unsubscribe_invalid(request)
        return render(request, "accounts/unsubscribe_done.html", context)
    return render(request, "accounts/unsubscribe.html", context)


# --- Personal data (« Mes données ») ---------------------------------------------------------


def _policy_context() -> dict:
    """The durations and contact the public page and « Mes données » show, from the settings."""
    return {
        "retention_years": settings.DOCUMENT_RETENTION_YEARS,
        "session_hours": settings.SESSION_COOKIE_AGE // 3600,
        "contact_email": settings.PERSONAL_DATA_CONTACT_EMAIL,
    }


@require_GET
def site_map(request):
    """« Plan du site » (RGAA 12.1, a second way to reach every page besides the menu): the
    public pages, then each role's entries, and the signed-in user's own ones."""
    context = {
        "sections": site_map_sections(),
        "own_entries": navigation_for(request.user) if request.user.is_authenticated else [],
    }
    return render(request, "pages/site_map.html", context)


@require_GET
def personal_data_policy(request):
    """The public « Données personnelles » page (purposes, legal bases, recipients, durations,
    rights)."""
    return render(request, "pages/personal_data.html", _policy_context())


@login_required
@require_GET
def my_data(request):
    return render(request, "accounts/my_data.html", _policy_context())


@login_required
@require_GET
@never_cache
def my_data_download(request):
    """The ZIP of everything held about the user, streamed from a temporary file."""
    archive = personal_data.open_user_data(request.user)
    response = FileResponse(
        archive,
        as_attachment=True,
        filename=personal_data.export_filename(),
        content_type="application/zip",
    )
    response["Content-Security-Policy"] = "default-src 'none'"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request):
    """Delete one's own account after the password and an explicit confirmation; refusals
    (last coordinator of a running cell, review still owed, candidature under review left
    alone …) are listed instead of the form."""
    user = request.user
    blocking = personal_data.deletion_refusals(user, withdraw=True)
    withdrawals = [] if blocking else personal_data.deletion_refusals(user, withdraw=False)
    form = AccountDeletionForm(
        request.POST if request.method == "POST" else None,
        user=user,
        needs_withdrawal=bool(withdrawals),
    )
    if request.method == "POST" and not blocking and form.is_valid():
        try:
            personal_data.delete_account(
                user, user, withdraw=form.cleaned_data.get("withdraw", False)
            )
        except ValidationError as error:  # something changed since the page was shown
            for message in error.messages:
                messages.error(request, message)
            return redirect("account_delete")
        logout(request)
        messages.success(
            request,
            "Votre compte est supprimé : vos données personnelles sont effacées et vous êtes "
            "déconnecté.",
        )
        return redirect("home")
    return render(
        request,
        "accounts/account_delete.html",
        {"form": form, "blocking": blocking, "withdrawals": withdrawals},
    )
