"""Usage feeds ranking: stage pages by use at that stage, search's boost, and the decay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select

from content_library.models import ContentItem, UsageEvent, utcnow
from content_library.services.usage_ranking import (
    HALF_LIFE_DAYS,
    decayed_use,
    indexed_score,
    search_score,
    step_mark,
)
from portal.extensions import db
from portal.indexing import backend


def use(app, slug: str, times: int, *, stage: str | None = None, days_ago: float = 1,
        kind: str = "view") -> None:
    """`times` events on the item, `days_ago` days back, written as the recorder writes them."""
    with app.app_context():
        item_id = db.session.scalar(select(ContentItem.id).where(ContentItem.slug == slug))
        at = utcnow() - timedelta(days=days_ago)
        db.session.execute(insert(UsageEvent), [
            {"kind": kind, "item_id": item_id, "item_slug": slug, "role": "rep",
             "stage": stage, "occurred_at": at, "details": {}} for _ in range(times)])
        db.session.commit()


def stage_order(client, stage: str, slugs: list[str]) -> list[str]:
    page = client.get(f"/stages/{stage}").get_data(as_text=True)
    return sorted(slugs, key=lambda slug: page.index(f"/content/{slug}"))


@pytest.fixture
def rep(client, make_user, login):
    _, email = make_user("rep")
    return login(email)


def test_an_item_used_more_at_a_stage_comes_first_on_that_stage_page(app, make_item, rep):
    for slug in ("alpha-story", "beta-story"):
        make_item(slug, stages=["understanding-offerings", "negotiating"], stakeholders=["cfo"])
    # Alpha leads by title; beta is used at this stage, alpha only at another one.
    use(app, "beta-story", 3, stage="understanding-offerings")
    use(app, "alpha-story", 9, stage="negotiating")
    assert stage_order(rep, "understanding-offerings", ["alpha-story", "beta-story"]) == \
        ["beta-story", "alpha-story"]
    assert stage_order(rep, "negotiating", ["alpha-story", "beta-story"]) == \
        ["alpha-story", "beta-story"]
    listed = rep.get("/api/v1/stages/understanding-offerings/content").json["results"]
    assert [r["slug"] for r in listed] == ["beta-story", "alpha-story"]


def test_decay_makes_an_old_favourite_fade(app, make_item, rep):
    make_item("old-favourite", stages=["understanding-offerings"])
    make_item("new-hit", stages=["understanding-offerings"])
    use(app, "old-favourite", 40, stage="understanding-offerings", days_ago=200)
    use(app, "new-hit", 3, stage="understanding-offerings", days_ago=2)
    assert stage_order(rep, "understanding-offerings", ["old-favourite", "new-hit"]) == \
        ["new-hit", "old-favourite"]
    with app.app_context():
        ids = dict(db.session.execute(select(ContentItem.slug, ContentItem.id)).all())
        now = utcnow()
        fresh = decayed_use(db.session, now=now)
        # Forty uses 200 days ago weigh about 40 / 2^(200/30): under one use of today.
        assert fresh[ids["old-favourite"]] < 1 < fresh[ids["new-hit"]]
        # The same uses seen back when they were new made it the favourite.
        then = decayed_use(db.session, now=now - timedelta(days=199))
        assert then[ids["old-favourite"]] > 30 and ids["new-hit"] not in then
        # Over a year old, nothing at all.
        assert ids["old-favourite"] not in decayed_use(db.session, now=now + timedelta(days=200))


def test_one_half_life_halves_a_use():
    assert HALF_LIFE_DAYS == 30
    assert search_score(0) == 0 and search_score(20) == 0.5 and search_score(1e9) == 1.0
    for score in (0.0, 0.05, 0.5, 0.95, 1.0):
        assert indexed_score("a" * 32 + step_mark(score)) == score
    assert indexed_score("a" * 32) == 0.0


def test_a_search_tie_is_broken_by_usage(app, make_item, rep, runner):
    same = {"summary": "Discovery questions for the quarterly forecast review.",
            "stages": ["understanding-offerings"], "stakeholders": ["cfo"]}
    make_item("aaa-questions", title="Forecast discovery questions", **same)
    make_item("zzz-questions", title="Forecast discovery questions", **same)
    before = [r["slug"] for r in rep.get("/api/v1/search?q=forecast").json["results"]]
    use(app, before[1], 12, kind="download")
    result = runner.invoke(args=["index", "refresh-ranking"])
    assert result.exit_code == 0 and "usage ranking: 1 items re-indexed" in result.output
    after = rep.get("/api/v1/search?q=forecast").json["results"]
    assert [r["slug"] for r in after] == [before[1], before[0]]
    assert after[0]["score"] > after[1]["score"]
    # Nothing moved since: nothing is re-indexed, and the index check agrees.
    assert "usage ranking: 0 items" in runner.invoke(args=["index", "refresh-ranking"]).output
    assert "missing 0, stale 0, extra 0" in runner.invoke(args=["index", "check"]).output
    with app.app_context():
        assert indexed_score(backend().fingerprints()[before[1]]) == 0.35


def test_a_new_process_refreshes_the_ranking_on_its_first_request(app, app_config, make_item,
                                                                    make_user):
    from portal import create_app
    from tests.conftest import log_in

    make_item("aaa-questions", title="Forecast discovery questions")
    make_item("zzz-questions", title="Forecast discovery questions")
    use(app, "zzz-questions", 30, kind="used_in_deal", days_ago=0.5)
    _, email = make_user("rep")
    fresh = create_app(app_config).test_client()
    log_in(fresh, email)
    with app.app_context():
        assert indexed_score(backend().fingerprints()["zzz-questions"]) == 0.6
    assert fresh.get("/api/v1/search?q=forecast").json["results"][0]["slug"] == "zzz-questions"


def test_items_never_used_keep_their_fingerprints(app, make_item):
    make_item("quiet-item")
    with app.app_context():
        fingerprint = backend().fingerprints()["quiet-item"]
    assert len(fingerprint) == 32 and indexed_score(fingerprint) == 0.0


def test_a_request_moves_a_small_batch_and_the_command_moves_the_rest(
        app, app_config, make_item, make_user, runner, monkeypatch):
    # A request holds the index's writer lock only for a few records; the daily command
    # (and `portal setup`) catch up with everything.
    from portal import create_app, ranking
    from tests.conftest import log_in

    slugs = [f"used-{n}" for n in range(3)]
    for slug in slugs:
        make_item(slug, title=f"Forecast sheet {slug}")
        use(app, slug, 30, kind="used_in_deal", days_ago=0.5)
    monkeypatch.setattr(ranking, "REQUEST_BATCH", 1)
    _, email = make_user("rep")
    log_in(create_app(app_config).test_client(), email)
    with app.app_context():
        scores = [indexed_score(backend().fingerprints()[slug]) for slug in slugs]
    assert sorted(scores) == [0, 0, 0.6]
    assert "usage ranking: 2 items" in runner.invoke(args=["index", "refresh-ranking"]).output
