"""A year in the life of the demo sales team, made up the same way every time.

Pure and deterministic (a seeded random generator, dates counted back from the given day):
the deals as a Salesforce Opportunities report and an OpportunityHistory export, so the demo
goes through the real import, and the usage, searches and content requests of the reps who
worked them. `content_library/services/demo.py` stores it.

The story the figures tell, on every analytics page and in the monthly review:

- about 130 deals closed over the year (won, lost to competition, lost to no decision),
  a good share of them in the last 30 days, and 30 still open;
- the business case template (`HELPING_ITEM`) goes with won deals: most won deals used it,
  few lost ones did, so its lift is clearly positive, on enough deals to show;
- the status-quo battle card turns up in deals lost to no decision;
- one published item (`NEVER_USED`) that nobody ever opens;
- searches that find nothing, again and again, and a few requests for what is missing.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

SEED = 2026
CLOSED_DEALS = 130
CLOSED_RECENTLY = 30  # of those, closed in the last 30 days
OPEN_DEALS = 30
CRM_ID_PREFIX = "006Dm0"  # 15-character Salesforce ids, as a report shows them

HELPING_ITEM = "business-case-template-revenue-project"
NO_DECISION_ITEM = "battle-card-status-quo-spreadsheets"
NEVER_USED = "vignette-legal-review-stalls"
UNMAPPED_STAGE = "Qualification"  # a CRM stage name the portal does not know yet

ACCOUNTS = (
    "Calloway Industrial", "Brookfield Diagnostics", "Lumenstack", "Halvorsen Payments",
    "Ortega Supply", "Pellham Foods", "Northwind Clinics", "Ashgrove Logistics",
    "Beacon Ridge Health", "Cobalt Freight", "Driftwood Software", "Elmstead Retail",
    "Fairhaven Insurance", "Granite Peak Energy", "Harborview Medical", "Ironbridge Tools",
    "Juniper Analytics", "Kestrel Aerospace", "Larchmont Foods", "Meridian Labs",
    "Norcross Distribution", "Oakline Manufacturing", "Pinecrest Hospitals", "Quarry Hill SaaS",
    "Redwater Chemicals", "Silverline Telecom", "Tidewater Packaging", "Upland Dairy",
    "Vireo Biotech", "Westgate Components",
)
PROJECTS = ("Revenue forecasting", "Quote-to-cash", "Renewal risk", "Forecasting rollout",
            "CPQ replacement", "Retention programme")
LOST_TO_COMPETITION = ("Chose Vantora", "Lost to Forelane on price", "Went with Vantora's bundle",
                       "Forelane had the ERP connector", "Building it in-house")
LOST_TO_NO_DECISION = ("No decision: project shelved", "No budget this year",
                       "Status quo: staying on spreadsheets", "Do nothing until the reorg")
FOUND_QUERIES = ("roi", "business case", "battle card vantora", "case study healthcare",
                 "security questionnaire", "pricing", "implementation plan", "discovery questions",
                 "forecast accuracy", "mutual close plan", "cfo", "demo script")
NOT_FOUND_QUERIES = ("soc 2 type ii report", "nonprofit pricing", "gdpr data residency",
                     "hipaa baa template", "salesforce cpq migration", "public sector uk",
                     "arabic case study", "vantora price comparison")
# (what was searched, what the rep asked, stage, stakeholder, days ago, status, the item that
# answered it, marketing's note): one of each status, over the last two months.
REQUESTS = (
    ("soc 2 type ii report", "IT keeps asking for our SOC 2 Type II report before evaluation.",
     "running-evaluation", "it", 55, "completed", "security-questionnaire-standard-answers",
     "The standard answers now cover SOC 2 Type II; the report itself goes out under NDA."),
    ("nonprofit pricing", "Two charities in my pipeline: do we have nonprofit pricing?",
     "negotiating", "procurement-legal", 44, "declined", None,
     "No nonprofit list price: use the discount guidance and ask the deal desk."),
    ("hipaa baa template", "Hospitals want a BAA template at redlining.",
     "redlining-documents", "procurement-legal", 33, "accepted", None,
     "Legal is drafting one for next month."),
    ("", "A one-page comparison with Forelane for the CFO.", "comparing-vendors", "cfo", 20,
     "open", None, ""),
    ("gdpr data residency", "Where is EU customer data stored? Asked in every European deal.",
     "running-evaluation", "it", 9, "open", None, ""),
)


@dataclass(frozen=True)
class StoryStage:
    slug: str
    name: str
    forecast_category: str


@dataclass(frozen=True)
class StoryItem:
    id: int
    slug: str
    type: str
    stages: tuple[str, ...]
    has_file: bool


@dataclass
class StoryDeal:
    crm_id: str
    name: str
    account: str
    amount: int
    rep: str  # e-mail
    created: date
    close_date: date
    outcome: str | None  # None: open
    loss_reason: str = ""
    entries: list[tuple[datetime, str]] = field(default_factory=list)  # (entered, CRM stage)


@dataclass
class Story:
    deals: list[StoryDeal]
    events: list[dict]  # UsageEvent columns, with "user" (e-mail) and "deal" (CRM id)
    searches: list[dict]  # SearchLog columns, with "user"
    requests: list[dict]  # ContentRequest columns, with "user"


def build(today: date, stages: list[StoryStage], items: list[StoryItem],
          reps: list[str]) -> Story:
    """The whole story; `stages` are the open stages in order, `items` the published ones."""
    rng = random.Random(SEED)
    deals = _deals(rng, today, stages, reps)
    teller = _Teller(rng, today, stages, [i for i in items if i.slug != NEVER_USED])
    for deal in deals:
        teller.work(deal)
    for rep in reps:
        teller.browse(rep)
    return Story(deals, teller.events, teller.searches, teller.requests(reps))


# ---- deals --------------------------------------------------------------------------------


def _deals(rng: random.Random, today: date, stages: list[StoryStage],
           reps: list[str]) -> list[StoryDeal]:
    deals = []
    for number in range(CLOSED_DEALS + OPEN_DEALS):
        account = ACCOUNTS[number % len(ACCOUNTS)]
        deal = StoryDeal(
            crm_id=f"{CRM_ID_PREFIX}{number:09d}", account=account,
            name=f"{account} - {rng.choice(PROJECTS)}", amount=rng.randrange(30, 500) * 500,
            rep=reps[number % len(reps)], created=today, close_date=today, outcome=None)
        if number < CLOSED_DEALS:
            back = rng.randrange(0, 30) if number < CLOSED_RECENTLY else rng.randrange(30, 365)
            _close(rng, deal, today - timedelta(days=back), stages)
        else:
            _keep_open(rng, deal, today, stages)
        deals.append(deal)
    return deals


def _close(rng: random.Random, deal: StoryDeal, closed: date, stages: list[StoryStage]) -> None:
    roll = rng.random()
    if roll < 0.4:
        deal.outcome, last = "won", rng.randint(len(stages) - 3, len(stages) - 1)
    elif roll < 0.72:
        deal.outcome, last = "lost-competition", rng.randint(2, 4)
        deal.loss_reason = rng.choice(LOST_TO_COMPETITION)
    else:
        deal.outcome, last = "lost-no-decision", rng.randint(1, 2)
        deal.loss_reason = rng.choice(LOST_TO_NO_DECISION)
    deal.close_date = closed
    deal.created = closed - timedelta(days=rng.randint(30 + 10 * last, 60 + 15 * last))
    _walk(rng, deal, stages[:last + 1], datetime.combine(closed, time(9)))
    deal.entries.append((datetime.combine(closed, time(17)),
                         "Closed Won" if deal.outcome == "won" else "Closed Lost"))


def _keep_open(rng: random.Random, deal: StoryDeal, today: date, stages: list[StoryStage]) -> None:
    reached = rng.randint(0, len(stages) - 2)
    deal.created = today - timedelta(days=rng.randint(8 + 8 * reached, 30 + 12 * reached))
    deal.close_date = today + timedelta(days=rng.randint(14, 120))
    _walk(rng, deal, stages[:reached + 1], datetime.combine(today, time(0)))


def _walk(rng: random.Random, deal: StoryDeal, path: list[StoryStage], until: datetime) -> None:
    """Stage entries from the deal's creation to `until`, each stage a random share of it."""
    start = datetime.combine(deal.created, time(10))
    names = [s.name for s in path]
    if rng.random() < 0.15:
        names.insert(0, UNMAPPED_STAGE)
    shares = [rng.uniform(0.5, 1.5) for _ in names]
    span = (until - start) * 0.98
    moment = start
    for name, share in zip(names, shares, strict=True):
        deal.entries.append((moment.replace(microsecond=0), name))
        moment += span * (share / sum(shares))


def opportunities_csv(deals: list[StoryDeal], stages: list[StoryStage]) -> str:
    """The deals as a Salesforce Opportunities report exports them (report labels)."""
    category = {s.name: s.forecast_category for s in stages}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Opportunity ID", "Opportunity Name", "Account Name", "Stage", "Amount",
                     "Close Date", "Closed", "Won", "Forecast Category", "Loss Reason",
                     "Created Date"])
    for deal in deals:
        stage = deal.entries[-1][1]
        closed = deal.outcome is not None
        forecast = ("Closed" if deal.outcome == "won" else "Omitted" if closed
                    else category.get(stage, "Pipeline"))
        writer.writerow([deal.crm_id, deal.name, deal.account, stage, f"${deal.amount:,.2f}",
                         _us_date(deal.close_date), str(closed).upper(),
                         str(deal.outcome == "won").upper(), forecast, deal.loss_reason,
                         _us_date(deal.created)])
    return out.getvalue()


def history_csv(deals: list[StoryDeal]) -> str:
    """OpportunityHistory (API names): a row per stage change, and a row per edit of the
    amount that repeats the stage, as real exports have."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["OpportunityId", "StageName", "Amount", "CreatedDate"])
    for deal in deals:
        for position, (entered, stage) in enumerate(deal.entries):
            writer.writerow([deal.crm_id, stage, deal.amount, _iso(entered)])
            if position == 0:
                writer.writerow([deal.crm_id, stage, deal.amount, _iso(entered + timedelta(hours=2))])
    return out.getvalue()


def _us_date(day: date) -> str:
    return f"{day.month}/{day.day}/{day.year}"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


# ---- usage --------------------------------------------------------------------------------


class _Teller:
    """Writes down what the reps did, as usage events and search log rows."""

    def __init__(self, rng: random.Random, today: date, stages: list[StoryStage],
                 items: list[StoryItem]):
        self.rng, self.today = rng, today
        self.now = datetime.combine(today, time(0))
        self.at_stage = {s.slug: [i for i in items if s.slug in i.stages] for s in stages}
        self.slug_of = {s.name: s.slug for s in stages}
        self.by_slug = {i.slug: i for i in items}
        # Some items are simply more popular than others: a long tail, as in real libraries.
        self.items = sorted(items, key=lambda i: i.slug)
        self.rng.shuffle(self.items)
        self.popularity = [1 / (rank + 1) ** 0.9 for rank in range(len(self.items))]
        self.events: list[dict] = []
        self.searches: list[dict] = []
        self.linked: set[tuple] = set()

    def _event(self, kind: str, item: StoryItem | None, rep: str, at: datetime, *,
               stage: str | None = None, deal: str | None = None, **details) -> None:
        if kind == "used_in_deal":  # one link per rep, item and deal, as the portal keeps them
            if (rep, item.slug, deal) in self.linked:
                return
            self.linked.add((rep, item.slug, deal))
        self.events.append({"kind": kind, "item_id": item.id if item else None,
                            "item_slug": item.slug if item else None, "user": rep, "role": "rep",
                            "deal": deal, "stage": stage, "occurred_at": at,
                            "details": details})

    def _moment(self, start: datetime, end: datetime) -> datetime:
        end = min(end, self.now - timedelta(minutes=5))
        seconds = max(int((end - start).total_seconds()), 1)
        return start + timedelta(seconds=self.rng.randrange(seconds))

    def work(self, deal: StoryDeal) -> None:
        """At each stage of the deal, the rep looks up, copies and uses that stage's content."""
        ends = [entered for entered, _ in deal.entries[1:]] + [self.now]
        for (entered, name), left in zip(deal.entries, ends, strict=True):
            stage = self.slug_of.get(name)
            if stage is None or not self.at_stage.get(stage):
                continue
            for _ in range(self.rng.randint(2, 5)):
                item = self.rng.choice(self.at_stage[stage])
                at = self._moment(entered, left)
                self._event("view", item, deal.rep, at, stage=stage,
                            deal=deal.crm_id if self.rng.random() < 0.5 else None)
                if item.type == "sales-argument" and self.rng.random() < 0.5:
                    self._event("copy", item, deal.rep, at + timedelta(minutes=2), stage=stage,
                                part=self.rng.choice(("value_statement", "discovery_questions",
                                                      "proof", "financial_justification")))
                if self.rng.random() < 0.25:
                    self._use_in_deal(item, deal, at + timedelta(minutes=5), stage)
            self._story_items(deal, stage, entered, left)

    def _use_in_deal(self, item: StoryItem, deal: StoryDeal, at: datetime, stage: str) -> None:
        kind = "download" if item.has_file and self.rng.random() < 0.6 else "used_in_deal"
        self._event(kind, item, deal.rep, at, stage=stage, deal=deal.crm_id)

    def _story_items(self, deal: StoryDeal, stage: str, entered: datetime, left: datetime) -> None:
        helping = self.by_slug.get(HELPING_ITEM)
        if helping and stage == "building-business-case":
            chance = 0.85 if deal.outcome in ("won", None) else 0.12
            if self.rng.random() < chance:
                at = self._moment(entered, left)
                self._event("view", helping, deal.rep, at, stage=stage, deal=deal.crm_id)
                self._event("download", helping, deal.rep, at + timedelta(minutes=1), stage=stage,
                            deal=deal.crm_id)
                self._event("template_generated", helping, deal.rep, at + timedelta(minutes=9),
                            stage=stage, deal=deal.crm_id, format="docx")
                self._event("used_in_deal", helping, deal.rep, at + timedelta(minutes=10),
                            stage=stage, deal=deal.crm_id)
                if self.rng.random() < 0.2:
                    self._event("feedback", helping, deal.rep, at + timedelta(minutes=12),
                                stage=stage, useful=True,
                                comment="The champion took it straight to the CFO.")
        status_quo = self.by_slug.get(NO_DECISION_ITEM)
        if status_quo and stage in status_quo.stages:
            chance = 0.6 if deal.outcome == "lost-no-decision" else 0.08
            if self.rng.random() < chance:
                at = self._moment(entered, left)
                self._event("view", status_quo, deal.rep, at, stage=stage, deal=deal.crm_id)
                self._event("used_in_deal", status_quo, deal.rep, at + timedelta(minutes=3),
                            stage=stage, deal=deal.crm_id)

    def browse(self, rep: str) -> None:
        """Everyday use: a few items looked up most working days, and searches."""
        for back in range(365, 0, -1):
            day = self.today - timedelta(days=back)
            if day.weekday() >= 5:
                continue
            start = datetime.combine(day, time(8))
            for _ in range(self.rng.choice((0, 1, 1, 2, 3))):
                item = self.rng.choices(self.items, self.popularity)[0]
                stage = self.rng.choice(item.stages) if self.rng.random() < 0.6 else None
                self._event("view", item, rep, self._moment(start, start + timedelta(hours=10)),
                            stage=stage)
            if self.rng.random() < 0.6:
                self._search(rep, self._moment(start, start + timedelta(hours=10)))

    def _search(self, rep: str, at: datetime) -> None:
        if self.rng.random() < 0.2:
            # The same few gaps, the first ones most often: the findability backlog.
            query = self.rng.choices(NOT_FOUND_QUERIES, [8, 6, 5, 4, 3, 2, 2, 1])[0]
            results = 0
        else:
            query = self.rng.choice(FOUND_QUERIES)
            results = self.rng.randint(2, 14)
        self.searches.append({"query": query, "results": results, "role": "rep", "at": at,
                              "user": rep})
        self._event("search", None, rep, at, query=query, filters={}, results=results)
        if results and self.rng.random() < 0.7:
            item = self.rng.choices(self.items, self.popularity)[0]
            position = self.rng.randint(1, min(results, 5))
            self._event("search_open", item, rep, at + timedelta(seconds=20), query=query,
                        position=position)
            self._event("view", item, rep, at + timedelta(seconds=21))

    def requests(self, reps: list[str]) -> list[dict]:
        """Content requests, with "answer" (the answering item's slug) for the loader."""
        rows = []
        for n, (query, message, stage, stakeholder, back, status, answer, note) in enumerate(
                REQUESTS):
            asked = self.now - timedelta(days=back, hours=3)
            rows.append({"user": reps[n % len(reps)], "query": query, "filters": {},
                         "message": message, "stage": stage, "stakeholder": stakeholder,
                         "status": status, "answer": answer, "note": note, "created_at": asked,
                         "decided_at": None if status == "open" else asked + timedelta(days=4)})
        return rows
