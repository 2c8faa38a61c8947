"""Which portal stage a CRM stage name stands for (INTERFACES section 5).

A manager's mapping wins; otherwise the portal stage with the same name or slug, in any
case. Names that begin with "Closed" are the deal's closing, not a stage. Anything else is
unmapped: kept on the deal as the CRM wrote it, and reported, never dropped.
"""

from __future__ import annotations

from sqlalchemy import func, select, union_all
from sqlalchemy.orm import Session

from ..models import CrmStageMapping, Deal, DealStageEntry, Stage
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
