"""Whole numbers read from a request: ASCII digits only, within bounds, or a clear refusal.

`str.isdigit()` and `int()` accept far more than anyone types into an address bar: '²' and
'①' pass `isdigit()` and then make `int()` raise; Arabic-Indic digits convert; `int()` also
takes ' 7', '+7' and '1_000', and gives up past 4,300 digits. PostgreSQL refuses an id past
its integer type. Every number the portal reads from a path, a query string or a hidden field goes
through this module, so a bad one answers 400 (or, in a path, the same 404 as anything else
that does not exist), never 500.
"""

from __future__ import annotations

import re

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

# The largest value of PostgreSQL's integer, the type of every id and version number column
# (SQLite's INTEGER goes further).
LARGEST_ID = 2**31 - 1

_DIGITS = re.compile(r"[0-9]{1,19}")  # [0-9], not \d: \d matches the digits of every script
_SIGNED = re.compile(r"-?[0-9]+")


def whole_number(text: str | None, low: int, high: int) -> int | None:
    """The number `text` spells in ASCII digits when it lies from `low` to `high`, else None."""
    if text is None or not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def query_number(name: str, *, default: int, low: int, high: int) -> int:
    """A number from the query string, or its default when absent; 400 when it is anything else."""
    text = request.args.get(name, "")
    if text == "":
        return default
    value = whole_number(text, low, high)
    if value is None:
        raise BadRequest(f"{name} must be a whole number from {low} to {high:,}, in digits 0-9.")
    return value


def page_number(text: str | None, last: int) -> int:
    """The page a person asked for: none means the first, one past either end means that end
    (people edit page numbers in the address bar and expect the nearest page), and anything
    that is not a number written in digits 0-9 answers 400."""
    if not text:
        return 1
    if not _SIGNED.fullmatch(text):
        raise BadRequest("The page number must be written in digits 0-9, e.g. page=2.")
    if text.startswith("-"):
        return 1
    digits = text.lstrip("0")
    if len(digits) > len(str(last)):
        return last
    return min(max(int(digits or "0"), 1), last)


class IdConverter(IntegerConverter):
    """`<int:…>` in a route: ASCII digits and at most LARGEST_ID; anything else matches no route."""

    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = LARGEST_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def init_app(app: Flask) -> None:
    # Before any blueprint adds its rules: a rule keeps the converter it was compiled with.
    app.url_map.converters["int"] = IdConverter
