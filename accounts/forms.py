from allauth.account.adapter import get_adapter
from django import forms

from ami.identifiers import is_valid_siren


class SignupForm(forms.Form):
    """Extra fields of allauth's sign-up form."""

    first_name = forms.CharField(label="Prénom", max_length=150)
    last_name = forms.CharField(label="Nom", max_length=150)

    field_order = ["first_name", "last_name", "email", "password1", "password2"]

    def signup(self, request, user):
        user.first_name = self.cleaned_data["first_name"]
        user.last_name = self.cleaned_data["last_name"]
        user.save(update_fields=["first_name", "last_name"])


class OrganisationForm(forms.Form):
    """The organisation of a cell member, used to flag likely conflicts of interest."""

    organisation = forms.CharField(label="Organisation", max_length=200, required=False)
    organisation_siren = forms.CharField(
        label="SIREN de l'organisation",
        max_length=11,
        required=False,
        help_text="9 chiffres. Sert à repérer les candidatures dont votre organisation est "
        "membre, pour éviter les conflits d'intérêts.",
    )

    def clean_organisation_siren(self):
        siren = "".join(self.cleaned_data["organisation_siren"].split())
        if siren and not is_valid_siren(siren):
            raise forms.ValidationError(
                "Ce SIREN n'est pas valide : il compte 9 chiffres et sa clé de contrôle doit "
                "correspondre."
            )
        return siren


class EmailPreferencesForm(forms.Form):
    """The optional emails; decisions, receipts and account emails are always sent."""

    wants_reminders = forms.BooleanField(
        label="Recevoir les rappels",
        required=False,
        help_text="Rappels avant une échéance : candidature encore en brouillon à l'approche de "
        "la clôture de l'appel, évaluations à rendre avant la fin de l'instruction régionale.",
    )
    wants_digests = forms.BooleanField(
        label="Recevoir les récapitulatifs quotidiens",
        required=False,
        help_text="Récapitulatif des changements dans votre région (coordinateurs de cellule).",
    )


class AccountDeletionForm(forms.Form):
    """Deleting one's account: the password again, an explicit confirmation and, when the user
    is the last one to follow candidatures in progress, the confirmation of their withdrawal."""

    password = forms.CharField(
        label="Votre mot de passe",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Pour confirmer que c'est bien vous.",
    )
    confirm = forms.BooleanField(
        label="Je comprends que la suppression de mon compte est définitive.",
        error_messages={"required": "Cochez cette case pour confirmer la suppression."},
    )
    withdraw = forms.BooleanField(
        label="Je retire les candidatures listées ci-dessus.",
        required=False,
        error_messages={"required": "Cochez cette case pour retirer ces candidatures."},
    )

    def __init__(self, *args, user, needs_withdrawal: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        if needs_withdrawal:
            self.fields["withdraw"].required = True
        else:
            del self.fields["withdraw"]

    def clean_password(self):
        password = self.cleaned_data["password"]
        # allauth's check: the same backends and failed-login rate limit as the login form.
        if not get_adapter().reauthenticate(self.user, password):
            raise forms.ValidationError("Ce mot de passe n'est pas le bon.")
        return password
