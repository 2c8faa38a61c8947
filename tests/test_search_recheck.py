"""The database's re-check of the search hits (portal/search/service._recheck): it answers
exactly the hits the person may read, and on SQLite looks them up by their slugs rather
than reading every published item through the status index (the planner's choice when
slug and status are asked at once: about 100 ms a search at 100,000 items)."""

from __future__ import annotations

from sqlalchemy import event, select

from content_library.models import User
from portal.extensions import db
from portal.search.service import _recheck
from tests.champion_support import share

SLUGS = ["open-story", "rep-only", "draft-story", "old-story", "shared-story", "no-such-item"]


def library(make_item):
    make_item("open-story")
    make_item("rep-only", audience="internal")
    make_item("draft-story", status="draft")
    make_item("old-story", status="archived")
    make_item("shared-story")


def test_the_recheck_keeps_only_what_each_person_may_read(app, make_item, make_user):
    library(make_item)
    make_user("rep", email="rep@example.com")
    make_user("champion", email="buyer@example.com")
    share(app, ["shared-story", "rep-only", "draft-story"], by="rep@example.com")
    with app.app_context():
        rep = db.session.scalar(select(User).where(User.email == "rep@example.com"))
        buyer = db.session.scalar(select(User).where(User.email == "buyer@example.com"))
        assert set(_recheck(db.session, rep, SLUGS)) == {"open-story", "rep-only", "shared-story"}
        assert set(_recheck(db.session, buyer, SLUGS)) == {"shared-story"}
        found = _recheck(db.session, rep, ["shared-story"])["shared-story"]
        assert [stage.slug for stage in found.stages] == ["understanding-offerings"]
        assert _recheck(db.session, rep, ["no-such-item"]) == {} and _recheck(db.session, rep, []) == {}


def test_the_recheck_never_reads_items_through_the_status_index(app, make_item, make_user):
    library(make_item)
    make_user("rep", email="rep@example.com")
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return  # PostgreSQL's planner picks the slug's index by itself
        rep = db.session.scalar(select(User).where(User.email == "rep@example.com"))
        asked = []

        def note(conn, cursor, statement, parameters, context, executemany):
            if "FROM content_items" in statement and "content_items.slug IN" in statement:
                asked.append((statement, parameters))

        event.listen(db.engine, "before_cursor_execute", note)
        try:
            assert _recheck(db.session, rep, SLUGS)
        finally:
            event.remove(db.engine, "before_cursor_execute", note)
        assert asked
        raw = db.engine.raw_connection()
        try:
            for statement, parameters in asked:
                plan = raw.cursor().execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
                details = " ".join(str(row[-1]) for row in plan)
                assert "ix_content_items_status" not in details, details
        finally:
            raw.close()


def test_the_cards_read_as_rows_are_those_built_from_whole_items(app, make_item, make_user):
    """Search and stage pages read a card's columns and all its tags in two statements;
    every field must be what the whole item gives: tags in the taxonomy's order, the
    type, the file mark, and the review mark (never for a buyer)."""
    from datetime import date, timedelta

    from content_library.models import ContentItem
    from content_library.services import catalog

    make_item("tagged", stakeholders=("it", "cfo"), solutions=("pipeline", "forecasting"),
              verticals=("retail",), stages=("negotiating", "understanding-offerings"),
              type="battle-card", review_by=date.today() - timedelta(days=3))
    make_item("bare", audience="internal", review_by=date.today() + timedelta(days=30))
    make_item("draft-one", status="draft")
    make_user("rep", email="rep@example.com")
    with app.app_context():
        rep = db.session.scalar(select(User).where(User.email == "rep@example.com"))
        items = list(db.session.scalars(select(ContentItem)))
        ids = [item.id for item in items]
        for buyer in (False, True):
            cards = catalog.readable_cards(db.session, rep, ids, date.today(), buyer=buyer)
            expected = {item.id: catalog.card(item, date.today(), buyer=buyer)
                        for item in items if item.status == "published"}
            assert cards == expected
        tagged = next(card for card in cards.values() if card.slug == "tagged")
        assert [tag.slug for tag in tagged.stages] == ["understanding-offerings", "negotiating"]
        assert [tag.slug for tag in tagged.stakeholders] == ["cfo", "it"]
        assert tagged.type.name == "Battle card"
        rep_cards = catalog.readable_cards(db.session, rep, ids, date.today())
        assert next(c for c in rep_cards.values() if c.slug == "tagged").stale
