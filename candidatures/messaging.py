"""The thread between a PTCE's team and the cells (« messagerie ») and the cells' internal notes
(« notes internes ») of a candidature (issue 15, items 4 and 5). Plain functions over model
instances and the acting user (DESIGN §6).

Who reads and who writes the thread, once the candidature is submitted (seeing it at all is
``Candidature.objects.visible_to``: a declared conflict of interest hides it):
- the PTCE's team writes until the decision (withdrawal, inadmissibility, publication of the
  results) and reads ever after;
- the region's cell (coordinators and evaluators) writes; the CNA of the call reads, and writes
  once the regional opinion is handed over; Coorace staff read only (their bulk messages to
  applicants land in each thread: ``candidatures.bulk_messages``);
- after the decision the thread is read-only for everyone.

The requests for complements and their answers are shown in the thread, read from their own
records (``ComplementRequest``: one source of truth), not copied into messages.

Every message queues an email to the other side with a link to the thread — never the text nor
the attachment. Internal notes are read and written by the region's cell and the CNA only; they
never reach the applicant, an email, a letter or an export made for the applicant.

Messages and notes are append-only: the database refuses their update and deletion
(``models.APPEND_ONLY``), the audit trail keeps their insertion.
"""

import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce

from accounts.models import RegionalCellMembership
from accounts.permissions import is_national_member, is_regional_member
from ami.audit import audited
from ami.formats import format_integer
from ami.models import FileFormat
from ami.outbox import queue_templated_email
from ami.storage import delete_quietly, open_stream

from .documents import check_file
from .models import (
    Candidature,
    CandidatureState,
    InternalNote,
    Message,
    MessageSide,
    ThreadReadMarker,
)
from .notify import notify_team
from .permissions import is_ptce_member

logger = logging.getLogger(__name__)

MAX_LENGTH = 5000

# After these states the thread is read-only for everyone (the decision is known to the team).
CLOSED_STATES = {
    CandidatureState.WITHDRAWN: "La candidature a été retirée",
    CandidatureState.INADMISSIBLE: "La candidature a été déclarée irrecevable",
    CandidatureState.LAUREATE: "La décision a été publiée",
    CandidatureState.NOT_SELECTED: "La décision a été publiée",
}
# The CNA writes once the region handed the candidature over.
HANDED_OVER = {
    CandidatureState.REGIONAL_REVIEW_DONE,
    CandidatureState.LAUREATE,
    CandidatureState.NOT_SELECTED,
}

EVENT_TO_TEAM = "message.to_team"
EVENT_TO_CELL = "message.to_cell"


@dataclass(frozen=True)
class AttachmentRules:
    """What a message's attachment may be: the documents' formats, checked the same way
    (``documents.check_file``)."""

    label: str = "Pièce jointe"
    allowed_formats: tuple = tuple(FileFormat.values)
    max_size_mb: int = 10

    @property
    def allowed_formats_display(self) -> str:
        labels = dict(FileFormat.choices)
        return ", ".join(labels[code] for code in self.allowed_formats)


ATTACHMENT_RULES = AttachmentRules()


# --- Who -------------------------------------------------------------------------------------


def has_thread(candidature) -> bool:
    """A thread exists from submission on (a draft has nobody to talk to)."""
    return candidature.submitted_at is not None


def side_of(user, candidature) -> str | None:
    """The side ``user`` writes for on this candidature, or None. The caller has checked that
    the user sees the candidature (``visible_to``)."""
    if not (user.is_authenticated and user.is_active):
        return None
    if is_ptce_member(user, candidature.ptce):
        return MessageSide.APPLICANT
    if is_regional_member(user, candidature.call_id, candidature.region_id):
        return MessageSide.REGIONAL
    if is_national_member(user, candidature.call_id):
        return MessageSide.NATIONAL
    if user.is_staff:
        return MessageSide.STAFF
    return None


def closed_reason(candidature) -> str | None:
    """Why the thread is read-only for everyone, or None."""
    reason = CLOSED_STATES.get(candidature.state)
    if reason is None:
        return None
    return f"{reason} : la messagerie est désormais en lecture seule."


def write_refusal(user, candidature, side=None) -> str | None:
    """Why ``user`` may not write in the thread now (French), or None."""
    if not has_thread(candidature):
        return "La messagerie s'ouvre au dépôt de la candidature."
    closed = closed_reason(candidature)
    if closed:
        return closed
    side = side or side_of(user, candidature)
    if side in (MessageSide.APPLICANT, MessageSide.REGIONAL):
        return None
    if side == MessageSide.NATIONAL:
        if candidature.state in HANDED_OVER:
            return None
        return (
            "La cellule nationale lit cette messagerie ; elle pourra y écrire une fois l'avis "
            "régional transmis."
        )
    if side == MessageSide.STAFF:
        return "L'équipe Coorace lit cette messagerie sans y écrire."
    return "Vous ne pouvez pas écrire dans cette messagerie."


def can_read_notes(user, candidature) -> bool:
    """The region's cell and the CNA of the call; never the applicant's team (even a person
    who would also sit in a cell), never staff as such. The caller has checked ``visible_to``."""
    return side_of(user, candidature) in (MessageSide.REGIONAL, MessageSide.NATIONAL)


# --- Writing ---------------------------------------------------------------------------------


def clean_text(text, *, note=False) -> str:
    """The text of a message (or of a note), or a ValidationError in French."""
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        empty = (
            "Écrivez votre note avant de l'enregistrer."
            if note
            else "Écrivez votre message avant de l'envoyer."
        )
        raise ValidationError(empty, code="empty")
    if len(text) > MAX_LENGTH:
        what = "La note" if note else "Le message"
        raise ValidationError(
            f"{what} compte {format_integer(len(text))} caractères : la limite est de "
            f"{format_integer(MAX_LENGTH)}. Raccourcissez-le, ou joignez un document.",
            code="too_long",
        )
    return text


def _lock(candidature):
    return (
        Candidature.objects.select_for_update(of=("self",))
        .select_related("call", "ptce", "region")
        .get(pk=candidature.pk)
    )


def _storage():
    return Message._meta.get_field("attachment").storage


@audited
def post_message(candidature, actor, text, attachment=None) -> Message:
    """Append a message to the thread and tell the other side by email (a link only). Raises
    PermissionDenied (with the reason) or ValidationError (French, nothing stored)."""
    side = side_of(actor, candidature)
    refusal = write_refusal(actor, candidature, side)
    if refusal:
        raise PermissionDenied(refusal)
    text = clean_text(text)
    checked = check_file(attachment, ATTACHMENT_RULES) if attachment is not None else None
    stored_name = None
    try:
        with transaction.atomic():
            locked = _lock(candidature)
            refusal = write_refusal(actor, locked, side)  # the state may have changed since
            if refusal:
                raise PermissionDenied(refusal)
            message = Message(candidature=locked, author=actor, side=side, text=text)
            if checked is not None:
                message.attachment.save(checked.name, attachment, save=False)
                stored_name = message.attachment.name
                message.attachment_name = checked.name
                message.attachment_size = checked.size
                message.attachment_type = checked.content_type
                message.attachment_sha256 = checked.sha256
            message.save()
            mark_read(locked, actor, up_to=message.pk)
            _notify(locked, message)
    except BaseException:
        if stored_name:
            delete_quietly(_storage(), stored_name)
        raise
    return message


def cell_recipients(candidature, *, exclude=None) -> list[str]:
    """The region's coordinators and evaluators who see the candidature (a conflict of interest
    hides it from its evaluator, and so does the email)."""
    memberships = RegionalCellMembership.objects.filter(
        cell__call=candidature.call_id, cell__region=candidature.region_id, user__is_active=True
    ).select_related("user")
    emails = []
    for membership in memberships:
        user = membership.user
        if exclude is not None and user.pk == exclude.pk:
            continue
        if Candidature.objects.visible_to(user).filter(pk=candidature.pk).exists():
            emails.append(user.email)
    return sorted(set(emails))


def _notify(candidature, message):
    """An email to the other side with the link to the thread: never the text nor the
    attachment (they stay behind the login). A message of the CNA also tells the region's cell
    (the thread is theirs too): the team and the cell each get the link."""
    if message.side != MessageSide.APPLICANT:
        notify_team(candidature, "message_to_team", EVENT_TO_TEAM, {"side": message.side})
    if message.side in (MessageSide.APPLICANT, MessageSide.NATIONAL):
        for email in cell_recipients(candidature, exclude=message.author):
            notify_cell(candidature, email, side=message.side)


def notify_cell(candidature, email, *, side=MessageSide.APPLICANT):
    """The link to the thread for one member of the region's cell; ``side`` says who wrote
    (the applicant's team or the CNA)."""
    queue_templated_email(
        to=email,
        template="message_to_cell",
        context={"candidature": candidature, "side": side},
        event=EVENT_TO_CELL,
        related=candidature,
        call=candidature.call,
    )


@audited
def post_note(candidature, actor, text) -> InternalNote:
    """Append an internal note (cells and CNA only). Raises PermissionDenied or a French
    ValidationError (nothing stored then). A note is never emailed to anyone."""
    side = side_of(actor, candidature)
    if side not in (MessageSide.REGIONAL, MessageSide.NATIONAL):
        raise PermissionDenied("Seules les cellules régionale et nationale annotent le dossier.")
    text = clean_text(text, note=True)
    return InternalNote.objects.create(candidature=candidature, author=actor, side=side, text=text)


# --- Reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the thread: a message, or a request for complements (asked or answered)."""

    at: datetime
    kind: str  # "message", "complements_requested", "complements_answered"
    message: Message | None = None
    request: object = None


def thread(candidature) -> list[Entry]:
    """The thread in time order: its messages and its requests for complements (two queries)."""
    entries = [
        Entry(message.created_at, "message", message=message)
        for message in Message.objects.shown()
        .filter(candidature=candidature)
        .select_related("author")
    ]
    for request in candidature.complement_requests.all():
        entries.append(Entry(request.requested_at, "complements_requested", request=request))
        if request.answered_at:
            entries.append(Entry(request.answered_at, "complements_answered", request=request))
    return sorted(entries, key=lambda entry: (entry.at, entry.kind))


def notes(candidature):
    return list(InternalNote.objects.filter(candidature=candidature).select_related("author"))


def mark_read(candidature, user, *, up_to=None) -> None:
    """Remember that ``user`` read the thread up to message ``up_to`` (default: its last shown
    message). One query (an upsert); never goes backwards."""
    if up_to is None:
        up_to = (
            Message.objects.shown()
            .filter(candidature=candidature)
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )
    if not up_to:
        return
    ThreadReadMarker.objects.bulk_create(
        [ThreadReadMarker(candidature=candidature, user=user, last_read_id=up_to)],
        update_conflicts=True,
        unique_fields=["candidature", "user"],
        update_fields=["last_read_id", "read_at"],
    )


def unread_count(user, candidature_ref="pk"):
    """An expression for ``annotate``: the shown messages of the candidature (``OuterRef`` of
    ``candidature_ref``) that others wrote after the user's read marker. One subquery, whatever
    the number of rows (list query counts stay constant)."""
    if not (user.is_authenticated and user.is_active):
        return Value(0, output_field=IntegerField())
    marker = ThreadReadMarker.objects.filter(
        candidature=OuterRef(OuterRef(candidature_ref)), user=user
    ).values("last_read_id")[:1]
    unread = (
        Message.objects.shown()
        .filter(candidature=OuterRef(candidature_ref), pk__gt=Coalesce(Subquery(marker), 0))
        .exclude(author=user)
        .order_by()
        .values("candidature")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return Coalesce(Subquery(unread, output_field=IntegerField()), 0)


def unread_total(user) -> int:
    """Unread messages over every candidature the user sees (« Mon espace »)."""
    if not (user.is_authenticated and user.is_active):
        return 0
    visible = Candidature.objects.visible_to(user).filter(submitted_at__isnull=False)
    marker = ThreadReadMarker.objects.filter(candidature=OuterRef("candidature"), user=user).values(
        "last_read_id"
    )[:1]
    return (
        Message.objects.shown()
        .filter(candidature__in=visible.values("pk"), pk__gt=Coalesce(Subquery(marker), 0))
        .exclude(author=user)
        .count()
    )


def unread_threads(user, *, limit=20) -> list[tuple]:
    """(candidature, unread count) of the threads where others wrote since the user last read,
    most unread first (« Mon espace »). Two queries, whatever the number of candidatures."""
    if not (user.is_authenticated and user.is_active):
        return []
    visible = Candidature.objects.visible_to(user).filter(submitted_at__isnull=False)
    marker = ThreadReadMarker.objects.filter(candidature=OuterRef("candidature"), user=user).values(
        "last_read_id"
    )[:1]
    counts = list(
        Message.objects.shown()
        .filter(candidature__in=visible.values("pk"), pk__gt=Coalesce(Subquery(marker), 0))
        .exclude(author=user)
        .order_by()
        .values("candidature")
        .annotate(count=Count("pk"))
        .order_by("-count", "candidature")
        .values_list("candidature", "count")[:limit]
    )
    candidatures = Candidature.objects.select_related("ptce", "call").in_bulk(
        [pk for pk, _count in counts]
    )
    return [(candidatures[pk], count) for pk, count in counts if pk in candidatures]


def open_attachment(message, actor):
    """The attachment's file, opened for reading, if the actor sees the thread."""
    if not Candidature.objects.visible_to(actor).filter(pk=message.candidature_id).exists():
        raise PermissionDenied("Vous n'avez pas accès à cette pièce jointe.")
    if not message.attachment:
        raise FileNotFoundError(message.pk)
    return open_stream(message.attachment.storage, message.attachment.name)
