"""Which portal stage a CRM stage name stands for (INTERFACES section 5).

A manager's mapping wins; otherwise the portal stage with the same name or slug, in any
case. Names that begin with "Closed" are the deal's closing, not a stage. Anything else is
unmapped: kept on the deal as the CRM wrote it, and reported, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid
from ..models import CrmStageMapping, Deal, DealStageEntry, Stage, utcnow
from .crm_exports import is_closing


class StageNames:
    """Resolves CRM stage names with the mappings and stages as they are now."""

    def __init__(self, session: Session):
        self.known: dict[str, str] = {}
        for slug, name in session.execute(select(Stage.slug, Stage.name)):
            self.known.setdefault(name.strip().casefold(), slug)
            self.known.setdefault(slug.casefold(), slug)
        for crm_stage, slug in session.execute(select(CrmStageMapping.crm_stage,
                                                      CrmStageMapping.stage)):
            self.known[crm_stage.strip().casefold()] = slug

    def slug(self, crm_stage: str) -> str | None:
        if is_closing(crm_stage):
            return None
        return self.known.get(crm_stage.strip().casefold())

    def is_unmapped(self, crm_stage: str) -> bool:
        return bool(crm_stage.strip()) and not is_closing(crm_stage) and self.slug(crm_stage) is None


def remap(session: Session) -> int:
    """Apply the current mappings to every deal and stage entry (after a manager edits them).

    The caller commits. Returns how many rows changed.
    """
    names = StageNames(session)
    changed = 0
    for row in [*session.scalars(select(Deal)), *session.scalars(select(DealStageEntry))]:
        slug = names.slug(row.crm_stage)
        if row.stage != slug:
            row.stage = slug
            changed += 1
    return changed


def unmapped_stage_names(session: Session) -> list[tuple[str, int]]:
    """CRM stage names no portal stage stands for, with how many deals carry each."""
    names = StageNames(session)
    seen = union_all(
        select(Deal.crm_stage.label("crm_stage"), Deal.id.label("deal_id"))
        .where(Deal.stage.is_(None)),
        select(DealStageEntry.crm_stage, DealStageEntry.deal_id)
        .where(DealStageEntry.stage.is_(None)),
    ).subquery()
    counts = session.execute(
        select(seen.c.crm_stage, func.count(func.distinct(seen.c.deal_id)))
        .group_by(seen.c.crm_stage).order_by(seen.c.crm_stage))
    return [(name, count) for name, count in counts if names.is_unmapped(name)]


@dataclass(frozen=True)
class CrmStageName:
    """One stage name the CRM used, how it maps now, and how many deals carry it."""

    name: str
    deals: int
    stage: str | None  # the portal stage it maps to now
    chosen: bool  # a manager's mapping, not a match by name
    closing: bool  # "Closed Won"…: the deal's closing, never mapped


def crm_stage_names(session: Session) -> list[CrmStageName]:
    """Every CRM stage name on a deal or in a deal's history, unmapped ones first."""
    names = StageNames(session)
    chosen = set(session.scalars(select(func.lower(CrmStageMapping.crm_stage))))
    seen = union_all(
        select(Deal.crm_stage.label("crm_stage"), Deal.id.label("deal_id")),
        select(DealStageEntry.crm_stage, DealStageEntry.deal_id),
    ).subquery()
    counts = session.execute(
        select(seen.c.crm_stage, func.count(func.distinct(seen.c.deal_id)))
        .where(seen.c.crm_stage != "").group_by(seen.c.crm_stage))
    rows = [CrmStageName(name=name, deals=count, stage=names.slug(name),
                         chosen=name.strip().casefold() in chosen, closing=is_closing(name))
            for name, count in counts]
    return sorted(rows, key=lambda r: (r.closing, r.stage is not None, r.name.casefold()))


def save_mappings(session: Session, choices: dict[str, str]) -> int:
    """A manager's choice per CRM stage name: a stage slug, or "" to go back to matching by
    name. Then every deal and history row follows. Returns how many rows changed."""
    slugs = set(session.scalars(select(Stage.slug)))
    problems = {}
    for name, slug in choices.items():
        if not name.strip() or len(name) > 120:
            problems[name] = "A CRM stage name has 1 to 120 characters."
        elif is_closing(name):
            problems[name] = f"“{name}” closes a deal; it is not a stage to map."
        elif slug and slug not in slugs:
            problems[name] = f"“{slug}” is not one of the portal's stages."
    if problems:
        raise Invalid(problems)
    begin_write(session)
    stored = {m.crm_stage.strip().casefold(): m for m in session.scalars(select(CrmStageMapping))}
    for name, slug in choices.items():
        mapping = stored.get(name.strip().casefold())
        if not slug:
            if mapping is not None:
                session.delete(mapping)
        elif mapping is None:
            session.add(CrmStageMapping(crm_stage=name.strip(), stage=slug))
        elif mapping.stage != slug:
            mapping.stage, mapping.updated_at = slug, utcnow()
    session.flush()
    changed = remap(session)
    session.commit()
    return changed
