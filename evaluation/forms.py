"""The evaluation screens' forms: the regional cell's collegial opinion, the CNA's analysis of a
candidature, the selection assistant, the deliberation session, its lines and the decisions. The
views (``evaluation/views/``) only bind them and hand ``cleaned_data`` to the domain functions."""

from decimal import Decimal
from html import escape

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.safestring import mark_safe

from accounts.models import User
from candidatures.step_forms import AmountField

from . import scenarios
from .models import Opinion, ScoreBasis, SelectionScenario

# --- Regional consolidation: the collegial opinion ---------------------------------------------


class OpinionForm(forms.Form):
    score = forms.DecimalField(
        label="Note consolidée (sur 100)",
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        localize=True,
        error_messages={
            "required": "Indiquez la note consolidée, sur 100.",
            "invalid": "Saisissez un nombre, par exemple 72,5.",
        },
    )
    justification = forms.CharField(
        label="Justification de la note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire quand la note diffère de la moyenne des évaluations.",
    )
    opinion = forms.ChoiceField(
        label="Avis collégial",
        choices=[("", "Choisir un avis"), *Opinion.choices],
        error_messages={"required": "Choisissez l'avis collégial."},
    )
    motivation = forms.CharField(
        label="Motivation communicable au porteur",
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Peut être reprise dans la lettre de décision envoyée au porteur.",
        error_messages={"required": "La motivation communicable au porteur est obligatoire."},
    )
    internal_note = forms.CharField(
        label="Note interne",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Réservée aux cellules et à la CNA, jamais transmise au porteur.",
    )

    def __init__(self, *args, proposed_score_fr="", **kwargs):
        """``proposed_score_fr``: the mean of the reviews handed in, as the hint shows it."""
        super().__init__(*args, **kwargs)
        score = self.fields["score"]
        score.widget.attrs["inputmode"] = "decimal"
        score.help_text = (
            f"Par défaut la moyenne des évaluations, {proposed_score_fr} ; toute autre note "
            "doit être justifiée."
            if proposed_score_fr
            else "Aucune évaluation rendue : la note doit être justifiée."
        )


# --- National review: a candidature's analysis, the selection assistant -------------------------


class AnalysisForm(forms.Form):
    score = forms.DecimalField(
        label="Note globale (sur 100)",
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        localize=True,
        error_messages={
            "required": "Indiquez votre note globale, sur 100.",
            "invalid": "Saisissez un nombre, par exemple 72,5.",
        },
    )
    opinion = forms.ChoiceField(
        label="Avis",
        choices=[("", "Choisir un avis"), *Opinion.choices],
        error_messages={"required": "Choisissez un avis."},
    )
    comment = forms.CharField(
        label="Note interne (analyse)",
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Visible de toute la CNA, jamais transmise au porteur.",
        error_messages={"required": "Rédigez votre analyse."},
    )
    motivation = forms.CharField(
        label="Motivation communicable au porteur",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Facultative : ce que la CNA pourra reprendre dans la lettre de décision.",
    )


class LongSelectMultiple(forms.SelectMultiple):
    """Django's multiple select for a long flat list of choices, its options written in one
    string instead of one template rendering each: the same markup, but the assistant lists
    every candidature handed over, twice, and 20 000 option templates took seconds at national
    scale."""

    def render(self, name, value, attrs=None, renderer=None):
        if any(isinstance(label, list | tuple) for _value, label in self.choices):
            return super().render(name, value, attrs, renderer)  # option groups
        chosen = set(self.format_value(value))
        attributes = flatatt({**self.build_attrs(self.attrs, attrs), "multiple": True})
        options = "".join(
            f'<option value="{escape(str(key))}"{" selected" if str(key) in chosen else ""}>'
            f"{escape(str(label))}</option>"
            for key, label in self.choices
        )
        return mark_safe(f'<select name="{escape(name)}"{attributes}>{options}</select>')  # noqa: S308 - escaped above


class AssistantForm(forms.Form):
    name = forms.CharField(
        label="Nom du scénario",
        max_length=120,
        error_messages={"required": "Donnez un nom au scénario."},
    )
    basis = forms.ChoiceField(
        label="Note à maximiser", choices=ScoreBasis.choices, initial=ScoreBasis.NORMALISED
    )
    funding_floor = forms.IntegerField(
        label="Montant accordé : au moins ce pourcentage du montant demandé",
        min_value=1,
        max_value=100,
        initial=100,
        help_text="100 : chaque lauréat reçoit le montant demandé (plafonné au maximum de "
        "l'appel). Moins : l'assistant peut réduire des montants pour retenir plus de lauréats.",
    )
    rural_min_share = forms.IntegerField(
        label="Part minimale de lauréats en territoire rural (%)",
        min_value=0,
        max_value=100,
        required=False,
    )
    qpv_min_share = forms.IntegerField(
        label="Part minimale de lauréats en quartier prioritaire (%)",
        min_value=0,
        max_value=100,
        required=False,
    )
    rural_bonus = forms.DecimalField(
        label="Bonus en points pour un territoire rural",
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        localize=True,
        required=False,
    )
    qpv_bonus = forms.DecimalField(
        label="Bonus en points pour un quartier prioritaire",
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        localize=True,
        required=False,
    )
    max_per_region = forms.IntegerField(
        label="Nombre maximal de lauréats par région", min_value=1, required=False
    )
    forced_in = forms.MultipleChoiceField(
        label="Candidatures imposées",
        required=False,
        widget=LongSelectMultiple(attrs={"size": 6}),
    )
    forced_out = forms.MultipleChoiceField(
        label="Candidatures écartées",
        required=False,
        widget=LongSelectMultiple(attrs={"size": 6}),
    )

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["forced_in"].choices = choices
        self.fields["forced_out"].choices = choices

    def clean(self):
        data = super().clean()
        both = set(data.get("forced_in") or []) & set(data.get("forced_out") or [])
        if both:
            raise ValidationError("Une candidature ne peut pas être à la fois imposée et écartée.")
        return data

    def parameters(self) -> scenarios.Parameters:
        data = self.cleaned_data
        return scenarios.Parameters(
            basis=data["basis"],
            funding_floor=data["funding_floor"],
            rural_min_share=data["rural_min_share"] or None,
            qpv_min_share=data["qpv_min_share"] or None,
            rural_bonus=data["rural_bonus"] or Decimal("0"),
            qpv_bonus=data["qpv_bonus"] or Decimal("0"),
            max_per_region=data["max_per_region"],
            forced_in=[int(pk) for pk in data["forced_in"]],
            forced_out=[int(pk) for pk in data["forced_out"]],
        )


# --- Deliberation: the session, its lines, the decisions ------------------------------------------


class SessionForm(forms.Form):
    held_on = forms.DateField(
        label="Date de la séance",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"required": "Indiquez la date de la séance.", "invalid": "Date invalide."},
    )
    members_present = forms.ModelMultipleChoiceField(
        label="Membres présents",
        queryset=User.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Cochez les membres de la CNA présents à la séance."},
    )
    scenario = forms.ModelChoiceField(
        label="Point de départ",
        queryset=SelectionScenario.objects.none(),
        required=False,
        empty_label="À la main (aucune candidature retenue au départ)",
    )
    notes = forms.CharField(
        label="Observations de la séance",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args, call, with_scenario=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members_present"].queryset = User.objects.filter(
            national_memberships__cell__call=call
        ).order_by("last_name", "first_name")
        if with_scenario:
            self.fields["scenario"].queryset = SelectionScenario.objects.filter(
                call=call, feasible=True
            )
        else:
            del self.fields["scenario"]


class LineForm(forms.Form):
    selected = forms.TypedChoiceField(
        label="Décision",
        choices=[("1", "Retenue"), ("0", "Non retenue")],
        coerce=lambda value: value == "1",
        widget=forms.RadioSelect,
    )
    amount = AmountField(label="Montant accordé (€)", required=False)
    justification = forms.CharField(
        label="Justification (note interne)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Obligatoire dès que la décision s'écarte de la proposition ; elle figure au "
        "procès-verbal, jamais dans la lettre au porteur.",
    )
    motivation = forms.CharField(
        label="Motivation communicable au porteur",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Facultative : reprise dans la motivation préremplie de la décision.",
    )


class DecisionForm(forms.Form):
    granted_amount = AmountField(label="Montant accordé (€)", required=False)
    motivation = forms.CharField(
        label="Motivation communicable au porteur",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Envoyée au porteur dans la lettre de décision ; obligatoire pour un refus.",
    )
    internal_note = forms.CharField(
        label="Note interne",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Réservée à la CNA, jamais transmise au porteur.",
    )

    def __init__(self, *args, laureate, **kwargs):
        super().__init__(*args, **kwargs)
        if not laureate:
            del self.fields["granted_amount"]


# --- Deliberation leftovers, decision table, publication, held bulk sends ----------------------


class ApplyScenarioForm(forms.Form):
    scenario = forms.ModelChoiceField(
        label="Repartir d'un scénario",
        queryset=SelectionScenario.objects.none(),
        empty_label=None,
        help_text="Les lignes reprennent sa proposition ; les modifications déjà faites restent "
        "au journal.",
        error_messages={"invalid_choice": "Choisissez un scénario réalisable de l'appel."},
    )

    def __init__(self, *args, call, **kwargs):
        kwargs.setdefault("auto_id", "depart-%s")
        super().__init__(*args, **kwargs)
        self.fields["scenario"].queryset = SelectionScenario.objects.filter(
            call=call, feasible=True
        )


class ReopenForm(forms.Form):
    reason = forms.CharField(
        label="Motif de la réouverture",
        max_length=2000,
        error_messages={"required": "Indiquez pourquoi la liste est rouverte."},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "reouverture-%s")
        super().__init__(*args, **kwargs)


class PublicationForm(forms.Form):
    confirm = forms.BooleanField(
        label="J'ai relu les décisions et les courriels : les résultats deviennent visibles des "
        "porteurs, chacun reçoit sa lettre, les cellules régionales sont informées et l'appel "
        "passe en phase « résultats publiés ».",
        error_messages={"required": "Cochez la case de confirmation pour publier."},
    )


class CompareScenariosForm(forms.Form):
    """The scenarios to compare (a GET form, ``comparer`` the query's name)."""

    mark_optional = False

    def __init__(self, *args, scenarios=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["comparer"] = forms.TypedMultipleChoiceField(
            label="Scénarios à comparer",
            choices=[(s.pk, s.name) for s in scenarios],
            coerce=int,
            required=False,
            widget=forms.CheckboxSelectMultiple,
            help_text="Cochez au moins deux scénarios.",
        )

    def chosen_ids(self) -> set[int]:
        return set(self.cleaned_data.get("comparer") or []) if self.is_valid() else set()


class DecisionFilterForm(forms.Form):
    """The decision table's filters (GET)."""

    mark_optional = False
    decision = forms.ChoiceField(
        label="Décision",
        required=False,
        choices=[("", "Toutes"), ("laureate", "Lauréates"), ("not_selected", "Non retenues")],
    )
    region = forms.ChoiceField(label="Région", required=False)
    q = forms.CharField(label="PTCE", required=False, max_length=200)
    vide = forms.BooleanField(label="Motivation vide seulement", required=False)

    def __init__(self, *args, regions=(), **kwargs):
        kwargs.setdefault("auto_id", "filtre-%s")
        super().__init__(*args, **kwargs)
        self.fields["region"].choices = [("", "Toutes"), *regions]

    def params(self) -> dict:
        """The filters that hold (an unknown region or decision is left out)."""
        self.is_valid()
        return self.cleaned_data


class BulkParagraphForm(forms.Form):
    """A paragraph applied to the lines checked in the table (their ``selection`` boxes belong
    to this form through ``form="lot"``), or the empty motivations prefilled."""

    paragraph = forms.CharField(
        label="Paragraphe à appliquer aux lignes cochées",
        required=False,  # not for « Préremplir » (the domain says when it is missing)
        strip=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Texte communicable au porteur : il est ajouté à la fin de la motivation (ou "
        "la remplace).",
    )
    mode = forms.ChoiceField(
        label="Mode",
        choices=[("append", "Ajouter à la fin"), ("replace", "Remplacer la motivation")],
        initial="append",
        widget=forms.RadioSelect,
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "lot-%s")
        super().__init__(*args, **kwargs)
        self.fields["paragraph"].optional = False
        self.fields["mode"].required = False


class UncheckedBox(forms.CheckboxInput):
    """A box whose value is the row's key (``selection=<pk>``), never ticked at first."""

    def __init__(self, attrs=None):
        super().__init__(attrs, check_test=lambda value: False)


class DecisionRowForm(forms.Form):
    """One line of the decision table: the box choosing it for the paragraph, its amount (a
    laureate's) and its motivation, saved by ``decision_autosave`` (htmx on change, or the
    line's « Enregistrer » button: the inputs belong to the form ``ligne-<pk>``)."""

    mark_optional = False
    selection = forms.BooleanField(required=False, widget=UncheckedBox)
    granted_amount = AmountField(required=False)
    motivation = forms.CharField(
        required=False, strip=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(self, *args, decision, autosave_url="", **kwargs):
        kwargs.setdefault("auto_id", f"ligne-{decision.pk}-%s")
        kwargs.setdefault(
            "initial",
            {
                "selection": decision.pk,
                "granted_amount": decision.granted_amount,
                "motivation": decision.motivation,
            },
        )
        super().__init__(*args, **kwargs)
        name = decision.candidature.ptce.name
        pk = decision.pk
        fields = self.fields
        fields["selection"].label = f"Choisir {name}"
        fields["selection"].widget.attrs.update({"id": f"choix-{pk}", "form": "lot"})
        fields["selection"].disabled = decision.is_published
        if decision.outcome != "laureate":
            del fields["granted_amount"]
        else:
            fields["granted_amount"].label = f"Montant accordé à {name}"
            fields["granted_amount"].widget.attrs["id"] = f"montant-{pk}"
        fields["motivation"].label = f"Motivation communicable pour {name}"
        fields["motivation"].widget.attrs["id"] = f"motivation-{pk}"
        for field_name, trigger in (
            ("granted_amount", "change"),
            ("motivation", "input delay:1000ms, change"),
        ):
            if field_name in fields:
                fields[field_name].widget.attrs.update(
                    {
                        "form": f"ligne-{pk}",
                        "hx-post": autosave_url,
                        "hx-include": f"#ligne-{pk}, [form='ligne-{pk}']",
                        "hx-trigger": trigger,
                        "hx-target": f"#etat-{pk}",
                        "hx-sync": "closest tr:queue last",
                    }
                )
        for field in fields.values():
            field.hidden_label = True  # the table's headers say it; the label is for screen readers


class BatchMessageForm(forms.Form):
    """One held email of a bulk send, edited before it goes."""

    subject = forms.CharField(
        label="Objet",
        max_length=300,
        error_messages={"required": "Écrivez l'objet du courriel."},
    )
    text = forms.CharField(
        label="Texte",
        widget=forms.Textarea(attrs={"rows": 10}),
        error_messages={"required": "Écrivez le texte du courriel."},
    )

    def __init__(self, *args, message, **kwargs):
        kwargs.setdefault("auto_id", f"courriel-{message.pk}-%s")
        kwargs.setdefault("initial", {"subject": message.subject, "text": message.body_text})
        super().__init__(*args, **kwargs)
        self.message = message
