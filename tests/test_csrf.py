"""Promise 5 (no state change without a CSRF token), promise 7 (sessions and their cookies)
and the parts of promise 6 that show at the log-in form.

The main test walks `app.url_map`: every rule that accepts POST, PUT, PATCH or DELETE is
called as a logged-in admin with a body that would change something, once without a token
and once with a forged one, and must answer 400 and leave every table as it was. A route
added later is covered without touching this file.
"""

from __future__ import annotations

import re
import time

import pytest
from flask import jsonify
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from content_library.models import Base, ContentItem, User
from content_library.services import items as item_service
from content_library.services import users as user_service
from portal import create_app
from portal.extensions import db
from portal.health import PROBES
from tests.conftest import PASSWORD, csrf_from, log_in, page_token

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
ITEM = "roi-calculator"
NEW_PASSWORD = "Marigold-Harbour-77"

# A body that every form of the portal would accept, were its token checked no more.
EVERYTHING = {
    "email": "someone.new@example.com", "name": "Changed Name", "role": "admin",
    "company": "Evil Corp", "active": "y", "password": NEW_PASSWORD,
    "current_password": PASSWORD, "new_password": NEW_PASSWORD,
    "title": "Smuggled title", "slug": "smuggled-slug", "summary": "Changed.",
    "type": "battle-card", "audience": "external", "status": "archived",
    "stages": "negotiating", "body": "changed", "note": "changed", "phase": "closed",
    "description": "changed", "buyer_goal": "changed", "exit_criteria": "changed",
    "up": "1", "version": "1",
}
EVERYTHING_JSON = {
    "content": [ITEM], "deal": None, "recipient": "buyer@example.com", "expires_in_days": 7,
    "kind": "view", "values": {"name": "x"},
}


# Tables a request writes to by design: recording a view is usage, and counting a request to a
# share page (to throttle guessing) is an attempt, as a failed log-in is.
RECORDINGS = ("usage_events", "login_failures")


def table_rows(app) -> dict[str, list]:
    """Every row of every table, the recordings aside."""
    with app.app_context(), db.engine.connect() as conn:
        return {
            table.name: sorted(repr(tuple(row)) for row in conn.execute(select(table)))
            for table in Base.metadata.sorted_tables if table.name not in RECORDINGS
        }


def sample_url(rule, values: dict) -> str:
    """A concrete URL for a rule, with an argument that names something that exists."""
    args = {}
    for name in rule.arguments:
        if rule.rule.startswith("/admin/taxonomy") and name == "slug":
            args[name] = "negotiating"
        elif name in values:
            args[name] = values[name]
        elif isinstance(rule._converters.get(name), IntegerConverter):
            args[name] = 1
        else:
            args[name] = ITEM
    return rule.build(args, append_unknown=False)[1]


@pytest.fixture
def admin_client(app, client, make_user, make_item, login):
    make_item(ITEM, title="ROI calculator", status="draft")
    admin_id, admin_email = make_user("admin", email="admin@example.com")
    rep_id, _ = make_user("rep", email="rep@example.com")
    login(admin_email)
    return client, {"user_id": rep_id, "kind": "stages", "number": 1, "id": 1}


def unsafe_rules(app):
    return sorted(
        ((rule, method) for rule in app.url_map.iter_rules() for method in UNSAFE
         if method in (rule.methods or ())),
        key=lambda pair: (pair[0].rule, pair[1]),
    )


def test_every_unsafe_route_refuses_a_request_without_a_valid_token(app, admin_client):
    client, values = admin_client
    routes = unsafe_rules(app)
    paths = {rule.rule for rule, _ in routes}
    # The list really comes from the URL map: the known forms are all in it.
    assert {"/login", "/logout", "/account", "/library/new", "/content/<slug>/edit",
            "/content/<slug>/status", "/admin/users/<int:user_id>"} <= paths
    before = table_rows(app)
    problems = []
    for rule, method in routes:
        url = sample_url(rule, values)
        for token in (None, "forged-" + "x" * 40):
            if rule.endpoint.startswith("api."):
                headers = {"X-CSRFToken": token} if token else {}
                response = client.open(url, method=method, json=EVERYTHING_JSON, headers=headers)
            else:
                data = dict(EVERYTHING, **({"csrf_token": token} if token else {}))
                response = client.open(url, method=method, data=data)
            if response.status_code != 400:
                problems.append(f"{method} {url} with token={token!r}: {response.status_code}")
            if "Traceback" in response.get_data(as_text=True):
                problems.append(f"{method} {url}: a traceback in the answer")
        if table_rows(app) != before:
            problems.append(f"{method} {url} changed the database without a token")
            before = table_rows(app)
    assert not problems, "\n".join(problems)
    # Still the same admin, still logged in: not even /logout acted without its token.
    assert client.get("/admin/users").status_code == 200


def test_the_same_requests_with_the_token_do_act(app, admin_client):
    """The control for the test above: its bodies are ones that change things."""
    client, values = admin_client
    token = page_token(client, "/account")
    before = table_rows(app)
    response = client.post(f"/content/{ITEM}/status", data={"status": "archived",
                                                            "csrf_token": token})
    assert response.status_code == 302
    assert table_rows(app) != before
    response = client.post(f"/admin/users/{values['user_id']}",
                           data=dict(EVERYTHING, csrf_token=token))
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(User, values["user_id"]).name == "Changed Name"


def test_the_csrf_refusal_is_a_page_in_words(app, admin_client):
    client, _ = admin_client
    response = client.post("/library/new", data=EVERYTHING)
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)
    assert response.mimetype == "text/html"


def test_items_untouched_by_refused_forms(app, admin_client):
    """Belt and braces for the generated test: the draft it targets is exactly as created."""
    client, _ = admin_client
    client.post(f"/content/{ITEM}/edit", data=dict(EVERYTHING, status="published"))
    with app.app_context():
        item = db.session.scalar(select(ContentItem).where(ContentItem.slug == ITEM))
        assert (item.status, item.title, item.version) == ("draft", "ROI calculator", 1)


def test_get_requests_change_nothing(app, admin_client):
    client, values = admin_client
    token = page_token(client, "/account")
    assert token
    before = table_rows(app)
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint == "static":
            continue
        # Even a GET carrying a whole form's fields and a token acts on nothing.
        response = client.get(sample_url(rule, values),
                              query_string=dict(EVERYTHING, csrf_token=token))
        # (A probe's 503 says the test database is not migrated: state, not this request.)
        assert response.status_code < 500 or rule.endpoint in PROBES, rule.rule
    assert table_rows(app) == before
    assert client.get("/logout").status_code == 405  # log-out is a form, never a link
    assert client.get("/admin/users").status_code == 200


# ---- log-in and log-out ----------------------------------------------------------------


def test_log_in_needs_the_token(app, client, make_user):
    _, email = make_user("rep")
    client.get("/login")
    response = client.post("/login", data={"email": email, "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/").status_code == 302  # still anonymous
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": "forged"})
    assert response.status_code == 400
    assert log_in(client, email).status_code == 302  # the control: with the token it works


def test_log_out_needs_the_token(app, client, make_user, login):
    _, email = make_user("rep")
    login(email)
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/").status_code == 200  # still logged in
    token = csrf_from(client.get("/").get_data(as_text=True))  # the layout's log-out form
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302


# ---- the JSON API ----------------------------------------------------------------------


@pytest.fixture
def probe(app):
    """A POST endpoint inside the API blueprint, as every future one will be (shares, usage,
    generate): the blueprint's own authentication and CSRF rules apply to it."""
    calls = []

    def record():
        calls.append(1)
        return jsonify({"ok": True}), 201

    app.add_url_rule("/api/v1/_probe", endpoint="api.probe", view_func=record, methods=["POST"])
    return calls


def test_api_post_on_the_session_cookie_needs_the_csrf_header(app, client, probe, make_user,
                                                              login):
    _, email = make_user("rep")
    login(email)
    response = client.post("/api/v1/_probe", json={"kind": "view"})
    assert response.status_code == 400
    assert set(response.get_json()) == {"error", "request_id"}
    response = client.post("/api/v1/_probe", json={}, headers={"X-CSRFToken": "forged"})
    assert response.status_code == 400
    # A bearer header that is not a real token does not excuse the cookie from CSRF.
    response = client.post("/api/v1/_probe", json={},
                           headers={"Authorization": "Bearer pt_not-a-real-token"})
    assert response.status_code == 400
    assert probe == []
    token = page_token(client, "/account")
    response = client.post("/api/v1/_probe", json={}, headers={"X-CSRFToken": token})
    assert response.status_code == 201
    assert probe == [1]


def test_api_post_with_a_bearer_token_needs_no_csrf(app, runner, probe, make_user):
    _, email = make_user("rep")
    result = runner.invoke(args=["users", "token", email])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token and "\n" not in token
    fresh = app.test_client()  # no cookie at all
    response = fresh.post("/api/v1/_probe", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert probe == [1]
    assert fresh.get("/api/v1/stages", headers={"Authorization": f"Bearer {token}"}).status_code \
        == 200


def test_api_post_with_neither_is_refused(app, probe):
    response = app.test_client().post("/api/v1/_probe", json={})
    assert response.status_code in (400, 401)
    assert "error" in response.get_json()
    assert probe == []


def test_a_bearer_token_counts_only_on_the_api(app, make_user, make_item):
    make_item(ITEM)
    _, email = make_user("manager")
    with app.app_context():
        token = user_service.issue_token(db.session, email)
    fresh = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert fresh.get("/library", headers=headers).status_code == 302  # to the log-in page
    response = fresh.post(f"/content/{ITEM}/status", data={"status": "archived"}, headers=headers)
    assert response.status_code == 400
    with app.app_context():
        assert item_service.get_item(db.session, ITEM).status == "published"


# ---- the session cookie and its timeouts (promise 7; renewal and ending: test_auth.py) ------


def _cookie_header(response, name="portal_session") -> str:
    found = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]
    assert found, f"no {name} cookie set"
    return found[-1]


def test_session_cookie_is_httponly_and_samesite_lax(app, client, make_user):
    _, email = make_user("rep")
    response = log_in(client, email)
    assert response.status_code == 302
    cookie = _cookie_header(response)
    assert "HttpOnly" in cookie
    assert re.search(r"SameSite=Lax", cookie)


def test_session_cookie_is_secure_in_production(app_config, tmp_path):
    config = dict(app_config, ENV="production", SECRET_KEY="k" + "3f9a1c7e" * 8)
    config.pop("TESTING")
    prod = create_app(config)
    with prod.app_context():
        Base.metadata.create_all(db.engine)
    assert prod.config["SESSION_COOKIE_SECURE"] is True
    client = prod.test_client()
    cookie = _cookie_header(client.get("/login", base_url="https://portal.example"))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    with prod.app_context():
        db.engine.dispose()


def test_absolute_timeout_ends_a_busy_session(app, client, make_user, monkeypatch):
    """A request every half idle timeout keeps the idle timeout from ever ending the session:
    only the absolute limit can, and it does."""
    _, email = make_user("rep")
    assert log_in(client, email).status_code == 302
    start = time.time()
    absolute = app.config["SESSION_ABSOLUTE_HOURS"] * 3600
    idle = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
    elapsed = 0.0
    while elapsed + idle / 2 < absolute:
        elapsed += idle / 2
        monkeypatch.setattr(time, "time", lambda now=start + elapsed: now)
        assert client.get("/").status_code == 200, f"ended after {elapsed / 3600:.1f} hours"
    past_the_limit = absolute + 60
    assert past_the_limit - elapsed < idle  # still inside the idle timeout
    monkeypatch.setattr(time, "time", lambda: start + past_the_limit)
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_idle_timeout_ends_a_quiet_session(app, client, make_user, monkeypatch):
    _, email = make_user("rep")
    assert log_in(client, email).status_code == 302
    quiet = time.time() + app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() + 60
    monkeypatch.setattr(time, "time", lambda: quiet)
    assert client.get("/").status_code == 302


def test_idle_timeout_is_short_and_the_cookie_expires(app, client, make_user):
    _, email = make_user("rep")
    cookie = _cookie_header(log_in(client, email))
    assert app.config["PERMANENT_SESSION_LIFETIME"].total_seconds() <= 8 * 3600
    assert "Expires=" in cookie


# ---- promise 6: no default admin (the rest of it is in test_auth.py) -----------------------


def test_no_account_exists_before_someone_creates_one(app):
    with app.app_context():
        assert db.session.scalars(select(User)).all() == []
    for email, password in (("admin@example.com", "admin"), ("admin", "admin"),
                            ("admin@localhost", "password"), ("root@localhost", "root")):
        assert log_in(app.test_client(), email, password).status_code in (400, 401)
