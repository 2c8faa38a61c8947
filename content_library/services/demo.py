"""The demo library: a fictional vendor's content and a person for every role."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload

from ..demo import story
from ..errors import Invalid
from ..models import ContentItem, ContentRequest, Deal, SearchLog, Stage, UsageEvent, User, utcnow
from .crm_exports import salesforce_id
from .deals_import import import_deals
from .exchange import ImportReport, import_library
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
    return created, report, load_story(session)


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
