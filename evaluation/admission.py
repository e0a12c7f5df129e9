"""Admissibility (recevabilité) of a submitted candidature, by its cell's coordinator, and the
move of a candidature to another region's cell by a CNA administrator."""

import logging
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import RegionalCellMembership, RegionalRole
from accounts.permissions import is_national_administrator, is_support_staff
from ami.audit import audited
from ami.outbox import queue_templated_email
from candidatures import workflow
from candidatures.complements import field_choices
from candidatures.models import Candidature, CandidatureState, ComplementRequest, RegionMove
from candidatures.submission import completeness_problems

from .conflicts import detect_conflicts
from .models import AdmissibilityCheck, Assignment, Review, ReviewState
from .permissions import can_coordinate, check_regional_phase, region_handed_over

logger = logging.getLogger(__name__)

# Points the coordinator checks by hand, by key (the key is stored with the answers).
MANUAL_ITEMS = (
    ("documents_readable", "Pièces lisibles et conformes"),
    ("legal_person", "Structure porteuse éligible (personne morale de droit privé)"),
    (
        "three_members",
        "PTCE réunissant au moins 3 personnes morales : une entreprise de l'ESS, une entreprise "
        "hors ESS et un autre acteur (loi ESS 2014, art. 9)",
    ),
)
# States from which a CNA administrator may still move a candidature to another region.
MOVABLE_STATES = (
    CandidatureState.SUBMITTED,
    CandidatureState.ADMISSIBLE,
    CandidatureState.INADMISSIBLE,
    CandidatureState.COMPLEMENTS_REQUESTED,
)


@dataclass
class ChecklistItem:
    key: str
    label: str
    automatic: bool
    ok: bool | None = None  # None: a manual point not answered yet
    details: list[str] = field(default_factory=list)
    document: object = None  # the document of a « mandatory document present » point


def admissibility_checklist(candidature) -> list[ChecklistItem]:
    """The points to check: automatic ones (eligibility computed on the answers, each mandatory
    document present), then the call's eligibility rules and the fixed points, ticked by hand."""
    problems = [p.message for p in completeness_problems(candidature) if p.step != "pieces"]
    items = [
        ChecklistItem(
            "eligibility",
            "Dossier complet et éligible au vu des réponses (membres, rubriques, montant)",
            automatic=True,
            ok=not problems,
            details=problems,
        )
    ]
    documents = {d.document_type_id: d for d in candidature.documents.all()}
    for document_type in candidature.call.document_types.filter(mandatory=True):
        document = documents.get(document_type.pk)
        items.append(
            ChecklistItem(
                f"document:{document_type.pk}",
                f"Pièce obligatoire présente : {document_type.label}",
                automatic=True,
                ok=document is not None,
                document=document,
            )
        )
    for index, rule in enumerate(candidature.call.eligibility_rule_list, start=1):
        items.append(ChecklistItem(f"rule:{index}", rule, automatic=False))
    for key, label in MANUAL_ITEMS:
        items.append(ChecklistItem(key, label, automatic=False))
    return items


@audited
def decide_admissibility(
    candidature, actor, admissible: bool, answers: dict, motivation: str = ""
) -> AdmissibilityCheck:
    """Record the checklist and declare the candidature admissible (every point checked) or
    inadmissible (motivation required, sent to the applicant), in one transaction.

    ``answers`` maps the keys of the manual points to booleans; automatic points are computed
    again here. Raises PermissionDenied, ValidationError (French messages)."""
    if not can_coordinate(actor, candidature):
        raise PermissionDenied("Seul un coordinateur de la cellule régionale peut en décider.")
    check_regional_phase(candidature.call)
    if region_handed_over(candidature.call, candidature.region):
        raise ValidationError(
            "La région a été transmise à la CNA : l'instruction régionale est close."
        )
    motivation = (motivation or "").strip()
    items = admissibility_checklist(candidature)
    for item in items:
        if not item.automatic:
            item.ok = bool(answers.get(item.key))
    if admissible:
        missing = [item.label for item in items if not item.ok]
        if missing:
            raise ValidationError(
                {
                    "answers": "Pour déclarer la candidature recevable, tous les points doivent "
                    "être vérifiés. Restent : " + " ; ".join(missing) + ". Sinon, demandez des "
                    "compléments ou déclarez-la irrecevable."
                }
            )
    elif not motivation:
        raise ValidationError(
            {
                "motivation": "La motivation est obligatoire pour déclarer une candidature "
                "irrecevable : elle est transmise au porteur."
            }
        )
    frozen = {
        item.key: {
            "label": item.label,
            "ok": item.ok,
            "automatic": item.automatic,
            "details": item.details,
        }
        for item in items
    }
    target = CandidatureState.ADMISSIBLE if admissible else CandidatureState.INADMISSIBLE
    with transaction.atomic():
        check, _ = AdmissibilityCheck.objects.update_or_create(
            candidature=candidature,
            defaults={"answers": frozen, "checked_by": actor, "checked_at": timezone.now()},
        )
        workflow.transition(candidature, target, actor, comment=motivation)
        if admissible:
            detect_conflicts(candidature)  # flagged for the coordinator before assignment
    logger.info("%s declared candidature %s %s", actor, candidature.pk, target)
    return check


@audited
def ask_complements(candidature, actor, *, message, fields, document_types, due_at):
    """Send the candidature back to its applicant for complements — what to change (answers
    offered by ``candidatures.complements.field_choices``, document types) and by when —, as a
    coordinator without a conflict on it, while the region is not handed over: the request and
    the transition in one transaction."""
    if not can_coordinate(actor, candidature):
        raise PermissionDenied("Seul un coordinateur de la cellule régionale peut le demander.")
    check_regional_phase(candidature.call)
    if region_handed_over(candidature.call, candidature.region):
        raise ValidationError(
            "La région a été transmise à la CNA : l'instruction régionale est close."
        )
    message = (message or "").strip()
    offered = {name for name, _label in field_choices(candidature.call)}
    fields = [name for name in fields if name in offered]
    document_types = list(document_types)
    errors = {}
    if not message:
        errors["message"] = "Écrivez au porteur ce qui est attendu."
    if not fields and not document_types:
        errors["fields"] = "Indiquez au moins une rubrique ou une pièce à compléter."
    if due_at is None or due_at <= timezone.now():
        errors["due_at"] = "La date limite doit être dans le futur."
    if any(d.call_id != candidature.call_id for d in document_types):
        errors["document_types"] = "Ces pièces ne sont pas celles de l'appel."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        request = ComplementRequest.objects.create(
            candidature=candidature,
            message=message,
            fields=fields,
            due_at=due_at,
            requested_by=actor,
        )
        request.document_types.set(document_types)
        workflow.transition(
            candidature, CandidatureState.COMPLEMENTS_REQUESTED, actor, comment=message
        )
    return request


@audited
def move_region(candidature, new_region, actor, reason: str) -> RegionMove:
    """Move a submitted candidature to another region's cell (CNA administrator of the call,
    with a reason). Outstanding assignments in the former region are withdrawn; the move is
    refused once a review has been submitted or when either region is handed over."""
    if not (
        is_national_administrator(actor, candidature.call)
        or is_support_staff(actor, "candidatures.change_candidature")  # from the admin
    ):
        raise PermissionDenied("Seul un administrateur de la CNA peut changer la région.")
    reason = (reason or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = "Indiquez le motif du changement de région."
    if new_region is None:
        errors["region"] = "Choisissez la région de destination."
    elif new_region.pk == candidature.region_id:
        errors["region"] = "La candidature est déjà instruite par cette région."
    elif region_handed_over(candidature.call, new_region):
        errors["region"] = (
            f"La région {new_region.name} a déjà transmis son instruction à la CNA : elle ne "
            "peut plus recevoir de candidature."
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        locked = (
            Candidature.objects.select_for_update()
            .select_related("region", "call", "ptce")
            .get(pk=candidature.pk)
        )
        if locked.state not in MOVABLE_STATES:
            raise ValidationError(
                f"La candidature est « {locked.get_state_display()} » : elle ne peut pas changer "
                "de région."
            )
        if region_handed_over(locked.call, locked.region):
            raise ValidationError(
                f"La région {locked.region.name} a déjà transmis son instruction à la CNA."
            )
        if Review.objects.filter(candidature=locked, state=ReviewState.SUBMITTED).exists():
            raise ValidationError(
                "Des évaluations ont déjà été rendues dans la région d'origine : la candidature "
                "ne peut plus changer de région."
            )
        former = locked.region
        move = RegionMove.objects.create(
            candidature=locked, from_region=former, to_region=new_region, reason=reason, actor=actor
        )
        withdrawn, _ = Assignment.objects.filter(candidature=locked).delete()
        locked.region = new_region
        locked.save(update_fields=["region", "updated_at"])
        candidature.region = new_region
        coordinators = RegionalCellMembership.objects.filter(
            cell__call=locked.call_id,
            cell__region__in=[former.pk, new_region.pk],
            role=RegionalRole.COORDINATOR,
            user__is_active=True,
        ).values_list("user__email", flat=True)
        for email in sorted(set(coordinators)):
            queue_templated_email(
                to=email,
                template="cell_candidature_moved",
                context={"candidature": locked, "move": move},
                event="cell.candidature_moved",
                related=locked,
                call=locked.call,
            )
    logger.info(
        "%s moved candidature %s from region %s to %s (%s assignments withdrawn): %s",
        actor,
        locked.pk,
        former.pk,
        new_region.pk,
        withdrawn,
        reason,
    )
    return move
