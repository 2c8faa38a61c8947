"""The set-up commands `make run` relies on."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from content_library.models import ContentItem, SynonymGroup, User
from portal import create_app
from portal.extensions import db


def test_demo_load_is_idempotent_and_rich(app, runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(args=["demo", "load"])
    assert "demo users created: 0" in second.output and "created 0, updated 0" in second.output
    with app.app_context():
        session = db.session
        assert session.scalar(select(func.count()).select_from(User)) == 11  # 4 roles, 7 more reps
        published = session.scalar(select(func.count()).select_from(ContentItem)
                                   .where(ContentItem.status == "published"))
        assert published >= 60
        assert session.scalar(select(func.count()).select_from(SynonymGroup)) >= 3


def test_setup_migrates_loads_the_demo_once_and_prints_the_log_ins(tmp_path, app_config,
                                                                  database_server):
    if database_server:
        pytest.skip("runs on SQLite: the migration tests cover PostgreSQL, and setup itself "
                    "is database-neutral")
    fresh = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}"})
    runner = fresh.test_cli_runner()
    first = runner.invoke(args=["setup"])
    assert first.exit_code == 0, first.output
    assert "demo users created: 11" in first.output and "ryan.rep@demo.example" in first.output
    again = runner.invoke(args=["setup"])
    assert again.exit_code == 0 and "demo not loaded" in again.output
    assert "index: missing 0, stale 0, extra 0, pending 0" in again.output
