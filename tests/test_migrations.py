"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from content_library.models import Base
from portal import create_app
from portal.extensions import db


def test_migrations_and_models_agree(app_config, tmp_path, database_server):
    config = dict(app_config)
    if not database_server:
        config["DATABASE_URL"] = f"sqlite:///{tmp_path / 'migrated.db'}"
    app = create_app(config)
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
        assert diff == [], diff
        Base.metadata.drop_all(db.engine)
        with db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


def test_db_upgrade_command_runs_on_an_empty_database(tmp_path, app_config, database_server):
    if database_server:
        pytest.skip("runs on SQLite (it reads sqlite_master): "
                    "test_migrations_and_models_agree covers PostgreSQL")
    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context(), db.engine.connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"content_items", "item_versions", "users", "stages", "index_changes"} <= tables
