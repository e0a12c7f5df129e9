"""Saving a draft candidature: every field as it is typed (autosave) or when leaving a step.
Valid fields are saved even when others are not, so nothing typed is ever lost to a mistake
elsewhere; invalid values are reported with French messages."""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from ami.audit import audited

from . import questionnaire
from .complements import editable_scope, request_refusal
from .models import Candidature, CofinancingLine, lock_for_write
from .permissions import KNOWN_MEMBERS_ATTRIBUTE, can_edit_candidature, is_ptce_member
from .step_forms import CofinancingLineForm


@dataclass
class SaveResult:
    saved_at: object
    errors: dict = field(default_factory=dict)  # field name → list of messages
    labels: dict = field(default_factory=dict)  # answer name → label

    @property
    def ok(self) -> bool:
        return not self.errors

    def labelled_errors(self) -> list[tuple[str, list[str]]]:
        """The errors with the label the user sees next to each field."""
        return [
            (self.labels.get(name) or field_label(name), messages)
            for name, messages in self.errors.items()
        ]


def field_label(name: str) -> str:
    if name.startswith("line-"):
        _line, _pk, part = name.split("-", 2)
        return {"funder": "Financeur", "status": "Statut", "amount": "Montant"}.get(
            part, part
        ) + " d'un cofinancement"
    return name


def editing_refusal(candidature, user) -> str | None:
    """Why the user may not edit this candidature now, in French, or None."""
    if can_edit_candidature(user, candidature):
        return None
    if candidature.state == "complements_requested" and is_ptce_member(user, candidature.ptce):
        return request_refusal(candidature)
    if candidature.state != "draft":
        return (
            f"La candidature est « {candidature.get_state_display()} » : elle ne peut plus être "
            "modifiée."
        )
    if not candidature.call.accepts_submissions():
        return "Le dépôt des candidatures est clos : la candidature ne peut plus être modifiée."
    return "Vous ne faites pas partie de l'équipe de ce PTCE."


def line_prefix(line: CofinancingLine) -> str:
    return f"line-{line.pk}"


@audited
def save_step(
    candidature: Candidature, slug: str, data, actor, *, row_locked: bool = False
) -> SaveResult:
    """Save the fields of one step from submitted data (a QueryDict or dict).

    The right to edit is checked on the row locked for the write, so that a submission (which
    locks the same row) and an autosave never overlap: whichever comes second sees the other's
    result, and nothing changes a candidature once it is submitted. ``row_locked``: the caller
    read ``candidature`` in its open transaction already locked as ``models.lock_for_write``
    does (the applicant's views, ``own_candidature_or_404(…, lock=True)``), so it is not read a
    second time."""
    step = questionnaire.get_step(candidature.call, slug)
    errors = {}
    if row_locked and not (
        transaction.get_connection().in_atomic_block
        and getattr(candidature, "_locked_for_update", False)
    ):
        raise RuntimeError("save_step(row_locked=True) needs the row locked in a transaction")
    # In the caller's transaction (no savepoint: an error rolls the caller's back), or its own.
    with transaction.atomic(savepoint=not row_locked):
        if row_locked:
            _refuse_unless_editable(candidature, actor)
            locked = candidature
        else:
            locked = _lock_editable(candidature, actor)
        fields_in_scope, _documents = editable_scope(locked)
        update_fields = ["current_step", "updated_at"]
        if step.has_form:
            changed, errors = questionnaire.save_answers(locked, step, data, fields_in_scope)
            update_fields += changed
        if step.kind == questionnaire.BUDGET_STEP and (
            fields_in_scope is None or questionnaire.COFINANCING in fields_in_scope
        ):
            errors.update(_save_lines(locked, data))
        locked.current_step = slug
        locked.save(update_fields=update_fields)
    for name in update_fields:
        setattr(candidature, name, getattr(locked, name))
    return SaveResult(
        saved_at=timezone.now(), errors=errors, labels=questionnaire.labels(candidature.call)
    )


def _save_lines(candidature, data) -> dict:
    errors = {}
    for line in candidature.cofinancing_lines.all():
        prefix = line_prefix(line)
        if f"{prefix}-funder" not in data and f"{prefix}-amount" not in data:
            continue
        form = CofinancingLineForm(data=data, instance=line, prefix=prefix)
        if form.is_valid():
            if form.has_changed():  # an autosave sends every line; most are as stored
                form.save()
        else:
            for name, messages in form.errors.items():
                errors[f"{prefix}-{name}"] = list(messages)
    return errors


def _lock_editable(candidature, actor) -> Candidature:
    """Lock the candidature's row (inside the caller's transaction) and check, on that locked
    row, that the actor may still edit it; returns the locked instance."""
    locked = lock_for_write(candidature.pk)
    # The team membership the request's lookup checked already (own_candidature_or_404).
    if locked.ptce_id == candidature.ptce_id and Candidature.ptce.is_cached(candidature):
        known = getattr(candidature.ptce, KNOWN_MEMBERS_ATTRIBUTE, None)
        if known:
            setattr(locked.ptce, KNOWN_MEMBERS_ATTRIBUTE, known)
    _refuse_unless_editable(locked, actor)
    return locked


def _refuse_unless_editable(locked, actor) -> None:
    refusal = editing_refusal(locked, actor)
    if refusal:
        raise PermissionDenied(refusal)


def _lock_lines_editable(candidature, actor) -> Candidature:
    locked = _lock_editable(candidature, actor)
    fields_in_scope, _documents = editable_scope(locked)
    if fields_in_scope is not None and "cofinancing" not in fields_in_scope:
        raise PermissionDenied("Les cofinancements ne font pas partie des compléments demandés.")
    return locked


@audited
@transaction.atomic
def add_line(candidature, actor) -> CofinancingLine:
    locked = _lock_lines_editable(candidature, actor)
    return CofinancingLine.objects.create(candidature=locked)


@audited
@transaction.atomic
def delete_line(candidature, line_pk, actor) -> None:
    locked = _lock_lines_editable(candidature, actor)
    CofinancingLine.objects.filter(candidature=locked, pk=line_pk).delete()


@audited
def start_candidature(ptce, call, actor, *, from_candidature=None) -> Candidature:
    """Open the PTCE's draft for a call (one per PTCE and call), optionally copying the answers
    and co-financing of a previous edition's candidature of the same PTCE."""
    if not is_ptce_member(actor, ptce):
        raise PermissionDenied("Vous ne faites pas partie de l'équipe de ce PTCE.")
    if not call.accepts_submissions():
        raise PermissionDenied("Les candidatures ne sont pas ouvertes pour cet appel.")
    if from_candidature is not None and from_candidature.ptce_id != ptce.pk:
        raise PermissionDenied("Cette candidature n'est pas celle de votre PTCE.")
    with transaction.atomic():
        candidature, created = Candidature.objects.get_or_create(
            ptce=ptce, call=call, defaults={"region_id": ptce.region_id}
        )
        if created and from_candidature is not None:
            # Answers by slug; not the amount: its range changes from one edition to the next.
            candidature.title = from_candidature.title
            candidature.answers = questionnaire.carry_over(from_candidature, candidature)
            candidature.cloned_from = from_candidature
            candidature.save()
            CofinancingLine.objects.bulk_create(
                CofinancingLine(
                    candidature=candidature, funder=line.funder, status=line.status,
                    amount=line.amount,
                )
                for line in from_candidature.cofinancing_lines.all()
            )  # fmt: skip
    return candidature
