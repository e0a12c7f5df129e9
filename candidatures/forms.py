"""Forms of the applicant screens. They validate what the user types; saving is done by the domain
functions (``candidatures.ptce`` …) that the views call with ``cleaned_data``."""

import re

from django import forms
from django.utils import timezone
from django.utils.html import format_html

from ami.formats import format_integer
from ami.identifiers import normalize_siret, validate_siret
from ami.models import Commune
from ami.territory import normalize_commune_code, search_communes

from .messaging import ATTACHMENT_RULES
from .messaging import MAX_LENGTH as MESSAGE_MAX_LENGTH
from .messaging import clean_text as clean_message_text
from .models import Ptce, PtceMember
from .ptce import siret_locked

COMMUNE_CODE_IN_TEXT = re.compile(r"\b(\d{5}|2[AB]\d{3})\b", re.IGNORECASE)
MAX_TERRITORY_COMMUNES = 1000
MAX_CANDIDATES_SHOWN = 10


# --- Fields ----------------------------------------------------------------------------------


class SiretField(forms.CharField):
    """A SIRET, spaces tolerated (``732 829 320 00074``), checked by its check digit."""

    default_validators = [validate_siret]

    def __init__(self, **kwargs):
        kwargs.setdefault("label", "SIRET")
        kwargs.setdefault("max_length", 20)  # room for the spaces, 14 digits once normalized
        super().__init__(**kwargs)
        self.widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})

    def to_python(self, value):
        return normalize_siret(super().to_python(value))


class CommuneField(forms.CharField):
    """A commune of the referential, typed as its INSEE code or its name (accents, case and
    hyphens do not matter); the form narrows names shared by several communes with the postal
    code (see ``resolve_commune``)."""

    def prepare_value(self, value):
        if isinstance(value, Commune):
            return value.code
        return value


class CommuneCodesField(forms.CharField):
    """Communes typed as INSEE codes separated by spaces, commas or semicolons."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value):
        if value is None or isinstance(value, str):
            return value
        return " ".join(c.code if isinstance(c, Commune) else str(c) for c in value)

    def to_python(self, value):
        text = super().to_python(value)
        codes = []
        for token in re.split(r"[\s,;]+", text):
            code = normalize_commune_code(token)
            if code and code not in codes:
                codes.append(code)
        return codes

    def validate(self, value):
        super().validate(value)
        if len(value) > MAX_TERRITORY_COMMUNES:
            raise forms.ValidationError(
                f"Au plus {MAX_TERRITORY_COMMUNES} communes : décrivez un territoire plus "
                "étendu dans la présentation."
            )

    def clean(self, value):
        codes = super().clean(value)
        found = {c.code: c for c in Commune.objects.filter(pk__in=codes)}
        unknown = [code for code in codes if code not in found]
        if unknown:
            raise forms.ValidationError(
                "Codes INSEE inconnus du référentiel : %(codes)s. Vérifiez-les (5 caractères, "
                "par exemple 35238 pour Rennes ; 2A004 pour Ajaccio).",
                params={"codes": ", ".join(unknown)},
                code="unknown_communes",
            )
        return [found[code] for code in codes]


def department_of_postal_code(postal_code: str) -> list[str]:
    """The département(s) a postal code points to (Corsica's 20xxx may be either)."""
    postal_code = (postal_code or "").strip()
    if not (len(postal_code) == 5 and postal_code.isdigit()):
        return []
    if postal_code.startswith("97"):
        return [postal_code[:3]]
    if postal_code.startswith("20"):
        return ["2A", "2B"]
    return [postal_code[:2]]


def resolve_commune(value: str, postal_code: str = "") -> Commune:
    """The commune an applicant typed: an INSEE code (alone or within text such as
    « Rennes (35238) »), or a name that matches one commune only, accents, case and hyphens aside
    (narrowed by the postal code's département when several share it); otherwise the error
    suggests the closest names (trigram similarity), with their département."""
    value = " ".join((value or "").split())
    code_match = COMMUNE_CODE_IN_TEXT.search(value)
    if code_match:
        code = normalize_commune_code(code_match.group(1))
        commune = Commune.objects.filter(pk=code).first()
        if commune is None:
            raise forms.ValidationError(
                "Aucune commune du référentiel n'a le code INSEE « %(code)s ».",
                params={"code": code},
                code="unknown_commune",
            )
        return commune
    if value.isdigit() and len(value) == 4:
        commune = Commune.objects.filter(pk=normalize_commune_code(value)).first()
        if commune is not None:
            return commune
    departments = department_of_postal_code(postal_code)
    matches = list(search_communes(value, departments, exact=True))
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise forms.ValidationError(
            "Plusieurs communes portent ce nom : %(candidates)s. Saisissez le code INSEE de la "
            "bonne commune (ou indiquez d'abord le code postal).",
            params={"candidates": _listing(matches)},
            code="ambiguous_commune",
        )
    suggestions = list(search_communes(value, departments))
    message = (
        "Aucune commune ne s'appelle « %(value)s » dans le référentiel : saisissez son code INSEE "
        "(5 caractères, par exemple 35238 pour Rennes) ou son nom."
    )
    if suggestions:
        message += " Communes au nom proche : %(candidates)s."
    raise forms.ValidationError(
        message,
        params={"value": value, "candidates": _listing(suggestions)},
        code="unknown_commune",
    )


def _listing(communes) -> str:
    shown = [f"{c.name}, {c.department.name} ({c.code})" for c in communes[:MAX_CANDIDATES_SHOWN]]
    if len(communes) > MAX_CANDIDATES_SHOWN:
        shown.append("…")
    return ", ".join(shown)


# --- PTCE ------------------------------------------------------------------------------------


class PtceForm(forms.ModelForm):
    siret = SiretField(
        label="SIRET de la structure porteuse",
        required=False,
        help_text="14 chiffres, espaces acceptés. « Rechercher » propose de préremplir le nom, "
        "l'adresse, la forme juridique et le code NAF depuis le répertoire Sirene.",
    )
    seat_commune = CommuneField(
        label="Commune du siège",
        max_length=200,
        help_text="Son code INSEE (par exemple 35238 pour Rennes) ou son nom, avec ou sans "
        "accents. Elle détermine la région du PTCE.",
    )
    territory_communes = CommuneCodesField(
        label="Communes du territoire",
        required=False,
        help_text="Les codes INSEE des communes où le PTCE agit, séparés par des espaces ou des "
        "virgules (par exemple : 35238, 35047 35206).",
    )

    website = forms.URLField(
        label="Site internet",
        required=False,
        assume_scheme="https",
        help_text="Adresse complète, commençant par https://",
    )

    class Meta:
        model = Ptce
        fields = [
            "name",
            "siret",
            "legal_form",
            "naf_code",
            "address",
            "postal_code",
            "seat_commune",
            "territory_communes",
            "year_created",
            "website",
            "description",
        ]
        labels = {"name": "Nom du PTCE"}
        help_texts = {
            "legal_form": "Par exemple : association déclarée, SCIC SAS, SARL.",
            "naf_code": "Par exemple 88.99B (activité principale).",
            "address": "Numéro et voie du siège.",
            "year_created": "Par exemple 2019.",
            "website": "Adresse complète, commençant par https://",
            "description": "En quelques lignes : les membres, le territoire, les activités.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 6})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["postal_code"].widget.attrs.update(
            {"inputmode": "numeric", "autocomplete": "postal-code"}
        )
        self.fields["address"].widget.attrs["autocomplete"] = "street-address"
        self.fields["year_created"].widget.attrs["inputmode"] = "numeric"
        if siret_locked(self.instance):
            self.fields["siret"].disabled = True
            self.fields["siret"].help_text = (
                "Une candidature de ce PTCE a été déposée : le SIRET ne peut plus être modifié. "
                "Pour le corriger, écrivez à l'équipe Coorace."
            )

    def clean_postal_code(self):
        postal_code = "".join(self.cleaned_data["postal_code"].split())
        if postal_code and not (len(postal_code) == 5 and postal_code.isdigit()):
            raise forms.ValidationError("Un code postal compte 5 chiffres.")
        return postal_code

    def clean_seat_commune(self):
        return resolve_commune(
            self.cleaned_data["seat_commune"], self.cleaned_data.get("postal_code", "")
        )

    def clean_year_created(self):
        year = self.cleaned_data["year_created"]
        if year is not None and year > timezone.localdate().year:
            raise forms.ValidationError("L'année de création ne peut pas être dans le futur.")
        return year

    def _post_clean(self):
        # The domain function validates the instance (region derived from the seat commune);
        # the ModelForm must not write the form's values into the instance it was given.
        pass


class PtceMemberForm(forms.ModelForm):
    siret = SiretField(required=False, help_text="Facultatif : 14 chiffres, espaces acceptés.")

    class Meta:
        model = PtceMember
        fields = ["name", "siret", "category"]
        labels = {"name": "Raison sociale", "category": "Catégorie"}
        help_texts = {
            "category": "La loi ESS demande au moins une entreprise de l'ESS, une entreprise "
            "hors ESS et un autre acteur (collectivité, recherche, formation…).",
        }

    def _post_clean(self):
        pass  # validated and saved by candidatures.ptce.add_member


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Adresse électronique de la personne à inviter",
        help_text="Elle reçoit un lien pour rejoindre l'équipe une fois connectée avec cette "
        "adresse.",
        error_messages={
            "invalid": "Saisissez une adresse électronique valide, par exemple nom@exemple.fr."
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs["autocomplete"] = "email"


# --- Candidature: start, withdrawal, documents ----------------------------------------------


class StartForm(forms.Form):
    """« Candidater »: start from a blank candidature or from one of the PTCE's previous ones
    (``from``, the posted name kept)."""

    def __init__(self, *args, previous=(), **kwargs):
        super().__init__(*args, **kwargs)
        choices = [("", "Une candidature vierge")] + [
            (str(c.pk), f"Reprendre les réponses de la candidature à « {c.call.name} »")
            for c in previous
        ]
        self.fields["from"] = forms.ChoiceField(
            label="Point de départ",
            choices=choices,
            required=False,
            initial="",
            widget=forms.RadioSelect,
            help_text="Une reprise copie les textes et les cofinancements ; le montant et les "
            "pièces sont à reprendre.",
        )
        self.fields["from"].optional = False  # a blank start is an answer
        self.previous = {str(c.pk): c for c in previous}

    def source(self):
        """The candidature to copy from, or None for a blank one."""
        return self.previous.get(self.cleaned_data.get("from") or "")


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Motif",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"max_length": "Le motif compte au plus 2 000 caractères."},
    )
    confirm = forms.BooleanField(
        label="Je confirme vouloir retirer cette candidature",
        error_messages={"required": "Cochez la case de confirmation pour retirer la candidature."},
    )


def accept_attribute(formats) -> str:
    """The ``accept`` attribute of a file input for the given ``FileFormat`` codes."""
    return ",".join(".jpg,.jpeg" if code == "jpeg" else f".{code}" for code in formats)


class DocumentUploadForm(forms.Form):
    """One document type's upload (``file``, the posted name kept); the checks are
    ``candidatures.documents.check_file``'s, reported on the field. Several of these forms
    share a page: the ids carry the type's pk."""

    file = forms.FileField(
        allow_empty_file=True,  # the documents' checks say it in their words
        error_messages={"required": "Choisissez un fichier à déposer."},
    )

    def __init__(self, *args, document_type, replacing=False, **kwargs):
        kwargs.setdefault("auto_id", f"piece-{document_type.pk}-%s")
        super().__init__(*args, **kwargs)
        self.document_type = document_type
        field = self.fields["file"]
        field.widget.attrs["id"] = f"piece-fichier-{document_type.pk}"
        field.label = format_html(
            '{}<span class="fr-sr-only"> pour « {} »</span>',
            "Remplacer le fichier" if replacing else "Choisir le fichier",
            document_type.label,
        )
        field.help_text = (
            f"Taille maximale : {document_type.max_size_mb}\u00a0Mo. Formats acceptés : "
            f"{document_type.allowed_formats_display}."
        )
        field.error_messages["required"] = (
            f"Choisissez un fichier à déposer pour « {document_type.label} »."
        )
        field.widget.attrs["accept"] = accept_attribute(document_type.allowed_formats)


# --- PTCE: the SIRET search ------------------------------------------------------------------


class CompanyLookupForm(forms.Form):
    """« Rechercher » next to the PTCE form (a GET to ``company_lookup``): the directory's
    answer, or why there is none, is shown under it."""

    siret = forms.CharField(
        label="SIRET à rechercher",
        required=False,
        max_length=30,
        help_text="Le répertoire Sirene (« API Recherche d'entreprises ») propose le nom, "
        "l'adresse, la forme juridique et le code NAF. Sinon, remplissez le formulaire à la main.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "recherche-%s")
        super().__init__(*args, **kwargs)
        self.fields["siret"].widget.attrs.update({"inputmode": "numeric", "autocomplete": "off"})


# --- Messaging -------------------------------------------------------------------------------


class MessageForm(forms.Form):
    """A message of the thread (``text``) and its attachment; the rules are
    ``candidatures.messaging``'s (``clean_text``, the documents' checks on the attachment)."""

    text = forms.CharField(
        label="Votre message",
        strip=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": "Écrivez votre message avant de l'envoyer."},
    )
    attachment = forms.FileField(
        # « (facultative) » written here: « pièce » is feminine.
        label="Pièce jointe (facultative)",
        required=False,
        allow_empty_file=True,  # the documents' checks say it in their words
    )
    note = False

    def __init__(self, *args, to_team=False, **kwargs):
        super().__init__(*args, **kwargs)
        text = self.fields["text"]
        text.widget.attrs["maxlength"] = MESSAGE_MAX_LENGTH
        text.help_text = f"Texte simple, {format_integer(MESSAGE_MAX_LENGTH)} caractères au plus."
        if to_team:
            text.label = "Votre message au porteur"
            text.help_text += " L'équipe du PTCE lira ce message."
        attachment = self.fields["attachment"]
        attachment.optional = False
        attachment.help_text = (
            f"Taille maximale : {ATTACHMENT_RULES.max_size_mb}\u00a0Mo. Formats acceptés : "
            f"{ATTACHMENT_RULES.allowed_formats_display}."
        )
        attachment.widget.attrs["accept"] = accept_attribute(ATTACHMENT_RULES.allowed_formats)

    def clean_text(self):
        return clean_message_text(self.cleaned_data["text"], note=self.note)

    def add_domain_error(self, error) -> None:
        """A ValidationError of ``messaging.post_message``: the text's or the attachment's."""
        codes = {getattr(e, "code", None) for e in error.error_list}
        self.add_error("text" if codes & {"empty", "too_long"} else "attachment", error)


class NoteForm(MessageForm):
    """An internal note: never shown to the applicant, never emailed."""

    note = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.fields["attachment"]
        text = self.fields["text"]
        text.label = "Note interne — jamais visible du porteur"
        text.help_text = (
            f"Texte simple, {format_integer(MESSAGE_MAX_LENGTH)} caractères au plus. Une note ne "
            "peut plus être modifiée ni supprimée."
        )
        text.error_messages["required"] = "Écrivez votre note avant de l'enregistrer."
        text.widget.attrs["rows"] = 5

    def add_domain_error(self, error) -> None:
        self.add_error("text", error)
