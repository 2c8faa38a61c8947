"""Serving with gunicorn: deploy/gunicorn.conf.py with two workers, forked from a master that
already used the database, the usage recorder and the search index (`--preload`), or each
building its own app (the default). Both workers answer correctly: nothing open is shared
across the fork (portal/forking.py)."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from content_library.models import Base
from content_library.services import items as item_service
from content_library.services import taxonomy as taxonomy_service
from content_library.services import users as user_service
from content_library.services.index_feed import DatabaseFeed
from portal import create_app
from portal.extensions import db
from portal.indexing import backend
from search_index import sync
from tests.browser_support import free_port
from tests.conftest import TAXONOMY
from tests.gunicorn_support import stop

ROOT = Path(__file__).resolve().parent.parent
PORTS = range(5191, 5199)

# The app module gunicorn serves: everything opened before the fork, and each answer says
# which worker gave it.
WARM_MODULE = '''
import os

from portal import create_app

app = create_app()


@app.after_request
def _which_worker(response):
    response.headers["X-Worker-Pid"] = str(os.getpid())
    return response


with app.test_client() as client:
    assert client.get("/healthz").status_code == 200
    found = client.get("/api/v1/search?q=roi",
                       headers={"Authorization": "Bearer " + os.environ["WARM_TOKEN"]})
    assert found.status_code == 200 and found.get_json()["total"] == 1
assert app.extensions["search"] is not None
assert app.extensions["usage"].engine.pool.checkedin() >= 1
'''


def merge_taxonomy(session) -> None:
    """The tests' taxonomy (tests/conftest.py), committed."""
    for kind, entries in TAXONOMY.items():
        for position, entry in enumerate(entries):
            taxonomy_service.merge_tag(session, kind, entry, position)
    session.commit()


def one_item_library(session) -> None:
    """The tests' taxonomy and one published item, "roi-story"."""
    merge_taxonomy(session)
    item_service.save_item(session, item_service.ItemInput(
        slug="roi-story", title="ROI story", type="case-study", audience="external",
        status="published", stages=("negotiating",)), None)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'portal.db'}"
    return request.getfixturevalue("own_postgres_database")


@pytest.fixture
def settings(database_url, tmp_path):
    """A library with one indexed item and a rep's API token, as PORTAL_* settings."""
    values = {"DATABASE_URL": database_url, "SECRET_KEY": "serve-" + "k" * 40,
              "INDEX_DIR": str(tmp_path / "index"), "UPLOAD_DIR": str(tmp_path / "files")}
    app = create_app({**values, "TESTING": True})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        one_item_library(db.session)
        user_service.create_user(db.session, user_service.NewUser(
            email="serve.rep@example.com", name="Serve Rep", role="rep",
            password="Tangerine-Orbit-42"))
        token = user_service.issue_token(db.session, "serve.rep@example.com")
        sync.rebuild(backend(app), DatabaseFeed(db.session))
        db.session.close()
        db.engine.dispose()
    app.extensions["usage"].engine.dispose()
    return values, token


def _get(port: int, path: str, token: str):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        return response.status, response.getheader("X-Worker-Pid"), json.loads(response.read())
    finally:
        connection.close()


def _wait_until_serving(port: int, token: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            _get(port, "/healthz", token)
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start: " + log.read_text()[-3000:])


@pytest.mark.parametrize("preload", [True, False], ids=["preload", "default"])
def test_two_workers_answer_correctly(settings, tmp_path, preload, database_url):
    if not preload and not database_url.startswith("sqlite"):
        pytest.skip("the default mode shares nothing to begin with: once, on SQLite, is enough")
    values, token = settings
    (tmp_path / "warm_wsgi.py").write_text(WARM_MODULE)
    port = free_port(PORTS)
    env = {**os.environ, **{f"PORTAL_{k}": v for k, v in values.items()},
           "PORTAL_WORKERS": "2", "PORTAL_BIND": f"127.0.0.1:{port}", "WARM_TOKEN": token,
           "PORTAL_GUNICORN_LOG_LEVEL": "warning"}
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
               "--pythonpath", str(tmp_path), *(["--preload"] if preload else []), "warm_wsgi:app"]
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                  stderr=output)
    try:
        _wait_until_serving(port, token, server, log)
        # Rounds of concurrent requests until both workers have answered (the second may
        # still be starting when the first answers), every answer checked.
        workers: set[str] = set()
        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(12) as pool:
            while len(workers) < 2 and time.monotonic() < deadline:
                paths = ["/healthz", "/api/v1/search?q=roi", "/api/v1/stages"] * 8
                for path, status, worker, body in pool.map(
                        lambda path: (path, *_get(port, path, token)), paths):
                    assert status == 200, (path, body)
                    workers.add(worker)
                    if path == "/healthz":
                        assert body == {"status": "ok", "database": "ok", "index": "ok"}
                    elif path.startswith("/api/v1/search"):
                        assert body["total"] == 1 and body["results"][0]["slug"] == "roi-story"
                    else:
                        assert [stage["slug"] for stage in body] == [s["slug"] for s in TAXONOMY["stages"]]
        assert len(workers) == 2, workers
    finally:
        stop(server)
    errors = [line for line in log.read_text().splitlines() if "Traceback" in line or "ERROR" in line]
    assert not errors, log.read_text()[-3000:]


def test_a_forked_child_opens_its_own_connections(app, client, make_item):
    make_item("roi-story")
    with app.app_context():
        sync.rebuild(backend(app), DatabaseFeed(db.session))
    assert client.get("/healthz").status_code == 200
    engine = db.engine_of(app)
    assert engine.pool.checkedin() >= 1 and "search" in app.extensions
    reader, writer = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (the child reports through the pipe)
        os.close(reader)
        findings = {
            "pooled": db.engine_of(app).pool.checkedin(),
            "recorder_pooled": app.extensions["usage"].engine.pool.checkedin(),
            "search": "search" in app.extensions,
            "inherited": len(app.extensions.get("inherited", [])),
        }
        os.write(writer, json.dumps(findings).encode())
        os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        findings = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert findings == {"pooled": 0, "recorder_pooled": 0, "search": False, "inherited": 1}
    # The parent keeps what it had, and it still works.
    assert engine.pool.checkedin() >= 1 and "search" in app.extensions
    assert client.get("/healthz").get_json()["status"] == "ok"
