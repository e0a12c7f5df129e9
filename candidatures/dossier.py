"""The dossier: the read-only view of a submitted candidature for everyone who judges it (the
region's cell, the CNA, staff) and for the applicant's own team (DESIGN §2, issue 15).

Everything comes from the frozen snapshot (``submission.build_snapshot``, refreshed when the
applicant answers a request for complements): the answers through the questionnaire module, the
budget and co-financing, the PTCE and its territory, the members. Around it, the live rows that
have no snapshot: the documents (to open them), the team, the timeline and the complements'
before/after. ``dossier_context`` reads it all in a fixed number of queries, whatever the number
of answers, documents or events; the page, the « dossier complet » PDF and the region's ZIP share
it. A draft is not a dossier: ``dossier_queryset`` only holds submitted candidatures.
"""

import io
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.template.loader import render_to_string
from django.utils import timezone
from pypdf import PdfReader, PdfWriter
from pypdf.errors import PdfReadError

from ami.formats import euros
from ami.models import Commune, Density
from ami.pdf import render_pdf

from . import questionnaire
from .models import (
    Candidature,
    ComplementRequest,
    FundingStatus,
    MemberCategory,
    PtceMembership,
)
from .submission import build_snapshot

logger = logging.getLogger(__name__)

# Documents the browser shows inline (their type was detected from their content at upload,
# ``documents.detect_format``). Never HTML nor SVG: those could run scripts in our origin.
INLINE_TYPES = {"application/pdf", "image/png", "image/jpeg"}
PDF_TYPE = "application/pdf"
# What the dossier reads of the PTCE in the snapshot (``submission.build_snapshot``).
PTCE_KEYS = (
    "name", "siret", "legal_form", "address", "postal_code", "seat_commune",
    "territory_communes", "year_created", "website", "description",
)  # fmt: skip


def submitted_candidatures():
    """Every dossier, unscoped: the base that ``get_visible_or_404`` scopes itself (scoping it
    twice doubles the cost of the scoping subqueries, compiled and planned for each)."""
    return Candidature.objects.filter(submitted_at__isnull=False).select_related(
        "call", "ptce", "region"
    )


def dossier_queryset(user):
    """The dossiers ``user`` may read: the candidatures ``visible_to`` them, once submitted."""
    return submitted_candidatures().visible_to(user)


def is_inline(document) -> bool:
    return document.content_type in INLINE_TYPES


@dataclass
class Revision:
    at: object
    before: str
    after: str


@dataclass
class AnswerRow:
    label: str
    value: str
    revisions: list = field(default_factory=list)


@dataclass
class Section:
    title: str
    rows: list


def _decimal(raw):
    if raw in (None, "", "None"):
        return None
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return None


def _amount(raw) -> str:
    value = _decimal(raw)
    return euros(value) if value is not None else "non renseigné"


def _status_label(status) -> str:
    return FundingStatus(status).label if status in FundingStatus.values else ""


def _cofinancing_text(lines) -> str:
    if not lines:
        return "aucun cofinancement"
    return " ; ".join(
        f"{line.get('funder') or 'financeur non renseigné'} : {_amount(line.get('amount'))} "
        f"({_status_label(line.get('status'))})"
        for line in lines
    )


def _revisions(candidature, requests) -> dict[str, list[Revision]]:
    """Answer name → what each answered request for complements changed, oldest first."""
    result: dict[str, list[Revision]] = {}
    call = candidature.call
    for request in sorted(requests, key=lambda r: r.answered_at):
        for name, change in (request.changes or {}).items():
            before, after = change.get("before"), change.get("after")
            if name == "requested_amount":
                before, after = _amount(before), _amount(after)
            elif name == questionnaire.COFINANCING:
                before, after = _cofinancing_text(before), _cofinancing_text(after)
            elif name.startswith("document:"):
                before = before or "aucune pièce"
            else:
                before = questionnaire.display_by_name(call, name, before)
                after = questionnaire.display_by_name(call, name, after)
            result.setdefault(name, []).append(
                Revision(request.answered_at, before or "non renseigné", after or "non renseigné")
            )
    return result


def _budget(snapshot) -> dict:
    lines = []
    acquired = requested_total = Decimal("0")
    for line in snapshot.get("cofinancing") or []:
        amount = _decimal(line.get("amount"))
        status = line.get("status")
        if status == FundingStatus.ACQUIRED:
            acquired += amount or 0
        else:
            requested_total += amount or 0
        lines.append(
            {
                "funder": line.get("funder") or "",
                "status": _status_label(status),
                "amount": amount,
            }
        )
    requested = _decimal(snapshot.get("requested_amount"))
    cofinancing = acquired + requested_total
    total = (requested or 0) + cofinancing
    return {
        "requested": requested,
        "lines": lines,
        "acquired": acquired,
        "pending": requested_total,
        "cofinancing": cofinancing,
        "total": total,
    }


def _territory(candidature, ptce_snapshot) -> dict:
    """The seat and the communes of the territory as frozen, with what the rural and QPV flags
    were computed from (``submission.territory_flags``): density and quartiers prioritaires."""
    seat_code = ptce_snapshot.get("seat_commune")
    codes = set(ptce_snapshot.get("territory_communes") or [])
    if seat_code:
        codes.add(seat_code)
    communes = {
        commune.code: commune
        for commune in Commune.objects.filter(code__in=codes)
        .select_related("department__region")
        .prefetch_related("qpvs")
    }
    seat = communes.get(seat_code)
    rows = [
        {
            "commune": commune,
            "is_seat": code == seat_code,
            "density": Density(commune.density).label if commune.density else "non connue",
            "qpvs": list(commune.qpvs.all()),
        }
        for code, commune in sorted(communes.items(), key=lambda item: item[1].name)
    ]
    return {
        "seat": seat,
        "department": seat.department if seat else None,
        "region": seat.department.region if seat else candidature.region,
        "communes": rows,
    }


def dossier_context(candidature) -> dict:
    """Everything the dossier shows, read in a fixed number of queries."""
    # A candidature submitted before snapshots existed has none: build it from the live rows.
    snapshot = candidature.snapshot or build_snapshot(candidature)
    answers = snapshot.get("answers") or questionnaire.snapshot_answers(candidature)
    requests = list(
        ComplementRequest.objects.filter(candidature=candidature, answered_at__isnull=False)
    )
    revisions = _revisions(candidature, requests)
    sections = [
        Section(
            section.title,
            [
                AnswerRow(label, value, revisions.get(name, []))
                for name, label, value in section.rows
            ],
        )
        for section in questionnaire.answer_rows(
            candidature.call, answers, with_title=True, with_names=True
        )
    ]
    ptce_snapshot = dict.fromkeys(PTCE_KEYS, "") | (snapshot.get("ptce") or {})
    members = [
        {
            "name": member.get("name", ""),
            "siret": member.get("siret", ""),
            "category": MemberCategory(member["category"]).label
            if member.get("category") in MemberCategory.values
            else member.get("category", ""),
        }
        for member in snapshot.get("members") or []
    ]
    documents = list(
        candidature.documents.select_related("document_type", "uploaded_by").order_by(
            "document_type__order", "document_type__pk", "pk"
        )
    )
    for document in documents:
        document.inline = is_inline(document)
        document.revisions = revisions.get(f"document:{document.document_type.label}", [])
    return {
        "candidature": candidature,
        "snapshot": snapshot,
        "sections": sections,
        "budget": _budget(snapshot),
        "budget_revisions": revisions.get("requested_amount", [])
        + revisions.get(questionnaire.COFINANCING, []),
        "ptce": ptce_snapshot,
        "territory": _territory(candidature, ptce_snapshot),
        "members": members,
        "team": list(
            PtceMembership.objects.filter(ptce=candidature.ptce_id)
            .select_related("user")
            .order_by("-is_referent", "user__last_name", "user__first_name", "pk")
        ),
        "documents": documents,
        "events": list(candidature.events.select_related("actor")),
        "complement_requests": sorted(requests, key=lambda r: r.answered_at),
    }


# --- « Dossier complet (PDF) » ------------------------------------------------------------------


def dossier_filename(candidature, suffix=".pdf") -> str:
    number = candidature.receipt_number or f"candidature-{candidature.pk}"
    return f"dossier-{number}{suffix}"


def answers_pdf(context) -> bytes:
    """The dossier's answers, budget, territory, members, documents list and timeline, as a
    tagged PDF (WeasyPrint, ``ami.pdf``)."""
    html = render_to_string(
        "candidatures/dossier_pdf.html", {**context, "generated_at": timezone.now()}
    )
    return render_pdf(html)


def write_dossier_pdf(candidature, output, *, append_documents=True) -> dict:
    """Writes the « dossier complet » of ``candidature`` into the binary file ``output``: the
    answers (WeasyPrint), then each PDF document appended (pypdf), every part in the PDF's
    outline (its table of contents). Files are read through the storage API. A PDF document
    that cannot be read (missing, damaged) is left out and named in the outline. Returns
    ``{"pages": n, "appended": [labels], "skipped": [labels]}``. The caller checks the right
    to read the candidature (``dossier_queryset``)."""
    context = dossier_context(candidature)
    answers = answers_pdf(context)
    if not append_documents:
        # Nothing to append: WeasyPrint's PDF as it is (its title comes from the template),
        # without pypdf reading and rewriting it (the region's ZIP makes hundreds in a row).
        output.write(answers)
        return {"pages": len(PdfReader(io.BytesIO(answers)).pages), "appended": [], "skipped": []}
    writer = PdfWriter()
    writer.append(PdfReader(io.BytesIO(answers)))
    appended, skipped = [], []
    parent = writer.add_outline_item(
        title="Pièces justificatives en annexe", page_number=len(writer.pages)
    )
    for document in context["documents"]:
        if document.content_type != PDF_TYPE:
            continue
        label = f"{document.document_type.label} – {document.original_name}"
        start = len(writer.pages)
        try:
            with document.file.storage.open(document.file.name, "rb") as source:
                writer.append(PdfReader(source), import_outline=False)
        except (OSError, PdfReadError, ValueError):
            logger.warning("Pièce %s non ajoutée au dossier complet", document.pk)
            skipped.append(label)
            continue
        if len(writer.pages) > start:
            writer.add_outline_item(title=label, page_number=start, parent=parent)
            appended.append(label)
    writer.add_metadata({"/Title": f"Dossier complet – {candidature.ptce.name}"})
    writer.write(output)
    return {"pages": len(writer.pages), "appended": appended, "skipped": skipped}
