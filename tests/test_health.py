"""/healthz and /readyz: what a load balancer and an upgrade script ask, answered at once,
with no log-in, no cookie, no usage recorded; what failed is named (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import secrets
import shutil
import time
from pathlib import Path

import pytest
from flask_migrate import stamp, upgrade
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from content_library.models import UsageEvent
from content_library.services.index_feed import DatabaseFeed
from portal import create_app
from portal.extensions import db
from portal.health import code_revision, migrations_folder
from portal.indexing import backend
from search_index import sync
from tests.test_serving import one_item_library


def rebuild_index(app) -> None:
    with app.app_context():
        sync.rebuild(backend(app), DatabaseFeed(db.session))


def usage_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UsageEvent))


def assert_probe_answer(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    assert response.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers
    return response.get_json()


def test_healthy_portal_answers_ok_quickly(app, client, make_item):
    make_item("roi-story")
    rebuild_index(app)
    before = usage_count(app)
    assert_probe_answer(client.get("/healthz"), 200)  # the first opens the index handle
    started = time.perf_counter()
    for _ in range(10):
        data = assert_probe_answer(client.get("/healthz"), 200)
    assert (time.perf_counter() - started) / 10 < 0.1  # milliseconds, not a page's work
    assert data == {"status": "ok", "database": "ok", "index": "ok"}
    assert usage_count(app) == before


def test_probes_never_touch_a_signed_in_session(app, client, make_user, login):
    _, email = make_user("rep")
    login(email)
    # A page refreshes the signed-in session's cookie; the probes leave it alone.
    assert "Set-Cookie" in client.get("/").headers
    for path in ("/healthz", "/readyz"):
        response = client.get(path)
        assert "Set-Cookie" not in response.headers, path
        assert response.headers["Cache-Control"] == "no-store"


def test_probes_need_no_login_and_refuse_other_methods(client):
    assert client.get("/healthz").status_code in (200, 503)
    assert client.post("/healthz").status_code in (400, 405)  # no CSRF token, no POST route


def test_a_missing_index_is_named(app, client, make_item, app_config):
    make_item("roi-story")
    rebuild_index(app)
    assert assert_probe_answer(client.get("/healthz"), 200)["index"] == "ok"
    shutil.rmtree(app_config["INDEX_DIR"])  # the folder lost under a running process
    data = assert_probe_answer(client.get("/healthz"), 503)
    assert data == {"status": "failing", "database": "ok", "index": "needs rebuild"}


def test_an_index_that_cannot_be_opened_is_named(app_config, tmp_path):
    not_a_folder = tmp_path / "index-file"
    not_a_folder.write_text("not an index")
    broken = create_app({**app_config, "INDEX_DIR": str(not_a_folder)})
    data = assert_probe_answer(broken.test_client().get("/healthz"), 503)
    assert data["index"] == "unreachable"
    assert data["status"] == "failing"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a folder whatever its mode")
def test_an_unreadable_index_folder_is_named(app, client, make_item, app_config):
    make_item("roi-story")
    rebuild_index(app)
    folder = Path(app_config["INDEX_DIR"])
    folder.chmod(0)
    try:
        data = assert_probe_answer(client.get("/healthz"), 503)
    finally:
        folder.chmod(0o755)
    assert data["index"] in ("needs rebuild", "unreachable")


def test_an_unreachable_database_is_named(app_config, tmp_path, database_server):
    if database_server:
        gone = make_url(database_server).set(database=f"portal_gone_{secrets.token_hex(4)}")
        url = gone.render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path / 'no-such-folder' / 'portal.db'}"
    broken = create_app({**app_config, "DATABASE_URL": url})
    data = assert_probe_answer(broken.test_client().get("/healthz"), 503)
    assert data["database"] == "unreachable"
    assert data["status"] == "failing"
    data = assert_probe_answer(broken.test_client().get("/readyz"), 503)
    assert data["database"] == "unreachable"


@pytest.fixture
def migrated_url(request, tmp_path, database_server):
    """A database of its own, to migrate and stamp (SQLite, or a fresh PostgreSQL one)."""
    if not database_server:
        return f"sqlite:///{tmp_path / 'migrated.db'}"
    return request.getfixturevalue("own_postgres_database")


def test_readiness_follows_the_migrations(app_config, migrated_url):
    from alembic.script import ScriptDirectory

    migrated = create_app({**app_config, "DATABASE_URL": migrated_url})
    client = migrated.test_client()
    head = ",".join(code_revision(migrated))
    # Nothing applied yet: not ready, and both revisions said.
    data = assert_probe_answer(client.get("/readyz"), 503)
    assert data == {"status": "failing", "database_revision": None, "code_revision": head}
    with migrated.app_context():
        upgrade()
    data = assert_probe_answer(client.get("/readyz"), 200)
    assert data == {"status": "ok", "database_revision": head, "code_revision": head}
    # A database one migration behind the code (the code was deployed, `db upgrade` not run).
    older = ScriptDirectory(str(migrations_folder(migrated))).get_revision(head).down_revision
    with migrated.app_context():
        stamp(revision=older)
    data = assert_probe_answer(client.get("/readyz"), 503)
    assert data == {"status": "failing", "database_revision": older, "code_revision": head}
    with migrated.app_context():
        db.session.close()
        db.engine.dispose()
    migrated.extensions["usage"].engine.dispose()


def test_setup_builds_a_missing_index_so_the_portal_is_healthy(app_config, migrated_url, tmp_path):
    config = {**app_config, "DATABASE_URL": migrated_url, "INDEX_DIR": str(tmp_path / "new-index")}
    fresh = create_app(config)
    with fresh.app_context():
        upgrade()
        one_item_library(db.session)
    client = fresh.test_client()
    assert client.get("/healthz").get_json()["index"] == "needs rebuild"  # only the stand-in
    result = fresh.test_cli_runner().invoke(args=["setup"])
    assert result.exit_code == 0, result.output
    assert "library already has content" in result.output and "indexed 1 items" in result.output
    assert assert_probe_answer(client.get("/healthz"), 200)["index"] == "ok"
    again = fresh.test_cli_runner().invoke(args=["setup"])
    assert "indexed 1 items" not in again.output  # a complete index is only caught up
    with fresh.app_context():
        db.session.close()
        db.engine.dispose()
    fresh.extensions["usage"].engine.dispose()
