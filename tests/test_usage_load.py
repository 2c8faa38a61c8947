"""Promise 13 for usage: four gunicorn workers recording 1,000 events at once lose none, on
SQLite and on PostgreSQL; a worker killed mid-burst loses none it acknowledged.

The server is the production one (`gunicorn wsgi:app`, configured only by PORTAL_*
variables) on a loopback port; the events come from threads released together, each
through POST /api/v1/usage with a bearer token.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import func, select

from content_library.models import Base, UsageEvent
from content_library.services import items as item_service
from content_library.services import taxonomy as taxonomy_service
from content_library.services import users as user_service
from portal import create_app
from portal.extensions import db
from tests.browser_support import free_port
from tests.conftest import TAXONOMY
from tests.gunicorn_support import stop
from tests.search_library import fresh_database

PORTS = range(5181, 5190)  # the loopback ports this test may use
EVENTS = 1_000
THREADS = 100
ROOT = Path(__file__).resolve().parent.parent



@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'portal.db'}"
        return
    with fresh_database("portal_usage") as url:
        yield url


@pytest.fixture
def portal(database_url, tmp_path):
    """A library with one item, a rep's API token, and four gunicorn workers serving it."""
    settings = {"DATABASE_URL": database_url, "SECRET_KEY": "load-" + "k" * 40,
                "INDEX_DIR": str(tmp_path / "load-index"), "UPLOAD_DIR": str(tmp_path / "load-files")}
    app = create_app({**settings, "TESTING": True})
    with app.app_context():
        Base.metadata.create_all(db.engine)
        for kind, entries in TAXONOMY.items():
            for position, entry in enumerate(entries):
                taxonomy_service.merge_tag(db.session, kind, entry, position)
        db.session.commit()
        item_service.save_item(db.session, item_service.ItemInput(
            slug="roi-story", title="ROI story", type="case-study", audience="external",
            status="published", stages=("negotiating",)), None)
        user_service.create_user(db.session, user_service.NewUser(
            email="load.rep@example.com", name="Load Rep", role="rep",
            password="Tangerine-Orbit-42"))
        token = user_service.issue_token(db.session, "load.rep@example.com")
    port = free_port(PORTS)
    env = {**os.environ, **{f"PORTAL_{k}": v for k, v in settings.items()}}
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--workers", "4", "--bind",
             f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=output)
    try:
        _wait_until_serving(port, server, log)
        yield app, port, token, server
    finally:
        stop(server, grace=20)
        with app.app_context():
            db.session.close()
            db.engine.dispose()
        app.extensions["usage"].engine.dispose()


def _wait_until_serving(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-2000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")


def _report(port: int, token: str) -> int:
    """One POST /api/v1/usage; its status, or 0 when the connection broke before an answer."""
    body = json.dumps({"kind": "view", "content": "roi-story", "deal": None})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/api/v1/usage", body=body, headers={
            "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        return connection.getresponse().status
    except (OSError, http.client.HTTPException):
        return 0
    finally:
        connection.close()


def _burst(port: int, token: str, during=None, answered: list | None = None) -> list[int]:
    start = threading.Barrier(THREADS + (1 if during else 0))
    answered = [] if answered is None else answered

    def worker(_):
        start.wait()
        statuses = []
        for _ in range(EVENTS // THREADS):
            statuses.append(_report(port, token))
            answered.append(1)
        return statuses

    with ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(worker, n) for n in range(THREADS)]
        if during:
            start.wait()
            during()
        return [status for f in futures for status in f.result()]


def _stored(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(UsageEvent))
        db.session.close()
        return count


def test_four_workers_record_a_thousand_simultaneous_events_and_lose_none(portal):
    app, port, token, _ = portal
    statuses = _burst(port, token)
    assert statuses.count(201) == EVENTS, sorted(set(statuses))
    assert _stored(app) == EVENTS


def test_a_worker_killed_mid_burst_loses_no_acknowledged_event(portal):
    app, port, token, server = portal

    def kill_a_worker():
        while len(answered) < EVENTS // 3:  # well inside the burst, every worker busy
            time.sleep(0.01)
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True,
                                 text=True).stdout.split()
        assert workers, "no gunicorn workers found"
        os.kill(int(workers[0]), signal.SIGKILL)

    answered: list[int] = []
    statuses = _burst(port, token, during=kill_a_worker, answered=answered)
    acknowledged = statuses.count(201)
    # Every 201 is a stored event; a request cut off by the crash was never acknowledged
    # (its event may or may not have been stored before the kill).
    assert acknowledged <= _stored(app) <= EVENTS
    assert set(statuses) <= {201, 0}, sorted(set(statuses))
    assert server.poll() is None  # gunicorn replaced the worker and serves on
    assert _report(port, token) == 201
