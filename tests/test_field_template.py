"""The one field template (``templates/django/forms/field.html``, ``{{ field.as_field_group }}``)
and its helpers (``ami/templatetags/ami_forms.py``), drawn without a page."""

from html.parser import HTMLParser

from django import forms

from ami.models import Question, QuestionKind
from candidatures import questionnaire
from candidatures.step_forms import show_read_only
from evaluation.filters import CriteriaForm


class Markup(HTMLParser):
    def __init__(self, html):
        super().__init__()
        self.elements = []  # (tag, attrs) in document order
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def find(self, tag, **wanted):
        found = [
            attrs
            for name, attrs in self.elements
            if name == tag and all(attrs.get(k) == v for k, v in wanted.items())
        ]
        assert len(found) == 1, (tag, wanted, self.elements)
        return found[0]

    @property
    def ids(self):
        return {attrs["id"] for _tag, attrs in self.elements if "id" in attrs}


class SampleForm(forms.Form):
    name = forms.CharField(label="Nom", help_text="Comme sur la carte.", max_length=20)
    comment = forms.CharField(
        label="Commentaire", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    kind = forms.ChoiceField(label="Genre", choices=[("", "---------"), ("a", "Alpha")])
    email = forms.EmailField(
        label="Adresse électronique",
        required=False,
        widget=forms.EmailInput(attrs={"placeholder": "nom@exemple.fr"}),
    )
    agree = forms.BooleanField(label="J'accepte", help_text="Obligatoire.")
    colours = forms.MultipleChoiceField(
        label="Couleurs",
        choices=[("r", "Rouge"), ("v", "Vert")],
        widget=forms.CheckboxSelectMultiple,
    )
    answer = forms.ChoiceField(
        label="Réponse", choices=[("1", "Oui"), ("0", "Non")], widget=forms.RadioSelect
    )


def rendered(form, name):
    return form[name].as_field_group()


def assert_descriptions_exist(markup):
    for _tag, attrs in markup.elements:
        for target in (attrs.get("aria-describedby") or "").split():
            assert target in markup.ids, f"aria-describedby to nothing: {attrs}"
        for target in (attrs.get("aria-labelledby") or "").split():
            assert target in markup.ids, f"aria-labelledby to nothing: {attrs}"


def test_a_text_input_with_its_error_and_hint():
    form = SampleForm(data={"name": ""})
    html = rendered(form, "name")
    markup = Markup(html)

    group = markup.find("div", id="id_name_group")
    assert group["class"] == "fr-input-group fr-input-group--error"
    assert markup.find("label", **{"for": "id_name"})["class"] == "fr-label"
    field = markup.find("input", id="id_name")
    assert field["class"] == "fr-input fr-input--error"
    assert field["aria-invalid"] == "true"
    assert field["aria-describedby"] == "id_name_helptext id_name_error"
    assert "required" in field and field["maxlength"] == "20"
    assert markup.find("div", id="id_name_helptext")["class"] == "fr-hint-text"
    assert markup.find("div", id="id_name_error")["class"] == "fr-messages-group"
    assert '<p class="fr-error-text">' in html
    assert "(facultatif)" not in html
    assert_descriptions_exist(markup)


def test_an_optional_textarea_says_so_and_has_no_error_state():
    html = rendered(SampleForm(), "comment")
    markup = Markup(html)

    assert markup.find("div", id="id_comment_group")["class"] == "fr-input-group"
    assert markup.find("textarea", id="id_comment")["class"] == "fr-input"
    assert markup.find("textarea", id="id_comment")["rows"] == "3"
    assert 'Commentaire <span class="fr-text--regular">(facultatif)</span></label>' in html
    assert "aria-describedby" not in html


def test_a_select_in_its_select_group():
    form = SampleForm(data={"kind": "z"})
    html = rendered(form, "kind")
    markup = Markup(html)

    assert markup.find("div", id="id_kind_group")["class"] == (
        "fr-select-group fr-select-group--error"
    )
    assert markup.find("select", id="id_kind")["class"] == "fr-select fr-select--error"
    assert markup.find("select", id="id_kind")["aria-describedby"] == "id_kind_error"
    assert ">Sélectionner une option</option>" in html
    assert_descriptions_exist(markup)


def test_placeholders_are_dropped_and_the_input_type_kept():
    markup = Markup(rendered(SampleForm(), "email"))

    field = markup.find("input", id="id_email")
    assert field["type"] == "email" and "placeholder" not in field


def test_a_single_checkbox_has_its_hint_in_its_label_and_no_optional_mention():
    form = SampleForm(data={})
    html = rendered(form, "agree")
    markup = Markup(html)

    group = markup.find("div", id="id_agree_group")
    assert group["class"] == "fr-checkbox-group fr-checkbox-group--error fr-mb-3w"
    box = markup.find("input", id="id_agree")
    assert box["type"] == "checkbox" and "class" not in box
    assert box["aria-describedby"] == "id_agree_helptext id_agree_error"
    assert '<span class="fr-hint-text" id="id_agree_helptext">Obligatoire.</span></label>' in html
    assert_descriptions_exist(markup)


def test_several_checkboxes_in_a_fieldset_the_error_summary_can_reach():
    form = SampleForm(data={"colours": []})
    html = rendered(form, "colours")
    markup = Markup(html)

    fieldset = markup.find("fieldset", id="id_colours")
    assert fieldset["class"] == "fr-fieldset fr-fieldset--error"
    assert fieldset["aria-labelledby"] == "id_colours_legend id_colours_error"
    assert markup.find("legend", id="id_colours_legend")
    assert markup.find("input", id="id_colours_0")["type"] == "checkbox"
    assert markup.find("label", **{"for": "id_colours_1"})["class"] == "fr-label"
    assert html.count('class="fr-checkbox-group"') == 2
    assert 'class="fr-message fr-message--error"' in html
    assert 'type="hidden"' not in html  # only a widget with send_empty adds it
    assert_descriptions_exist(markup)


def test_radios_in_radio_groups():
    html = rendered(SampleForm(initial={"answer": "0"}), "answer")
    markup = Markup(html)

    assert html.count('class="fr-radio-group"') == 2
    assert "checked" in markup.find("input", id="id_answer_1")
    assert_descriptions_exist(markup)


def questionnaire_form(*questions):
    fields = {question.slug: questionnaire.form_field(question) for question in questions}
    return type("StepForm", (forms.Form,), fields)()


def test_questionnaire_answers_read_only_and_optional_as_their_question_says():
    text = Question(slug="lieu", label="Lieu", kind=QuestionKind.SHORT_TEXT, required=False)
    amount = Question(slug="budget", label="Budget", kind=QuestionKind.AMOUNT, required=True)
    choice = Question(slug="oui", label="Oui ou non", kind=QuestionKind.YES_NO, required=True)
    several = Question(
        slug="outils", label="Outils", kind=QuestionKind.MULTIPLE_CHOICE, choices="Fablab\nFour"
    )
    form = questionnaire_form(text, amount, choice, several)

    assert "(facultatif)" in rendered(form, "lieu")  # its question is not required
    assert "(facultatif)" not in rendered(form, "budget")  # never required by the draft's form
    field = Markup(rendered(form, "lieu")).find("input", id="id_lieu")
    assert "maxlength" not in field  # the server says by how much it is too long
    assert Markup(rendered(form, "budget")).find("input", id="id_budget")["inputmode"] == (
        "decimal"
    )
    assert '<input type="hidden" name="outils" value="">' in rendered(form, "outils")

    form = questionnaire_form(text, amount, choice, several)  # (a BoundField keeps its boxes)
    show_read_only(form)

    text_markup = Markup(rendered(form, "lieu"))
    assert "readonly" in text_markup.find("input", id="id_lieu")
    assert "disabled" not in text_markup.find("input", id="id_lieu")
    assert text_markup.find("div", id="id_lieu_group")["class"] == "fr-input-group"
    assert "disabled" in Markup(rendered(form, "oui")).find("select", id="id_oui")
    several_markup = Markup(rendered(form, "outils"))
    assert "disabled" in several_markup.find("input", id="id_outils_0")


def test_read_only_for_some_answers_only():
    form = questionnaire_form(
        Question(slug="a", label="A", kind=QuestionKind.SHORT_TEXT),
        Question(slug="b", label="B", kind=QuestionKind.SHORT_TEXT),
    )

    show_read_only(form, ["b"])

    assert "readonly" not in Markup(rendered(form, "a")).find("input", id="id_a")
    assert "readonly" in Markup(rendered(form, "b")).find("input", id="id_b")


def test_a_list_filter_form_never_says_optional():
    class Filters(CriteriaForm):
        q = forms.CharField(label="Nom", required=False)

    assert "(facultatif)" not in rendered(Filters(), "q")


def test_a_control_in_a_table_row_keeps_its_label_for_screen_readers_only():
    """A field's ``hidden_label`` (a control in a table whose column header says what it is):
    the label is kept, linked to the control, but only screen readers read it."""
    form = SampleForm(data={"name": ""})
    form.fields["name"].hidden_label = True
    markup = Markup(rendered(form, "name"))

    assert markup.find("label", **{"for": "id_name"})["class"] == "fr-label fr-sr-only"
    assert markup.find("input", id="id_name")["aria-describedby"] == (
        "id_name_helptext id_name_error"
    )
    assert_descriptions_exist(markup)
    shown = Markup(rendered(SampleForm(), "name"))
    assert shown.find("label", **{"for": "id_name"})["class"] == "fr-label"


def test_a_hidden_label_is_kept_for_screen_readers_only():
    """A table's per-row control (``field.hidden_label``): the column header says what it is,
    the label stays for screen readers; a checkbox keeps its label (the DSFR draws the box with
    it) and hides its text only."""
    form = SampleForm()
    for name in ("name", "agree"):
        form.fields[name].hidden_label = True
    text = rendered(form, "name")
    assert '<label class="fr-label fr-sr-only" for="id_name">Nom</label>' in text
    box = rendered(form, "agree")
    assert (
        '<label class="fr-label" for="id_agree"><span class="fr-sr-only">J&#x27;accepte</span>'
        in box
    )
    assert 'class="fr-label fr-sr-only"' not in rendered(SampleForm(), "name")
