"""Publication of a call's results (DESIGN §4): a CNA administrator publishes the pending
decisions of the fixed list. Each candidature moves to *laureate* / *not selected* through the
workflow's one transition function — which queues the letter to the PTCE's team —, the decision
becomes visible to the applicant, each regional cell's coordinators get their region's results
and the call moves to *published*. Publishing again changes and sends nothing more.

Before publishing, the administrator previews every email exactly as it will be sent
(``decision_email``, ``region_emails``)."""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import RegionalCellMembership, RegionalRole
from ami import batches
from ami.audit import audited
from ami.calls import set_phase
from ami.models import BatchState, OutboxBatch, Phase
from ami.outbox import holding, queue_templated_email, render_templated_email
from candidatures import letters, workflow
from candidatures.decisions import TEMPLATES

from .models import Decision, DecisionOutcome, Deliberation
from .permissions import can_administer_national

PUBLICATION_COMMENT = "Publication des résultats de l'appel."


def pending_decisions(call):
    return (
        Decision.objects.filter(deliberation__call=call, published_at__isnull=True)
        .select_related("candidature__ptce", "candidature__region", "candidature__call")
        .order_by("candidature__region__name", "candidature__ptce__name", "pk")
    )


# --- Preview -----------------------------------------------------------------------------------


@dataclass
class PreviewEmail:
    recipients: list[str]
    subject: str
    text: str
    html: str
    about: str  # what the email is about, for the preview's heading


def _decision_context(decision):
    return {
        "candidature": decision.candidature,
        "decision": decision,
        "letter": letters.decision_letter(decision.candidature, decision, at=timezone.now()),
    }


def decision_email(decision) -> PreviewEmail:
    template, _event = TEMPLATES[decision.outcome]
    candidature = decision.candidature
    subject, text, html = render_templated_email(
        template, _decision_context(decision), call=candidature.call
    )
    return PreviewEmail(
        recipients=candidature.ptce.team_emails(),
        subject=subject,
        text=text,
        html=html,
        about=f"{candidature.ptce.name} — {decision.get_outcome_display()}",
    )


def _region_results(decisions) -> dict:
    """Decisions grouped by regional cell: ``{(call_id, region_id): [decision, …]}``."""
    by_region = {}
    for decision in decisions:
        key = (decision.candidature.call_id, decision.candidature.region_id)
        by_region.setdefault(key, []).append(decision)
    return by_region


def _coordinators(call):
    """``{region_id: [email, …]}`` of the call's regional coordinators."""
    emails = {}
    memberships = RegionalCellMembership.objects.filter(
        cell__call=call, role=RegionalRole.COORDINATOR, user__is_active=True
    ).values_list("cell__region_id", "user__email")
    for region_id, email in memberships:
        emails.setdefault(region_id, []).append(email)
    return emails


def _region_context(region, decisions):
    laureates = [d for d in decisions if d.outcome == DecisionOutcome.LAUREATE]
    return {
        "region": region,
        "laureates": laureates,
        "not_selected": [d for d in decisions if d.outcome == DecisionOutcome.NOT_SELECTED],
        "granted": sum((d.granted_amount for d in laureates), start=0),
    }


def region_emails(call, decisions) -> list[PreviewEmail]:
    coordinators = _coordinators(call)
    previews = []
    for (_call_id, region_id), region_decisions in _region_results(decisions).items():
        region = region_decisions[0].candidature.region
        subject, text, html = render_templated_email(
            "results_region", _region_context(region, region_decisions), call=call
        )
        previews.append(
            PreviewEmail(
                recipients=coordinators.get(region_id, []),
                subject=subject,
                text=text,
                html=html,
                about=f"Cellule régionale {region.name}",
            )
        )
    return previews


# --- Publication -------------------------------------------------------------------------------


def lines_to_complete(call) -> list[str]:
    """The pending rejections without a communicable motivation: a refusal must say why
    (« Nom du PTCE (région) »)."""
    missing = pending_decisions(call).filter(
        outcome=DecisionOutcome.NOT_SELECTED, motivation__regex=r"^\s*$"
    )
    return [f"{d.candidature.ptce.name} ({d.candidature.region.name})" for d in missing]


def check_can_publish(call, actor) -> Deliberation:
    if not can_administer_national(actor, call):
        raise PermissionDenied("Seul un administrateur de la CNA publie les résultats.")
    deliberation = Deliberation.objects.filter(call=call).first()
    if deliberation is None or not deliberation.is_fixed:
        raise ValidationError("La liste des lauréats n'est pas arrêtée : rien à publier.")
    missing = lines_to_complete(call)
    if missing:
        raise ValidationError(
            [
                f"Publication refusée : {len(missing)} décision{'s' if len(missing) > 1 else ''} "
                "de refus sans motivation communicable au porteur. Complétez : "
                + " ; ".join(missing)
                + "."
            ]
        )
    return deliberation


@audited
def publish(call, actor) -> int:
    """Publish the pending decisions of ``call``; returns how many were published (0 when
    everything already was: nothing changes and nothing is sent). The letters and the regional
    results are held in one batch (« envoi groupé ») that the administrator previews and sends
    (``ami.batches``)."""
    check_can_publish(call, actor)
    now = timezone.now()
    with transaction.atomic():
        batch = batches.start(f"Publication des résultats – {call.name}", "results", actor, call)
        with holding(batch):
            count = _publish(call, actor, now)
        if not count:
            batch.delete()
    return count


def publication_batch(call):
    """The held batch of the call's publication, if any."""
    return OutboxBatch.objects.filter(call=call, event="results", state=BatchState.HELD).first()


def _publish(call, actor, now) -> int:
    decisions = list(pending_decisions(call).select_for_update(of=("self",), skip_locked=False))
    for decision in decisions:
        # The transition checks the actor, logs the event and queues the letter.
        workflow.transition(
            decision.candidature, decision.outcome, actor, comment=PUBLICATION_COMMENT, at=now
        )
        decision.published_at = now
        decision.published_by = actor
        decision.beneficiary_name = decision.candidature.ptce.name
        decision.beneficiary_siret = decision.candidature.ptce.siret
    Decision.objects.bulk_update(
        decisions,
        ["published_at", "published_by", "beneficiary_name", "beneficiary_siret"],
        batch_size=2000,
    )
    if decisions:
        coordinators = _coordinators(call)
        for (_call_id, region_id), region_decisions in _region_results(decisions).items():
            region = region_decisions[0].candidature.region
            for email in coordinators.get(region_id, []):
                queue_templated_email(
                    to=email,
                    template="results_region",
                    context=_region_context(region, region_decisions),
                    event="results.region",
                    related=call,
                    call=call,
                )
    if call.phase != Phase.PUBLISHED:
        set_phase(call, Phase.PUBLISHED, actor, comment=PUBLICATION_COMMENT)
    return len(decisions)
