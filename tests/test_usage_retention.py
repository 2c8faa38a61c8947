"""PORTAL_USAGE_RETENTION_DAYS: old events keep their counts and roles, not who did them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from content_library.models import UsageEvent, utcnow
from content_library.services import usage
from portal import create_app
from portal.extensions import db


def add_events(app, user_id: int, ages_in_days: list[int]) -> None:
    now = utcnow()
    with app.app_context():
        usage.write(db.engine, [
            usage.Event(kind="view", item_slug="roi-story", user_id=user_id, role="rep",
                        occurred_at=now - timedelta(days=age)) for age in ages_in_days])


def who(app) -> list[tuple[int | None, str]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(UsageEvent.user_id, UsageEvent.role).order_by(UsageEvent.id))]


def test_the_command_forgets_who_did_old_events_and_keeps_their_counts(app, runner, make_user):
    user_id, _ = make_user("rep")
    add_events(app, user_id, [731, 800, 729, 0])
    result = runner.invoke(args=["usage", "forget-old"])
    assert result.exit_code == 0, result.output
    assert "730 days" in result.output and ": 2" in result.output
    assert who(app) == [(None, "rep"), (None, "rep"), (user_id, "rep"), (user_id, "rep")]
    # Running it again changes nothing.
    assert runner.invoke(args=["usage", "forget-old"]).output.endswith(": 0\n")


def test_the_period_comes_from_the_configuration(app_config, app, make_user):
    user_id, _ = make_user("rep")
    add_events(app, user_id, [40, 20])
    short = create_app({**app_config, "USAGE_RETENTION_DAYS": 30})
    result = short.test_cli_runner().invoke(args=["usage", "forget-old"])
    assert result.exit_code == 0, result.output
    assert who(app) == [(None, "rep"), (user_id, "rep")]
    with short.app_context():
        db.engine.dispose()


def test_recording_forgets_old_identities_at_most_once_a_day(app, make_user, make_item, client,
                                                             login):
    make_item("roi-story")
    user_id, email = make_user("rep")
    add_events(app, user_id, [1000])
    login(email)
    client.get("/content/roi-story")  # the process's first recording runs the daily pass
    assert who(app) == [(None, "rep"), (user_id, "rep")]
    add_events(app, user_id, [1000])
    client.get("/content/roi-story")  # the same day: not again
    assert who(app)[2] == (user_id, "rep")


def test_a_large_backlog_is_forgotten_in_batches(app, make_user, monkeypatch):
    monkeypatch.setattr(usage, "FORGET_BATCH", 3)
    user_id, _ = make_user("rep")
    add_events(app, user_id, [900] * 7)
    with app.app_context():
        assert usage.forget_old(db.engine, 730) == 7
    assert {u for u, _ in who(app)} == {None}


@pytest.mark.parametrize("value", [0, -5, "soon", True])
def test_a_bad_retention_setting_stops_the_start(app_config, value):
    with pytest.raises(RuntimeError, match="PORTAL_USAGE_RETENTION_DAYS"):
        create_app({**app_config, "USAGE_RETENTION_DAYS": value})
