"""The « attestation de dépôt »: a PDF of the frozen snapshot with the documents' SHA-256."""

from django.template.loader import render_to_string

from ami.pdf import render_pdf

from . import questionnaire


def submitted_answers(candidature):
    """The answers of the frozen snapshot, under their questions, by section."""
    answers = (candidature.snapshot or {}).get("answers") or {}
    return questionnaire.answer_rows(candidature.call, answers)


def receipt_pdf(candidature) -> bytes:
    """The attestation as a tagged PDF in Marianne, under the State's block (``ami.pdf``)."""
    html = render_to_string(
        "candidatures/receipt_pdf.html",
        {
            "candidature": candidature,
            "snapshot": candidature.snapshot,
            "answer_sections": submitted_answers(candidature),
        },
    )
    return render_pdf(html)
