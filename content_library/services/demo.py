"""The demo library: a fictional vendor's content and a person for every role."""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from ..demo import story
from ..errors import Invalid
from ..models import (
    ContentItem,
    ContentRequest,
    Deal,
    SearchLog,
    ShareLink,
    Stage,
    UsageEvent,
    User,
    share_link_items,
    utcnow,
)
from ..visibility import live_share_condition
from . import share_links, usage
from .crm_exports import salesforce_id
from .deals_import import import_deals
from .exchange import ImportReport, import_library
from .items import slugify
from .search_words import parse_terms, save_synonyms, synonym_table
from .users import NewUser, create_user, find_by_email

# Demo log-ins, printed by `make run`. Only for trying the portal on one machine.
DEMO_USERS = (
    NewUser("admin@demo.example", "Alex Admin", "admin", "Admin-demo-2026"),
    NewUser("maria.marketing@demo.example", "Maria Marketing", "manager", "Manager-demo-2026"),
    NewUser("ryan.rep@demo.example", "Ryan Rep", "rep", "Rep-demo-2026"),
    NewUser("chris.champion@contoso-health.example", "Chris Champion", "champion",
            "Champion-demo-2026", company="Contoso Health"),
)
# Ryan's team mates, whose year of deals and usage fills the analytics pages.
DEMO_TEAM = tuple(
    NewUser(f"{name.lower().replace(' ', '.')}@demo.example", name, "rep", "Rep-demo-2026")
    for name in ("Priya Natarajan", "Tom Becker", "Ana Souza", "Kenji Watanabe",
                 "Fatima Haddad", "Luca Moretti", "Grace Okafor"))


# Words reps type for the same thing; managers edit these under Taxonomy → Synonyms.
DEMO_SYNONYMS = (
    "ROI = return on investment",
    "TCO = total cost of ownership",
    "battlecard = battle card",
    "RFP = request for proposal",
    "CFO = finance director = economic buyer",
)


def demo_library_path() -> Path:
    return Path(str(resources.files("content_library").joinpath("demo/library.yaml")))


def load_demo(session: Session, upload_dir: Path
              ) -> tuple[int, ImportReport, StoryReport | None]:
    """Create the demo users that are missing, import the demo library, then the team's
    year of deals and usage (idempotent: the story is added once)."""
    created = 0
    for data in (*DEMO_USERS, *DEMO_TEAM):
        if find_by_email(session, data.email) is None:
            try:
                create_user(session, data)
            except Invalid as exc:  # the demo passwords must pass our own rules
                raise RuntimeError(f"demo user {data.email}: {exc}") from exc
            created += 1
    report = import_library(session, demo_library_path(), upload_dir)
    known = {frozenset(terms) for terms in synonym_table(session)}
    for line in DEMO_SYNONYMS:
        if frozenset(parse_terms(line)) not in known:
            save_synonyms(session, line)
    told = load_story(session)
    share_demo_link(session)
    load_deal_room(session)
    return created, report, told


@dataclass(frozen=True)
class StoryReport:
    deals: int
    events: int
    searches: int
    requests: int

    def line(self) -> str:
        return (f"deals {self.deals}, usage events {self.events}, searches {self.searches}, "
                f"content requests {self.requests}")


def story_loaded(session: Session) -> bool:
    """The story is in once any usage event links a demo deal: they are committed together."""
    demo_deal = Deal.crm_id.like(story.CRM_ID_PREFIX + "%")
    return session.scalar(select(UsageEvent.id).join(Deal, Deal.id == UsageEvent.deal_id)
                          .where(Deal.source == "salesforce", demo_deal).limit(1)) is not None


def load_story(session: Session, today: date | None = None) -> StoryReport | None:
    """The demo team's year: deals through the real CRM import, then their usage, searches and
    content requests in one transaction. None when it is already there."""
    if story_loaded(session):
        return None
    today = today or utcnow().date()
    stages = [story.StoryStage(s.slug, s.name, s.forecast_category) for s in session.scalars(
        select(Stage).where(Stage.phase != "closed").order_by(Stage.position, Stage.id))]
    items = [story.StoryItem(i.id, i.slug, i.type.slug, tuple(s.slug for s in i.stages),
                             i.file_id is not None)
             for i in session.scalars(select(ContentItem)
                                      .where(ContentItem.status == "published")
                                      .options(selectinload(ContentItem.stages),
                                               selectinload(ContentItem.type))
                                      .order_by(ContentItem.slug))]
    reps = [DEMO_USERS[2].email, *(person.email for person in DEMO_TEAM)]
    told = story.build(today, stages, items, reps)
    with tempfile.TemporaryDirectory() as folder:
        opportunities, history = Path(folder, "opportunities.csv"), Path(folder, "history.csv")
        opportunities.write_text(story.opportunities_csv(told.deals, stages), encoding="utf-8-sig")
        history.write_text(story.history_csv(told.deals), encoding="utf-8")
        import_deals(session, opportunities, "salesforce", history=history)
    deal_ids = dict(session.execute(select(Deal.crm_id, Deal.id)
                                    .where(Deal.source == "salesforce")).all())
    user_ids = dict(session.execute(select(User.email, User.id).where(User.email.in_(reps))).all())
    # Core executemany: a year of events in well under a second, where ORM objects take many.
    session.execute(insert(UsageEvent), [
        _columns(event, user_id=user_ids[event["user"]],
                 deal_id=deal_ids.get(salesforce_id(event["deal"] or "")))
        for event in told.events])
    session.execute(insert(SearchLog), [_columns(row) for row in told.searches])
    manager = session.scalar(select(User.id).where(User.email == DEMO_USERS[1].email))
    item_ids = {item.slug: item.id for item in items}
    session.add_all(ContentRequest(**_columns(
        row, requester_id=user_ids[row["user"]], answered_by_id=item_ids.get(row["answer"] or ""),
        decided_by_id=manager if row["decided_at"] else None)) for row in told.requests)
    session.commit()
    return StoryReport(len(told.deals), len(told.events), len(told.searches), len(told.requests))


def _columns(row: dict, **ids) -> dict:
    """A story row as table columns: people and deals by their ids, not e-mails or CRM ids."""
    named = ("user", "deal", "answer")
    return {**{key: value for key, value in row.items() if key not in named}, **ids}


# What Ryan shared with a buyer in the demo, and what the buyer did with it.
DEMO_SHARED = (story.HELPING_ITEM, "roi-calculator-workbook")
DEMO_SHARE_NOTE = ("As promised on our call: the business case template and the ROI workbook. "
                   "Happy to go through the figures with you before the finance committee.")


def share_demo_link(session: Session, now: datetime | None = None) -> ShareLink | None:
    """Ryan's link to the CFO on one of his open demo deals, shared two days ago, opened, read
    and downloaded from: "My share links", its activity page and the notifications show
    something on a fresh demo. Added once; None when it is there already (or no demo deal)."""
    rep = find_by_email(session, DEMO_USERS[2].email)
    if rep is None or session.scalar(select(ShareLink.id).where(
            ShareLink.created_by_id == rep.id).limit(1)) is not None:
        return None
    deal = session.scalar(select(Deal).where(
        Deal.is_closed.is_(False), Deal.crm_id.like(story.CRM_ID_PREFIX + "%"))
        .order_by(Deal.name, Deal.id).limit(1))
    if deal is None:
        return None
    shared_at = (now or utcnow()) - timedelta(days=2)
    link, _token = share_links.create(session, rep, share_links.ShareRequest(
        content=DEMO_SHARED, recipient=f"cfo@{slugify(deal.account) or 'buyer'}.example",
        expires_in_days=30, deal=deal, note=DEMO_SHARE_NOTE), now=shared_at)
    # The buyer: opened it three hours later, read the template, downloaded both files.
    opened = shared_at + timedelta(hours=3)
    items = share_links.visible_items(link)
    # The path of the rep's page of the link, as the web app names it.
    share_links.note_open(session, link, f"/shares/{link.id}", now=opened)
    usage.keep(session, [
        *share_links.buyer_events(link, "share_open", items, opened),
        *share_links.buyer_events(link, "view", items[:1], opened + timedelta(minutes=2)),
        *share_links.buyer_events(link, "download", items, opened + timedelta(minutes=6)),
    ])


# Chris Champion's deal room: Ryan shared two items with Contoso Health on their open deal.
DEAL_ROOM_DEAL = {"source": "salesforce", "crm_id": "006Dm9CONTOSO01",
                  "name": "Contoso Health - Revenue forecasting", "account": "Contoso Health",
                  "amount": 84_000, "currency": "USD", "crm_stage": "Building a business case",
                  "stage": "building-business-case", "forecast_category": "Best Case"}
DEAL_ROOM_ITEMS = ("what-finance-gets-value-proposition", "case-study-brookfield-diagnostics")
DEAL_ROOM_NOTE = ("Chris, as promised after Tuesday's call: what finance gets from the project, "
                  "and how Brookfield Diagnostics forecasts now. The business case template "
                  "below is the one to take to your CFO.")
DEAL_ROOM_DAYS = 90


def load_deal_room(session: Session, today: date | None = None) -> bool:
    """The demo champion's deal room: an open Contoso Health deal and Ryan's share link with
    two external items on it, made again only when no such link still works. Returns whether
    anything was added."""
    today = today or utcnow().date()
    deal = session.scalar(select(Deal).where(Deal.source == DEAL_ROOM_DEAL["source"],
                                             Deal.crm_id == DEAL_ROOM_DEAL["crm_id"]))
    added = False
    if deal is None:
        deal = Deal(**DEAL_ROOM_DEAL, created_on=today - timedelta(days=20),
                    close_date=today + timedelta(days=45), is_closed=False)
        session.add(deal)
        session.flush()
        added = True
    rep = find_by_email(session, DEMO_USERS[2].email)
    live = session.scalar(select(ShareLink.id).where(
        ShareLink.deal_id == deal.id, ShareLink.created_by_id == rep.id,
        live_share_condition()).limit(1))
    if live is None:
        share_with_demo_champion(session, DEAL_ROOM_ITEMS, deal=deal, note=DEAL_ROOM_NOTE)
        added = True
    session.commit()
    return added


def share_with_demo_champion(session: Session, slugs, *, deal: Deal | None = None,
                             note: str = "") -> ShareLink:
    """A share link from Ryan to the demo champion's company of these items (the published
    external ones among them), in the caller's transaction. Nobody is sent it: its token is
    thrown away, only the hash is kept."""
    slugs = list(slugs)
    rep = find_by_email(session, DEMO_USERS[2].email)
    champion = DEMO_USERS[3]
    items = sorted(session.scalars(select(ContentItem).where(
        ContentItem.slug.in_(slugs), ContentItem.status == "published",
        ContentItem.audience == "external")), key=lambda item: slugs.index(item.slug))
    link = ShareLink(
        token_hash=hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest(),
        created_by_id=rep.id, deal_id=deal.id if deal else None,
        recipient_email=champion.email, company=champion.company, note=note,
        created_at=utcnow() - timedelta(days=2),
        expires_at=utcnow() + timedelta(days=DEAL_ROOM_DAYS))
    session.add(link)
    session.flush()
    if items:
        session.execute(insert(share_link_items), [
            {"share_id": link.id, "item_id": item.id, "position": position}
            for position, item in enumerate(items)])
    return link
