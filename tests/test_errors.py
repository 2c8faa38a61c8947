"""Promise 12 (fails closed and quietly) and promise 8 (redirects stay on the site).

A crash answers a page in words or JSON with a request id, never a traceback, whether or not
the app is in testing mode. `next` after log-in accepts only a local path: Django's
url_has_allowed_host_and_scheme vectors, and a few of our own, are the checklist.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import urlsplit

import pytest

from portal.security import is_local_path, safe_next
from tests.conftest import PASSWORD, page_token

SECRET_DETAIL = "password=hunter2 at /srv/portal/secret.py line 42"


def crash():
    raise RuntimeError(SECRET_DETAIL)


def crash_with_lookup():
    return {}["missing key " + SECRET_DETAIL]


@pytest.fixture
def crashing(app):
    """Test-only routes that raise, added before the app's first request."""
    app.add_url_rule("/boom", "boom", crash)
    app.add_url_rule("/boom-key", "boom_key", crash_with_lookup)
    app.add_url_rule("/api/v1/_boom", "api_boom", crash, methods=["GET", "POST"])
    return app


def assert_quiet(response) -> None:
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "hunter2", "secret.py", "RuntimeError", "KeyError", 'File "',
                 "werkzeug", "Werkzeug Debugger", "site-packages"):
        assert leak not in text, leak


@pytest.mark.parametrize("testing", [True, False])
def test_a_crash_answers_a_generic_page(app, crashing, testing, caplog):
    app.testing = testing
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    for path in ("/boom", "/boom-key"):
        with caplog.at_level(logging.ERROR, logger="portal"):
            response = client.get(path)
        assert response.status_code == 500
        assert response.mimetype == "text/html"
        assert_quiet(response)
        text = response.get_data(as_text=True)
        assert "Something went wrong on our side" in text
        request_id = re.search(r"Reference: ([0-9a-f]+)", text).group(1)
        # The details are in the log, under the same request id, for whoever runs the portal.
        assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize("testing", [True, False])
def test_a_crash_in_the_api_answers_generic_json(app, crashing, testing):
    app.testing = testing
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    # With its CSRF token, so the POST reaches the crash instead of being refused before it.
    headers = {"X-CSRFToken": page_token(client, "/login")}
    for method in ("GET", "POST"):
        response = client.open("/api/v1/_boom", method=method, json={}, headers=headers)
        assert response.status_code == 500, method
        assert response.is_json
        data = response.get_json()
        assert set(data) == {"error", "request_id"}
        assert re.fullmatch(r"[0-9a-f]{6,}", data["request_id"])
        assert_quiet(response)


def test_a_crash_does_not_propagate_even_by_default_in_testing(app, crashing):
    """PROPAGATE_EXCEPTIONS left unset: Flask would re-raise in testing mode, were it not for
    the portal's own handler."""
    app.config.pop("PROPAGATE_EXCEPTIONS", None)
    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert_quiet(response)


def test_404_and_405_are_pages_in_words(app, client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "There is nothing here" in response.get_data(as_text=True)
    assert_quiet(response)
    response = client.get("/logout")
    assert response.status_code == 405
    assert "not allowed" in response.get_data(as_text=True)
    assert "POST" in response.headers.get("Allow", "")
    response = client.post("/api/v1/stages", json={})
    assert response.status_code == 405 and response.is_json
    assert set(response.get_json()) == {"error", "request_id"}
    response = client.get("/api/v1/no-such-endpoint")
    assert response.status_code in (401, 404) and response.is_json


def test_bad_api_input_answers_json_not_a_crash(app, make_user, client, taxonomy):
    from content_library.services import users as user_service
    from portal.extensions import db

    _, email = make_user("rep")
    with app.app_context():
        token = user_service.issue_token(db.session, email)
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get("/api/v1/stages/no-such-stage/content", headers=headers)
    assert response.status_code == 404 and response.is_json
    # The stage exists (the taxonomy fixture): only the stakeholder is wrong.
    assert client.get("/api/v1/stages/understanding-offerings/content?stakeholder=cfo",
                      headers=headers).status_code == 200
    for bad in ("%00", "no-such-stakeholder"):
        response = client.get(f"/api/v1/stages/understanding-offerings/content?stakeholder={bad}",
                              headers=headers)
        assert response.status_code == 400 and response.is_json, bad
        assert "stakeholder" in response.get_json()["error"]
        assert_quiet(response)


# ---- promise 8: redirects stay on the site ---------------------------------------------------

OFF_SITE = [
    "//evil.example", "/\\evil.example", "https:evil.example", "javascript:alert(1)",
    "http://evil.example", "\x00/x", "/%09/evil.example", "///evil.example",
    "/\t/evil.example", "/\n/evil.example", " //evil.example", "\\\\evil.example",
    "/%2Fevil.example", "/%5Cevil.example", "HTTPS://evil.example", "data:text/html,x",
    "//evil.example/%2F..", "/\\/evil.example", "", None,
]

# Django's tests/utils_tests/test_http.py, URLHasAllowedHostAndSchemeTests.
DJANGO_BAD = [
    "http://example.com", "http:///example.com", "https://example.com", "ftp://example.com",
    r"\\example.com", r"\\\example.com", r"/\\/example.com", r"\\//example.com",
    r"/\/example.com", r"\/example.com", r"/\example.com", r"http:/\//example.com",
    r"http:\/example.com", r"http:/\example.com", 'javascript:alert("XSS")',
    "\njavascript:alert(x)", "\x08//example.com", r"http://otherserver\@example.com",
    r"http:\\testserver\@example.com", r"http://testserver\me:pass@example.com",
    r"http://testserver\@example.com", r"http:\\testserver\confirm\me@example.com",
    "http:999999999", "ftp:9999999999", "\n", "http://[2001:cdba:0000:0000:0000:0000:3257:9652/",
    "http://2001:cdba:0000:0000:0000:0000:3257:9652]/",
]
# Django's good URLs that are local paths (the portal refuses even same-host absolute URLs).
DJANGO_GOOD_LOCAL = [
    "/view/?param=http://example.com", "/view/?param=https://example.com",
    "/view?param=ftp://example.com", "/url%20with%20spaces/",
]


@pytest.mark.parametrize("target", OFF_SITE + DJANGO_BAD)
def test_is_local_path_refuses(target):
    assert not is_local_path(target)
    assert safe_next(target, "/home") == "/home"


@pytest.mark.parametrize("target", DJANGO_GOOD_LOCAL + ["/library?x=1", "/content/a-b#part",
                                                       "/stages/negotiating?stakeholder=cfo"])
def test_is_local_path_accepts(target):
    assert is_local_path(target)


def log_in_with_next(client, email: str, target: str | None):
    query = {} if target is None else {"next": target}
    page = client.get("/login", query_string=query).get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    if target is not None:
        data["next"] = target
    return client.post("/login", data=data)


def landing(response) -> tuple[str, str]:
    assert response.status_code == 302
    parts = urlsplit(response.headers["Location"])
    assert parts.scheme in ("", "http") and parts.netloc in ("", "localhost")
    return parts.path, parts.query


@pytest.mark.parametrize("target", [t for t in OFF_SITE if t])
def test_log_in_never_sends_anyone_off_site(app, make_user, target):
    _, email = make_user("rep")
    response = log_in_with_next(app.test_client(), email, target)
    assert landing(response) == ("/", "")


def test_log_in_keeps_a_local_next(app, make_user):
    _, email = make_user("rep")
    response = log_in_with_next(app.test_client(), email, "/library?x=1")
    assert landing(response) == ("/library", "x=1")


def test_the_whole_round_trip_returns_to_the_page_asked_for(app, make_user, make_item):
    make_item("pricing-faq")
    _, email = make_user("rep")
    client = app.test_client()
    first = client.get("/content/pricing-faq")
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert urlsplit(login_url).path == "/login"
    token = page_token(client, login_url)
    next_value = dict(p.split("=", 1) for p in urlsplit(login_url).query.split("&"))["next"]
    from urllib.parse import unquote

    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": token, "next": unquote(next_value)})
    assert landing(response) == ("/content/pricing-faq", "")


def test_a_champion_lands_on_their_own_page(app, make_user):
    _, email = make_user("champion")
    response = log_in_with_next(app.test_client(), email, "//evil.example")
    assert landing(response) == ("/shared", "")
