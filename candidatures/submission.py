"""Completeness, eligibility and submission of a candidature: what is missing, the server-side
deadline, the frozen snapshot, the receipt and its notifications."""

from dataclasses import dataclass
from decimal import Decimal

from django.urls import reverse

from ami.formats import euros, paris_datetime, plural

from . import questionnaire
from .errors import TransitionRefused
from .models import Candidature, MemberCategory
from .notify import notify_team


@dataclass(frozen=True)
class Problem:
    message: str
    step: str  # a step slug, or "ptce" for the PTCE profile, "membres" for its members
    url: str


def _step_url(candidature, step):
    return reverse("candidature_step", args=[candidature.pk, step])


def budget_summary(candidature: Candidature, lines=None) -> dict:
    """Requested amount, co-financing, total and shares (percentages, Decimal)."""
    lines = list(candidature.cofinancing_lines.all()) if lines is None else lines
    requested = candidature.requested_amount or Decimal("0")
    cofinancing = sum((line.amount or Decimal("0") for line in lines), Decimal("0"))
    total = requested + cofinancing
    cent = Decimal("0.1")

    def share(amount):
        return (amount * 100 / total).quantize(cent) if total else Decimal("0")

    return {
        "requested": requested,
        "cofinancing": cofinancing,
        "total": total,
        "requested_share": share(requested),
        "lines": [(line, share(line.amount or Decimal("0"))) for line in lines],
    }


def completeness_problems(candidature: Candidature) -> list[Problem]:
    """Everything missing or not eligible, each with the page that fixes it (DESIGN §1)."""
    problems = []
    call, ptce = candidature.call, candidature.ptce
    ptce_url = reverse("ptce_edit", args=[ptce.pk])
    members_url = reverse("ptce_members", args=[ptce.pk])

    def need(condition, message, step, url=None):
        if not condition:
            problems.append(Problem(message, step, url or _step_url(candidature, step)))

    need(ptce.siret, "Le SIRET de la structure porteuse est manquant.", "ptce", ptce_url)
    need(ptce.seat_commune_id, "La commune du siège du PTCE est manquante.", "ptce", ptce_url)
    members = list(ptce.members.all())
    categories = {member.category for member in members}
    need(
        len(members) >= 3,
        "Le PTCE doit réunir au moins 3 personnes morales membres "
        f"({plural(len(members), 'déclarée')}).",
        "membres",
        members_url,
    )
    need(
        MemberCategory.ESS_ENTERPRISE in categories,
        "Aucune entreprise de l'économie sociale et solidaire parmi les membres.",
        "membres",
        members_url,
    )
    need(
        MemberCategory.NON_ESS_ENTERPRISE in categories,
        "Aucune entreprise hors ESS parmi les membres.",
        "membres",
        members_url,
    )
    need(
        categories - {MemberCategory.ESS_ENTERPRISE, MemberCategory.NON_ESS_ENTERPRISE},
        "Aucun autre acteur (collectivité, recherche, formation…) parmi les membres.",
        "membres",
        members_url,
    )
    for message, step in questionnaire.missing_answers(candidature):
        need(False, message, step)
    budget = questionnaire.budget_step(call).slug
    amount = candidature.requested_amount
    need(amount is not None, "Le montant demandé est manquant.", budget)
    if amount is not None:
        need(
            call.min_amount <= amount <= call.max_amount,
            f"Le montant demandé ({euros(amount)}) doit être compris entre "
            f"{euros(call.min_amount)} et {euros(call.max_amount)}.",
            budget,
        )
    for index, line in enumerate(candidature.cofinancing_lines.all(), start=1):
        need(
            line.funder.strip() and line.amount is not None,
            f"Le cofinancement n° {index} est incomplet : indiquez le financeur et le montant, "
            "ou supprimez la ligne.",
            budget,
        )
    present = {document.document_type_id for document in candidature.documents.all()}
    for document_type in call.document_types.all():
        need(
            not document_type.mandatory or document_type.pk in present,
            f"Pièce obligatoire manquante : {document_type.label}.",
            questionnaire.DOCUMENTS_STEP,
        )
    return problems


def check_submission(candidature, actor, comment, at):
    call = candidature.call
    if not call.accepts_submissions(at):
        if at >= call.closes_at:
            raise TransitionRefused(
                f"Le dépôt est clos depuis le {paris_datetime(call.closes_at)} (heure de Paris) : "
                "votre candidature n'a pas été déposée. Elle reste enregistrée en brouillon.",
                code="closed",
            )
        raise TransitionRefused(
            "Les candidatures ne sont pas ouvertes pour cet appel : votre candidature reste "
            "enregistrée en brouillon.",
            code="not_open",
        )
    problems = completeness_problems(candidature)
    if problems:
        raise TransitionRefused(
            "La candidature est incomplète : "
            + " ".join(problem.message for problem in problems)
            + " Complétez-la puis déposez-la à nouveau.",
            code="incomplete",
        )


def build_snapshot(candidature: Candidature) -> dict:
    """What was submitted, frozen: answers, PTCE, members, budget, documents with SHA-256."""
    ptce = candidature.ptce
    lines = list(candidature.cofinancing_lines.all())
    summary = budget_summary(candidature, lines)
    return {
        "answers": questionnaire.snapshot_answers(candidature),
        "requested_amount": str(candidature.requested_amount),
        "cofinancing": [
            {"funder": line.funder, "status": line.status, "amount": str(line.amount)}
            for line in lines
        ],
        "budget_total": str(summary["total"]),
        "ptce": {
            "name": ptce.name,
            "siret": ptce.siret,
            "legal_form": ptce.legal_form,
            "address": ptce.address,
            "postal_code": ptce.postal_code,
            "seat_commune": ptce.seat_commune_id,
            "region": ptce.region_id,
            "territory_communes": sorted(c.code for c in ptce.territory_communes.all()),
            "year_created": ptce.year_created,
            "website": ptce.website,
            "description": ptce.description,
        },
        "members": [
            {"name": m.name, "siret": m.siret, "category": m.category} for m in ptce.members.all()
        ],
        "documents": [
            {
                "type": d.document_type.label,
                "name": d.original_name,
                "size": d.size,
                "content_type": d.content_type,
                "sha256": d.sha256,
            }
            for d in candidature.documents.select_related("document_type")
        ],
    }


def territory_flags(ptce) -> tuple[bool, bool]:
    """The call's territorial priorities, read on the PTCE's territory (its communes and the
    commune of its seat): *rural* when at least half of those communes are « peu denses » or
    « très peu denses » on INSEE's density grid; *QPV* when one of them holds a quartier
    prioritaire. Frozen on the candidature at submission."""
    communes = {c.pk: c for c in ptce.territory_communes.prefetch_related("qpvs")}
    if ptce.seat_commune_id and ptce.seat_commune_id not in communes:
        communes[ptce.seat_commune_id] = ptce.seat_commune
    if not communes:
        return False, False
    rural = sum(1 for c in communes.values() if c.is_rural) * 2 >= len(communes)
    qpv = any(c.qpvs.exists() for c in communes.values())
    return rural, qpv


def freeze(candidature, actor, comment, at):
    candidature.submitted_at = candidature.submitted_at or at
    candidature.receipt_number = candidature.receipt_number or (
        f"PTCE-{candidature.call.year}-{candidature.pk:06d}"
    )
    candidature.region_id = candidature.ptce.region_id
    candidature.is_rural, candidature.in_qpv = territory_flags(candidature.ptce)
    candidature.snapshot = build_snapshot(candidature)


def notify_submitted(candidature, actor, event):
    notify_team(
        candidature,
        "candidature_submitted",
        "candidature.submitted",
        {"actor": actor, "event": event},
    )


def notify_withdrawn(candidature, actor, event):
    notify_team(
        candidature,
        "candidature_withdrawn",
        "candidature.withdrawn",
        {"actor": actor, "event": event},
    )
