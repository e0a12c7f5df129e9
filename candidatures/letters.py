"""Decision letters (issue 16): one template per call and kind of decision (laureate, not
selected, inadmissible), written by staff in the admin with named placeholders such as
``{montant}``; a call without its own template uses the default letter below.

Rules checked at save (``template_errors``): every ``{…}`` is a known placeholder, and the body
gives the appeal routes and time limits (« voies et délais de recours ») that an administrative
decision must carry. Rendering is plain substitution, never the template engine: staff text
cannot run code.
"""

import re
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from ami.formats import euros

from .models import Candidature, CandidatureState, LetterKind, LetterTemplate

PLACEHOLDER = re.compile(r"\{([^{}]*)\}")

PLACEHOLDERS = {
    "porteur": "nom du PTCE porteur de la candidature",
    "appel": "nom de l'appel",
    "numero_depot": "numéro de dépôt de la candidature",
    "region": "région d'instruction",
    "montant": "montant accordé (lauréats ; vide sinon)",
    "conditions": "conditions d'attribution (paramètres de l'appel)",
    "motivation": "motivation communicable au porteur",
    "contact": "contact pour les décisions (paramètres de l'appel)",
    "date_decision": "date de la décision (JJ/MM/AAAA)",
    "autorite": "autorité qui a pris la décision",
    "signataire": "nom et qualité du signataire (paramètres de l'appel)",
    "lien": "adresse de la candidature sur la plateforme",
}

# The appeal mention (« voies et délais de recours »): each of these must appear in the body.
APPEAL_TERMS = ("recours gracieux", "recours contentieux", "tribunal administratif", "deux mois")

APPEAL_PARAGRAPH = (
    "Voies et délais de recours : cette décision peut faire l'objet d'un recours gracieux "
    "auprès de l'autorité qui a pris la décision ({autorite}) et d'un recours contentieux "
    "devant le tribunal administratif compétent dans un délai de deux mois à compter de sa "
    "notification. Un recours gracieux formé dans ce délai le prolonge de deux mois à compter "
    "de la réponse (le silence gardé deux mois vaut rejet)."
)

DEFAULT_LETTERS = {
    LetterKind.LAUREATE: (
        "[AMI PTCE] Votre candidature est retenue – {porteur}",
        "Bonjour,\n\n"
        "Par décision du {date_decision}, {autorite} a retenu la candidature du PTCE "
        "« {porteur} » (dossier {numero_depot}) à l'appel « {appel} ».\n\n"
        "Montant de la subvention accordée : {montant}.\n\n"
        "Motivation :\n{motivation}\n\n"
        "Conditions d'attribution :\n{conditions}\n\n"
        "La notification d'attribution, signée par {signataire}, est téléchargeable sur la "
        "plateforme : {lien}\n\n"
        "Contact : {contact}\n\n" + APPEAL_PARAGRAPH + "\n\nL'équipe de la plateforme AMI PTCE",
    ),
    LetterKind.NOT_SELECTED: (
        "[AMI PTCE] Décision sur votre candidature – {porteur}",
        "Bonjour,\n\n"
        "Par décision du {date_decision}, {autorite} n'a pas retenu la candidature du PTCE "
        "« {porteur} » (dossier {numero_depot}) à l'appel « {appel} ».\n\n"
        "Motivation :\n{motivation}\n\n"
        "La décision est consultable sur la plateforme : {lien}\n\n"
        "Contact : {contact}\n\n" + APPEAL_PARAGRAPH + "\n\nL'équipe de la plateforme AMI PTCE",
    ),
    LetterKind.INADMISSIBLE: (
        "[AMI PTCE] Candidature irrecevable – {porteur}",
        "Bonjour,\n\n"
        "Le {date_decision}, {autorite} a déclaré irrecevable la candidature du PTCE "
        "« {porteur} » (dossier {numero_depot}) à l'appel « {appel} ».\n\n"
        "Motivation :\n{motivation}\n\n"
        "La décision est consultable sur la plateforme : {lien}\n\n"
        "Contact : {contact}\n\n" + APPEAL_PARAGRAPH + "\n\nL'équipe de la plateforme AMI PTCE",
    ),
}


def template_errors(subject: str, body: str) -> dict[str, list[str]]:
    """Why this letter cannot be saved, by field (French messages; empty when it can)."""
    errors = {}
    for field, text in (("subject", subject or ""), ("body", body or "")):
        unknown = sorted({name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS})
        if unknown:
            names = ", ".join("{" + name + "}" for name in unknown)
            errors[field] = [
                f"Champ{'s' if len(unknown) > 1 else ''} inconnu{'s' if len(unknown) > 1 else ''}"
                f" : {names}. Champs possibles : "
                + ", ".join("{" + name + "}" for name in PLACEHOLDERS)
                + "."
            ]
    missing = [term for term in APPEAL_TERMS if term not in (body or "").lower()]
    if missing:
        errors.setdefault("body", []).append(
            "La lettre doit mentionner les voies et délais de recours (recours gracieux auprès "
            "de l'autorité qui a pris la décision, recours contentieux devant le tribunal "
            "administratif compétent dans un délai de deux mois). Manque : "
            + ", ".join(f"« {term} »" for term in missing)
            + "."
        )
    return errors


def has_appeal_mention(text: str) -> bool:
    return all(term in text.lower() for term in APPEAL_TERMS)


@dataclass
class Letter:
    subject: str
    body: str


def _fill(text: str, values: dict) -> str:
    return PLACEHOLDER.sub(lambda match: str(values.get(match.group(1), match.group(0))), text)


def render(template: tuple[str, str], values: dict) -> Letter:
    subject, body = template
    return Letter(subject=" ".join(_fill(subject, values).split()), body=_fill(body, values))


def template_for(call, kind) -> tuple[str, str]:
    """The call's own letter for ``kind``, else the default one."""
    saved = LetterTemplate.objects.filter(call=call, kind=kind).only("subject", "body").first()
    if saved is not None:
        return saved.subject, saved.body
    return DEFAULT_LETTERS[kind]


def authority(call, kind, region=None) -> str:
    if kind == LetterKind.INADMISSIBLE:
        return f"la cellule régionale d'animation {region.name}" if region else "la cellule"
    name = (call.granting_body_name or "").strip()
    return name or f"la cellule nationale d'animation de l'appel « {call.name} »"


def signatory(call) -> str:
    name = (call.signatory_name or "").strip()
    title = (call.signatory_title or "").strip()
    if name and title:
        return f"{name}, {title}"
    return name or title or "l'autorité qui a pris la décision"


def values(call, kind, candidature, *, motivation="", amount=None, decided_at=None) -> dict:
    """The placeholders' values for one candidature (``candidature`` may be an unsaved sample:
    it needs ``pk``, ``ptce.name``, ``receipt_number`` and ``region.name``)."""
    decided_at = timezone.localtime(decided_at or timezone.now())
    region = getattr(candidature, "region", None)
    return {
        "porteur": candidature.ptce.name,
        "appel": call.name,
        "numero_depot": candidature.receipt_number or f"n° {candidature.pk}",
        "region": region.name if region is not None else "",
        "montant": euros(amount) if amount is not None else "",
        "conditions": (call.grant_conditions or "").strip()
        or "précisées dans la convention de subvention qui vous sera proposée.",
        "motivation": (motivation or "").strip() or "—",
        "contact": (call.decision_contact or "").strip()
        or f"l'équipe de la plateforme AMI PTCE, {settings.DEFAULT_FROM_EMAIL}",
        "date_decision": decided_at.strftime("%d/%m/%Y"),
        "autorite": authority(call, kind, region),
        "signataire": signatory(call),
        "lien": settings.SITE_URL + reverse("candidature_detail", args=[candidature.pk]),
    }


def letter_for(candidature, kind, *, motivation="", amount=None, decided_at=None) -> Letter:
    call = candidature.call
    return render(
        template_for(call, kind),
        values(
            call, kind, candidature, motivation=motivation, amount=amount, decided_at=decided_at
        ),
    )


def decision_letter(candidature, decision, *, at=None) -> Letter:
    """The letter of the CNA's decision (``decision``: outcome, granted amount, motivation)."""
    return letter_for(
        candidature,
        LetterKind(decision.outcome),
        motivation=decision.motivation,
        amount=decision.granted_amount,
        decided_at=at or getattr(decision, "published_at", None),
    )


# --- Preview (admin) -----------------------------------------------------------------------------

PREVIEW_CHOICES = 50


def preview_candidatures(template: LetterTemplate) -> list:
    """Real candidatures of the template's call to preview it with: those that received (or
    will receive) this kind of decision first, then any submitted one."""
    kind_states = {
        LetterKind.LAUREATE: CandidatureState.LAUREATE,
        LetterKind.NOT_SELECTED: CandidatureState.NOT_SELECTED,
        LetterKind.INADMISSIBLE: CandidatureState.INADMISSIBLE,
    }
    submitted = (
        Candidature.objects.filter(call=template.call, submitted_at__isnull=False)
        .select_related("ptce", "region", "call")
        .order_by("ptce__name", "pk")
    )
    first = list(submitted.filter(state=kind_states[template.kind])[:PREVIEW_CHOICES])
    rest = list(submitted.exclude(pk__in=[c.pk for c in first])[: PREVIEW_CHOICES - len(first)])
    return first + rest


def preview(template: LetterTemplate, candidature) -> Letter:
    """``template`` rendered for ``candidature``: its decision's motivation and amount when it
    has one, else the inadmissibility motivation, else a placeholder text."""
    decision = getattr(candidature, "decision", None)
    motivation, amount = "", None
    if decision is not None:
        motivation, amount = decision.motivation, decision.granted_amount
    elif template.kind == LetterKind.INADMISSIBLE:
        event = candidature.events.filter(to_state="inadmissible").order_by("-at").first()
        motivation = event.comment if event is not None else ""
    if template.kind == LetterKind.LAUREATE and amount is None:
        amount = candidature.requested_amount
    return render(
        (template.subject, template.body),
        values(
            template.call,
            template.kind,
            candidature,
            motivation=motivation or "(motivation de la décision)",
            amount=amount,
        ),
    )


@dataclass
class DraftPreview:
    """The preview of a letter as typed in the admin form, before it is saved."""

    errors: dict  # by field, as ``template_errors`` (empty when the text could be saved)
    candidatures: list
    chosen: object = None
    letter: Letter | None = None


def preview_draft(call, kind, subject: str, body: str, candidature_pk=None) -> DraftPreview:
    """Render unsaved text (``subject``, ``body``) for ``call`` and ``kind`` with a real
    candidature of the call (``candidature_pk`` if it is one of the choices), checked by the
    same rules as at save. Nothing is written."""
    errors = template_errors(subject, body)
    draft = LetterTemplate(call=call, kind=kind, subject=subject or "", body=body or "")
    candidatures = preview_candidatures(draft)
    chosen = next((c for c in candidatures if str(c.pk) == str(candidature_pk)), None)
    chosen = chosen or (candidatures[0] if candidatures else None)
    letter = preview(draft, chosen) if chosen is not None and not errors else None
    return DraftPreview(errors=errors, candidatures=candidatures, chosen=chosen, letter=letter)
