"""The candidatures app's part of « Mes données » (``accounts.personal_data``): the PTCEs of the
user's teams, their candidatures and documents in the export; the withdrawal of the candidatures
nobody else would follow and leaving the teams when the account is deleted.

Registered in ``CandidaturesConfig.ready()``."""

from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, Prefetch, Q
from django.utils import timezone

from accounts.personal_data import Contribution, addressed_to, email_addresses

from . import questionnaire
from .documents import open_for_download, sanitize_filename
from .models import (
    Candidature,
    CandidatureEvent,
    CandidatureState,
    Document,
    Message,
    Ptce,
    PtceInvitation,
    PtceMembership,
)

# What an applicant may still withdraw (DESIGN §4), and what is under review and cannot be.
WITHDRAWABLE = (CandidatureState.DRAFT, CandidatureState.SUBMITTED)
UNDER_REVIEW = (
    CandidatureState.ADMISSIBLE,
    CandidatureState.COMPLEMENTS_REQUESTED,
    CandidatureState.REGIONAL_REVIEW_DONE,
)
WITHDRAWAL_COMMENT = (
    "Retrait confirmé lors de la suppression du compte de la dernière personne de l'équipe."
)


# --- Export ------------------------------------------------------------------------------------


def _ptce_data(ptce, user) -> dict:
    membership = ptce.memberships.all()[0]  # prefetched: the user's own only
    return {
        "nom": ptce.name,
        "siret": ptce.siret,
        "forme_juridique": ptce.legal_form,
        "code_naf": ptce.naf_code,
        "adresse": ptce.address,
        "code_postal": ptce.postal_code,
        "commune_du_siege": str(ptce.seat_commune) if ptce.seat_commune else "",
        "region": ptce.region.name,
        "communes_du_territoire": [str(c) for c in ptce.territory_communes.all()],
        "annee_de_creation": ptce.year_created,
        "site_internet": ptce.website,
        "presentation": ptce.description,
        "membres_personnes_morales": [
            {"raison_sociale": m.name, "siret": m.siret, "categorie": m.get_category_display()}
            for m in ptce.members.all()
        ],
        "votre_place_dans_l_equipe": {
            "referent": membership.is_referent,
            "membre_depuis": membership.joined_at,
            "a_cree_le_ptce": ptce.created_by_id == user.pk,
        },
    }


def _folder(candidature) -> list[str]:
    reference = candidature.receipt_number or f"brouillon-{candidature.pk}"
    return ["documents", sanitize_filename(f"{reference} - {candidature.ptce.name}")]


def _documents(candidature, user, archive) -> list[dict]:
    items = []
    for document in candidature.documents.all():
        item = {
            "type": document.document_type.label,
            "nom_du_fichier": document.original_name,
            "taille_octets": document.size,
            "type_de_contenu": document.content_type,
            "empreinte_sha256": document.sha256,
            "deposee_le": document.uploaded_at,
            "deposee_par_vous": document.uploaded_by_id == user.pk,
            "fichier_dans_l_archive": None,
        }
        label, name = document.document_type.label, document.original_name
        if not name.lower().startswith(label.lower()):
            name = f"{label} - {name}"
        try:
            with open_for_download(document, user) as source:
                item["fichier_dans_l_archive"] = archive.add_file(
                    _folder(candidature), sanitize_filename(name), source, document.uploaded_at
                )
        except (FileNotFoundError, PermissionDenied):
            item["fichier_absent"] = True
        items.append(item)
    return items


def _candidature_data(candidature, user, archive) -> dict:
    return {
        "appel": candidature.call.name,
        "ptce": candidature.ptce.name,
        "region_d_instruction": candidature.region.name,
        "etat": candidature.get_state_display(),
        "numero_de_depot": candidature.receipt_number,
        "creee_le": candidature.created_at,
        "modifiee_le": candidature.updated_at,
        "deposee_le": candidature.submitted_at,
        "reponses": dict(
            questionnaire.flat_rows(
                candidature.call, questionnaire.snapshot_answers(candidature), with_title=True
            )
        ),
        "budget": {
            "montant_demande": candidature.requested_amount,
            "cofinancements": [
                {
                    "financeur": line.funder,
                    "statut": line.get_status_display(),
                    "montant": line.amount,
                }
                for line in candidature.cofinancing_lines.all()
            ],
        },
        "demandes_de_complements": [
            {
                "message": request.message,
                "demandee_le": request.requested_at,
                "a_rendre_avant_le": request.due_at,
                "completee_le": request.answered_at,
            }
            for request in candidature.complement_requests.all()
        ],
        "pieces_justificatives": _documents(candidature, user, archive),
    }


def _messages(user, archive) -> list[dict]:
    """The messages the user wrote in the threads of candidatures (never an internal note: they
    are the cells' working notes about an applicant, kept out of every export)."""
    items = []
    written = (
        Message.objects.filter(author=user)
        .select_related("candidature__ptce", "candidature__call")
        .order_by("created_at", "pk")
    )
    for message in written:
        candidature = message.candidature
        item = {
            "candidature": candidature.receipt_number or f"n° {candidature.pk}",
            "ptce": candidature.ptce.name,
            "appel": candidature.call.name,
            "ecrit_le": message.created_at,
            "au_nom_de": message.get_side_display(),
            "texte": message.text,
            "piece_jointe": message.attachment_name or None,
        }
        if message.attachment_purged_at:
            item["piece_jointe_supprimee_le"] = message.attachment_purged_at
        elif message.attachment_name:
            try:
                with message.attachment.open("rb") as source:  # the user's own file
                    item["fichier_dans_l_archive"] = archive.add_file(
                        [
                            "messages",
                            sanitize_filename(f"{item['candidature']} - {candidature.ptce.name}"),
                        ],
                        sanitize_filename(message.attachment_name),
                        source,
                        message.created_at,
                    )
            except FileNotFoundError:
                item["fichier_absent"] = True
        items.append(item)
    return items


def export(user, archive) -> dict:
    own = PtceMembership.objects.filter(user=user)
    ptces = (
        Ptce.objects.filter(Exists(own.filter(ptce=OuterRef("pk"))))
        .select_related("region", "seat_commune")
        .prefetch_related("members", "territory_communes", Prefetch("memberships", queryset=own))
        .order_by("name", "pk")
    )
    candidatures = (
        Candidature.objects.of_applicant(user)
        .select_related("call", "region", "ptce")
        .prefetch_related(
            questionnaire.PREFETCH,
            "cofinancing_lines",
            "complement_requests",
            Prefetch(
                "documents",
                queryset=Document.objects.select_related("document_type").order_by(
                    "document_type__order", "document_type__pk", "pk"
                ),
            ),
        )
        .order_by("call__year", "ptce__name", "pk")
    )
    events = (
        CandidatureEvent.objects.filter(actor=user)
        .select_related("candidature__call", "candidature__ptce")
        .order_by("at", "pk")
    )
    addresses = email_addresses(user)
    invitations = (
        PtceInvitation.objects.filter(addressed_to("email", addresses) | Q(invited_by=user))
        .select_related("ptce")
        .order_by("created_at", "pk")
    )
    return {
        "ptce": [_ptce_data(ptce, user) for ptce in ptces],
        "candidatures": [_candidature_data(c, user, archive) for c in candidatures],
        "actions_realisees_sur_des_candidatures": [
            {
                "candidature": event.candidature.receipt_number or f"n° {event.candidature_id}",
                "ptce": event.candidature.ptce.name,
                "appel": event.candidature.call.name,
                "le": event.at,
                "de": event.get_from_state_display() if event.from_state else "",
                "vers": event.get_to_state_display(),
                "commentaire": event.comment,
            }
            for event in events
        ],
        "messages_ecrits": _messages(user, archive),
        "invitations": [
            {
                "ptce": invitation.ptce.name,
                "adresse_invitee": invitation.email,
                "envoyee_par_vous": invitation.invited_by_id == user.pk,
                "envoyee_le": invitation.created_at,
                "acceptee_le": invitation.accepted_at,
            }
            for invitation in invitations
        ],
    }


# --- Deletion ----------------------------------------------------------------------------------


def _left_alone(user):
    """Candidatures in progress of the PTCEs whose team would be empty without ``user``."""
    others = PtceMembership.objects.filter(ptce=OuterRef("ptce"), user__is_active=True).exclude(
        user=user
    )
    alone = PtceMembership.objects.filter(user=user).filter(~Exists(others)).values("ptce")
    in_progress = Q(state=CandidatureState.DRAFT, call__closes_at__gt=timezone.now()) | Q(
        state__in=[CandidatureState.SUBMITTED, *UNDER_REVIEW]
    )
    return (
        Candidature.objects.filter(ptce__in=alone)
        .filter(in_progress)
        .select_related("ptce", "call")
        .order_by("call__year", "ptce__name", "pk")
    )


def refusals(user, *, withdraw: bool) -> list[str]:
    """The last person of a team cannot leave a candidature in progress behind: a draft or a
    submitted one is withdrawn if they confirm it; one under review (it can no longer be
    withdrawn) needs another person in the team first."""
    messages = []
    for candidature in _left_alone(user):
        where = f"la candidature de « {candidature.ptce.name} » à « {candidature.call.name} »"
        if candidature.state in UNDER_REVIEW:
            messages.append(
                f"Vous êtes la seule personne de l'équipe et {where} est en cours d'instruction "
                f"({candidature.get_state_display()}) : elle ne peut plus être retirée. Invitez "
                "une autre personne dans l'équipe du PTCE pour la suivre jusqu'à la décision, "
                "puis supprimez votre compte."
            )
        elif not withdraw:
            messages.append(
                f"Vous êtes la seule personne de l'équipe et {where} est "
                f"{candidature.get_state_display()} : confirmez son retrait, ou invitez d'abord "
                "une autre personne dans l'équipe du PTCE pour qu'elle la suive."
            )
    return messages


def erase(user, actor, *, withdraw: bool) -> dict:
    """Withdraw (when confirmed) what nobody else would follow, drop the invitations addressed
    to the user and leave every team. Candidatures, documents and their history are kept."""
    from . import workflow

    withdrawn = 0
    if withdraw:
        for candidature in _left_alone(user):
            if candidature.state in WITHDRAWABLE:
                # The user's own confirmed act, even when staff performs the deletion.
                workflow.transition(
                    candidature, CandidatureState.WITHDRAWN, user, comment=WITHDRAWAL_COMMENT
                )
                withdrawn += 1
    invitations, _ = PtceInvitation.objects.filter(
        addressed_to("email", email_addresses(user)), accepted_at__isnull=True
    ).delete()
    teams, _ = PtceMembership.objects.filter(user=user).delete()
    return {
        "candidatures_retirees": withdrawn,
        "equipes_quittees": teams,
        "invitations_supprimees": invitations,
    }


CONTRIBUTION = Contribution(name="candidatures", export=export, refusals=refusals, erase=erase)
