"""Reading CRM exports (INTERFACES section 5) into plain rows: Salesforce Opportunities with
API names or report labels, OpportunityHistory, and HubSpot deals.

Nothing here touches the database: every problem is collected with its file and line so
the import can refuse the whole file in one message.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

FORMATS = ("salesforce", "hubspot")

# For each field, the headers that carry it, case-insensitive: API names, then report labels.
SALESFORCE_COLUMNS = {
    "crm_id": ("Id", "Opportunity ID"),
    "name": ("Name", "Opportunity Name"),
    "account": ("Account Name", "Account.Name", "AccountId", "Account ID"),
    "stage": ("StageName", "Stage"),
    "amount": ("Amount",),
    "close_date": ("CloseDate", "Close Date"),
    "is_closed": ("IsClosed", "Closed"),
    "is_won": ("IsWon", "Won"),
    "forecast_category": ("ForecastCategoryName", "Forecast Category"),
    "loss_reason": ("Loss_Reason__c", "Loss Reason"),
    "created": ("CreatedDate", "Created Date"),
    "currency": ("CurrencyIsoCode", "Opportunity Currency", "Amount Currency"),
}
HUBSPOT_COLUMNS = {
    "crm_id": ("Record ID", "Deal ID"),
    "name": ("Deal Name",),
    "stage": ("Deal Stage",),
    "amount": ("Amount",),
    "close_date": ("Close Date",),
    "created": ("Create Date",),
    "loss_reason": ("Closed Lost Reason",),
    "account": ("Associated Company", "Company Name"),
    "forecast_category": ("Forecast Category",),
    "currency": ("Currency",),
}
HISTORY_COLUMNS = {
    "crm_id": ("OpportunityId", "Opportunity ID"),
    "stage": ("StageName", "Stage", "To Stage"),
    "entered_at": ("CreatedDate", "Created Date", "Edit Date"),
}
REQUIRED = {
    "salesforce": ("crm_id", "name", "stage", "close_date"),
    "hubspot": ("crm_id", "name", "stage"),
    "history": ("crm_id", "stage", "entered_at"),
}

ALWAYS_GIVEN = ("name", "crm_stage", "is_closed", "outcome")
OPTIONAL_FIELDS = {  # DealRow attribute: the column it comes from
    "account": "account", "amount": "amount", "created_on": "created",
    "close_date": "close_date", "loss_reason": "loss_reason",
    "forecast_category": "forecast_category",
}

# A lost deal's reason that says the buyer did not buy at all (section 5).
NO_DECISION_WORDS = ("no decision", "no budget", "do nothing", "status quo")
CURRENCY_SIGNS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
TRUE_WORDS = {"true", "1", "yes", "y"}
FALSE_WORDS = {"false", "0", "no", "n", ""}


class ReadFailed(Exception):
    """Every problem found in one file, each a line naming the file, the line and the column."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(problems[0])


@dataclass(frozen=True)
class DealRow:
    crm_id: str
    name: str
    account: str
    amount: Decimal | None
    currency: str | None
    crm_stage: str
    created_on: date | None
    close_date: date | None
    is_closed: bool
    outcome: str | None
    loss_reason: str
    forecast_category: str
    line: int
    # The fields the file states: a column an export leaves out keeps what is stored.
    given: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StageRow:
    crm_id: str
    crm_stage: str
    entered_at: datetime
    line: int


def is_closing(crm_stage: str) -> bool:
    """"Closed Won", "Closed Lost"…: the deal's closing, not a stage (section 5)."""
    return crm_stage.strip().casefold().startswith("closed")


def lost_outcome(loss_reason: str) -> str:
    reason = loss_reason.casefold()
    return "lost-no-decision" if any(w in reason for w in NO_DECISION_WORDS) else "lost-competition"


# ---- values -------------------------------------------------------------------------------


def parse_amount(text: str) -> tuple[Decimal | None, str | None]:
    """An amount as exports write it: "$1,250,000.00", "USD 1250000", "1.250.000,00 €", "(500)".

    Returns the amount and the currency it names, if any. A lone "," followed by exactly
    three digits groups thousands (US "1,250"); otherwise it is the decimal comma.
    """
    raw = text.strip()
    if not raw:
        return None, None
    value, currency = raw, None
    code = re.search(r"\b([A-Z]{3})\b", value)
    if code:
        currency = code.group(1)
        value = value.replace(code.group(0), "")
    for sign, name in CURRENCY_SIGNS.items():
        if sign in value:
            currency = currency or name
            value = value.replace(sign, "")
    value = re.sub(r"[\s\u00a0\u202f']", "", value)
    negative = value.startswith("-") or (value.startswith("(") and value.endswith(")"))
    value = value.strip("-()")
    number = _plain_number(value)
    if number is None:
        raise ValueError(f"expected a number, got '{raw}'")
    try:
        amount = Decimal(number).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise ValueError(f"expected a number, got '{raw}'") from None
    if amount >= Decimal("1e16"):
        raise ValueError(f"too large, got '{raw}'")
    return (-amount if negative else amount), currency


def _plain_number(value: str) -> str | None:
    if not re.fullmatch(r"\d[\d.,]*", value) or value[-1] in ".,":
        return None
    commas, dots = value.count(","), value.count(".")
    if commas and dots:
        decimal_mark = "," if value.rfind(",") > value.rfind(".") else "."
    elif commas:
        thousands = commas > 1 or re.fullmatch(r"\d{1,3}(,\d{3})+", value)
        decimal_mark = "." if thousands else ","
    else:
        decimal_mark = "," if dots > 1 else "."
    group_mark = "." if decimal_mark == "," else ","
    whole, _, fraction = value.partition(decimal_mark)
    if decimal_mark in fraction or group_mark in fraction:
        return None
    if group_mark in whole and not re.fullmatch(rf"\d{{1,3}}(\{group_mark}\d{{3}})+", whole):
        return None
    return whole.replace(group_mark, "") + ("." + fraction if fraction else "")


_US_DATE = re.compile(
    r"(\d{1,2})/(\d{1,2})/(\d{4}|\d{2})"
    r"(?:,?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?)?")


def parse_datetime(text: str) -> datetime:
    """ISO dates and times (Salesforce's 2026-03-04T10:00:00.000+0000 too) or US M/D/YYYY
    with an optional time; a time with a zone becomes naive UTC, as every stored time."""
    raw = text.strip()
    iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", raw.replace("Z", "+00:00"))
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        moment = _us_datetime(raw)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _us_datetime(raw: str) -> datetime:
    match = _US_DATE.fullmatch(raw)
    if not match:
        raise ValueError(f"expected a date like 2026-03-31 or 3/31/2026, got '{raw}'")
    month, day, year, hour, minute, second, half = match.groups()
    year_number = int(year) + (2000 if len(year) == 2 else 0)
    hours = int(hour or 0)
    if half:
        if not 1 <= hours <= 12:
            raise ValueError(f"expected a time like 10:00 AM, got '{raw}'")
        hours = hours % 12 + (12 if half.lower() == "pm" else 0)
    try:
        return datetime(year_number, int(month), int(day), hours, int(minute or 0), int(second or 0))
    except ValueError:
        raise ValueError(f"expected a date like 2026-03-31 or 3/31/2026, got '{raw}'") from None


def parse_date(text: str) -> date | None:
    return parse_datetime(text).date() if text.strip() else None


def parse_boolean(text: str) -> bool:
    word = text.strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f"expected true or false, got '{text.strip()}'")


def salesforce_id(value: str) -> str:
    """The 18-character form of a Salesforce id: reports may show the 15-character one,
    whose case matters, for the same record the API exports with 18."""
    if not re.fullmatch(r"[0-9A-Za-z]{15}", value):
        return value
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for start in (0, 5, 10):
        chunk = value[start:start + 5]
        suffix += alphabet[sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")]
    return value + suffix


# ---- files --------------------------------------------------------------------------------


@dataclass
class Table:
    """A CSV file's rows as {field: text}, with the header each field came from."""

    file: str
    headers: dict[str, str]
    rows: list[tuple[int, dict[str, str]]]

    def where(self, line: int, field: str) -> str:
        return f"{self.file} line {line}: {self.headers.get(field, field)}"


def read_table(path: Path, columns: dict[str, tuple[str, ...]], required: tuple[str, ...],
               entered_columns: bool = False) -> Table:
    if not path.is_file():
        raise ReadFailed([f"{path}: no such file"])
    text = _decode(path.read_bytes())
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise ReadFailed([f"{path.name}: the file is empty"])
    position = {name.strip().casefold(): i for i, name in reversed(list(enumerate(header)))}
    found: dict[str, int] = {}
    for field, names in columns.items():
        for name in names:
            if name.casefold() in position:
                found[field] = position[name.casefold()]
                break
    for i, name in enumerate(header):
        stage = _entered_stage(name)
        if stage and entered_columns:
            found.setdefault(ENTERED + stage, i)
    missing = [f for f in required if f not in found]
    if missing:
        raise ReadFailed([f"{path.name}: no column {' or '.join(repr(n) for n in columns[f])}"
                          for f in missing])
    return Table(path.name, {f: header[i].strip() for f, i in found.items()},
                 list(_rows(reader, len(header), found, path.name)))


# HubSpot exports may carry, per stage, the date each deal entered it:
# Date entered "Contract sent (Sales Pipeline)". They give HubSpot deals a stage history.
ENTERED = "entered:"
_ENTERED_HEADER = re.compile(r"""date entered\s+["'\u201c\u2018]?(.+?)["'\u201d\u2019]?""",
                             re.IGNORECASE)


def _entered_stage(header: str) -> str | None:
    match = _ENTERED_HEADER.fullmatch(header.strip())
    if not match:
        return None
    return re.sub(r"\s*\([^()]*\)$", "", match.group(1)).strip() or None  # the pipeline's name


def _decode(data: bytes) -> str:
    # Exports are UTF-8 (with a BOM from Excel and Salesforce) or, from older Salesforce
    # report settings, Windows-1252.
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _rows(reader, width: int, found: dict[str, int], file: str):
    last_line, after_blank = 1, False
    for cells in reader:
        line, last_line = last_line + 1, reader.line_num
        filled = [c for c in cells if c.strip()]
        if not filled:
            after_blank = True
            continue
        if after_blank and len(filled) == 1 and width > 1:
            continue  # a report's footer: "Confidential Information - Do Not Distribute"…
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            raise ReadFailed([f"{file} line {line}: {len(cells)} values for {width} columns"])
        cells = cells + [""] * (width - len(cells))
        yield line, {field: cells[i].strip() for field, i in found.items()}


# ---- rows ---------------------------------------------------------------------------------


@dataclass
class DealsExport:
    deals: list[DealRow]
    stage_rows: list[StageRow]  # from HubSpot's "Date entered" columns, if any


def read_deals(path: Path, crm_format: str) -> DealsExport:
    if crm_format not in FORMATS:
        raise ReadFailed([f"unknown format '{crm_format}': use salesforce or hubspot"])
    columns = SALESFORCE_COLUMNS if crm_format == "salesforce" else HUBSPOT_COLUMNS
    table = read_table(path, columns, REQUIRED[crm_format], entered_columns=crm_format == "hubspot")
    problems: list[str] = []
    export = DealsExport([], [])
    seen: dict[str, int] = {}
    for line, values in table.rows:
        deal = _deal(table, line, values, crm_format, problems)
        if deal is None:
            continue
        if deal.crm_id in seen:
            problems.append(f"{table.where(line, 'crm_id')}: '{deal.crm_id}' is already on line "
                            f"{seen[deal.crm_id]}")
            continue
        seen[deal.crm_id] = line
        export.deals.append(deal)
        export.stage_rows.extend(_entered_rows(table, line, values, deal.crm_id, problems))
    if problems:
        raise ReadFailed(problems)
    return export


def _entered_rows(table: Table, line: int, values: dict[str, str], crm_id: str,
                  problems: list[str]) -> list[StageRow]:
    rows = []
    for field, text in values.items():
        if not field.startswith(ENTERED) or not text:
            continue
        try:
            rows.append(StageRow(crm_id, field[len(ENTERED):], parse_datetime(text), line))
        except ValueError as exc:
            problems.append(f"{table.where(line, field)}: {exc}")
    return rows


# The longest text each stored column takes (content_library/models/deals.py).
MAX_LENGTHS = {"crm_id": 64, "name": 300, "account": 300, "stage": 120, "forecast_category": 40}


def _check_lengths(table: Table, line: int, values: dict[str, str], problems: list[str]) -> None:
    for field, limit in MAX_LENGTHS.items():
        if len(values.get(field, "")) > limit:
            problems.append(f"{table.where(line, field)}: longer than {limit} characters")


def _deal(table: Table, line: int, values: dict[str, str], crm_format: str,
          problems: list[str]) -> DealRow | None:
    before = len(problems)

    def read(field: str, parse, default=None):
        text = values.get(field, "")
        try:
            return parse(text) if field in values else default
        except ValueError as exc:
            problems.append(f"{table.where(line, field)}: {exc}")
            return default

    crm_id = values["crm_id"]
    if crm_format == "salesforce":
        crm_id = salesforce_id(crm_id)
    for field in ("crm_id", "name", "stage"):
        if not values[field]:
            problems.append(f"{table.where(line, field)}: missing")
    _check_lengths(table, line, values, problems)
    if values.get("currency") and not re.fullmatch(r"[A-Za-z]{3}", values["currency"]):
        problems.append(f"{table.where(line, 'currency')}: expected a currency code like USD, "
                        f"got '{values['currency']}'")
    stage = values["stage"]
    amount, amount_currency = read("amount", parse_amount, (None, None))
    close_date = read("close_date", parse_date)
    if crm_format == "salesforce":
        is_closed = read("is_closed", parse_boolean, is_closing(stage))
        is_won = read("is_won", parse_boolean, stage.casefold().startswith("closed won"))
        if is_won and not is_closed:
            problems.append(f"{table.where(line, 'is_won')}: a won deal must be closed")
    else:
        is_closed = is_closing(stage)
        is_won = stage.casefold().startswith("closed won")
    if is_closed and not values.get("close_date"):
        problems.append(f"{table.where(line, 'close_date')}: a closed deal needs a close date")
    created_on = read("created", parse_date)
    if len(problems) > before:
        return None
    loss_reason = values.get("loss_reason", "")
    outcome = None if not is_closed else "won" if is_won else lost_outcome(loss_reason)
    currency = (values.get("currency") or amount_currency or "").upper() or None
    return DealRow(
        crm_id=crm_id, name=values["name"], account=values.get("account", ""), amount=amount,
        currency=currency, crm_stage=stage, created_on=created_on,
        close_date=close_date, is_closed=is_closed, outcome=outcome,
        loss_reason=loss_reason,
        forecast_category=values.get("forecast_category", ""), line=line,
        given=frozenset(ALWAYS_GIVEN + tuple(
            attribute for attribute, column in OPTIONAL_FIELDS.items() if column in values)
            + (("currency",) if currency else ())))


def read_history(path: Path, crm_format: str) -> list[StageRow]:
    """OpportunityHistory rows, every one; the import keeps only the changes of stage."""
    table = read_table(path, HISTORY_COLUMNS, REQUIRED["history"])
    problems: list[str] = []
    rows: list[StageRow] = []
    for line, values in table.rows:
        for field in ("crm_id", "stage", "entered_at"):
            if not values[field]:
                problems.append(f"{table.where(line, field)}: missing")
        _check_lengths(table, line, values, problems)
        if not all(values.values()):
            continue
        try:
            entered_at = parse_datetime(values["entered_at"])
        except ValueError as exc:
            problems.append(f"{table.where(line, 'entered_at')}: {exc}")
            continue
        crm_id = salesforce_id(values["crm_id"]) if crm_format == "salesforce" else values["crm_id"]
        rows.append(StageRow(crm_id, values["stage"], entered_at, line))
    if problems:
        raise ReadFailed(problems)
    return rows
