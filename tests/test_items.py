"""Saving items: validation, history that never loses a word, restore, conflicts, workflow."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from content_library.errors import Conflict, Invalid
from content_library.models import ContentItem, IndexChange, ItemVersion
from content_library.services import items as item_service
from portal.indexing import backend


def base_input(**changes) -> item_service.ItemInput:
    values = dict(slug="roi-story", title="ROI story", type="case-study", audience="external",
                  status="draft", stages=("understanding-offerings",))
    values.update(changes)
    return item_service.ItemInput(**values)


def test_every_save_keeps_the_previous_version_with_author_and_note(ctx, taxonomy, make_user):
    item, outcome = item_service.save_item(ctx, base_input(body="First words."), None)
    assert outcome == "created" and item.version == 1
    item, outcome = item_service.save_item(ctx, base_input(body="Second words."), None,
                                           note="tightened", existing=item)
    assert outcome == "updated" and item.version == 2
    versions = ctx.scalars(select(ItemVersion).order_by(ItemVersion.number)).all()
    assert [v.number for v in versions] == [1, 2]
    assert versions[0].snapshot["body"] == "First words."
    assert versions[1].note == "tightened"


def test_saving_without_changes_makes_no_new_version(ctx, taxonomy):
    item, _ = item_service.save_item(ctx, base_input(), None)
    _, outcome = item_service.save_item(ctx, base_input(), None, existing=item)
    assert outcome == "unchanged"
    assert ctx.scalar(select(func.count()).select_from(ItemVersion)) == 1


def test_restore_brings_back_old_words_as_a_new_version(ctx, taxonomy):
    item, _ = item_service.save_item(ctx, base_input(body="Original", summary="s1"), None)
    item_service.save_item(ctx, base_input(body="Rewritten", summary="s2"), None, existing=item)
    item_service.restore_version(ctx, item, 1, None)
    assert item.version == 3
    assert item.body == "Original" and item.summary == "s1"
    assert ctx.scalar(select(func.count()).select_from(ItemVersion)) == 3


def test_compare_shows_what_changed_per_field(ctx, taxonomy):
    old = item_service.snapshot(item_service.save_item(ctx, base_input(body="a\nb"), None)[0])
    new = dict(old, body="a\nc", stakeholders=["cfo"])
    changes = {c.field: c for c in item_service.compare(old, new)}
    assert set(changes) == {"body", "stakeholders"}
    assert ("-", "b") in changes["body"].lines and ("+", "c") in changes["body"].lines


def test_two_editors_from_the_same_version_get_a_conflict(ctx, taxonomy):
    item, _ = item_service.save_item(ctx, base_input(body="v1"), None)
    item_service.save_item(ctx, base_input(body="first editor"), None, expected_version=1,
                           existing=item)
    with pytest.raises(Conflict):
        item_service.save_item(ctx, base_input(body="second editor"), None, expected_version=1,
                               existing=item)
    ctx.expire_all()
    assert ctx.scalar(select(ContentItem.body)) == "first editor"


@pytest.mark.parametrize("changes, field", [
    ({"title": ""}, "title"),
    ({"slug": "Not A Slug"}, "slug"),
    ({"slug": "x" * 121}, "slug"),
    ({"status": "live"}, "status"),
    ({"audience": "everyone"}, "audience"),
    ({"type": "poem"}, "type"),
    ({"stages": ("nowhere",)}, "stages"),
    ({"stages": ()}, "stages"),
    ({"stakeholders": ("ceo",)}, "stakeholders"),
    ({"owner": "not-an-email"}, "owner"),
    ({"argument": {"value_statement": ["not", "a", "text"]}}, "argument.value_statement"),
    ({"argument": {"price": "secret"}}, "argument.price"),
])
def test_bad_input_names_the_field_and_saves_nothing(ctx, taxonomy, changes, field):
    with pytest.raises(Invalid) as caught:
        item_service.save_item(ctx, base_input(**changes), None)
    assert field in caught.value.reasons
    assert ctx.scalar(select(func.count()).select_from(ContentItem)) == 0
    assert ctx.scalar(select(func.count()).select_from(IndexChange)) == 0


def test_review_workflow_moves_and_refuses_impossible_moves(ctx, taxonomy):
    item, _ = item_service.save_item(ctx, base_input(), None)
    item_service.change_status(ctx, item, "in_review", None)
    item_service.change_status(ctx, item, "published", None)
    item_service.change_status(ctx, item, "archived", None)
    assert item.status == "archived" and item.version == 4
    with pytest.raises(Invalid):
        item_service.change_status(ctx, item, "in_review", None)


def test_a_rename_moves_the_item_in_the_index(ctx, taxonomy):
    item, _ = item_service.save_item(ctx, base_input(), None)
    assert "roi-story" in backend().fingerprints()
    item_service.save_item(ctx, replace(base_input(), slug="renamed"), None, existing=item)
    # Drained after commit: nothing is left pending when the index took it, and the old slug
    # is gone from the index, not left to answer searches with a dead link.
    assert ctx.scalar(select(func.count()).select_from(IndexChange)) == 0
    indexed = set(backend().fingerprints())
    assert "renamed" in indexed and "roi-story" not in indexed


def test_argument_lists_accept_one_item_per_line(ctx, taxonomy):
    argument = {"proof": "one\n\n two \n", "value_statement": "  Grow faster "}
    item, _ = item_service.save_item(ctx, base_input(argument=argument), None)
    assert item.argument == {"value_statement": "Grow faster", "proof": ["one", "two"]}
