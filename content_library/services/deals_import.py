"""`deals import` (INTERFACES section 5): CRM deals in, all or nothing, idempotent.

The file's values win for the deals it names; deals it does not name are left alone.
Importing the same file twice changes nothing, not even `updated_at`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..models import Deal, DealStageEntry, utcnow
from ..progress import Progress, quiet
from .crm_exports import DealRow, ReadFailed, StageRow, read_deals, read_history
from .deal_stages import StageNames
from .exchange import ImportFailed

SAVING_DEALS = "saving deals"  # the step progress hears of
DEAL_FIELDS = ("name", "account", "amount", "currency", "crm_stage", "stage", "created_on",
               "close_date", "is_closed", "outcome", "loss_reason", "forecast_category")


@dataclass
class DealsReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    stage_entries: int = 0  # changes of stage read from the history file
    history_skipped: int = 0  # history rows naming a deal neither in the file nor the portal
    unmapped: list[tuple[str, int]] = field(default_factory=list)  # (CRM stage name, deals)

    def line(self) -> str:
        text = f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"
        if self.stage_entries or self.history_skipped:
            text += f"; stage changes {self.stage_entries}"
        if self.history_skipped:
            text += f", history rows for unknown deals skipped {self.history_skipped}"
        return text + f"; unmapped stage names {len(self.unmapped)}"


def import_deals(session: Session, path: Path, crm_format: str, *,
                 history: Path | None = None, dry_run: bool = False,
                 progress: Progress = quiet) -> DealsReport:
    """Read everything first, so a bad row anywhere leaves the database untouched.

    A dry run does all the work, counts included, then rolls it back. `progress` hears of
    each deal saved."""
    try:
        export = read_deals(path, crm_format)
        rows = export.deals
        stage_rows = export.stage_rows
        if history is not None:
            stage_rows += read_history(history, crm_format)
    except ReadFailed as exc:
        raise ImportFailed(exc.problems) from None
    begin_write(session)
    try:
        report = _store(session, crm_format, rows, stage_rows, progress)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except Exception:
        session.rollback()
        raise
    return report


def _store(session: Session, source: str, rows: list[DealRow],
           stage_rows: list[StageRow], progress: Progress = quiet) -> DealsReport:
    names = StageNames(session)
    deals = {d.crm_id: d for d in session.scalars(select(Deal).where(Deal.source == source))}
    status: dict[str, str] = {}  # crm id -> created, updated or unchanged
    for done, row in enumerate(rows, 1):
        progress(SAVING_DEALS, done, len(rows))
        values = _values(row, names)
        deal = deals.get(row.crm_id)
        if deal is None:
            deals[row.crm_id] = Deal(source=source, crm_id=row.crm_id, **values)
            session.add(deals[row.crm_id])
            status[row.crm_id] = "created"
        elif _differs(deal, values):
            for key, value in values.items():
                setattr(deal, key, value)
            deal.updated_at = utcnow()
            status[row.crm_id] = "updated"
        else:
            status[row.crm_id] = "unchanged"
    session.flush()
    histories, skipped = _stage_changes(stage_rows, deals)
    stored = _stored_histories(session, source) if histories else {}
    replaced: dict[int, list[tuple]] = {}
    for crm_id, entries in histories.items():
        deal = deals[crm_id]
        wanted = [(at, crm_stage, names.slug(crm_stage)) for at, crm_stage in entries]
        if sorted(stored.get(deal.id, []), key=_entry_key) != sorted(wanted, key=_entry_key):
            replaced[deal.id] = wanted
            if status.get(crm_id, "unchanged") == "unchanged":
                deal.updated_at = utcnow()
                status[crm_id] = "updated"
        status.setdefault(crm_id, "unchanged")
    _replace_histories(session, replaced, stored)
    counts = defaultdict(int)
    for outcome in status.values():
        counts[outcome] += 1
    return DealsReport(
        created=counts["created"], updated=counts["updated"], unchanged=counts["unchanged"],
        stage_entries=sum(len(e) for e in histories.values()), history_skipped=skipped,
        unmapped=_unmapped(rows, stage_rows, names, histories))


def _values(row: DealRow, names: StageNames) -> dict:
    # Only what the file states: a column this export leaves out keeps the stored value.
    values = {key: getattr(row, key) for key in DEAL_FIELDS if key in row.given}
    values["stage"] = names.slug(row.crm_stage)
    return values


def _differs(deal: Deal, values: dict) -> bool:
    for key, value in values.items():
        current = getattr(deal, key)
        if key == "amount":
            if _cents(current) != _cents(value):
                return True
        elif current != value:
            return True
    return False


def _cents(amount) -> Decimal | None:
    # Stored amounts come back as floats: compare them at the two decimals kept.
    return None if amount is None else Decimal(str(amount)).quantize(Decimal("0.01"))


def _stage_changes(stage_rows: list[StageRow], deals: dict[str, Deal]
                   ) -> tuple[dict[str, list[tuple[datetime, str]]], int]:
    """Per deal, the moments it entered a new stage: OpportunityHistory also has a row for
    every change of amount or date, repeating the stage, and those are not stage changes."""
    by_deal: dict[str, list[StageRow]] = defaultdict(list)
    skipped = 0
    for row in stage_rows:
        if row.crm_id in deals:
            by_deal[row.crm_id].append(row)
        else:
            skipped += 1
    changes: dict[str, list[tuple[datetime, str]]] = {}
    for crm_id, deal_rows in by_deal.items():
        entries: list[tuple[datetime, str]] = []
        for row in sorted(deal_rows, key=lambda r: (r.entered_at, r.line)):
            entry = (row.entered_at, row.crm_stage)
            if (not entries or entries[-1][1] != row.crm_stage) and entry not in entries:
                entries.append(entry)
        changes[crm_id] = entries
    return changes, skipped


def _stored_histories(session: Session, source: str) -> dict[int, list[tuple]]:
    stored: dict[int, list[tuple]] = defaultdict(list)
    for deal_id, *entry in session.execute(
            select(DealStageEntry.deal_id, DealStageEntry.entered_at, DealStageEntry.crm_stage,
                   DealStageEntry.stage).join(Deal).where(Deal.source == source)):
        stored[deal_id].append(tuple(entry))
    return stored


def _replace_histories(session: Session, replaced: dict[int, list[tuple]],
                       stored: dict[int, list[tuple]]) -> None:
    stale = [deal_id for deal_id in replaced if stored.get(deal_id)]
    for start in range(0, len(stale), 500):  # bounded IN lists
        session.execute(delete(DealStageEntry)
                        .where(DealStageEntry.deal_id.in_(stale[start:start + 500])))
    rows = [{"deal_id": deal_id, "entered_at": at, "crm_stage": crm_stage, "stage": slug}
            for deal_id, wanted in replaced.items() for at, crm_stage, slug in wanted]
    if rows:
        # A Core executemany on the table: ORM objects cost ten times more, and the ORM's
        # bulk insert splits the batch wherever `stage` turns None (a round trip each).
        session.connection().execute(insert(DealStageEntry.__table__), rows)


def _entry_key(entry: tuple) -> tuple:
    return entry[0], entry[1]


def _unmapped(rows: list[DealRow], stage_rows: list[StageRow], names: StageNames,
              histories: dict) -> list[tuple[str, int]]:
    deals_by_name: dict[str, set[str]] = defaultdict(set)
    for row in [*rows, *(r for r in stage_rows if r.crm_id in histories)]:
        if names.is_unmapped(row.crm_stage):
            deals_by_name[row.crm_stage].add(row.crm_id)
    return sorted((name, len(ids)) for name, ids in deals_by_name.items())
