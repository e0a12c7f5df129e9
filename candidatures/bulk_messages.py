"""A message written by staff to every applicant of the chosen candidatures (a call, a region,
any filter of the admin's list): one email per person of each PTCE's team, held in a batch
(``ami.batches``) that staff preview, edit per recipient and send. The message also lands in
each candidature's thread (``candidatures.messaging``), tied to the batch: the thread shows it
once the batch is sent, never while it is held nor if it is abandoned (the thread's rows are
append-only, so visibility follows the batch rather than a later write). The thread shows the
text as written; an email edited for one recipient in the batch is that person's copy."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from ami import batches
from ami.audit import audited
from ami.outbox import holding, queue_email

from .models import Message, MessageSide, PtceMembership

EVENT = "applicants.message"


@audited
def write_to_applicants(candidatures, actor, *, subject: str, text: str):
    """Hold one email per distinct applicant of ``candidatures``; returns the batch."""
    if not getattr(actor, "is_staff", False):
        raise PermissionDenied("Seule l'équipe Coorace écrit à tous les porteurs.")
    subject, text = (subject or "").strip(), (text or "").strip()
    if not subject or not text:
        raise ValidationError("L'objet et le texte du message sont obligatoires.")
    candidatures = list(candidatures.select_related("call"))
    if not candidatures:
        raise ValidationError("Aucune candidature choisie.")
    calls = {candidature.call_id: candidature.call for candidature in candidatures}
    call = next(iter(calls.values())) if len(calls) == 1 else None
    emails = (
        PtceMembership.objects.filter(
            ptce__candidatures__in=[c.pk for c in candidatures], user__is_active=True
        )
        .values_list("user__email", flat=True)
        .distinct()
        .order_by("user__email")
    )
    with transaction.atomic():
        batch = batches.start(f"Message aux porteurs : {subject}", EVENT, actor, call)
        with holding(batch):
            for email in emails:
                queue_email(to=email, subject=subject, text=text, event=EVENT, call=call)
        Message.objects.bulk_create(
            Message(
                candidature=candidature,
                author=actor,
                side=MessageSide.STAFF,
                text=f"{subject}\n\n{text}",
                batch=batch,
            )
            for candidature in candidatures
        )
    return batch
