"""A burst of simultaneous wrong passwords against a real server: at most ten are checked.

The server runs in its own process (Werkzeug's threaded server on a loopback port) on the
test's database, SQLite or PostgreSQL; the guesses come from threads released at once.
"""

from __future__ import annotations

import http.client
import multiprocessing
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from sqlalchemy import func, select

from content_library.models import LoginFailure
from content_library.services.users import THROTTLE_LIMIT
from portal.extensions import db
from tests.browser_support import free_port

PORTS = range(5131, 5140)  # the loopback ports this test may use
GUESSES = 150



def _serve(config: dict, port: int) -> None:
    import logging

    from werkzeug.serving import make_server

    from portal import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    make_server("127.0.0.1", port, create_app(config), threaded=True).serve_forever()


def _wait_until_listening(port: int, server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert server.is_alive(), "the server process died"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def _guess(port: int, email: str, start: threading.Barrier) -> int:
    body = urlencode({"email": email, "password": "Wrong-password-1"})
    start.wait()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/login", body=body,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
        return connection.getresponse().status
    finally:
        connection.close()


def test_simultaneous_wrong_passwords_check_at_most_the_limit(app, app_config, make_user):
    _, email = make_user("rep")
    port = free_port(PORTS)
    config = {**app_config, "WTF_CSRF_ENABLED": False}
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(config, port),
                                                          daemon=True)
    server.start()
    try:
        _wait_until_listening(port, server)
        start = threading.Barrier(GUESSES)
        with ThreadPoolExecutor(GUESSES) as pool:
            statuses = list(pool.map(lambda _: _guess(port, email, start), range(GUESSES)))
    finally:
        server.terminate()
        server.join(10)

    checked = statuses.count(401)  # a checked wrong password; 429 is refused unchecked
    assert statuses.count(429) == GUESSES - checked, sorted(set(statuses))
    assert 1 <= checked <= THROTTLE_LIMIT, checked
    with app.app_context():
        recorded = db.session.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.key == f"account:{email}"))
    assert recorded == checked
