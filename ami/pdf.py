"""PDF documents made for people (attestation de dépôt, procès-verbal, notification
d'attribution): WeasyPrint's tagged PDF/UA-1 variant, set in Marianne, the State's typeface, from
the files django-dsfr ships (``dsfr/dist/fonts``), under the State's block (« RÉPUBLIQUE
FRANÇAISE » and its motto, ``templates/includes/pdf_state_block.html``, styled here). Every PDF
goes through ``render_pdf``. Pango is needed (docs/operations.md); WeasyPrint is imported only
when a PDF is made.

Loading the Marianne faces (the ``@font-face`` rules parsed into a ``FontConfiguration``) costs
more than laying out a short document: the configuration and the stylesheet are built once per
thread and reused by every PDF it makes (the region's ZIP renders hundreds in a row). One per
thread, because Pango's font map is not shared safely between threads."""

import atexit
import threading
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


# Marianne everywhere (the page's margin boxes, page numbers, inherit from ``@page``, not from
# the body); the State's block (DSFR « bloc-marque »): the name in bold capitals, the motto.
STATE_BLOCK_CSS = """
@page { font-family: Marianne, sans-serif; }
body { font-family: Marianne, sans-serif; }
.ami-state-block { margin: 0 0 14pt; }
.ami-state-block__name { font-family: Marianne, sans-serif; font-weight: 700; font-size: 11pt;
  line-height: 1.05; text-transform: uppercase; letter-spacing: 0.02em; margin: 0;
  padding-top: 6pt; border-top: 3pt solid #000091; display: inline-block; }
.ami-state-block__motto { font-family: Marianne, sans-serif; font-style: italic; font-size: 7.5pt;
  line-height: 1.15; margin: 4pt 0 0; }
.ami-state-block__authority { font-weight: 700; font-size: 9pt; margin: 8pt 0 0; }
"""


_shared = threading.local()
# Dropped before the interpreter tears WeasyPrint's modules down (its ``__del__`` needs them).
atexit.register(_shared.__dict__.clear)


def _fonts_and_stylesheet():
    """This thread's font configuration and the shared stylesheet (Marianne, the State's
    block), built on first use."""
    if not hasattr(_shared, "fonts"):
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        fonts = FontConfiguration()  # @font-face rules need it, given to the CSS and the render
        _shared.fonts = fonts
        _shared.stylesheet = CSS(string=font_faces_css() + STATE_BLOCK_CSS, font_config=fonts)
    return _shared.fonts, _shared.stylesheet


def render_pdf(html: str) -> bytes:
    """``html`` as a tagged PDF (PDF/UA-1) with the Marianne font and the State's block styled
    (the template includes ``includes/pdf_state_block.html``)."""
    from weasyprint import HTML

    fonts, stylesheet = _fonts_and_stylesheet()
    document = HTML(string=html, base_url=".")
    return document.write_pdf(
        stylesheets=[stylesheet],
        font_config=fonts,
        pdf_variant=PDF_VARIANT,
        presentational_hints=True,
    )
