"""CSV exports that a spreadsheet opens as data, never as formulas (SECURITY promise 11).

Every CSV the portal writes goes through `csv_text`, and every text a filled-in workbook
receives is checked with `looks_like_formula`, so the rule lives in one place.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# Excel, LibreOffice and Google Sheets treat a cell starting with one of these as a formula
# (tab and carriage return too: some strip them and then see the "=" behind them).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet would run this text, typed into a cell, as a formula."""
    return text.startswith(FORMULA_STARTS)


def safe_cell(value: object) -> object:
    """The value as a spreadsheet should show it: text that would run gets a ' in front.

    Numbers stay numbers: -3 is a value, not a formula, and a prefix would turn it to text."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    return "'" + text if looks_like_formula(text) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in header])
    for row in rows:
        writer.writerow([safe_cell(cell) for cell in row])
    return out.getvalue()
