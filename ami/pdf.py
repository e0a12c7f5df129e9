"""PDF documents made for people (procès-verbal, notification d'attribution): WeasyPrint's
tagged PDF/UA-1 variant, set in Marianne, the State's typeface, from the files django-dsfr ships
(``dsfr/dist/fonts``). Pango is needed (docs/operations.md); WeasyPrint is imported only when a
PDF is made."""

from pathlib import Path

from django.contrib.staticfiles import finders

PDF_VARIANT = "pdf/ua-1"
FONT_DIR = "dsfr/dist/fonts"
# (file stem, weight, style) of the Marianne faces used.
FACES = [
    ("Marianne-Regular", 400, "normal"),
    ("Marianne-Regular_Italic", 400, "italic"),
    ("Marianne-Bold", 700, "normal"),
    ("Marianne-Bold_Italic", 700, "italic"),
]


def font_faces_css() -> str:
    """``@font-face`` rules pointing at the Marianne files of django-dsfr (WOFF)."""
    rules = []
    for stem, weight, style in FACES:
        found = finders.find(f"{FONT_DIR}/{stem}.woff")
        if not found:
            continue
        rules.append(
            "@font-face { font-family: Marianne; "
            f"src: url('{Path(found).as_uri()}') format('woff'); "
            f"font-weight: {weight}; font-style: {style}; }}"
        )
    return "\n".join(rules)


def render_pdf(html: str) -> bytes:
    """``html`` as a tagged PDF (PDF/UA-1) with the Marianne font."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()  # @font-face rules need it, given to the CSS and the render
    document = HTML(string=html, base_url=".")
    return document.write_pdf(
        stylesheets=[CSS(string=font_faces_css(), font_config=fonts)],
        font_config=fonts,
        pdf_variant=PDF_VARIANT,
        presentational_hints=True,
    )
