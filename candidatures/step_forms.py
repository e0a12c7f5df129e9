"""Form pieces of the candidature steps: amounts in euros and co-financing lines. The answers'
forms are built per question by ``candidatures.questionnaire``; saving, partial saving
included, is done by ``candidatures.drafting``."""

from django import forms

from .models import CofinancingLine, FundingStatus

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
            field.required = False  # a draft's line may be incomplete
            field.optional = False  # but the label says nothing: every column is expected

    def clean_status(self):
        return self.cleaned_data.get("status") or FundingStatus.REQUESTED


def show_read_only(form, names=None) -> None:
    """Show the answers of ``form`` (only those in ``names`` when given) without letting them
    change: text stays readable and selectable in ``readonly`` inputs; selects and checkboxes,
    which have no read-only state, are disabled. The one field template draws them."""
    for name, field in form.fields.items():
        if names is not None and name not in names:
            continue
        if isinstance(field.widget, forms.widgets.ChoiceWidget | forms.CheckboxInput):
            field.disabled = True
        else:
            field.widget.attrs["readonly"] = True
