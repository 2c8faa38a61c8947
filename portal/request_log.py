"""One line per request on the `portal.access` logger, and the request id that ties a
complaint, an error page and the log together.

The id is the caller's `X-Request-ID` when it is a sane value (a proxy or load balancer
that made one), otherwise a new one; it goes back in the `X-Request-ID` response header and
on error pages (`errors.request_id`). The line carries the method, the path (share and
invitation tokens masked, no query string at all), the status, the time taken, the id, the
signed-in user's id and the client's address as ProxyFix gives it: never a password, a
token or a form. `PORTAL_LOG_FORMAT` is `json` (one JSON object a line, the production
default) or `text` (the development default).

Successful probes (/healthz, /readyz) are not logged: a load balancer asks every few
seconds. Failing ones are.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, request
from werkzeug.wsgi import ClosingIterator

from .health import PROBES

log = logging.getLogger("portal.access")

#: Where the request id lives in the WSGI environ.
REQUEST_ID = "portal.request_id"
_USER_ID = "portal.user_id"
_ENDPOINT = "portal.endpoint"
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
FORMATS = ("json", "text")

#: Paths whose next segment is a secret (a share link, a champion's invitation).
TOKEN_PATHS = ("s", "invitations")
_TOKEN_SEGMENT = re.compile(rf"^/({'|'.join(TOKEN_PATHS)})/[^/]+")


def masked(path: str) -> str:
    """The path as it may be logged: `/s/<token>/…` becomes `/s/[token]/…`."""
    return _TOKEN_SEGMENT.sub(r"/\1/[token]", path)


def new_request_id(given: str | None) -> str:
    return given if given and _SANE_ID.fullmatch(given) else secrets.token_hex(6)


def line(fields: dict, form: str) -> str:
    if form == "json":
        return json.dumps(fields, separators=(",", ":"), ensure_ascii=False)
    user = f" user={fields['user_id']}" if fields["user_id"] is not None else ""
    return (f"{fields['time']} {fields['remote_addr']} {fields['method']} {fields['path']} "
            f"{fields['status']} {fields['duration_ms']} ms (cpu {fields['cpu_ms']} ms) "
            f"id={fields['request_id']}{user}")


class RequestLog:
    """WSGI middleware, inside ProxyFix (so the address is the client's) and around the
    whole app (so a crash, a 404 and a static file are counted alike)."""

    def __init__(self, wsgi_app, form: str) -> None:
        self.wsgi_app = wsgi_app
        self.form = form

    def __call__(self, environ, start_response):
        started = time.perf_counter(), time.thread_time()
        request_id = environ[REQUEST_ID] = new_request_id(environ.get("HTTP_X_REQUEST_ID"))
        status = ["500"]

        def start(status_line, headers, exc_info=None):
            status[0] = status_line.split(" ", 1)[0]
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append(("X-Request-ID", request_id))
            return start_response(status_line, headers, exc_info)

        def done():
            self._write(environ, status[0], started)

        try:
            body = self.wsgi_app(environ, start)
        except BaseException:
            done()
            raise
        return ClosingIterator(body, done)

    def _write(self, environ, status: str, started: tuple[float, float]) -> None:
        if status == "200" and environ.get(_ENDPOINT) in PROBES:
            return
        path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        fields = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": environ.get("REQUEST_METHOD", ""),
            "path": masked(path),
            "status": int(status) if status.isdigit() else status,
            "duration_ms": round((time.perf_counter() - started[0]) * 1000, 1),
            # The worker thread's own CPU time: duration_ms less this is waiting (for the
            # database, for a core, for the GIL): on a busy host the two tell apart.
            "cpu_ms": round((time.thread_time() - started[1]) * 1000, 1),
            "request_id": environ.get(REQUEST_ID),
            "user_id": environ.get(_USER_ID),
            "remote_addr": environ.get("REMOTE_ADDR"),
        }
        log.info(line(fields, self.form))  # a handler's failure is its own (handleError)


class _Stderr(logging.StreamHandler):
    """Whatever sys.stderr is when a line is written (a test's capture, a server's pipe)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


class _WithoutRequestLines(logging.Filter):
    """Werkzeug's development server logs each request with its full path and query (a
    share token with it): our line replaces it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and record.msg.rstrip().endswith('"%s" %s %s'))


def _settle_logger() -> None:
    if log.level == logging.NOTSET:
        log.setLevel(logging.INFO)
    # Handlers configured by the operator (gunicorn's logconfig_dict, say) are left alone.
    if not log.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.propagate = False
    werkzeug = logging.getLogger("werkzeug")
    if not any(isinstance(f, _WithoutRequestLines) for f in werkzeug.filters):
        werkzeug.addFilter(_WithoutRequestLines())


def log_format(app: Flask) -> str:
    form = app.config.get("LOG_FORMAT") or ("json" if app.config["ENV"] == "production" else "text")
    if form not in FORMATS:
        raise RuntimeError(f"PORTAL_LOG_FORMAT must be json or text, not {form!r}.")
    return form


def init_app(app: Flask) -> None:
    """Call before ProxyFix wraps the app: the log must see the client's address."""
    form = log_format(app)
    _settle_logger()
    app.wsgi_app = RequestLog(app.wsgi_app, form)

    @app.after_request
    def _note_who(response):
        # Only a user already loaded for the page: the log never costs a query.
        person = g.get("_login_user")
        if person is not None and getattr(person, "is_authenticated", False):
            request.environ[_USER_ID] = person.id
        request.environ[_ENDPOINT] = request.endpoint
        return response
