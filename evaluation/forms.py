"""The evaluation screens' forms: the regional cell's collegial opinion, the CNA's analysis of a
candidature, the selection assistant, the deliberation session, its lines and the decisions. The
views (``evaluation/views/``) only bind them and hand ``cleaned_data`` to the domain functions."""

from datetime import datetime, time
from decimal import Decimal
from html import escape

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.models import RegionalRole, User
from ami.formats import PARIS
from ami.models import DocumentType, Region
from candidatures.complements import field_choices
from candidatures.step_forms import AmountField

from . import reviews, scenarios
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


# --- The regional cell's screens: admissibility, complements, members, assignments --------------


def sr_label(visible: str, hidden: str, *args):
    """A label whose end is read by screen readers only (a control in a table row, where the
    row says whose it is): ``hidden`` is a ``format_html`` pattern filled with ``args``."""
    return format_html('{}<span class="fr-sr-only">' + hidden + "</span>", visible, *args)


class AdmissibilityForm(forms.Form):
    """The coordinator's decision on a submitted candidature: the manual points of the checklist
    (``admission.admissibility_checklist``), the decision, the motivation. Which points must be
    ticked and when a motivation is needed stay ``admission.decide_admissibility``'s rules."""

    points = forms.MultipleChoiceField(
        label="Points à vérifier par le coordinateur",
        help_text="Cochez chaque point vérifié. Tous doivent l'être pour déclarer la candidature "
        "recevable.",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    points.optional = False  # every point, for an admissible candidature: the hint says so
    decision = forms.ChoiceField(
        label="Décision",
        choices=[("admissible", "Recevable"), ("inadmissible", "Irrecevable")],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choisissez : recevable ou irrecevable.",
            "invalid_choice": "Choisissez : recevable ou irrecevable.",
        },
    )
    motivation = forms.CharField(
        label="Motivation",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Obligatoire pour une candidature irrecevable. Elle est transmise au porteur.",
    )
    motivation.optional = False  # required for one decision: the hint says when

    # The domain's names for its errors, mapped to the fields that show them.
    error_fields = {"answers": "points"}

    def __init__(self, *args, items=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["points"].choices = [
            (item.key, item.label) for item in items if not item.automatic
        ]


class DueDateInput(forms.DateInput):
    input_type = "date"

    def __init__(self):
        super().__init__(format="%Y-%m-%d")


class ComplementsForm(forms.Form):
    """A request for complements: the message, what may change (answers, documents), the due
    date and time in Paris time. What is required stays the rule of ``admission.ask_complements``
    (a message, something to complete, a date in the future)."""

    message = forms.CharField(  # required by ask_complements, with the other rules
        label="Message au porteur",
        help_text="Ce qui est attendu, précisément.",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    message.optional = False
    fields = forms.MultipleChoiceField(
        label="Rubriques à compléter",
        help_text="Au moins une rubrique, ou une pièce ci-dessous.",
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    fields.optional = False  # a rubric or a document: ask_complements says which is missing
    document_types = forms.ModelMultipleChoiceField(
        label="Pièces à déposer de nouveau",
        queryset=DocumentType.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"invalid_choice": "Ces pièces ne sont pas celles de l'appel."},
    )
    document_types.optional = False
    due_date = forms.DateField(
        label="Date limite",
        help_text="Format attendu : JJ/MM/AAAA",
        input_formats=["%Y-%m-%d", "%d/%m/%Y"],
        widget=DueDateInput(),
        error_messages={
            "required": "Indiquez une date limite valide.",
            "invalid": "Indiquez une date limite valide.",
        },
    )
    due_time = forms.TimeField(
        label="Heure limite",
        help_text="Format attendu : HH:MM ; midi si rien n'est indiqué.",
        input_formats=["%H:%M"],
        required=False,
        initial="12:00",
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"invalid": "Indiquez une heure valide, par exemple 18:30."},
    )
    due_time.optional = False  # noon by default, as the hint says

    error_fields = {"due_at": "due_date"}

    def __init__(self, *args, call, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fields"].choices = field_choices(call)
        document_types = self.fields["document_types"]
        document_types.queryset = call.document_types.all()
        document_types.label_from_instance = lambda document_type: (
            document_type.label + ("" if document_type.mandatory else " (facultative)")
        )

    def clean(self):
        data = super().clean()
        day = data.get("due_date")
        if day is not None and "due_time" not in self.errors:
            data["due_at"] = datetime.combine(day, data.get("due_time") or time(12, 0), PARIS)
        return data


class AddMemberForm(forms.Form):
    """Add a member to the cell, or invite them: the address is checked (format, account) by
    ``cells.add_or_invite``."""

    email = forms.CharField(
        label="Adresse électronique",
        help_text="Celle de son compte sur la plateforme, ou celle à laquelle l'inviter.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={"required": "Indiquez l'adresse électronique de la personne."},
    )
    role = forms.ChoiceField(
        label="Rôle",
        choices=RegionalRole.choices,
        initial=RegionalRole.EVALUATOR,
        error_messages={"invalid_choice": "Choisissez le rôle : coordinateur ou évaluateur."},
    )


class MemberRoleForm(forms.Form):
    """The role of one member, in its row of the members' table."""

    role = forms.ChoiceField(
        choices=RegionalRole.choices,
        error_messages={"invalid_choice": "Choisissez le rôle : coordinateur ou évaluateur."},
    )

    error_fields = {NON_FIELD_ERRORS: "role"}  # the rule's refusal is about this role

    def __init__(self, *args, membership, **kwargs):
        kwargs.setdefault("auto_id", f"membre-{membership.pk}-%s")
        kwargs.setdefault("initial", {"role": membership.role})
        super().__init__(*args, **kwargs)
        self.membership = membership
        self.fields["role"].label = sr_label("Rôle", " de {}", membership.user.email)


class AssignForm(forms.Form):
    """One more evaluator for a candidature, in its row of the assignments' table: the members
    offered (no conflict, not already assigned); ``assignment.assign`` keeps the rules."""

    evaluator = forms.TypedChoiceField(
        coerce=int,
        error_messages={
            "required": "Choisissez le membre à qui attribuer la candidature.",
            "invalid_choice": "Choisissez un membre de la cellule.",
        },
    )

    error_fields = {NON_FIELD_ERRORS: "evaluator"}  # the rule's refusal is about this person

    def __init__(self, *args, candidature, options=(), **kwargs):
        kwargs.setdefault("auto_id", f"attribution-{candidature.pk}-%s")
        super().__init__(*args, **kwargs)
        self.candidature = candidature
        field = self.fields["evaluator"]
        field.label = sr_label("Membre", " à qui attribuer {}", candidature.ptce.name)
        field.choices = [(m.user_id, f"{m.user} ({m.get_role_display()})") for m in options]


# --- Evaluators: a conflict of interest --------------------------------------------------------


class ConflictForm(forms.Form):
    reason = forms.CharField(
        label="Motif du conflit d'intérêts",
        help_text="Obligatoire. Il est visible des coordinateurs de votre cellule.",
        widget=forms.Textarea(attrs={"rows": 4, "id": "motif"}),
        error_messages={
            "required": "Indiquez le motif du conflit d'intérêts (par exemple : « je suis "
            "salarié d'un membre du PTCE »)."
        },
    )

    error_fields = {NON_FIELD_ERRORS: "reason"}


# --- Consolidation: the hand-over to the CNA, reopening a review -----------------------------


class HandoverForm(forms.Form):
    comment = forms.CharField(
        label="Commentaire pour la CNA",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )


class ReviewReopenForm(forms.Form):
    """A coordinator reopens a submitted review, with a message to its evaluator."""

    message = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, review, **kwargs):
        kwargs.setdefault("auto_id", f"reouverture-{review.pk}-%s")
        super().__init__(*args, **kwargs)
        self.review = review
        self.fields["message"].label = f"Message à {review.evaluator}"


# --- The CNA administrator: moving a candidature to another region ------------------------------


class RegionMoveForm(forms.Form):
    region = forms.ModelChoiceField(
        label="Nouvelle région",
        queryset=Region.objects.none(),
        empty_label="Choisir une région",
        error_messages={
            "required": "Choisissez la région de destination.",
            "invalid_choice": "Choisissez la région de destination.",
        },
    )
    reason = forms.CharField(
        label="Motif",
        help_text="Obligatoire. Il est conservé dans l'historique des changements de région.",
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={"required": "Indiquez le motif du changement de région."},
    )

    def __init__(self, *args, candidature, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["region"].queryset = Region.objects.exclude(pk=candidature.region_id).order_by(
            "name"
        )


# --- Evaluators: the review on the grid --------------------------------------------------------


class ReviewForm(forms.Form):
    """The evaluator's grid: per criterion a score (or « non applicable » where the criterion
    allows it) and a comment, then the overall opinion and comment, under the names
    ``evaluation.reviews`` reads (``score-<pk>``, ``na-<pk>``, ``comment-<pk>``, ``opinion``,
    ``comment``; ``grid`` says the whole grid was sent). A draft: nothing is required to save,
    what is missing is said at submission (``reviews.missing_for_submission``). The form parses
    what was typed and words its errors in French; ``reviews.save_review`` stays the rule, its
    errors are added to the fields they name."""

    mark_optional = False  # every answer counts at submission, none is required to save

    grid = forms.CharField(widget=forms.HiddenInput, initial="1", required=False)
    opinion = forms.ChoiceField(
        label="Avis global",
        required=False,
        widget=forms.RadioSelect,
        error_messages={
            "invalid_choice": "Choisissez un avis : favorable, réservé ou défavorable."
        },
    )
    comment = forms.CharField(
        label="Commentaire général",
        help_text="Points forts, points de vigilance, recommandations pour la cellule.",
        required=False,
        strip=False,
        max_length=reviews.MAX_COMMENT,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"max_length": reviews.too_long()},
    )

    def __init__(self, *args, criteria, review=None, **kwargs):
        kwargs.setdefault("auto_id", "%s")  # the names are the ids: « #score-12 »
        if review is not None:
            kwargs.setdefault("initial", self.stored(criteria, review))
        super().__init__(*args, **kwargs)
        self.fields["opinion"].choices = [
            (value, label[:1].upper() + label[1:]) for value, label in Opinion.choices
        ]
        self.criteria = list(criteria)
        for criterion in self.criteria:
            self.fields.update(self.criterion_fields(criterion))
        self.order_fields(  # the criteria first, then the opinion and the general comment
            [name for criterion in self.criteria for name in self.names(criterion).values()]
        )

    @staticmethod
    def names(criterion) -> dict:
        return {
            "score": reviews.score_field(criterion),
            "na": reviews.not_applicable_field(criterion),
            "comment": reviews.comment_field(criterion),
        }

    @staticmethod
    def stored(criteria, review) -> dict:
        initial = {"opinion": review.opinion, "comment": review.comment}
        scores = {s.criterion_id: s for s in review.scores.all()}
        for criterion in criteria:
            stored = scores.get(criterion.pk)
            if stored is None:
                continue
            names = ReviewForm.names(criterion)
            initial[names["score"]] = "" if stored.score is None else str(stored.score)
            initial[names["na"]] = stored.not_applicable
            initial[names["comment"]] = stored.comment
        return initial

    def criterion_fields(self, criterion) -> dict:
        names = self.names(criterion)
        scale = reviews.scale_message(criterion)
        fields = {
            names["score"]: forms.ChoiceField(
                label=format_html(
                    'Note<span class="fr-sr-only"> du critère « {} »</span> (de {} à {})',
                    criterion.label,
                    criterion.scale_min,
                    criterion.scale_max,
                ),
                required=False,
                choices=[
                    ("", "— Choisir une note —"),
                    *(
                        (str(value), str(value))
                        for value in range(criterion.scale_min, criterion.scale_max + 1)
                    ),
                ],
                error_messages={"invalid_choice": scale},
            )
        }
        if criterion.allows_not_applicable:
            fields[names["na"]] = forms.BooleanField(
                label=sr_label("Non applicable", " : critère « {} »", criterion.label),
                help_text="Le critère est alors écarté du calcul de la note (il ne compte pas "
                "pour 0) ; une note choisie est ignorée.",
                required=False,
            )
        fields[names["comment"]] = forms.CharField(
            label=sr_label("Commentaire sur ce critère", " « {} »", criterion.label),
            required=False,
            strip=False,
            max_length=reviews.MAX_COMMENT,
            widget=forms.Textarea(attrs={"rows": 3}),
            error_messages={"max_length": reviews.too_long()},
        )
        return fields

    def rows(self) -> list[dict]:
        """Per criterion, its bound fields (``na`` None where « non applicable » is not
        offered), for the template's fieldset of the criterion."""
        rows = []
        for criterion in self.criteria:
            names = self.names(criterion)
            rows.append(
                {
                    "criterion": criterion,
                    "score": self[names["score"]],
                    "na": self[names["na"]] if names["na"] in self.fields else None,
                    "comment": self[names["comment"]],
                }
            )
        return rows

    def add_save_errors(self, errors: dict) -> None:
        """The errors of ``reviews.save_review`` (field name → messages) the form has not
        found itself; « non applicable » refused where it is not offered goes to the score."""
        for name, messages in errors.items():
            if name not in self.fields and name.startswith("na-"):
                name = "score-" + name.removeprefix("na-")
            known = self.errors.get(name, []) if name in self.fields else []
            for message in messages:
                if message not in known:
                    self.add_error(name if name in self.fields else None, message)


# --- Consolidation: the regional ranking ------------------------------------------------------


class RankingForm(forms.Form):
    """The ranks typed in the ranking's table, one field per candidature (``rang-<pk>``, its
    label for screen readers only: the column says « Rang »), the proposed order as initial
    values. ``consolidation.ranking_from_inputs`` turns them into the order."""

    def __init__(self, *args, rows, **kwargs):
        kwargs.setdefault("auto_id", "%s")
        super().__init__(*args, **kwargs)
        self.rows = rows
        for position, row in enumerate(rows, start=1):
            message = f"Le rang de « {row.ptce.name} » doit être un nombre entier positif."
            field = forms.IntegerField(
                label=f"Rang de {row.ptce.name}",
                required=False,
                min_value=1,
                initial=position,
                error_messages={"invalid": message, "min_value": message},
            )
            field.hidden_label = True
            field.optional = False
            self.fields[self.name(row)] = field

    @staticmethod
    def name(row) -> str:
        return f"rang-{row.pk}"

    def entered(self) -> dict[int, int]:
        """The ranks typed, by candidature id (blank rows left out)."""
        return {
            row.pk: self.cleaned_data[self.name(row)]
            for row in self.rows
            if self.cleaned_data.get(self.name(row)) is not None
        }

    def row_fields(self):
        """(row, its bound field) for the table."""
        return [(row, self[self.name(row)]) for row in self.rows]


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


class ListReopenForm(forms.Form):
    """The CNA administrator reopens the deliberated list, saying why."""

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
