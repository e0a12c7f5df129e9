"""The catalogue of every email the platform sends: what triggers it, who receives it, when, and
whether the recipient can turn it off (docs/notifications.md is the same table, in French).

Each entry builds a sample context from unsaved objects and ``SimpleNamespace`` so that
``render_sample`` needs no database row: staff preview every email from the admin
(« Courriels (boîte d'envoi) » → « Catalogue des courriels »), and the tests render each one
with the templates that fail on undefined variables.

Adding an email: add its templates, then an entry here, then a row in docs/notifications.md
(a test checks that every event of the catalogue appears in the document).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

from django.conf import settings
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import RegionalCellMembership, RegionalRole, User
from accounts.preferences import DIGEST, REMINDER
from ami.formats import PARIS
from ami.models import Call
from ami.outbox import render_templated_email
from candidatures import letters
from candidatures.models import LetterKind

KIND_LABELS = {
    None: "essentiel",
    REMINDER: "facultatif (rappel)",
    DIGEST: "facultatif (récapitulatif)",
}

CANDIDATURE = "Candidature"
INSTRUCTION = "Instruction"
ACCOUNT = "Compte"


@dataclass(frozen=True)
class EmailEntry:
    event: str  # the ``event`` of the outbox row (OutboxMessage.event)
    template: str  # emails/<template>_subject.txt, .txt, .html; or allauth's prefix
    category: str
    description: str
    recipient: str
    timing: str
    sample: Callable[[], dict]
    kind: str | None = None  # None: essential, always sent; REMINDER or DIGEST: optional
    shows_call: bool = True  # the body names the call (« appel « … » »)
    allauth: bool = False  # template is allauth's ``account/email/<template>``
    with_call: bool = True  # queued with ``call=`` (the invitation is not tied to a call)

    @property
    def essential(self) -> bool:
        return self.kind is None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]


# --- Sample objects (never saved) ---------------------------------------------------------------

SAMPLE_CALL_NAME = "AMI PTCE 2026 (exemple)"


def _at(day, hour=10, minute=30) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=PARIS)


def sample_call() -> Call:
    return Call(
        pk=1,
        name=SAMPLE_CALL_NAME,
        slug="ami-ptce-2026-exemple",
        year=2026,
        opens_at=_at(1),
        closes_at=_at(31, 12, 0),
        regional_review_deadline=datetime(2026, 5, 15, 18, 0, tzinfo=PARIS),
        national_review_deadline=datetime(2026, 6, 15, 18, 0, tzinfo=PARIS),
    )


def _person(first="Camille", last="Martin", email="camille.martin@example.org") -> User:
    return User(pk=7, first_name=first, last_name=last, email=email)


def _region(name="Île-de-France"):
    return SimpleNamespace(code="11", name=name)


def _candidature(pk=42, name="PTCE Vallée solidaire"):
    return SimpleNamespace(
        pk=pk,
        ptce=SimpleNamespace(pk=3, name=name),
        receipt_number=f"PTCE-2026-{pk:06d}",
        submitted_at=_at(12, 16, 5),
        region=_region(),
        state="submitted",
    )


def _complement_request():
    return SimpleNamespace(
        message="Merci de joindre le dernier bilan comptable approuvé.",
        due_at=_at(28, 18, 0),
        answered_at=_at(20, 9, 15),
    )


def _status_event(comment=""):
    return SimpleNamespace(at=_at(14, 11, 0), comment=comment)


def _worklist():
    return {"worklist_url": reverse("evaluator_worklist")}


def _sample_submitted():
    return {"candidature": _candidature(), "actor": _person(), "event": _status_event()}


def _sample_withdrawn():
    return {
        "candidature": _candidature(),
        "actor": _person(),
        "event": _status_event("Le projet est reporté à l'an prochain."),
    }


def _sample_admissible():
    return {"candidature": _candidature(), "event": _status_event()}


def _sample_letter(kind, *, motivation, amount=None):
    """The call's default letter for ``kind``, as the sample candidature would receive it."""
    call = sample_call()
    call.granting_body_name = "Délégation ministérielle à l'économie sociale et solidaire"
    call.grant_conditions = (
        "Convention de subvention à signer sous deux mois ; versement unique à la signature ; "
        "compte rendu d'exécution dans les six mois suivant la fin du projet."
    )
    call.decision_contact = "Cellule nationale d'animation, ami-ptce@example.org"
    call.signatory_name = "Claire Dubois"
    call.signatory_title = "Déléguée ministérielle à l'ESS"
    return letters.render(
        letters.DEFAULT_LETTERS[kind],
        letters.values(
            call, kind, _candidature(), motivation=motivation, amount=amount, decided_at=_at(30)
        ),
    )


def _sample_laureate():
    motivation = "Projet solide, fort ancrage rural, cofinancements acquis."
    return {
        "candidature": _candidature(),
        "decision": SimpleNamespace(granted_amount=Decimal("62500"), motivation=motivation),
        "letter": _sample_letter(
            LetterKind.LAUREATE, motivation=motivation, amount=Decimal("62500")
        ),
    }


def _sample_results_region():
    laureate = SimpleNamespace(
        candidature=_candidature(), outcome="laureate", granted_amount=Decimal("62500")
    )
    other = SimpleNamespace(
        candidature=_candidature(43, "PTCE Les Communs du Bocage"),
        outcome="not_selected",
        granted_amount=None,
    )
    return {
        "region": _region(),
        "laureates": [laureate],
        "not_selected": [other],
        "granted": Decimal("62500"),
    }


def _sample_not_selected():
    motivation = (
        "Le modèle économique reste à consolider ; l'enveloppe ne permet pas de retenir toutes "
        "les candidatures favorables."
    )
    return {
        "candidature": _candidature(),
        "decision": SimpleNamespace(granted_amount=None, motivation=motivation),
        "letter": _sample_letter(LetterKind.NOT_SELECTED, motivation=motivation),
    }


def _sample_inadmissible():
    motivation = "Le PTCE ne réunit pas encore d'entreprise de l'ESS."
    return {
        "candidature": _candidature(),
        "event": _status_event(motivation),
        "letter": _sample_letter(LetterKind.INADMISSIBLE, motivation=motivation),
    }


def _sample_complements():
    return {"candidature": _candidature(), "request": _complement_request()}


def _sample_assignment_created():
    return {
        "evaluator": _person("Alex", "Durand", "alex.durand@example.org"),
        "candidatures": [_candidature(), _candidature(43, "PTCE Bocage en commun")],
        "actor": _person(),
        **_worklist(),
    }


def _sample_assignment_removed():
    return {
        "evaluator": _person("Alex", "Durand", "alex.durand@example.org"),
        "candidatures": [_candidature()],
        "actor": _person(),
        **_worklist(),
    }


def _sample_cell_member_added():
    cell = SimpleNamespace(pk=5, region=_region())
    return {
        "cell": cell,
        "membership": RegionalCellMembership(role=RegionalRole.EVALUATOR),
        "actor": _person(),
        **_worklist(),
    }


def _sample_cell_invitation():
    return {
        "invitation": SimpleNamespace(pk=4, email="alex.durand@example.org"),
        "cell_name": "cellule régionale d'animation Île-de-France",
        "role": RegionalRole.EVALUATOR.label,
        "actor": _person(),
        "signup_url": reverse("account_signup"),
        "login_url": reverse("account_login"),
        "expires_on": "15/03/2026",
    }


def _sample_cell_candidature_moved():
    move = SimpleNamespace(
        from_region=_region("Bretagne"),
        to_region=_region(),
        reason="Le siège du PTCE est en Île-de-France.",
    )
    return {"candidature": _candidature(), "move": move}


def _sample_conflict_declared():
    conflict = SimpleNamespace(
        evaluator=_person("Alex", "Durand", "alex.durand@example.org"),
        reason="Je siège au conseil d'administration d'un membre du PTCE.",
    )
    return {"conflict": conflict, "candidature": _candidature()}


def _sample_review_reopened():
    return {
        "review": SimpleNamespace(pk=9, state="draft"),
        "candidature": _candidature(),
        "coordinator": _person(),
        "message": "Pouvez-vous préciser votre note sur la gouvernance ?",
        "first_submitted_at": _at(25, 17, 40),
    }


def _sample_region_handover():
    return {
        "cell": SimpleNamespace(pk=5, region=_region()),
        "handover": SimpleNamespace(
            handed_over_at=_at(30, 15, 0),
            handed_over_by=_person(),
            comment="Classement validé en réunion de cellule.",
        ),
        "transmitted": 12,
        "list_path": reverse("consolidation_list", args=[5]),
    }


def _sample_ptce_invitation():
    return {
        "ptce": SimpleNamespace(pk=3, name="PTCE Vallée solidaire"),
        "invited_by": _person(),
        "accept_url": settings.SITE_URL + "/candidatures/invitations/exemple/",
        "signup_url": settings.SITE_URL + reverse("account_signup"),
        "expires_on": "15/03/2026",
    }


def _unsubscribe(kind):
    """The preference links of a non-essential email, with a dummy token: a real one for a
    sample user could unsubscribe a real account from a preview."""
    return {
        "unsubscribe_url": settings.SITE_URL + reverse("unsubscribe", args=[f"exemple-{kind}"]),
        "preferences_url": settings.SITE_URL + reverse("email_preferences"),
    }


def _sample_draft_reminder():
    # As candidatures.reminders.send_draft_reminders.
    candidature = _candidature()
    return {
        "candidature": candidature,
        "milestone": "J-7",
        "time_left": "6 jours",
        "candidature_url": settings.SITE_URL + reverse("candidature_detail", args=[candidature.pk]),
        **_unsubscribe(REMINDER),
    }


def _sample_review_reminder():
    # As evaluation.reminders.send_review_reminders.
    return {
        "pending": [_candidature(), _candidature(43, "PTCE Bocage en commun")],
        "milestone": "J-2",
        "time_left": "1 jour",
        "worklist_url": settings.SITE_URL + reverse("evaluator_worklist"),
        **_unsubscribe(REMINDER),
    }


def _sample_coordinator_digest():
    # As evaluation.digest.send_coordinator_digests.
    from evaluation.digest import CONFLICT, RESUBMITTED, REVIEWED, SUBMITTED, Line, counts

    other = _candidature(43, "PTCE Bocage en commun")
    lines = [
        Line(SUBMITTED, _at(12, 9, 5), _candidature()),
        Line(RESUBMITTED, _at(12, 11, 40), other),
        Line(REVIEWED, _at(12, 15, 20), _candidature(), "Alex Durand"),
        Line(CONFLICT, _at(12, 17, 0), other, "déclaré par l'évaluateur – Alex Durand"),
    ]
    return {
        "cell": SimpleNamespace(pk=5, region=_region()),
        "day": _at(12).date(),
        "counts": counts(lines),
        "lines": lines,
        "cell_url": settings.SITE_URL + reverse("cell_home", args=[5]),
        "consolidation_url": settings.SITE_URL + reverse("consolidation_list", args=[5]),
        **_unsubscribe(DIGEST),
    }


# --- allauth (account emails) -------------------------------------------------------------------


def _account_base():
    user = _person()
    return {
        "user": user,
        "email": user.email,
        "current_site": SimpleNamespace(name="AMI PTCE", domain="ami-ptce.example.org"),
        "request": None,
    }


def _sample_email_confirmation():
    return {
        **_account_base(),
        "activate_url": settings.SITE_URL + "/compte/confirm-email/exemple/",
        "key": "exemple",
    }


def _sample_password_reset_key():
    return {
        **_account_base(),
        "password_reset_url": settings.SITE_URL + "/compte/password/reset/key/exemple/",
        "uid": "exemple",
        "key": "exemple",
    }


def _sample_account_already_exists():
    return {
        **_account_base(),
        "password_reset_url": settings.SITE_URL + reverse("account_reset_password"),
        "signup_url": settings.SITE_URL + reverse("account_signup"),
    }


def _sample_unknown_account():
    return {**_account_base(), "signup_url": settings.SITE_URL + reverse("account_signup")}


def _sample_message_to_team():
    return {"candidature": _candidature(), "side": "regional"}


def _sample_message_to_cell():
    return {"candidature": _candidature(), "side": "applicant"}


TEAM = "L'équipe du PTCE (chaque membre)"
COORDINATORS = "Les coordinateurs de la cellule régionale"

CATALOGUE: list[EmailEntry] = [
    # Candidature
    EmailEntry(
        "candidature.submitted",
        "candidature_submitted",
        CANDIDATURE,
        "Accusé de réception du dépôt, avec le numéro de dépôt et le lien vers l'attestation.",
        TEAM,
        "Au dépôt de la candidature",
        _sample_submitted,
    ),
    EmailEntry(
        "candidature.withdrawn",
        "candidature_withdrawn",
        CANDIDATURE,
        "Confirmation du retrait de la candidature, avec le motif.",
        TEAM,
        "Au retrait de la candidature",
        _sample_withdrawn,
    ),
    EmailEntry(
        "candidature.admissible",
        "candidature_admissible",
        CANDIDATURE,
        "Décision de recevabilité : la candidature est recevable et va être évaluée.",
        TEAM,
        "À la décision de la cellule régionale",
        _sample_admissible,
    ),
    EmailEntry(
        "decision.laureate",
        "decision_laureate",
        CANDIDATURE,
        "Décision : candidature retenue, avec le montant accordé et les prochaines étapes.",
        TEAM,
        "À la publication des résultats par l'administrateur de la CNA",
        _sample_laureate,
    ),
    EmailEntry(
        "decision.not_selected",
        "decision_not_selected",
        CANDIDATURE,
        "Décision : candidature non retenue, avec sa motivation.",
        TEAM,
        "À la publication des résultats par l'administrateur de la CNA",
        _sample_not_selected,
    ),
    EmailEntry(
        "candidature.inadmissible",
        "candidature_inadmissible",
        CANDIDATURE,
        "Décision d'irrecevabilité, avec sa motivation.",
        TEAM,
        "À la décision de la cellule régionale",
        _sample_inadmissible,
    ),
    EmailEntry(
        "candidature.complements_requested",
        "complements_requested",
        CANDIDATURE,
        "Demande de compléments : le message de la cellule et la date limite.",
        TEAM,
        "À la demande de la cellule régionale",
        _sample_complements,
    ),
    EmailEntry(
        "candidature.complements_received",
        "complements_received",
        CANDIDATURE,
        "Confirmation que les compléments demandés ont été transmis.",
        f"{TEAM} et {COORDINATORS.lower()}",
        "À la transmission des compléments",
        _sample_complements,
    ),
    EmailEntry(
        "message.to_team",
        "message_to_team",
        CANDIDATURE,
        "Nouveau message d'une cellule dans la messagerie de la candidature : un lien, jamais "
        "le texte ni la pièce jointe.",
        TEAM,
        "À chaque message de la cellule régionale ou nationale",
        _sample_message_to_team,
    ),
    EmailEntry(
        "message.to_cell",
        "message_to_cell",
        CANDIDATURE,
        "Nouveau message du porteur ou de la cellule nationale dans la messagerie de la "
        "candidature : un lien, jamais le texte ni la pièce jointe.",
        "Les coordinateurs et évaluateurs de la cellule régionale qui voient la candidature",
        "À chaque message de l'équipe du PTCE ou de la cellule nationale",
        _sample_message_to_cell,
    ),
    EmailEntry(
        "candidature.complements_reminder",
        "complements_reminder",
        CANDIDATURE,
        "Rappel : des compléments sont attendus avant la date limite.",
        TEAM,
        "Tâche planifiée, 2 jours avant la date limite des compléments (une seule fois)",
        _sample_complements,
        shows_call=False,
    ),
    EmailEntry(
        "candidature.draft_reminder",
        "draft_reminder",
        CANDIDATURE,
        "Rappel : une candidature est encore en brouillon à l'approche de la clôture de l'appel.",
        TEAM,
        "Tâche planifiée, 7 jours puis 1 jour avant la clôture de l'appel",
        _sample_draft_reminder,
        kind=REMINDER,
    ),
    EmailEntry(
        "ptce_invitation",
        "ptce_invitation",
        CANDIDATURE,
        "Invitation à rejoindre l'équipe d'un PTCE, avec le lien d'acceptation.",
        "La personne invitée",
        "À l'invitation par un membre de l'équipe",
        _sample_ptce_invitation,
        shows_call=False,
        with_call=False,
    ),
    # Instruction
    EmailEntry(
        "cell.member_added",
        "cell_member_added",
        INSTRUCTION,
        "Ajout à une cellule régionale, avec le rôle confié.",
        "La personne ajoutée",
        "À l'ajout par un coordinateur ou l'équipe Coorace",
        _sample_cell_member_added,
    ),
    EmailEntry(
        "cell.invitation",
        "cell_invitation",
        INSTRUCTION,
        "Invitation à rejoindre une cellule régionale ou la cellule nationale, avec le rôle "
        "proposé : acceptée à la connexion ou à la création du compte avec cette adresse.",
        "La personne invitée (avec ou sans compte)",
        "À l'invitation ou à son renvoi par un coordinateur ou l'équipe Coorace",
        _sample_cell_invitation,
    ),
    EmailEntry(
        "evaluation.assigned",
        "assignment_created",
        INSTRUCTION,
        "Attribution d'une ou plusieurs candidatures à évaluer.",
        "L'évaluateur",
        "À l'attribution (manuelle ou automatique)",
        _sample_assignment_created,
    ),
    EmailEntry(
        "evaluation.unassigned",
        "assignment_removed",
        INSTRUCTION,
        "Retrait d'une attribution : la candidature n'est plus à évaluer.",
        "L'évaluateur",
        "Au retrait de l'attribution",
        _sample_assignment_removed,
    ),
    EmailEntry(
        "conflict.declared",
        "conflict_declared",
        INSTRUCTION,
        "Déclaration d'un conflit d'intérêts par un évaluateur, avec le motif.",
        COORDINATORS,
        "À la déclaration",
        _sample_conflict_declared,
    ),
    EmailEntry(
        "review.reopened",
        "review_reopened",
        INSTRUCTION,
        "Réouverture d'une évaluation rendue, avec le message du coordinateur.",
        "L'évaluateur",
        "À la réouverture par un coordinateur",
        _sample_review_reopened,
    ),
    EmailEntry(
        "evaluation.review_reminder",
        "review_reminder",
        INSTRUCTION,
        "Rappel : des évaluations restent à rendre avant l'échéance régionale.",
        "L'évaluateur",
        "Tâche planifiée, 7 jours puis 2 jours avant l'échéance des évaluations régionales",
        _sample_review_reminder,
        kind=REMINDER,
    ),
    EmailEntry(
        "evaluation.coordinator_digest",
        "coordinator_digest",
        INSTRUCTION,
        "Récapitulatif de la veille dans la région : dépôts, redépôts, retraits, évaluations "
        "rendues, conflits d'intérêts.",
        "Les coordinateurs de la cellule régionale",
        "Tâche planifiée, chaque jour à 7 h, seulement si quelque chose a changé la veille",
        _sample_coordinator_digest,
        kind=DIGEST,
    ),
    EmailEntry(
        "cell.candidature_moved",
        "cell_candidature_moved",
        INSTRUCTION,
        "Changement de région d'une candidature par la cellule nationale, avec le motif.",
        "Les coordinateurs des deux cellules régionales",
        "Au changement de région",
        _sample_cell_candidature_moved,
    ),
    EmailEntry(
        "results.region",
        "results_region",
        INSTRUCTION,
        "Publication des résultats : lauréats et candidatures non retenues de la région.",
        "Les coordinateurs de chaque cellule régionale",
        "À la publication des résultats par l'administrateur de la CNA",
        _sample_results_region,
    ),
    EmailEntry(
        "region.handed_over",
        "region_handover",
        INSTRUCTION,
        "Transmission de l'instruction régionale à la cellule nationale.",
        "Les membres de la cellule nationale",
        "À la transmission par la cellule régionale",
        _sample_region_handover,
    ),
    # Account (allauth)
    EmailEntry(
        "account.email_confirmation_signup",
        "email_confirmation_signup",
        ACCOUNT,
        "Confirmation de l'adresse électronique à l'inscription.",
        "La personne qui s'inscrit",
        "À l'inscription",
        _sample_email_confirmation,
        shows_call=False,
        allauth=True,
    ),
    EmailEntry(
        "account.email_confirmation",
        "email_confirmation",
        ACCOUNT,
        "Confirmation d'une nouvelle adresse électronique (ou nouvel envoi du lien).",
        "Le titulaire du compte",
        "À l'ajout ou au changement d'adresse",
        _sample_email_confirmation,
        shows_call=False,
        allauth=True,
    ),
    EmailEntry(
        "account.password_reset_key",
        "password_reset_key",
        ACCOUNT,
        "Lien de réinitialisation du mot de passe.",
        "Le titulaire du compte",
        "À la demande de réinitialisation",
        _sample_password_reset_key,
        shows_call=False,
        allauth=True,
    ),
    EmailEntry(
        "account.account_already_exists",
        "account_already_exists",
        ACCOUNT,
        "Inscription avec une adresse déjà utilisée : lien vers la réinitialisation.",
        "Le titulaire de l'adresse",
        "À la tentative d'inscription",
        _sample_account_already_exists,
        shows_call=False,
        allauth=True,
    ),
    EmailEntry(
        "account.unknown_account",
        "unknown_account",
        ACCOUNT,
        "Réinitialisation demandée pour une adresse sans compte : lien d'inscription.",
        "Le titulaire de l'adresse",
        "À la demande de réinitialisation",
        _sample_unknown_account,
        shows_call=False,
        allauth=True,
    ),
]

BY_EVENT = {entry.event: entry for entry in CATALOGUE}


def get(event: str) -> EmailEntry:
    """The entry of ``event``. Raises ``KeyError``."""
    return BY_EVENT[event]


def template_names(entry: EmailEntry) -> list[str]:
    if entry.allauth:
        prefix = f"account/email/{entry.template}"
        return [f"{prefix}_subject.txt", f"{prefix}_message.txt"]
    prefix = f"emails/{entry.template}"
    return [f"{prefix}_subject.txt", f"{prefix}.txt", f"{prefix}.html"]


def render_sample(entry: EmailEntry) -> tuple[str, str, str]:
    """(subject, text, html) of ``entry`` rendered with its sample context, as it is sent:
    the platform's emails as ``ami.outbox.queue_templated_email`` renders them, the account
    emails as allauth's adapter does. Raises ``TemplateDoesNotExist`` for a missing template."""
    if entry.allauth:
        return _render_allauth(entry)
    call = sample_call() if entry.with_call else None
    return render_templated_email(entry.template, entry.sample(), call=call)


def _render_allauth(entry: EmailEntry) -> tuple[str, str, str]:
    from allauth.account.adapter import get_adapter

    prefix = f"account/email/{entry.template}"
    context = entry.sample()
    subject = " ".join(render_to_string(f"{prefix}_subject.txt", context).split())
    subject = get_adapter().format_email_subject(subject)
    text = render_to_string(f"{prefix}_message.txt", context).strip()
    try:
        html = render_to_string(f"{prefix}_message.html", context).strip()
    except TemplateDoesNotExist:
        html = ""
    return subject, text, html
