"""Builders for the national review's tests: an edition handed over by its regions, then the
list fixed and published through the real domain functions."""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.utils import timezone

from accounts.models import NationalRole, RegionalRole
from ami.models import Phase
from candidatures.models import CandidatureState
from evaluation import deliberation as deliberation_module
from evaluation import publication
from evaluation.models import Opinion, RegionalOpinion, RegionHandover
from tests import factories as f


@dataclass
class NationalEdition:
    call: object
    admin: object
    member: object
    coordinators: dict  # region code → coordinator
    candidatures: list = field(default_factory=list)
    applicants: dict = field(default_factory=dict)  # candidature pk → applicant user


def handed_over_candidature(call, region, *, score, opinion=Opinion.FAVORABLE, **fields):
    """A candidature of ``region`` handed over to the CNA with its collegial opinion."""
    ptce = f.PtceFactory(region=region)
    candidature = f.CandidatureFactory(
        ptce=ptce,
        call=call,
        state=CandidatureState.REGIONAL_REVIEW_DONE,
        submitted_at=timezone.now(),
        receipt_number=None,
        **fields,
    )
    candidature.receipt_number = f"PTCE-{call.year}-{candidature.pk:06d}"
    candidature.save(update_fields=["receipt_number"])
    RegionalOpinion.objects.create(
        candidature=candidature,
        consolidated_score=Decimal(score),
        opinion=opinion,
        motivation=f"Motivation régionale de {ptce.name}.",
        internal_note=f"Note interne régionale sur {ptce.name}.",
        written_by=f.UserFactory(),
    )
    return candidature


def national_edition(scores_by_region: dict[str, list], **call_fields) -> NationalEdition:
    """A call in national review: for each region code, candidatures handed over with these
    consolidated scores; a CNA with an administrator and a member; a coordinator per region;
    one applicant per candidature."""
    call = f.CallFactory(phase=Phase.NATIONAL_REVIEW, **call_fields)
    national = f.NationalCellFactory(call=call)
    edition = NationalEdition(
        call=call,
        admin=f.NationalMembershipFactory(cell=national, role=NationalRole.ADMINISTRATOR).user,
        member=f.NationalMembershipFactory(cell=national, role=NationalRole.MEMBER).user,
        coordinators={},
    )
    for code, scores in scores_by_region.items():
        region = f.region(code)
        cell = f.RegionalCellFactory(call=call, region=region)
        coordinator = f.RegionalMembershipFactory(cell=cell, role=RegionalRole.COORDINATOR).user
        edition.coordinators[code] = coordinator
        RegionHandover.objects.create(cell=cell, handed_over_by=coordinator)
        for score in scores:
            candidature = handed_over_candidature(call, region, score=score)
            edition.candidatures.append(candidature)
            edition.applicants[candidature.pk] = f.PtceMembershipFactory(ptce=candidature.ptce).user
    return edition


def fix_list(edition: NationalEdition, selected: dict) -> object:
    """Deliberate by hand: ``selected`` maps candidatures to granted amounts; fix the list."""
    deliberation = deliberation_module.open_deliberation(
        edition.call,
        edition.admin,
        held_on=date(2026, 11, 20),
        members_present=[edition.admin, edition.member],
    )
    lines = {line.candidature_id: line for line in deliberation.lines.all()}
    for candidature, amount in selected.items():
        deliberation_module.set_line(
            lines[candidature.pk],
            edition.admin,
            selected=True,
            amount=Decimal(amount),
            justification="Retenue en séance.",
        )
    deliberation_module.fix_list(deliberation, edition.admin)
    return deliberation


def publish(edition: NationalEdition, *, send: bool = True) -> int:
    """Publish, then (``send``) send the held batch of letters as the administrator would."""
    from ami import batches

    count = publication.publish(edition.call, edition.admin)
    batch = publication.publication_batch(edition.call)
    if send and batch is not None:
        batches.send(batch, edition.admin)
    return count
