"""Domain functions on calls: phase changes (logged) and cloning an edition for next year."""

from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.text import slugify

from ami.audit import audited

from .models import Call, CallPhaseChange, Phase, Question, Section


@audited
def set_phase(call: Call, to_phase: str, actor, comment: str = "") -> CallPhaseChange:
    """Move a call to another phase by hand (staff or CNA administrator), logged with who and
    when. The calendar-driven moves pass ``actor=None``."""
    from accounts.permissions import is_national_administrator, is_staff

    if to_phase not in Phase.values:
        raise ValidationError(f"Phase inconnue : {to_phase}")
    if actor is not None and not (is_staff(actor) or is_national_administrator(actor, call)):
        raise PermissionDenied(
            "Seuls l'équipe Coorace et les administrateurs de la CNA "
            "peuvent changer la phase d'un appel."
        )
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        change = CallPhaseChange.objects.create(
            call=locked, from_phase=locked.phase, to_phase=to_phase, actor=actor, comment=comment
        )
        locked.phase = to_phase
        locked.save(update_fields=["phase", "updated_at"])
    call.phase = to_phase
    return change


def _shift_year(value, years: int):
    try:
        return value.replace(year=value.year + years)
    except ValueError:  # 29 February
        return value + timedelta(days=365 * years)


@audited
def clone_call(call: Call, actor, *, year: int | None = None) -> Call:
    """Copy an edition (settings, grid, required documents) as a draft for ``year``
    (next year by default), with every date moved by the same number of years."""
    year = year or call.year + 1
    shift = year - call.year
    base_name = call.name.replace(str(call.year), str(year))
    if base_name == call.name:
        base_name = f"{call.name} {year}"
    slug = slugify(base_name)[:70] or f"appel-{year}"
    candidate, n = slug, 2
    while Call.objects.filter(slug=candidate).exists():
        candidate, n = f"{slug}-{n}", n + 1
    with transaction.atomic():
        clone = Call.objects.get(pk=call.pk)
        clone.pk = None
        clone.name = base_name
        clone.slug = candidate
        clone.year = year
        clone.phase = Phase.DRAFT
        for field in (
            "opens_at",
            "closes_at",
            "regional_review_deadline",
            "national_review_deadline",
        ):
            setattr(clone, field, _shift_year(getattr(call, field), shift))
        for field in ("subsidy_payment_start", "subsidy_payment_end"):
            value = getattr(call, field)
            setattr(clone, field, _shift_year(value, shift) if value else None)
        clone.save()
        for criterion in call.criteria.all():
            criterion.pk = None
            criterion.call = clone
            criterion.save()
        for document_type in call.document_types.all():
            document_type.pk = None
            document_type.call = clone
            document_type.save()
        copy_questionnaire(call, clone)
        CallPhaseChange.objects.create(
            call=clone,
            from_phase=Phase.DRAFT,
            to_phase=Phase.DRAFT,
            actor=actor,
            comment=f"Créé par copie de « {call.name} ».",
        )
    return clone


def copy_questionnaire(source: Call, target: Call) -> None:
    """Copy the sections and questions of ``source`` into ``target`` (a call in draft), same
    slugs: answers are carried over by slug from one edition to the next."""
    sections = list(source.sections.prefetch_related("questions"))
    for section in sections:
        copy = Section.objects.create(
            call=target,
            title=section.title,
            slug=section.slug,
            kind=section.kind,
            order=section.order,
        )
        Question.objects.bulk_create(
            Question(
                call=target,
                section=copy,
                slug=question.slug,
                label=question.label,
                help_text=question.help_text,
                kind=question.kind,
                required=question.required,
                max_length=question.max_length,
                choices=question.choices,
                order=question.order,
            )
            for question in section.questions.all()
        )
