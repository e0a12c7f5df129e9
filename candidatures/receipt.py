"""The « attestation de dépôt »: a PDF of the frozen snapshot with the documents' SHA-256."""

from django.template.loader import render_to_string


def receipt_pdf(candidature) -> bytes:
    from weasyprint import HTML  # imported here: Pango is only needed when a PDF is made

    html = render_to_string(
        "candidatures/receipt_pdf.html",
        {"candidature": candidature, "snapshot": candidature.snapshot},
    )
    return HTML(string=html).write_pdf()
