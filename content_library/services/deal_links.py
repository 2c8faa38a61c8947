""""Used in deal": a rep says an item went into one of their open deals, and can take it back.

The link is the `used_in_deal` usage event itself (one per rep, item and deal), so the
effectiveness figures read exactly what reps recorded. Undoing a mistaken link deletes that
event: a link taken back must not count as influence.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid
from ..models import ContentItem, Deal, Stage, UsageEvent, User

MAX_CHOICES = 20
MAX_FILTER = 100


@dataclass(frozen=True)
class DealChoice:
    id: int
    name: str
    account: str
    stage: str | None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.account})" if self.account else self.name


def _choice(deal: Deal) -> DealChoice:
    return DealChoice(id=deal.id, name=deal.name, account=deal.account, stage=deal.stage)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def open_deals(session: Session, text: str = "", limit: int = MAX_CHOICES) -> list[DealChoice]:
    """Open deals whose name or account contains `text` (any case), by name; at most `limit`."""
    query = select(Deal).where(Deal.is_closed.is_(False))
    words = " ".join((text or "").split())[:MAX_FILTER]
    if words:
        pattern = _like(words.lower())
        query = query.where(or_(Deal.name.ilike(pattern, escape="\\"),
                                Deal.account.ilike(pattern, escape="\\")))
    deals = session.scalars(query.order_by(Deal.name, Deal.id).limit(min(limit, MAX_CHOICES)))
    return [_choice(d) for d in deals]


def chosen_deals(session: Session, ids: list[int]) -> list[DealChoice]:
    """These deals if they are open, by name: a choice a form keeps when it is refused."""
    deals = session.scalars(select(Deal).where(Deal.id.in_(ids), Deal.is_closed.is_(False))
                            .order_by(Deal.name, Deal.id))
    return [_choice(d) for d in deals]


def deals_used_in(session: Session, user: User, item: ContentItem) -> list[DealChoice]:
    """The deals this person recorded the item in, oldest link first."""
    deals = session.scalars(
        select(Deal).join(UsageEvent, UsageEvent.deal_id == Deal.id)
        .where(UsageEvent.kind == "used_in_deal", UsageEvent.item_id == item.id,
               UsageEvent.user_id == user.id)
        .group_by(Deal.id).order_by(Deal.name))
    return [_choice(d) for d in deals]


def _link(user: User, item: ContentItem, deal: Deal):
    return (UsageEvent.kind == "used_in_deal", UsageEvent.item_id == item.id,
            UsageEvent.user_id == user.id, UsageEvent.deal_id == deal.id)


def open_deal(session: Session, deal_id: int | None) -> Deal:
    """The open deal with this id; Invalid({"deal": …}) when there is none, or it closed."""
    deal = session.get(Deal, deal_id) if deal_id else None
    if deal is None or deal.is_closed:
        raise Invalid({"deal": "Pick one of the open deals: this one is closed or no longer "
                               "in the CRM export."})
    return deal


def use_in_deal(session: Session, user: User, item: ContentItem, deal_id: int | None,
                stage: str | None = None) -> tuple[DealChoice, bool]:
    """Record that the item was used in the deal. Returns the deal and whether the link is new
    (recording the same link twice keeps one). The stage is the one the rep was looking at
    when it names a stage of ours, else the deal's own."""
    deal = open_deal(session, deal_id)
    begin_write(session)
    if session.scalar(select(UsageEvent.id).where(*_link(user, item, deal)).limit(1)):
        session.rollback()
        return _choice(deal), False
    if stage and session.scalar(select(Stage.slug).where(Stage.slug == stage)) is None:
        stage = None
    session.add(UsageEvent(kind="used_in_deal", item_id=item.id, item_slug=item.slug,
                           user_id=user.id, role=user.role, deal_id=deal.id,
                           stage=stage or deal.stage, details={}))
    session.commit()
    return _choice(deal), True


def remove_from_deal(session: Session, user: User, item: ContentItem, deal_id: int) -> bool:
    """Take back this person's link between the item and the deal. Returns whether one existed."""
    deal = session.get(Deal, deal_id)
    if deal is None:
        return False
    begin_write(session)
    removed = session.execute(delete(UsageEvent).where(*_link(user, item, deal))
                              .execution_options(synchronize_session=False)).rowcount
    session.commit()
    return bool(removed)
