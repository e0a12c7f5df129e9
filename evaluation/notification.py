"""The « notification d'attribution » (issue 16): the PDF a laureate downloads once the results
are published — the grant's amount, its conditions and the signatory (name and quality, from
the call's settings) — tagged PDF/UA-1 and set in Marianne (``ami.pdf``). Only communicable
texts (DESIGN §3): the decision's motivation, never an internal note."""

from django.core.exceptions import PermissionDenied
from django.template.loader import render_to_string
from django.utils import timezone

from ami.pdf import render_pdf
from candidatures import letters
from candidatures.models import Candidature, LetterKind

from .models import Decision, DecisionOutcome


def notification_decision(candidature, user) -> Decision:
    """The published laureate decision of ``candidature`` that ``user`` may download; raises
    ``Decision.DoesNotExist`` otherwise (the view answers 404)."""
    if not Candidature.objects.visible_to(user).filter(pk=candidature.pk).exists():
        raise PermissionDenied
    return Decision.objects.select_related(
        "candidature__ptce", "candidature__call", "candidature__region"
    ).get(
        candidature=candidature,
        outcome=DecisionOutcome.LAUREATE,
        published_at__isnull=False,
    )


def notification_context(decision) -> dict:
    candidature = decision.candidature
    call = candidature.call
    return {
        "title": f"Notification d'attribution de subvention — {decision.beneficiary_name}",
        "call": call,
        "candidature": candidature,
        "decision": decision,
        "beneficiary": decision.beneficiary_name or candidature.ptce.name,
        "siret": decision.beneficiary_siret,
        "authority": letters.authority(call, LetterKind.LAUREATE),
        "conditions": (call.grant_conditions or "").strip(),
        "payment_terms": (call.subsidy_payment_terms or "").strip(),
        "contact": (call.decision_contact or "").strip(),
        "signatory_name": (call.signatory_name or "").strip(),
        "signatory_title": (call.signatory_title or "").strip(),
        "published_on": timezone.localtime(decision.published_at).date(),
        "appeal": letters.APPEAL_PARAGRAPH.format(
            autorite=letters.authority(call, LetterKind.LAUREATE)
        ),
    }


def notification_html(decision) -> str:
    return render_to_string("evaluation/notification_pdf.html", notification_context(decision))


def notification_pdf(decision) -> bytes:
    return render_pdf(notification_html(decision))


def notification_filename(decision) -> str:
    number = decision.candidature.receipt_number or f"candidature-{decision.candidature_id}"
    return f"notification-attribution-{number}.pdf"
