"""The production server in tests: gunicorn with deploy/gunicorn.conf.py on a loopback port,
configured only by PORTAL_* variables, and a person's browser against it over real HTTP
(cookies, CSRF tokens read from the pages, redirects not followed)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import HTTPCookieProcessor, HTTPRedirectHandler, Request, build_opener

from portal import create_app
from portal.extensions import db
from tests.conftest import PASSWORD, csrf_from

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
PORTAL = Path(sys.executable).parent / "portal"


@contextmanager
def app_on(settings: dict):
    """The app on these settings, inside its context (db.session is its database); every
    connection it opened (database, usage recorder, search) is closed when the block ends,
    so none is left to the servers started next or in the way of dropping the database."""
    app = create_app({**settings, "TESTING": True})
    try:
        with app.app_context():
            try:
                yield app
            finally:
                db.session.close()
                db.engine.dispose()
    finally:
        search = app.extensions.get("search")
        if hasattr(search, "close"):
            search.close()
        app.extensions["usage"].engine.dispose()


def portal_env(settings: dict) -> dict:
    """The environment of a process configured by these settings (PORTAL_* variables)."""
    return {**os.environ, **{f"PORTAL_{key}": str(value) for key, value in settings.items()}}


def run_portal(settings: dict, *arguments: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`portal ARGUMENTS…` (the command line) on these settings; its output as text."""
    return subprocess.run([str(PORTAL), *arguments], cwd=ROOT, env=portal_env(settings),
                          capture_output=True, text=True, timeout=timeout, check=False)


@contextmanager
def gunicorn(settings: dict, port: int, log: Path, *, workers: int = 2, threads: int = 2):
    """Gunicorn serving the portal on 127.0.0.1:port until the block ends; its error log
    goes to `log`, which must hold no traceback at the end."""
    env = {**portal_env(settings), "PORTAL_WORKERS": str(workers), "PORTAL_THREADS": str(threads),
           "PORTAL_BIND": f"127.0.0.1:{port}", "PORTAL_GUNICORN_LOG_LEVEL": "warning"}
    with log.open("ab") as output:
        server = subprocess.Popen([str(GUNICORN), "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                                  cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=output)
    try:
        _wait_until_healthy(port, server, log)
        yield server
    finally:
        stop(server)
    problems = [line for line in log.read_text().splitlines()
                if "Traceback" in line or "[ERROR]" in line]
    assert not problems, log.read_text()[-4000:]


def stop(server: subprocess.Popen, grace: float = 30) -> None:
    """Stop gunicorn as a service manager would: SIGTERM, then SIGKILL after `grace` seconds."""
    server.send_signal(signal.SIGTERM)
    try:
        server.wait(grace)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _wait_until_healthy(port: int, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            if Visitor().get(port, "/healthz").status == 200:
                return
        except (URLError, OSError):
            pass
        time.sleep(0.2)
    raise AssertionError("gunicorn did not start: " + log.read_text()[-3000:])


class _KeepRedirects(HTTPRedirectHandler):
    def redirect_request(self, *_args, **_kwargs):
        return None  # the 302 itself is the answer the tests look at


class Answer:
    def __init__(self, status: int, headers, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


_VERSION = re.compile(r'name="version" type="hidden" value="(\d+)"')


class Visitor:
    """One person's browser. Its cookies go to every port of 127.0.0.1, as they would to
    every host behind one load balancer's name. `address` is the client address the
    reverse proxy puts in X-Forwarded-For (the hosts believe one proxy)."""

    def __init__(self, address: str | None = None, token: str | None = None) -> None:
        self.address, self.token = address, token
        self._opener = build_opener(HTTPCookieProcessor(CookieJar()), _KeepRedirects)

    def request(self, port: int, method: str, path: str, form: dict | None = None,
                body: dict | None = None, timeout: float = 60) -> Answer:
        headers = {}
        data = None
        if self.address:
            headers["X-Forwarded-For"] = self.address
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if form is not None:
            data = urlencode(form, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers,
                          method=method)
        try:
            with self._opener.open(request, timeout=timeout) as response:
                return Answer(response.status, response.headers, response.read())
        except HTTPError as error:
            with error:
                return Answer(error.code, error.headers, error.read())

    def get(self, port: int, path: str) -> Answer:
        return self.request(port, "GET", path)

    def post(self, port: int, path: str, form: dict) -> Answer:
        return self.request(port, "POST", path, form=form)

    def csrf(self, port: int, path: str = "/login") -> str:
        page = self.get(port, path)
        assert page.status == 200, (path, page.status)
        return csrf_from(page.text)

    def log_in(self, port: int, email: str, password: str = PASSWORD) -> Answer:
        return self.post(port, "/login", {"email": email, "password": password,
                                          "csrf_token": self.csrf(port)})

    def edit_form(self, port: int, slug: str) -> tuple[str, int]:
        """The item form's CSRF token and the version it was opened at."""
        page = self.get(port, f"/content/{slug}/edit")
        assert page.status == 200, (slug, page.status)
        return csrf_from(page.text), int(_VERSION.search(page.text).group(1))
