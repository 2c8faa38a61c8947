"""Business-case templates: the fields a DOCX or XLSX template offers, their labels and types
as managers set them, checking what a champion or rep typed, and the filled document.

A template is an item whose file is a Word document with `{{placeholders}}` or an Excel
workbook with defined names (file_types.template_fields reads them at upload). Its fields are
TemplateField rows, kept in step with the file whenever an item is saved (`sync_fields`); an
item saved before fields existed gets the same fields, worked out from the file, until a
manager saves them (`fields`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid, NotFound
from ..filling import CannotFill, Value, fill_docx, fill_xlsx
from ..models import FIELD_KIND_NAMES, FIELD_KINDS, ContentItem, TemplateField
from . import throttle
from .files import stored_path, without_control_characters

TEMPLATE_KINDS = ("docx", "xlsx")
MAX_TEXT = 2_000  # characters of one text value: a paragraph, not a chapter
MAX_COMPANY = 200  # as User.company holds it
MAX_LABEL = 200
MAX_NUMBER_CHARS = 40
MAX_DIGITS = 15  # what a spreadsheet keeps exactly
FIRST_YEAR = 1900  # spreadsheets count dates from 1900
# The fields the company's name fills: never asked twice, and required.
COMPANY_FIELDS = ("company_name", "company", "customer_name", "client_name", "account_name")
# Generating a document is real work: per client (each key: an account, an address, a share)
# at most this many within the window.
GENERATE_LIMIT = 20
GENERATE_WINDOW = throttle.WINDOW  # every throttle counts over the same window

MIME = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}

# What a field's name says about its kind: its last word first, then any other word.
_KIND_WORDS = {
    "date": {"date", "start", "deadline", "day"},
    "percent": {"percent", "pct", "percentage", "rate", "ratio", "share", "variance",
                "realisation", "realization", "growth", "uplift"},
    "currency": {"amount", "cost", "costs", "investment", "revenue", "savings", "saving",
                 "price", "budget", "benefit", "spend", "fee", "fees", "gain", "income",
                 "profit", "value", "salary"},
    "number": {"count", "number", "months", "weeks", "days", "hours", "years", "quantity",
               "qty", "users", "seats", "headcount", "people", "employees"},
}
_UPPER_WORDS = {"roi", "kpi", "crm", "erp", "it", "cfo", "ceo", "cio", "cto", "vat", "id", "url",
                "tco", "arr", "mrr", "sla", "hr"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


@dataclass(frozen=True)
class Field:
    """One field a template offers, as a form shows it and the API lists it."""

    name: str
    label: str
    kind: str
    required: bool

    @property
    def kind_name(self) -> str:
        return FIELD_KIND_NAMES[self.kind]

    @property
    def is_company(self) -> bool:
        """Filled with the company's name (the form's own Company field), not asked again."""
        return self.name.lower() in COMPANY_FIELDS


@dataclass(frozen=True)
class FieldEdit:
    """What a manager sets for one field in the field editor."""

    name: str
    label: str
    kind: str
    required: bool
    position: int


@dataclass(frozen=True)
class FilledDocument:
    content: bytes
    filename: str
    mime: str
    format: str  # "docx" or "xlsx": the usage event's details


# ---- which fields ----------------------------------------------------------------------------


def template_format(item: ContentItem) -> str | None:
    """"docx" or "xlsx" when the item's file is a template with at least one field, else None."""
    file = item.file
    if file is None or file.kind not in TEMPLATE_KINDS or not file.template_fields:
        return None
    return file.kind


def is_template(item: ContentItem) -> bool:
    return template_format(item) is not None


def _file_names(item: ContentItem) -> list[str]:
    return list(item.file.template_fields or []) if is_template(item) else []


def label_for(name: str) -> str:
    """"annual_revenue" → "Annual revenue", "roi_percent" → "ROI percent", "year1" → "Year 1"."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=[0-9])", " ", name)
    words = [w for w in re.split(r"[_\s]+", spaced) if w]
    shown = ["%" if w.lower() == "pct" else w.upper() if w.lower() in _UPPER_WORDS else w.lower()
             for w in words]
    text = " ".join(shown) or name
    return (text[0].upper() + text[1:])[:MAX_LABEL]


def guess_kind(name: str) -> str:
    """A sensible first guess from the name, which a manager may change: `go_live_date` is a
    date, `licence_cost` an amount, `roi_percent` a percentage, `user_count` a number."""
    words = [w for w in re.split(r"[_\W0-9]+", re.sub(r"(?<=[a-z])(?=[A-Z])", "_", name).lower())
             if w]
    for candidates in (words[-1:], words[:-1]):
        for word in reversed(candidates):
            for kind, known in _KIND_WORDS.items():
                if word in known:
                    return kind
    return "text"


def _default(name: str) -> Field:
    return Field(name=name, label=label_for(name), kind=guess_kind(name),
                 required=name.lower() in COMPANY_FIELDS)


def _rows(session: Session, item: ContentItem) -> list[TemplateField]:
    if item.id is None:
        return []
    return list(session.scalars(select(TemplateField).where(TemplateField.item_id == item.id)
                                .order_by(TemplateField.position, TemplateField.id)))


def _merged(rows: Sequence[TemplateField], names: Sequence[str]) -> list[Field]:
    """The fields of a file named `names`, keeping what a manager set for the names that
    remain (order included); new names follow, in the file's order, with guessed settings."""
    present = set(names)
    kept = [Field(r.name, r.label, r.kind if r.kind in FIELD_KINDS else "text", r.required)
            for r in rows if r.name in present]
    known = {f.name for f in kept}
    return kept + [_default(name) for name in names if name not in known]


def fields(session: Session, item: ContentItem) -> list[Field]:
    """The fields of the item's template, in order; [] for an item that is not a template.
    Reads only: an item whose rows are missing or behind its file gets them worked out."""
    names = _file_names(item)
    return _merged(_rows(session, item), names) if names else []


def sync_fields(session: Session, item: ContentItem) -> list[Field]:
    """Make the item's TemplateField rows match its file, in the caller's transaction (no
    commit): names that remain keep their label, type, required and order; new names are
    added with guessed settings; names the file no longer has are dropped."""
    rows = _rows(session, item)
    wanted = _merged(rows, _file_names(item))
    by_name = {r.name: r for r in rows}
    keep = {f.name for f in wanted}
    for row in rows:
        if row.name not in keep:
            session.delete(row)
    for position, field in enumerate(wanted):
        row = by_name.get(field.name)
        if row is None:
            session.add(TemplateField(item_id=item.id, position=position, name=field.name,
                                      label=field.label, kind=field.kind,
                                      required=field.required))
        elif row.position != position:
            row.position = position
    return wanted


def field_problems(current: Sequence[Field], edits: Sequence[FieldEdit]) -> dict[str, str]:
    """Every reason the field editor's input cannot be saved, keyed "<name>.label" etc.
    Reads only, so a refused form can name every problem at once."""
    errors: dict[str, str] = {}
    names = [f.name for f in current]
    if sorted(e.name for e in edits) != sorted(names):
        errors[""] = ("The template's fields changed while you were editing (a new file?): "
                      "here they are as they are now.")
        return errors
    for edit in edits:
        label = " ".join(edit.label.split())
        if not label:
            errors[f"{edit.name}.label"] = "Enter the label people see beside the field."
        elif len(label) > MAX_LABEL:
            errors[f"{edit.name}.label"] = f"Use at most {MAX_LABEL} characters."
        if edit.kind not in FIELD_KINDS:
            errors[f"{edit.name}.kind"] = f"Choose one of: {', '.join(FIELD_KIND_NAMES.values())}."
        if not 1 <= edit.position <= len(names):
            errors[f"{edit.name}.position"] = f"Enter a position from 1 to {len(names)}."
    return errors


def save_fields(session: Session, item: ContentItem, edits: Sequence[FieldEdit]) -> list[Field]:
    """A manager's labels, types, required marks and order, all at once. Raises Invalid with
    reasons keyed "<name>.label", "<name>.kind", "<name>.position" (or "" for the whole form)."""
    begin_write(session)
    current = sync_fields(session, item)
    errors = field_problems(current, edits)
    if errors:
        session.rollback()
        raise Invalid(errors)
    session.flush()
    rows = {r.name: r for r in _rows(session, item)}
    original = {f.name: index for index, f in enumerate(current)}
    ordered = sorted(edits, key=lambda e: (e.position, original[e.name]))
    for position, edit in enumerate(ordered):
        row = rows[edit.name]
        row.label = " ".join(edit.label.split())
        row.kind = edit.kind
        row.required = bool(edit.required) or edit.name.lower() in COMPANY_FIELDS
        row.position = position
    session.commit()
    return fields(session, item)


# ---- checking values -------------------------------------------------------------------------

_GROUPED = r"[0-9]{1,3}(?:[,' \u00a0\u202f][0-9]{3})+"
_NUMBER = re.compile(rf"(?P<whole>{_GROUPED}|[0-9]+)?(?:\.(?P<fraction>[0-9]+))?")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_MINUS_SIGNS = "-\u2212"  # a hyphen, or the minus sign a word processor puts instead

MESSAGES = {
    "required": "Fill this in: it is required.",
    "number": "Enter a number, like 1,200 or 3.5 (digits, and a point before decimals).",
    "currency": "Enter an amount, like 250,000 or $250,000.50 (a point before the cents).",
    "percent": "Enter a percentage, like 12.5 or 12.5%.",
    "date": "Enter a date as year-month-day, like 2026-03-31.",
    "no_such_date": "There is no such date: check the day and the month.",
    "early_date": f"Enter a date from the year {FIRST_YEAR} on.",
    "digits": f"Use at most {MAX_DIGITS} digits: a spreadsheet keeps no more.",
    "not_text": "Send this value as text.",
    "unknown": "This template has no such field.",
}


class _Refused(ValueError):
    """A value that cannot be read; the message is the sentence shown beside the field."""


def clean_text(text: str, *, one_line: bool = False) -> str:
    """What a document may hold of typed text: line ends kept (or made spaces), tabs made
    spaces, control characters (which XML cannot hold, or Word turns into page breaks)
    dropped, and the ends trimmed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if one_line:
        text = " ".join(text.split("\n"))
    kept = "".join(ch for ch in text if ch == "\n" or (
        unicodedata.category(ch) not in ("Cc", "Cs") and ch not in "\ufffe\uffff"))
    return kept.strip()


def _signed(text: str) -> tuple[str, str]:
    """("-", rest) or ("+", rest) for a text that starts with a sign, else ("", text)."""
    if text and text[0] in _MINUS_SIGNS + "+":
        return ("+" if text[0] == "+" else "-"), text[1:].lstrip()
    return "", text


def _decimal(text: str, message: str) -> Decimal:
    """A number in ASCII digits, with an optional sign, thousands separators (comma, space,
    apostrophe) and a decimal point."""
    sign, text = _signed(text)
    match = _NUMBER.fullmatch(text)
    if not text or match is None or not (match["whole"] or match["fraction"]):
        raise _Refused(message)
    whole = re.sub(r"[^0-9]", "", match["whole"] or "0")
    fraction = match["fraction"] or ""
    if len(whole.lstrip("0")) + len(fraction) > MAX_DIGITS:
        raise _Refused(MESSAGES["digits"])
    number = Decimal(f"{whole}.{fraction}" if fraction else whole)
    return -number if sign == "-" and number else number


def _grouped(number: Decimal) -> str:
    return format(number, ",f")


def _currency_mark(part: str) -> bool:
    return (len(part) == 1 and unicodedata.category(part) == "Sc") or bool(
        _CURRENCY_CODE.fullmatch(part))


def _amount(text: str) -> Value:
    """An amount with an optional currency sign or code before or after it: "$1,200",
    "1 200 €", "EUR 1,200.50", "-$300"."""
    sign, text = _signed(text)
    prefix = suffix = ""
    head = re.match(r"([^\s0-9.+\-\u2212]+)\s*", text)
    if head and _currency_mark(head[1]):
        prefix, text = head[1], text[head.end():]
    tail = re.search(r"\s*([^\s0-9.]+)$", text)
    if tail and _currency_mark(tail[1]):
        suffix, text = tail[1], text[:tail.start()]
    number = _decimal(sign + text, MESSAGES["currency"])
    shown = _grouped(abs(number))
    shown = (prefix + (" " if len(prefix) > 1 else "") + shown) if prefix else shown
    shown = f"{shown} {suffix}" if suffix else shown
    return Value("currency", ("-" if number < 0 else "") + shown, number)


def _percentage(text: str) -> Value:
    number = _decimal(text.removesuffix("%").rstrip(), MESSAGES["percent"])
    return Value("percent", f"{_grouped(number)}%", number / 100)


def _date(text: str) -> Value:
    """ISO year-month-day: what people type and what an <input type=date> sends."""
    if not _ISO_DATE.fullmatch(text):
        raise _Refused(MESSAGES["date"])
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise _Refused(MESSAGES["no_such_date"]) from None
    if day.year < FIRST_YEAR:
        raise _Refused(MESSAGES["early_date"])
    return Value("date", f"{day.day} {_MONTHS[day.month - 1]} {day.year}", day)


def _text(text: str) -> Value:
    if len(text) > MAX_TEXT:
        raise _Refused(f"Use at most {MAX_TEXT:,} characters (this has {len(text):,}).")
    return Value("text", text, text)


def read_value(field: Field, raw: object) -> Value | None:
    """The value typed for one field, checked for its kind; None when left empty (and not
    required). Raises ValueError with the sentence to show beside the field."""
    if raw is None:
        raw = ""
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool) \
            and field.kind in ("number", "currency", "percent"):
        raw = str(raw)
    if not isinstance(raw, str):
        raise _Refused(MESSAGES["not_text"])
    if field.kind != "text" and len(raw) > MAX_NUMBER_CHARS:
        raise _Refused(MESSAGES["date" if field.kind == "date" else field.kind])
    text = clean_text(raw, one_line=field.kind != "text")
    if not text:
        if field.required:
            raise _Refused(MESSAGES["required"])
        return None
    if field.kind == "number":
        number = _decimal(text, MESSAGES["number"])
        return Value("number", _grouped(number), number)
    if field.kind == "currency":
        return _amount(text)
    if field.kind == "percent":
        return _percentage(text)
    if field.kind == "date":
        return _date(text)
    return _text(text)


def read_company(raw: object) -> str:
    """The company the document is for: one line of text, required."""
    text = clean_text(raw if isinstance(raw, str) else "", one_line=True)
    if not text:
        raise Invalid({"company": "Enter the company's name: the document is made for it and "
                                  "named after it."})
    if len(text) > MAX_COMPANY:
        raise Invalid({"company": f"Use at most {MAX_COMPANY} characters."})
    return text


def read_values(template_fields: Sequence[Field], raw: Mapping[str, object],
                company: str) -> dict[str, Value]:
    """Every value checked at once: {field name: Value} for the fields filled in. The company
    fields take `company`. Raises Invalid with a sentence per field name ("company" for the
    company), a name the template does not have included."""
    errors: dict[str, str] = {}
    try:
        company = read_company(company)
    except Invalid as exc:
        errors.update(exc.reasons)
    known = {f.name for f in template_fields}
    for name in raw:
        if name not in known:
            errors[str(name)[:100]] = MESSAGES["unknown"]
    values: dict[str, Value] = {}
    for field in template_fields:
        if field.is_company:
            if "company" not in errors:
                values[field.name] = Value("text", company, company)
            continue
        try:
            value = read_value(field, raw.get(field.name))
        except _Refused as exc:
            errors[field.name] = str(exc)
            continue
        if value is not None:
            values[field.name] = value
    if errors:
        raise Invalid(errors)
    return values


# ---- the filled document ---------------------------------------------------------------------

_TITLE_CUTS = (" (", ": ", " for ", " – ", " — ", " - ")
_TITLE_TAILS = (" template", " workbook", " document")
_NOT_IN_FILE_NAMES = re.compile(r'[\\/:*?"<>|]+')


def _short_title(title: str) -> str:
    """"Business case template for a revenue operations project" → "Business case";
    "ROI calculator workbook (three-year return)" → "ROI calculator"."""
    cut = min((title.find(c) for c in _TITLE_CUTS if title.find(c) > 0), default=len(title))
    short = title[:cut].strip()
    for tail in _TITLE_TAILS:
        if short.lower().endswith(tail) and len(short) > len(tail):
            short = short[: -len(tail)].strip()
    return short[:80] or "Document"


def _file_safe(text: str) -> str:
    text = _NOT_IN_FILE_NAMES.sub(" ", without_control_characters(text))
    return " ".join(text.split()).strip(" .")[:100]


def document_name(item: ContentItem, company: str, kind: str) -> str:
    """The file named after the company: "Contoso Health - Business case.docx"."""
    short = _file_safe(_short_title(item.title)) or "Document"
    who = _file_safe(company)
    return f"{who} - {short}.{kind}" if who else f"{short}.{kind}"


def count_generation(session: Session, client: Sequence[str],
                     shared: throttle.SharedCounts | None = None) -> None:
    """Count one generation against each of the client's keys ("user:7", "address:…",
    "share:3"), in `shared` (Redis) when given, else in the database; raises
    throttle.Throttled past GENERATE_LIMIT within GENERATE_WINDOW."""
    throttle.take_turn(session, [throttle.Limit(f"generate:{key}", GENERATE_LIMIT)
                                 for key in client], what="documents in a short time",
                       shared=shared)


def generate(session: Session, item: ContentItem, values: Mapping[str, object], company: str,
             upload_dir: Path, *, client: Sequence[str],
             shared: throttle.SharedCounts | None = None) -> FilledDocument:
    """Check the values, count the generation against the client (see count_generation),
    and fill the template.

    Raises NotFound for an item that is not a template (or whose file is gone), Invalid with a
    sentence per field, throttle.Throttled past the limit, and Invalid({"": …}) when the
    template file itself cannot be filled."""
    kind = template_format(item)
    if kind is None:
        raise NotFound(item.slug)
    source = stored_path(upload_dir, item.file.sha256)
    if not source.is_file():
        raise NotFound(item.slug)
    checked = read_values(fields(session, item), values, company)
    company = read_company(company)
    count_generation(session, client, shared)
    try:
        content = fill_docx(source, checked) if kind == "docx" else fill_xlsx(source, checked)
    except CannotFill as exc:
        raise Invalid({"": f"This template cannot be filled in: {exc} Ask marketing to fix "
                           "the file."}) from None
    return FilledDocument(content=content, filename=document_name(item, company, kind),
                          mime=MIME[kind], format=kind)
