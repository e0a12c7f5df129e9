"""Spreadsheets (DESIGN §9, the Démarches Simplifiées lesson): the one place where workbooks are
written (``write_xlsx``) and spreadsheet cells neutralised (``safe_cell``), for every app's
exports and the admin's.

Spreadsheet cells written from user text are neutralised (``safe_cell``): a PTCE named
``=HYPERLINK(…)`` must come out as text, never as a formula run on the reader's machine."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import xlsxwriter
from django.utils import timezone
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

# A spreadsheet reads a cell starting with one of these as a formula (DDE, « CSV injection »).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
MAX_CELL_LENGTH = 32767  # Excel's limit for the text of a cell
EURO_FORMAT = '#,##0.00\\ "€"'
SCORE_FORMAT = "0.00"
DATE_FORMAT = "DD/MM/YYYY"
DATETIME_FORMAT = "DD/MM/YYYY HH:MM"
BOLD = "bold"  # the headers' format in ``write_xlsx`` (its other formats are number formats)
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CENT = Decimal("0.01")


def safe_cell(value):
    """A value safe to write in a spreadsheet cell: numbers (and None) stay as they are; text
    loses the characters a workbook cannot hold and, when a spreadsheet would read it as a
    formula, is prefixed with an apostrophe so that it stays text."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    text = ILLEGAL_CHARACTERS_RE.sub("", str(value))
    if text.startswith(FORMULA_PREFIXES):
        text = "'" + text
    return text[:MAX_CELL_LENGTH]


def _number(value):
    """Database numbers as spreadsheet numbers, to two decimals (averages carry many more)."""
    if isinstance(value, Decimal | float):
        return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    return value


@dataclass
class Sheet:
    """One sheet of a workbook: a header row and the rows under it. Values are raw (numbers stay
    numbers, ``Decimal`` amounts too, booleans become « oui » / « non », dates and times are
    shown in Paris time); the columns named in ``money`` are formatted in euros."""

    title: str
    header: list[str]
    rows: Iterable[list]
    money: tuple[str, ...] = ()


def _value(value):
    """A raw value as the spreadsheet stores it, with its number format (or None)."""
    if value is None or value == "":
        return None, None  # an empty cell: nothing is written
    if isinstance(value, bool):
        return ("oui" if value else "non"), None
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value).replace(tzinfo=None)
        return value, DATETIME_FORMAT
    if isinstance(value, date):
        return value, DATE_FORMAT
    if isinstance(value, Decimal | float):
        return _number(value), SCORE_FORMAT
    return safe_cell(value), None


def write_xlsx(output, sheets: Iterable[Sheet]) -> None:
    """Write ``sheets`` as an XLSX workbook to the binary file ``output``, row by row
    (XlsxWriter's constant-memory mode: memory does not grow with the rows, and at 10 000 rows
    it writes twice as fast as openpyxl's write-only mode, docs/performance.md). Every text is
    written as text, through ``safe_cell``: nothing a user typed can become a formula."""
    workbook = xlsxwriter.Workbook(output, {"constant_memory": True})
    formats = {}

    def cell_format(key):
        if key not in formats:
            formats[key] = workbook.add_format(
                {"bold": True} if key == BOLD else {"num_format": key}
            )
        return formats[key]

    for spec in sheets:
        _write_sheet(workbook, cell_format, spec)
    workbook.close()


def _write_sheet(workbook, cell_format, spec: Sheet) -> None:
    sheet = workbook.add_worksheet(spec.title)
    sheet.freeze_panes(1, 1)
    bold = cell_format(BOLD)
    for column, text in enumerate(spec.header):
        sheet.write_string(0, column, safe_cell(text), bold)
    money = {index for index, label in enumerate(spec.header) if label in spec.money}
    for row, line in enumerate(spec.rows, start=1):
        for column, raw in enumerate(line):
            value, number_format = _value(raw)
            if value is None:
                continue  # an empty cell: nothing is written
            if number_format is None:
                if isinstance(value, str):
                    sheet.write_string(row, column, value)
                else:
                    sheet.write_number(row, column, value)
            elif number_format in (DATE_FORMAT, DATETIME_FORMAT):
                sheet.write_datetime(row, column, value, cell_format(number_format))
            else:
                if column in money:
                    number_format = EURO_FORMAT
                sheet.write_number(row, column, float(value), cell_format(number_format))
