"""Search relevance may not fall: the judged queries of bench/relevance_judgements.yaml run
through the search service on the demo library, and nDCG@10 and MRR stay above the floors
measured when they were written (docs/search.md has the figures). Raise a floor when a
change lifts the figures; never lower one to let a change through."""

from __future__ import annotations

import pytest
import yaml

from bench.relevance import demo_portal, load_judgements, mean_ndcg, mean_reciprocal_rank, measure
from content_library.services.demo import demo_library_path

#: (nDCG@10, MRR) measured on 2026-11-29, with partial matches and auto-correction, rounded down.
FLOORS = {"whoosh": (0.93, 0.97), "postgres": (0.89, 0.92)}
KINDS = {"plain", "typo", "stem", "synonym", "phrase", "partial", "filter"}


def test_the_judged_set_covers_every_kind_and_names_only_items_the_searcher_may_see():
    judgements = load_judgements()
    assert len(judgements) >= 40
    assert {j.kind for j in judgements} == KINDS
    items = {item["slug"]: item for item in yaml.safe_load(demo_library_path().read_text())["items"]}
    for judgement in judgements:
        for slug in judgement.grades:
            item = items[slug]
            assert item["status"] == "published", (judgement.query, slug)
            if judgement.role == "champion":
                assert item["audience"] == "external", (judgement.query, slug)


def test_relevance_on_the_whoosh_backend_stays_above_its_floor():
    with demo_portal() as app:
        results = measure(app, load_judgements())
    ndcg_floor, mrr_floor = FLOORS["whoosh"]
    assert mean_ndcg(results) >= ndcg_floor
    assert mean_reciprocal_rank(results) >= mrr_floor


@pytest.mark.postgres
def test_relevance_on_the_postgres_backend_stays_above_its_floor(scratch_database):
    server = scratch_database.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    with demo_portal(server, "postgres") as app:
        results = measure(app, load_judgements())
    ndcg_floor, mrr_floor = FLOORS["postgres"]
    assert mean_ndcg(results) >= ndcg_floor
    assert mean_reciprocal_rank(results) >= mrr_floor
