"""The thread with the applicant (« messagerie »), its attachments, and the cells' internal notes
(« notes internes »). Thin views over ``candidatures.messaging``: the rules live there."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from accounts.permissions import is_regional_coordinator
from ami.scoping import get_visible_or_404
from ami.storage import download_response

from .. import messaging
from ..forms import MessageForm, NoteForm
from ..models import Message, MessageSide
from .common import visible_candidature_or_404

logger = logging.getLogger(__name__)

SIDE_LABELS = {
    MessageSide.APPLICANT: "Équipe du PTCE",
    MessageSide.REGIONAL: "Cellule régionale d'animation",
    MessageSide.NATIONAL: "Cellule nationale d'animation",
    MessageSide.STAFF: "Équipe Coorace",
}


def _thread_candidature_or_404(user, pk):
    candidature = visible_candidature_or_404(user, pk)
    if not messaging.has_thread(candidature):
        raise Http404
    return candidature


def _author_label(message, viewer_side) -> str:
    """The applicant's team reads which cell wrote, not who in it (evaluators are not named to
    the applicant); the cells read the person and the side."""
    side = SIDE_LABELS[message.side]
    if viewer_side == MessageSide.APPLICANT and message.side != MessageSide.APPLICANT:
        return side
    name = message.author.get_full_name() or message.author.email
    return f"{name} ({side})"


@login_required
@require_http_methods(["GET", "POST"])
def candidature_messages(request, pk):
    candidature = _thread_candidature_or_404(request.user, pk)
    side = messaging.side_of(request.user, candidature)
    refusal = messaging.write_refusal(request.user, candidature, side)
    form = MessageForm(
        request.POST if request.method == "POST" else None,
        request.FILES or None,
        to_team=side != MessageSide.APPLICANT,
    )
    status = 200
    if request.method == "POST" and refusal:
        status = 403  # the form is not shown; the page says why (messaging.write_refusal)
    elif request.method == "POST" and form.is_valid():
        try:
            message = messaging.post_message(
                candidature,
                request.user,
                form.cleaned_data["text"],
                form.cleaned_data["attachment"],
            )
        except PermissionDenied as error:
            form.add_error(None, str(error) or refusal)
            status = 403
        except ValidationError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, "Votre message a été envoyé.")
            url = reverse("candidature_messages", args=[candidature.pk])
            return redirect(f"{url}#message-{message.pk}")
    entries = messaging.thread(candidature)
    last = max((e.message.pk for e in entries if e.message is not None), default=None)
    if last is not None and request.method == "GET":
        messaging.mark_read(candidature, request.user, up_to=last)
    lines = [
        {
            "entry": entry,
            "author": _author_label(entry.message, side) if entry.message else "",
        }
        for entry in entries
    ]
    return render(
        request,
        "candidatures/messages.html",
        {
            "candidature": candidature,
            "lines": lines,
            "side": side,
            "is_applicant": side == MessageSide.APPLICANT,
            "refusal": refusal,
            "form": form,
            "can_read_notes": side in (MessageSide.REGIONAL, MessageSide.NATIONAL),
            "is_coordinator": side == MessageSide.REGIONAL
            and is_regional_coordinator(request.user, candidature.call_id, candidature.region_id),
        },
        status=status,
    )


@login_required
@require_GET
def message_attachment(request, pk, message_pk):
    message = get_visible_or_404(
        Message.objects.shown(), request.user, pk=message_pk, candidature=pk
    )
    try:
        file = messaging.open_attachment(message, request.user)
    except PermissionDenied:
        raise Http404 from None
    except FileNotFoundError:
        logger.error("Pièce jointe absente du stockage pour le message %s", message.pk)
        raise Http404 from None
    return download_response(
        file, filename=message.attachment_name, content_type=message.attachment_type
    )


@login_required
@require_http_methods(["GET", "POST"])
def candidature_notes(request, pk):
    candidature = _thread_candidature_or_404(request.user, pk)
    if not messaging.can_read_notes(request.user, candidature):
        raise Http404
    form = NoteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            note = messaging.post_note(candidature, request.user, form.cleaned_data["text"])
        except ValidationError as error:
            form.add_domain_error(error)
        else:
            messages.success(request, "La note interne a été enregistrée.")
            url = reverse("candidature_notes", args=[candidature.pk])
            return redirect(f"{url}#note-{note.pk}")
    side = messaging.side_of(request.user, candidature)
    lines = [
        {
            "note": note,
            "author": f"{note.author.get_full_name() or note.author.email} "
            f"({SIDE_LABELS[note.side]})",
        }
        for note in messaging.notes(candidature)
    ]
    return render(
        request,
        "candidatures/notes.html",
        {
            "candidature": candidature,
            "lines": lines,
            "form": form,
            "is_coordinator": side == MessageSide.REGIONAL
            and is_regional_coordinator(request.user, candidature.call_id, candidature.region_id),
        },
    )
