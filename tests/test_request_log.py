"""One line per request on `portal.access`: method, path, status, time, request id, user id
and the client's address, in JSON or text; the request id comes back as a header and on
error pages; no token, password or query string ever reaches the log."""

from __future__ import annotations

import json
import logging
import re

import pytest

from content_library.services.index_feed import DatabaseFeed
from portal import create_app
from portal.extensions import db
from portal.indexing import backend
from portal.request_log import log_format, masked, new_request_id
from search_index import sync
from tests.conftest import PASSWORD, page_token

FIELDS = {"time", "method", "path", "status", "duration_ms", "cpu_ms", "request_id", "user_id",
          "remote_addr"}


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def access_log():
    handler = Lines()
    logger = logging.getLogger("portal.access")
    logger.addHandler(handler)
    try:
        yield handler.lines
    finally:
        logger.removeHandler(handler)


@pytest.fixture
def json_app(app_config):
    return create_app({**app_config, "LOG_FORMAT": "json"})


def fetch(client, path: str, **options):
    """A request whose answer is read and closed: the line is written when it ends."""
    response = client.open(path, **options)
    response.get_data()
    response.close()
    return response


def records(lines: list[str]) -> list[dict]:
    return [json.loads(line) for line in lines]


def test_one_json_line_per_request(app, json_app, access_log):
    client = json_app.test_client()
    response = fetch(client, "/login")
    [entry] = records(access_log)
    assert set(entry) == FIELDS
    assert entry["method"] == "GET"
    assert entry["path"] == "/login"
    assert entry["status"] == 200
    assert isinstance(entry["duration_ms"], float) and entry["duration_ms"] >= 0
    assert isinstance(entry["cpu_ms"], float) and 0 <= entry["cpu_ms"] <= entry["duration_ms"] + 1
    assert entry["request_id"] == response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{12}", entry["request_id"])
    assert entry["user_id"] is None
    assert entry["remote_addr"] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", entry["time"])
    fetch(client, "/no-such-page")
    assert records(access_log)[1]["status"] == 404


def test_the_signed_in_user_is_named(app, json_app, make_user, access_log):
    user_id, email = make_user("rep")
    client = json_app.test_client()
    token = page_token(client)
    fetch(client, "/login", method="POST",
          data={"email": email, "password": PASSWORD, "csrf_token": token})
    fetch(client, "/")
    entries = records(access_log)
    assert entries[-1]["path"] == "/" and entries[-1]["user_id"] == user_id


def test_a_sane_request_id_is_kept_and_anything_else_replaced(json_app, access_log):
    client = json_app.test_client()
    for given in ("3f2a9c1e-77b0-4c55-9d1e-5a1f0c2b7e10", "lb.42:7"):
        response = fetch(client, "/login", headers={"X-Request-ID": given})
        assert response.headers["X-Request-ID"] == given
        assert records(access_log)[-1]["request_id"] == given
    for given in ("two words", "x" * 65, "<script>", "id\u00e9", ""):
        response = fetch(client, "/login", headers={"X-Request-ID": given})
        assert re.fullmatch(r"[0-9a-f]{12}", response.headers["X-Request-ID"]), given
        assert records(access_log)[-1]["request_id"] == response.headers["X-Request-ID"]
    assert new_request_id(None) != new_request_id(None)


def boom():
    raise RuntimeError("boom")


def test_error_pages_show_the_same_request_id(app_config, access_log):
    crashing = create_app({**app_config, "LOG_FORMAT": "json"})
    crashing.config["PROPAGATE_EXCEPTIONS"] = False
    crashing.add_url_rule("/boom", "boom", boom)
    client = crashing.test_client()
    response = fetch(client, "/boom", headers={"X-Request-ID": "from-the-proxy-1"})
    assert response.status_code == 500
    assert "Reference: from-the-proxy-1" in response.get_data(as_text=True)
    response = fetch(client, "/api/v1/no-such-thing")
    assert response.get_json()["request_id"] == response.headers["X-Request-ID"]
    statuses = [(e["path"], e["status"], e["request_id"]) for e in records(access_log)]
    assert statuses[0] == ("/boom", 500, "from-the-proxy-1")
    assert statuses[1][1] == 404 and statuses[1][2] == response.headers["X-Request-ID"]


def test_tokens_passwords_and_query_strings_never_reach_the_log(app, json_app, make_user,
                                                                access_log, capsys):
    _, email = make_user("rep")
    secret = "Qk3vZr8LwX1pT9sNc4Hb7yEa"
    client = json_app.test_client()
    for path in (f"/s/{secret}", f"/s/{secret}/files/2", f"/invitations/{secret}/accept",
                 f"/library?token={secret}&q=roi", f"/s/{secret}?token={secret}"):
        fetch(client, path)
    token = page_token(client)
    fetch(client, "/login", method="POST",
          data={"email": email, "password": secret, "csrf_token": token})
    paths = [entry["path"] for entry in records(access_log)]
    assert paths[:5] == ["/s/[token]", "/s/[token]/files/2", "/invitations/[token]/accept",
                         "/library", "/s/[token]"]
    everything = "\n".join(access_log) + capsys.readouterr().err
    assert secret not in everything
    assert "token=" not in everything


def test_masking_keeps_other_paths():
    assert masked("/s/abc") == "/s/[token]"
    assert masked("/s/abc/") == "/s/[token]/"
    assert masked("/search") == "/search"
    assert masked("/stages/s/x") == "/stages/s/x"
    assert masked("/api/v1/shares/12") == "/api/v1/shares/12"


def test_the_address_is_the_one_proxyfix_believes(app_config, access_log):
    direct = create_app({**app_config, "LOG_FORMAT": "json"})
    fetch(direct.test_client(), "/login", headers={"X-Forwarded-For": "203.0.113.9"})
    proxied = create_app({**app_config, "LOG_FORMAT": "json", "TRUSTED_PROXIES": 1})
    fetch(proxied.test_client(), "/login", headers={"X-Forwarded-For": "203.0.113.9"})
    assert [entry["remote_addr"] for entry in records(access_log)] == ["127.0.0.1", "203.0.113.9"]


def test_text_lines_and_the_format_setting(app, app_config, access_log):
    fetch(app.test_client(), "/login", headers={"X-Request-ID": "abc123"})
    assert re.fullmatch(r"\S+Z 127\.0\.0\.1 GET /login 200 [\d.]+ ms \(cpu [\d.]+ ms\) id=abc123",
                        access_log[-1])
    assert log_format(app) == "text"  # development's default
    production = {**app_config, "ENV": "production", "SECRET_KEY": "k3Y-" + "0123456789abcdef" * 3}
    assert log_format(create_app(production)) == "json"
    assert log_format(create_app({**production, "LOG_FORMAT": "text"})) == "text"
    with pytest.raises(RuntimeError, match="PORTAL_LOG_FORMAT"):
        create_app({**app_config, "LOG_FORMAT": "xml"})


def test_probes_are_logged_only_when_failing(app, json_app, access_log):
    client = json_app.test_client()
    fetch(client, "/readyz")  # the test database is made without migrations: not ready
    [entry] = records(access_log)
    assert (entry["path"], entry["status"]) == ("/readyz", 503)
    with json_app.app_context():
        sync.rebuild(backend(json_app), DatabaseFeed(db.session))
    assert fetch(client, "/healthz").status_code == 200
    assert len(access_log) == 1
