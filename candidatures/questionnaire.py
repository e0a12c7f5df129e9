"""The questionnaire of a call, the one module through which answers are read and written.

A call's questionnaire is data (``ami.models.Section`` and ``Question``, built by staff in the
admin, frozen once the call opens). This module turns it into:

- the applicant's steps (``steps``): one per section, then the documents and the summary; the
  section of kind « budget » (or a built-in one) also holds the requested amount and the
  co-financing lines;
- the forms of those steps, one form field per question kind with French errors
  (``step_form``), and the per-field saving of the autosave (``save_answers``);
- completeness (``missing_answers``), the frozen snapshot (``snapshot_answers``) and its
  rendering everywhere an answer is shown (``answer_rows``, ``display``): receipt, evaluator's
  page, complements' before/after, XLSX exports (``export_header`` / ``export_values``, one
  column per question) and the personal-data export;
- the copy of answers from a previous edition by slug (``carry_over``) and plausible answers for
  the demo, bench and load-test seeds (``sample_answers``).

Where answers live: ``Candidature.answers`` (JSON, keyed by the question's slug: text as a
string, a whole number as an integer, an amount as a decimal string, yes/no as a boolean, a
single choice as its text, a multiple choice as a list of texts, a date as ``YYYY-MM-DD``). The
two answers the platform computes with stay typed columns, always present whatever the
questionnaire (``CORE_FIELDS``): the title and the requested amount. Reading or writing a step
costs the same few queries whatever the number of questions.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django import forms
from django.db.models import Prefetch
from django.utils.formats import date_format

from ami.formats import euros
from ami.models import Phase, Question, QuestionKind, Section, SectionKind

from .step_forms import TEXTAREA_ROWS, AmountField

BUDGET_STEP = "budget"
DOCUMENTS_STEP = "pieces"
SUMMARY_STEP = "recapitulatif"
COFINANCING = "cofinancing"  # the co-financing lines, as complements name them


@dataclass(frozen=True)
class CoreField:
    name: str
    label: str
    help_text: str


# The typed answers every candidature has, whatever its call's questionnaire: the title on the
# first step, the requested amount on the budget step.
TITLE = CoreField("title", "Intitulé du projet", "Un titre court qui résume le projet.")
REQUESTED_AMOUNT = CoreField(
    "requested_amount",
    "Montant demandé",
    "En euros, dans la fourchette de l'appel (par exemple 50 000).",
)
CORE_FIELDS = {core.name: core for core in (TITLE, REQUESTED_AMOUNT)}


# For lists of candidatures of several calls: ``prefetch_related(questionnaire.PREFETCH)`` reads
# every call's questionnaire in two queries.
PREFETCH = "call__sections__questions"


@dataclass(frozen=True)
class Step:
    slug: str
    title: str
    kind: str  # "questions", "budget", "documents" or "summary"
    questions: tuple = ()
    core: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        """The names this step edits: its typed fields, then its questions' slugs."""
        return (*self.core, *(question.slug for question in self.questions))

    @property
    def has_form(self) -> bool:
        return self.kind in ("questions", "budget")


# --- The steps --------------------------------------------------------------------------------


# The steps of calls past their draft, kept by each process: their questionnaire can no longer
# change (``ami.models.FrozenOnceOpen``: the database refuses any insert, update or delete of a
# section or question of a call that is not in draft, and no phase leads back to draft), so the
# hundreds of step pages and autosaves a second of a deadline rush need not read it again. Keyed
# by the call's id and creation time; an entry is dropped when a section or question of the call
# is saved or deleted through the ORM (``forget_steps``). Whoever changes an open call's
# questionnaire outside the application (SQL, shell, after moving the phase back by hand) must
# restart the web processes.
_FROZEN_STEPS: dict[tuple, list["Step"]] = {}
_FROZEN_STEPS_MAX = 64


def _frozen_key(call) -> tuple | None:
    if call.pk is None or call.phase == Phase.DRAFT:
        return None
    return (call.pk, call.created_at)


def forget_steps(call_id) -> None:
    """Drop the process's copy of a call's steps (its questionnaire changed)."""
    for key in [key for key in _FROZEN_STEPS if key[0] == call_id]:
        _FROZEN_STEPS.pop(key, None)


def forget_all_steps() -> None:
    _FROZEN_STEPS.clear()


def questionnaire_changed(sender, instance, **kwargs) -> None:
    """Receiver of a section's or question's ``post_save`` and ``post_delete``."""
    forget_steps(instance.call_id)


def steps(call) -> list[Step]:
    """The applicant's steps for this call, in order (two queries, cached on the call, and in
    the process once the call is past its draft)."""
    cached = getattr(call, "_questionnaire_steps", None)
    if cached is not None:
        return cached
    key = _frozen_key(call)
    frozen = _FROZEN_STEPS.get(key) if key else None
    if frozen is not None:
        call._questionnaire_steps = list(frozen)
        return call._questionnaire_steps
    if "sections" in getattr(call, "_prefetched_objects_cache", {}):
        sections = list(call.sections.all())  # a list of candidatures: ``PREFETCH``
    else:
        sections = list(
            Section.objects.filter(call_id=call.pk)
            .order_by("order", "pk")
            .prefetch_related(
                Prefetch("questions", queryset=Question.objects.order_by("order", "pk"))
            )
        )
    result = [
        Step(
            section.slug,
            section.title,
            section.kind,
            tuple(section.questions.all()),
            ("requested_amount",) if section.kind == SectionKind.BUDGET else (),
        )
        for section in sections
    ]
    if not any(step.kind == BUDGET_STEP for step in result):
        result.append(Step(BUDGET_STEP, "Budget", BUDGET_STEP, (), ("requested_amount",)))
    first = result[0]
    result[0] = Step(first.slug, first.title, first.kind, first.questions, ("title", *first.core))
    result += [
        Step(DOCUMENTS_STEP, "Pièces justificatives", "documents"),
        Step(SUMMARY_STEP, "Récapitulatif et dépôt", "summary"),
    ]
    call._questionnaire_steps = result
    if key:
        if len(_FROZEN_STEPS) >= _FROZEN_STEPS_MAX:
            _FROZEN_STEPS.clear()
        _FROZEN_STEPS[key] = list(result)
    return result


def get_step(call, slug: str) -> Step | None:
    return next((step for step in steps(call) if step.slug == slug), None)


def first_step(call) -> str:
    return steps(call)[0].slug


def neighbours(call, slug: str) -> tuple[Step | None, Step | None]:
    all_steps = steps(call)
    index = [step.slug for step in all_steps].index(slug)
    previous = all_steps[index - 1] if index > 0 else None
    following = all_steps[index + 1] if index + 1 < len(all_steps) else None
    return previous, following


def questions(call) -> list:
    return [question for step in steps(call) for question in step.questions]


def budget_step(call) -> Step:
    return next(step for step in steps(call) if step.kind == BUDGET_STEP)


def labels(call) -> dict[str, str]:
    """Every answer's name → the label the user reads."""
    result = {core.name: core.label for core in CORE_FIELDS.values()}
    result.update((question.slug, question.label) for question in questions(call))
    return result


def step_of(call, name: str) -> str | None:
    """The step where an answer (or the co-financing) is edited."""
    if name == COFINANCING:
        return budget_step(call).slug
    return next((step.slug for step in steps(call) if name in step.fields), None)


# --- Form fields, one per question kind -------------------------------------------------------

NOT_OFFERED = "« %(value)s » ne fait pas partie des réponses proposées."
YES, NO = "oui", "non"


class WholeNumberField(forms.IntegerField):
    """A whole number as French users type it (« 1 200 »)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget = forms.TextInput(attrs={"inputmode": "numeric"})
        self.error_messages["invalid"] = "Saisissez un nombre entier, par exemple 12."

    def to_python(self, value):
        if isinstance(value, str):
            value = "".join(value.split())
        return super().to_python(value)


class FrenchDateField(forms.DateField):
    input_formats = ["%d/%m/%Y", "%Y-%m-%d"]

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget = forms.TextInput(attrs={"autocomplete": "off"})
        self.error_messages["invalid"] = (
            "Saisissez une date au format jj/mm/aaaa, par exemple 31/07/2026."
        )

    def prepare_value(self, value):
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        return value


class CheckboxesWithMarker(forms.CheckboxSelectMultiple):
    """Checkboxes, with an empty hidden value so that unticking them all is sent (and saved):
    the field template (``templates/django/forms/field.html``) writes it for ``send_empty``."""

    send_empty = True

    def value_from_datadict(self, data, files, name):
        values = super().value_from_datadict(data, files, name)
        if isinstance(values, str):
            values = [values]
        return [value for value in values or [] if value != ""]


class ChoicesField(forms.MultipleChoiceField):
    widget = CheckboxesWithMarker


def form_field(question) -> forms.Field:
    """The form field of a question: validation and French errors of its kind. Never required
    here: drafts may be incomplete, completeness is checked apart (``missing_answers``); its
    label says « (facultatif) » when the question is not required."""
    return _for_drafts(_kind_field(question), optional=not question.required)


def _for_drafts(field: forms.Field, *, optional: bool) -> forms.Field:
    """``optional``: what the label says, whatever the form's ``required`` (always False for a
    draft). No ``maxlength``: a longer answer is not cut by the browser, the server says by how
    much it is too long (« 51 saisis »)."""
    field.optional = optional
    field.widget.attrs.pop("maxlength", None)
    return field


def _kind_field(question) -> forms.Field:
    common = {"label": question.label, "help_text": question.help_text, "required": False}
    kind = question.kind
    if kind in (QuestionKind.SHORT_TEXT, QuestionKind.LONG_TEXT):
        limit = question.limit
        widget = (
            forms.Textarea(attrs={"rows": TEXTAREA_ROWS})
            if kind == QuestionKind.LONG_TEXT
            else forms.TextInput
        )
        result = forms.CharField(max_length=limit, widget=widget, **common)
        result.error_messages["max_length"] = (
            "La réponse dépasse la limite de %(limit_value)d caractères (%(show_value)d saisis)."
        )
        return result
    if kind == QuestionKind.INTEGER:
        return WholeNumberField(**common)
    if kind == QuestionKind.AMOUNT:
        return AmountField(**common)
    if kind == QuestionKind.YES_NO:
        result = forms.ChoiceField(choices=[("", "—"), (YES, "Oui"), (NO, "Non")], **common)
        result.error_messages["invalid_choice"] = "Répondez « Oui » ou « Non »."
        return result
    if kind == QuestionKind.SINGLE_CHOICE:
        choices = [("", "Choisir une réponse")] + [(c, c) for c in question.choice_list]
        result = forms.ChoiceField(choices=choices, **common)
        result.error_messages["invalid_choice"] = NOT_OFFERED
        return result
    if kind == QuestionKind.MULTIPLE_CHOICE:
        result = ChoicesField(choices=[(c, c) for c in question.choice_list], **common)
        result.error_messages["invalid_choice"] = NOT_OFFERED
        return result
    if kind == QuestionKind.DATE:
        return FrenchDateField(**common)
    if kind == QuestionKind.URL:
        result = forms.URLField(assume_scheme="https", **common)
        result.error_messages["invalid"] = (
            "Saisissez une adresse internet complète, par exemple https://exemple.fr."
        )
        return result
    if kind == QuestionKind.EMAIL:
        result = forms.EmailField(**common)
        result.error_messages["invalid"] = (
            "Saisissez une adresse électronique valide, par exemple nom@exemple.fr."
        )
        return result
    raise ValueError(f"Unknown question kind: {kind}")


def _core_field(name: str) -> forms.Field:
    core = CORE_FIELDS[name]
    if name == "requested_amount":
        result = AmountField(label=core.label, help_text=core.help_text, required=False)
    else:
        result = forms.CharField(
            label=core.label, help_text=core.help_text, required=False, max_length=200
        )
        result.error_messages["max_length"] = (
            "La réponse dépasse la limite de %(limit_value)d caractères (%(show_value)d saisis)."
        )
    return _for_drafts(result, optional=False)


def to_json(question, value):
    """A cleaned form value as stored in ``Candidature.answers`` (None: no answer)."""
    if value in (None, "", []):
        return None
    kind = question.kind
    if kind == QuestionKind.AMOUNT:
        return str(value)
    if kind == QuestionKind.YES_NO:
        return value == YES
    if kind == QuestionKind.DATE:
        return value.isoformat()
    if kind == QuestionKind.MULTIPLE_CHOICE:
        return list(value)
    return value


def from_json(question, raw):
    """A stored answer as the form shows it."""
    if raw is None:
        return None
    kind = question.kind
    try:
        if kind == QuestionKind.AMOUNT:
            return Decimal(raw)
        if kind == QuestionKind.YES_NO:
            return YES if raw else NO
        if kind == QuestionKind.DATE:
            return date.fromisoformat(raw)
    except (InvalidOperation, TypeError, ValueError):
        return None
    return raw


def step_form(step: Step, candidature, data=None) -> forms.Form:
    """The form of one step, bound to ``data`` or showing the candidature's answers."""
    form_fields = {name: _core_field(name) for name in step.core}
    answers = candidature.answers or {}
    initial = {name: getattr(candidature, name) for name in step.core}
    for question in step.questions:
        form_fields[question.slug] = form_field(question)
        initial[question.slug] = from_json(question, answers.get(question.slug))
    form_class = type("StepForm", (forms.Form,), form_fields)
    return form_class(data=data, initial=initial)


def save_answers(candidature, step: Step, data, in_scope=None) -> tuple[list[str], dict]:
    """Set on ``candidature`` (not saved) every answer of the step present in ``data`` and
    valid, leaving the others as they are. Returns (columns to save, errors by name)."""
    form = step_form(step, candidature, data)
    form.is_valid()
    by_slug = {question.slug: question for question in step.questions}
    changed, errors = [], {}
    answers = dict(candidature.answers or {})
    for name in step.fields:
        if name not in data:
            continue  # only what was sent: never blank a field the page didn't show
        if in_scope is not None and name not in in_scope:
            continue  # complements: only what the cell asked for
        if name in form.errors:
            errors[name] = list(form.errors[name])
        elif name in CORE_FIELDS:
            setattr(candidature, name, form.cleaned_data[name])
            changed.append(name)
        else:
            value = to_json(by_slug[name], form.cleaned_data[name])
            if value is None:
                answers.pop(name, None)
            else:
                answers[name] = value
    if answers != (candidature.answers or {}):
        candidature.answers = answers
        changed.append("answers")
    return changed, errors


# --- Reading answers --------------------------------------------------------------------------


def is_answered(raw) -> bool:
    if isinstance(raw, str):
        return bool(raw.strip())
    return raw not in (None, [], {})


def display(question, raw) -> str:
    """An answer as a French reader reads it (empty string when there is none)."""
    if not is_answered(raw):
        return ""
    kind = question.kind if question is not None else None
    if isinstance(raw, bool):
        return "Oui" if raw else "Non"
    if isinstance(raw, list):
        return ", ".join(str(item) for item in raw)
    if kind == QuestionKind.AMOUNT:
        try:
            return euros(Decimal(raw))
        except (InvalidOperation, TypeError):
            return str(raw)
    if kind == QuestionKind.DATE:
        try:
            return date_format(date.fromisoformat(raw), "d/m/Y")
        except (TypeError, ValueError):
            return str(raw)
    if kind == QuestionKind.INTEGER and isinstance(raw, int):
        return f"{raw:,}".replace(",", "\u202f")
    return str(raw)


@dataclass
class SectionAnswers:
    title: str
    rows: list = field(default_factory=list)  # (label, displayed answer)


def answer_rows(call, answers: dict, *, with_title=False, with_names=False) -> list[SectionAnswers]:
    """Every question of the call with its answer (from a snapshot or a candidature), by
    section; the title first when asked. Rows are (label, displayed answer), or (name, label,
    displayed answer) ``with_names`` (the dossier marks the answers complements changed)."""
    result = []
    for step in steps(call):
        if not step.has_form:
            continue
        rows = []
        if with_title and "title" in step.core:
            rows.append((TITLE.name, TITLE.label, answers.get("title") or ""))
        rows += [(q.slug, q.label, display(q, answers.get(q.slug))) for q in step.questions]
        if not with_names:
            rows = [row[1:] for row in rows]
        if rows:
            result.append(SectionAnswers(step.title, rows))
    return result


def flat_rows(call, answers: dict, *, with_title=False) -> list[tuple[str, str]]:
    return [
        row for section in answer_rows(call, answers, with_title=with_title) for row in section.rows
    ]


def display_by_name(call, name: str, raw) -> str:
    """One answer, named by slug, as displayed (the complements' before/after)."""
    question = next((q for q in questions(call) if q.slug == name), None)
    if question is None:
        return "" if raw is None else str(raw)
    return display(question, raw)


def snapshot_answers(candidature) -> dict:
    """The answers as frozen in the snapshot: the title and every answer by slug."""
    return {"title": candidature.title, **(candidature.answers or {})}


def missing_answers(candidature) -> list[tuple[str, str]]:
    """(message, step slug) for the title and every required question left unanswered."""
    problems = []
    all_steps = steps(candidature.call)
    if not candidature.title.strip():
        problems.append(("L'intitulé du projet est vide.", all_steps[0].slug))
    answers = candidature.answers or {}
    for step in all_steps:
        for question in step.questions:
            if question.required and not is_answered(answers.get(question.slug)):
                problems.append((f"La rubrique « {question.label} » est vide.", step.slug))
    return problems


def complement_choices(call) -> list[tuple[str, str]]:
    """What a cell may ask the applicant to complete: every answer, then the co-financing."""
    choices = [("title", TITLE.label)]
    for step in steps(call):
        if "requested_amount" in step.core:
            choices.append(("requested_amount", REQUESTED_AMOUNT.label))
        choices += [(question.slug, question.label) for question in step.questions]
    return [*choices, (COFINANCING, "Cofinancements")]


# --- Exports ----------------------------------------------------------------------------------


def export_header(call) -> list[str]:
    """One spreadsheet column per question of the call."""
    return [question.label for question in questions(call)]


def export_values(call, answers: dict) -> list:
    """The answers of one candidature under ``export_header``: numbers stay numbers."""
    values = []
    for question in questions(call):
        raw = (answers or {}).get(question.slug)
        if raw is None:
            values.append(None)
        elif question.kind == QuestionKind.AMOUNT:
            try:
                values.append(Decimal(raw))
            except (InvalidOperation, TypeError):
                values.append(str(raw))
        elif question.kind == QuestionKind.INTEGER and isinstance(raw, int):
            values.append(raw)
        else:
            values.append(display(question, raw))
    return values


# --- Copies and seeds -------------------------------------------------------------------------


def _fits(question, raw) -> bool:
    """Whether a stored answer is a valid answer to ``question`` (same kind, offered choice,
    within the limit)."""
    if raw is None:
        return False
    try:
        value = from_json(question, raw)
        if question.kind == QuestionKind.MULTIPLE_CHOICE and not isinstance(value, list):
            return False
        form_field(question).clean(value)
    except forms.ValidationError:
        return False
    return value is not None


def carry_over(source, target) -> dict:
    """The answers of a previous edition's candidature that the target call asks again (same
    slug, still a valid answer to the new question)."""
    by_slug = {question.slug: question for question in questions(target.call)}
    return {
        slug: raw
        for slug, raw in (source.answers or {}).items()
        if slug in by_slug and _fits(by_slug[slug], raw)
    }


def sample_answers(call, number: int, place: str = "") -> dict:
    """Plausible answers to every question of the call, for the demo, bench and load seeds."""
    answers = {}
    for question in questions(call):
        kind = question.kind
        if kind == QuestionKind.SHORT_TEXT:
            value = f"{question.label} — réponse n° {number}"[: question.limit]
        elif kind == QuestionKind.LONG_TEXT:
            value = (
                f"Réponse du PTCE n° {number}{' à ' + place if place else ''} : "
                f"{question.label.lower()}, avec les membres du pôle et leurs partenaires."
            )[: question.limit or None]
        elif kind == QuestionKind.INTEGER:
            value = 3 + number % 20
        elif kind == QuestionKind.AMOUNT:
            value = str(Decimal(10000 + 500 * (number % 40)))
        elif kind == QuestionKind.YES_NO:
            value = number % 2 == 0
        elif kind == QuestionKind.SINGLE_CHOICE:
            options = question.choice_list
            value = options[number % len(options)] if options else None
        elif kind == QuestionKind.MULTIPLE_CHOICE:
            options = question.choice_list
            value = options[: 1 + number % max(len(options), 1)]
        elif kind == QuestionKind.DATE:
            value = date(2026, 1 + number % 12, 1 + number % 28).isoformat()
        elif kind == QuestionKind.URL:
            value = f"https://ptce-{number}.exemple.fr"
        else:
            value = f"contact@ptce-{number}.exemple.fr"
        if value is not None:
            answers[question.slug] = value
    return answers


# --- Building a questionnaire -----------------------------------------------------------------


def build(call, sections) -> None:
    """Create a call's questionnaire from a description (seeds and tests): a list of
    ``(slug, title, kind, [dict(slug=…, label=…, kind=…, …), …])``. The call must be in
    draft (the database refuses it otherwise)."""
    for section_order, (slug, title, kind, section_questions) in enumerate(sections, 1):
        section = Section.objects.create(
            call=call, slug=slug, title=title, kind=kind, order=section_order
        )
        Question.objects.bulk_create(
            Question(call=call, section=section, order=order, **spec)
            for order, spec in enumerate(section_questions, 1)
        )
    call._questionnaire_steps = None
    forget_steps(call.pk)


# The questionnaire of the AMI PTCE since 2025 (the one the first editions had as columns).
AMI_PTCE = [
    ("presentation", "Présentation", SectionKind.QUESTIONS, [
        {"slug": "summary", "label": "Résumé du projet", "kind": QuestionKind.LONG_TEXT,
         "help_text": "En quelques lignes : ce que le PTCE fera avec ce financement."},
    ]),
    ("territoire", "Territoire et partenaires", SectionKind.QUESTIONS, [
        {"slug": "territory_description", "label": "Territoire et ses enjeux",
         "kind": QuestionKind.LONG_TEXT,
         "help_text": "Le territoire du PTCE, ses besoins et ses ressources."},
        {"slug": "partners_description", "label": "Coopération entre les membres",
         "kind": QuestionKind.LONG_TEXT,
         "help_text": "Comment les membres coopèrent, ce qu'ils mutualisent."},
    ]),
    ("projet", "Projet", SectionKind.QUESTIONS, [
        {"slug": "lever_governance", "label": "Animation territoriale et gouvernance",
         "kind": QuestionKind.LONG_TEXT,
         "help_text": "Gouvernance partagée, animation du territoire, implication des membres."},
        {"slug": "lever_engineering",
         "label": "Ingénierie de projet et résultats attendus (économiques, sociaux, écologiques)",
         "kind": QuestionKind.LONG_TEXT,
         "help_text": "Plan d'action, moyens, résultats attendus et indicateurs."},
        {"slug": "lever_research", "label": "Recherche et innovation",
         "kind": QuestionKind.LONG_TEXT,
         "help_text": "Liens avec la recherche, innovations sociales ou techniques."},
        {"slug": "lever_viability", "label": "Viabilité économique",
         "kind": QuestionKind.LONG_TEXT,
         "help_text": "Modèle économique, perspectives d'autonomie financière."},
    ]),
    ("budget", "Budget", SectionKind.BUDGET, [
        {"slug": "budget_comment", "label": "Commentaire sur le budget",
         "kind": QuestionKind.LONG_TEXT, "required": False,
         "help_text": "Facultatif : précisions sur le budget et les cofinancements."},
    ]),
]  # fmt: skip
