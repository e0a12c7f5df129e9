"""Forms of the candidature steps. They validate what the applicant types; saving, partial
saving included, is done by ``candidatures.drafting``."""

from django import forms

from .models import Candidature, CofinancingLine, FundingStatus
from .steps import get_step

TEXTAREA_ROWS = 8


class AmountField(forms.DecimalField):
    """Euros as French users type them: « 50 000 », « 50000,50 », « 50 000 € » or « 50000.50 »;
    shown back without thousands separators and with a decimal comma (« 50000 », « 50000,50 »)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("min_value", 0)
        super().__init__(**kwargs)
        self.widget = forms.TextInput(attrs={"inputmode": "decimal"})
        self.error_messages["invalid"] = (
            "Saisissez un montant en euros, par exemple 50 000 ou 12 500,50."
        )

    def to_python(self, value):
        if isinstance(value, str):
            value = "".join(value.replace("€", "").split()).replace(",", ".")
        return super().to_python(value)

    def prepare_value(self, value):
        if value in (None, ""):
            return ""
        if isinstance(value, str):
            return value  # what the user typed, shown back with its error
        text = f"{value:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.replace(".", ",")


class StepForm(forms.ModelForm):
    class Meta:
        model = Candidature
        fields = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False  # drafts may be incomplete; completeness is checked apart


def step_form_class(slug: str):
    step = get_step(slug)
    widgets = {
        name: forms.Textarea(attrs={"rows": TEXTAREA_ROWS})
        for name in step.fields
        if isinstance(
            Candidature._meta.get_field(name), type(Candidature._meta.get_field("summary"))
        )
    }
    help_texts = {
        "title": "Un titre court qui résume le projet.",
        "summary": "En quelques lignes : ce que le PTCE fera avec ce financement.",
        "territory_description": "Le territoire du PTCE, ses besoins et ses ressources.",
        "partners_description": "Comment les membres coopèrent, ce qu'ils mutualisent.",
        "lever_governance": "Gouvernance partagée, animation du territoire, implication des "
        "membres.",
        "lever_engineering": "Plan d'action, moyens, résultats attendus et indicateurs.",
        "lever_research": "Liens avec la recherche, innovations sociales ou techniques.",
        "lever_viability": "Modèle économique, perspectives d'autonomie financière.",
        "requested_amount": "En euros, dans la fourchette de l'appel (par exemple 50 000).",
        "budget_comment": "Facultatif : précisions sur le budget et les cofinancements.",
    }
    attrs = {}
    if "requested_amount" in step.fields:
        attrs["requested_amount"] = AmountField(
            label="Montant demandé", required=False, help_text=help_texts["requested_amount"]
        )
    meta = type(
        "Meta",
        (),
        {
            "model": Candidature,
            "fields": list(step.fields),
            "widgets": widgets,
            "help_texts": {name: help_texts[name] for name in step.fields if name in help_texts},
        },
    )
    return type(f"{slug.title()}StepForm", (StepForm,), {"Meta": meta, **attrs})


class CofinancingLineForm(forms.ModelForm):
    status = forms.ChoiceField(label="Statut", choices=FundingStatus.choices, required=False)
    amount = AmountField(label="Montant (€)", required=False)

    class Meta:
        model = CofinancingLine
        fields = ["funder", "status", "amount"]
        labels = {"funder": "Financeur", "amount": "Montant (€)"}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False

    def clean_status(self):
        return self.cleaned_data.get("status") or FundingStatus.REQUESTED
