"""Filling in a champion template: a Word document's `{{placeholders}}` or an Excel workbook's
named input cells, with values already checked (services/templates.py checks them).

Word documents go through docxtpl (python-docx-template): it joins a placeholder that Word has
split over several runs back into the run where it starts (so it keeps that run's formatting),
and renders the body with its tables, the headers, the footers and the footnotes. Its Jinja
runs in an immutable sandbox with autoescaping: a value is text, escaped for XML, and whatever
braces it holds are printed, never run (SECURITY promise 11); the template's own tags, written
by a manager, cannot reach Python's internals either.

Excel workbooks go through openpyxl: each value lands in the cell its defined name points to,
typed (numbers as numbers, dates as dates), and every formula stays a formula. Text that
starts like a formula is stored as text and marked so, never as a formula. openpyxl drops
what it cannot read (charts and images among them): the demo's workbook has none, and
docs/architecture.md says so.

Either way the result is checked like an upload (`file_types.sniff`) before anyone gets it:
no macros, no outside links, no DDE.
"""

from __future__ import annotations

import io
import logging
import tempfile
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from docxtpl import DocxTemplate
from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from openpyxl import load_workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.worksheet.worksheet import Worksheet

from .file_types import FILE_KINDS, RejectedFile, sniff
from .spreadsheet import looks_like_formula

_log = logging.getLogger(__name__)

# The formats a cell gets when the template left it without one (General, or text for a value
# that is not text).
_PLAIN_FORMATS = ("General", "@")
DATE_FORMAT = "yyyy-mm-dd"


class CannotFill(Exception):
    """The template file itself cannot be filled (its Word text has tags Jinja cannot read,
    say): a manager has to fix the file. The message says what was wrong, in words."""


@dataclass(frozen=True)
class Value:
    """One checked value: `shown` as a document prints it, `typed` as a spreadsheet cell
    holds it (text, a Decimal, or a date; a percentage as its fraction: 12.5% is 0.125)."""

    kind: str
    shown: str
    typed: str | Decimal | date


# ---- Word ------------------------------------------------------------------------------------


def _environment(*, autoescape: bool) -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(autoescape=autoescape)


class _Template(DocxTemplate):
    def render_properties(self, context, jinja_env=None):
        # The document's properties (title, subject…) are plain text that python-docx escapes
        # itself: escaping them for XML first would show "&amp;" in Word's property sheet.
        super().render_properties(context, _environment(autoescape=False))


def fill_docx(source: Path, values: Mapping[str, Value]) -> bytes:
    """The document with each `{{ name }}` replaced by its value as shown; a placeholder with
    no value is left empty. Raises CannotFill when the file's own tags cannot be read."""
    with _failing_as_cannot_fill("docx"):
        template = _Template(str(source))
        context = {name: value.shown for name, value in values.items()}
        try:
            template.render(context, _environment(autoescape=True), autoescape=True)
        except TemplateError as exc:
            raise CannotFill(f"Its text has something Word templates cannot hold here: "
                             f"{exc.message or type(exc).__name__}.") from None
        out = io.BytesIO()
        template.save(out)
    return _inert(out.getvalue(), "docx")


@contextmanager
def _failing_as_cannot_fill(kind: str):
    """A file that passed the upload checks may still hold what a library cannot read: that
    is the file's problem to report, not a crash (logged for whoever maintains the portal)."""
    try:
        yield
    except CannotFill:
        raise
    except Exception:
        _log.exception("a %s template could not be filled", kind)
        raise CannotFill("The file could not be read as a template.") from None


# ---- Excel -----------------------------------------------------------------------------------


def fill_xlsx(source: Path, values: Mapping[str, Value]) -> bytes:
    """The workbook with each value in the cell its defined name points to. Cells holding a
    formula are left alone (a named result is not an input), and so are names that point to
    no cell. Formulas are recalculated when the file is opened."""
    with _failing_as_cannot_fill("xlsx"):
        # An open file, not the path: stored files have no extension, which openpyxl asks for.
        with warnings.catch_warnings(), Path(source).open("rb") as stream:
            # openpyxl warns about each part it does not keep (extensions it cannot read).
            warnings.simplefilter("ignore")
            book = load_workbook(stream, keep_vba=False, keep_links=False, rich_text=True)
        for name, value in values.items():
            cell = named_cell(book, name)
            if cell is not None and cell.data_type != "f":
                put(cell, value)
        book.template = False
        book.calculation.fullCalcOnLoad = True
        out = io.BytesIO()
        book.save(out)
    return _inert(out.getvalue(), "xlsx")


def named_cell(book, name: str) -> Cell | None:
    """The first cell a defined name points to: a workbook-wide name first, then a sheet's own;
    the top-left cell of a range or of a merged block. None for a name that is a constant or a
    formula, or that points outside this workbook."""
    defined = book.defined_names.get(name)
    if defined is None:
        defined = next((sheet.defined_names[name] for sheet in book.worksheets
                        if name in sheet.defined_names), None)
    if defined is None:
        return None
    for title, reference in defined.destinations:
        sheet = book[title] if title in book.sheetnames else None
        if not isinstance(sheet, Worksheet):
            continue
        try:
            cell = sheet[reference.replace("$", "").split(":")[0]]
        except (ValueError, KeyError, IndexError):
            continue
        if isinstance(cell, MergedCell):
            cell = next((sheet.cell(block.min_row, block.min_col)
                         for block in sheet.merged_cells.ranges if cell.coordinate in block), None)
        if isinstance(cell, Cell):
            return cell
    return None


def put(cell: Cell, value: Value) -> None:
    """Write one typed value. Text is always text: data type "s", and a leading = + - @ marked
    with Excel's quote prefix so that editing the cell later keeps it text too."""
    typed = value.typed
    if isinstance(typed, str):
        cell.value = typed
        cell.data_type = "s"  # openpyxl would otherwise take "=..." for a formula
        cell.quotePrefix = looks_like_formula(typed)
        return
    cell.quotePrefix = False
    if isinstance(typed, date):
        cell.value = typed
        if cell.number_format in _PLAIN_FORMATS:
            cell.number_format = DATE_FORMAT
        return
    cell.value = int(typed) if typed == typed.to_integral_value() else float(typed)
    if value.kind == "percent" and "%" not in cell.number_format:
        cell.number_format = _percent_format(typed)
    elif value.kind == "currency" and cell.number_format in _PLAIN_FORMATS:
        cell.number_format = "#,##0" if cell.value == int(cell.value) else "#,##0.00"
    elif cell.number_format == "@":
        cell.number_format = "General"


def _percent_format(fraction: Decimal) -> str:
    decimals = max(0, -fraction.normalize().as_tuple().exponent - 2)
    return "0" + ("." + "0" * min(decimals, 4) if decimals else "") + "%"


# ---- both ------------------------------------------------------------------------------------


def _inert(data: bytes, kind: str) -> bytes:
    """The filled file passes the checks an upload passes, or nobody gets it."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"filled{FILE_KINDS[kind].extension}"
        path.write_bytes(data)
        try:
            found = sniff(path)
        except RejectedFile as exc:
            _log.error("a filled %s failed the upload checks: %s", kind, exc)
            raise CannotFill(str(exc)) from None
    if found.kind != kind:
        raise CannotFill(f"The filled file is not a {kind.upper()} file.")
    return data
