"""Forms of the candidature steps. They validate what the applicant types; saving, partial
saving included, is done by ``candidatures.drafting``."""

from django import forms

from .models import Candidature, CofinancingLine, FundingStatus
from .steps import get_step

TEXTAREA_ROWS = 8


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
        "requested_amount": "En euros, dans la fourchette de l'appel.",
        "budget_comment": "Facultatif : précisions sur le budget et les cofinancements.",
    }
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
    return type(f"{slug.title()}StepForm", (StepForm,), {"Meta": meta})


class CofinancingLineForm(forms.ModelForm):
    status = forms.ChoiceField(label="Statut", choices=FundingStatus.choices, required=False)

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
