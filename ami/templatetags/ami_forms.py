"""Template helpers of the forms: the error summary (``templates/includes/form_errors.html``)
and the one field template (``templates/django/forms/field.html``, what
``{{ field.as_field_group }}`` draws), which gives every widget its DSFR class here, whatever
the form (ours, allauth's)."""

from django import forms, template

register = template.Library()


@register.filter
def error_count(form) -> int:
    """How many errors ``form`` shows: each message of each field, and the general ones."""
    if form is None or not hasattr(form, "errors"):
        return 0
    return sum(len(messages) for messages in form.errors.values())


def field_kind(widget) -> str:
    """Which DSFR group draws a widget: hidden, checkbox, checkboxes, radios, select, upload or
    input (text inputs and textareas)."""
    if widget.is_hidden:
        return "hidden"
    if isinstance(widget, forms.CheckboxSelectMultiple):
        return "checkboxes"
    if isinstance(widget, forms.RadioSelect):
        return "radios"
    if isinstance(widget, forms.CheckboxInput):
        return "checkbox"
    if isinstance(widget, forms.Select):
        return "select"
    if isinstance(widget, forms.FileInput):
        return "upload"
    return "input"


WIDGET_CLASS = {"select": "fr-select", "upload": "fr-upload", "input": "fr-input"}


@register.filter
def dsfr_kind(bound_field) -> str:
    return field_kind(bound_field.field.widget)


@register.filter
def is_optional(bound_field) -> bool:
    """Whether the label says « (facultatif) »: when the field is not required, except a single
    checkbox (unticked is an answer) and the forms that say otherwise: the field's ``optional``
    (the questionnaire's drafts, never required by validation, follow their questions) or the
    form's ``mark_optional = False`` (a list's filters, all optional)."""
    field = bound_field.field
    optional = getattr(field, "optional", None)
    if optional is not None:
        return optional
    if not getattr(bound_field.form, "mark_optional", True):
        return False
    return not field.required and field_kind(field.widget) != "checkbox"


@register.filter
def dsfr_widget(bound_field):
    """The widget of ``bound_field`` with its DSFR class (and its error class); placeholders are
    dropped (the DSFR uses hints). Django adds ``required``, ``disabled``, ``aria-invalid`` and
    ``aria-describedby`` (``<id>_helptext``, ``<id>_error``); ``readonly`` and ``inputmode``
    come from the widget's own attributes."""
    widget = bound_field.field.widget
    css = WIDGET_CLASS.get(field_kind(widget))
    attrs = {"placeholder": False}
    if css:
        classes = widget.attrs.get("class", "").split()
        classes += [css] + ([f"{css}--error"] if bound_field.errors and css != "fr-upload" else [])
        attrs["class"] = " ".join(dict.fromkeys(classes))
    return bound_field.as_widget(attrs=attrs)
