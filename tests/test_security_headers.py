"""Promise 12's headers and start-up rules, and promise 3's backstop: the CSP.

Every kind of answer is checked: pages, JSON, error pages, JSON errors, redirects and
downloads. Production must refuse to start without a strong secret key, and never run debug.
"""

from __future__ import annotations

import re

import pytest

from content_library.models import Base
from portal import create_app
from portal.extensions import db

STRONG_KEY = "k" + "5d0c9e2b7a14f368" * 4


@pytest.fixture
def rep(make_user, make_item, login):
    make_item("pricing-faq", title="Pricing FAQ")
    _, email = make_user("rep")
    return login(email)


def directives(response) -> dict[str, str]:
    csp = response.headers.get("Content-Security-Policy", "")
    parts = (p.strip() for p in csp.split(";") if p.strip())
    return {p.split()[0]: p for p in parts}


def assert_common_headers(response, what: str) -> None:
    headers = response.headers
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") in ("same-origin", "no-referrer",
                                              "strict-origin-when-cross-origin"), what
    csp = directives(response)
    assert csp, f"{what}: no Content-Security-Policy"
    if "sandbox" in csp:  # an inline file preview: its own, stricter policy
        return
    assert csp.get("object-src") == "object-src 'none'", what
    assert csp.get("base-uri") == "base-uri 'none'", what
    assert csp.get("frame-ancestors") == "frame-ancestors 'none'", what
    script = csp.get("script-src") or csp.get("default-src", "")
    assert "'unsafe-inline'" not in script and "'unsafe-eval'" not in script, what
    assert "*" not in script.split(), what


def test_pages_carry_the_csp_with_a_fresh_nonce(app, rep):
    first = rep.get("/content/pricing-faq")
    second = rep.get("/content/pricing-faq")
    assert first.status_code == second.status_code == 200
    nonces = []
    for response in (first, second):
        assert_common_headers(response, "item page")
        script = directives(response)["script-src"]
        match = re.search(r"'nonce-([A-Za-z0-9_\-+/=]{16,})'", script)
        assert match, script
        nonces.append(match.group(1))
    assert nonces[0] != nonces[1]
    # The page itself runs no inline script: every <script> is a file from /static/, or
    # carries the nonce of its own answer.
    page = first.get_data(as_text=True)
    for tag in re.findall(r"<script\b[^>]*>", page, flags=re.I):
        assert re.search(r'src="/static/', tag) or f'nonce="{nonces[0]}"' in tag, tag


@pytest.mark.parametrize("path", ["/", "/content/pricing-faq", "/stages/understanding-offerings",
                                  "/account"])
def test_pages_are_never_stored_by_caches(app, rep, path):
    response = rep.get(path)
    assert response.status_code == 200
    assert_common_headers(response, path)
    assert "no-store" in response.headers.get("Cache-Control", "")


def test_the_login_page_for_anonymous_callers(app, client):
    response = client.get("/login")
    assert response.status_code == 200
    assert_common_headers(response, "/login")
    assert "no-store" in response.headers["Cache-Control"]


def test_api_json_carries_the_headers(app, rep):
    for path in ("/api/v1/stages", "/api/v1/content/pricing-faq"):
        response = rep.get(path)
        assert response.status_code == 200 and response.is_json
        assert_common_headers(response, path)
        assert "no-store" in response.headers["Cache-Control"]


def test_no_page_or_json_answer_is_kept_by_caches(app, rep):
    """Every GET route without arguments, suggestions as you type included: what they show
    depends on who asks."""
    paths = [rule.rule for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.arguments]
    assert "/search/suggest" in paths
    for path in paths:
        response = rep.get(path, query_string={"q": "pricing"})
        if response.mimetype in ("text/html", "application/json"):
            assert "no-store" in response.headers.get("Cache-Control", ""), path
    suggested = rep.get("/search/suggest?q=pri")
    assert suggested.is_json and suggested.get_json()
    assert suggested.headers["Cache-Control"] == "no-store"


def test_errors_carry_the_headers(app, client, rep):
    answers = {
        "page 404": rep.get("/content/no-such-item"),
        "page 405": rep.get("/logout"),
        "page 403": rep.get("/library"),
        "api 404": rep.get("/api/v1/content/no-such-item"),
        "api 401": app.test_client().get("/api/v1/stages"),
        "redirect": app.test_client().get("/library"),
        "csrf 400": rep.post("/library/new", data={"title": "x"}),
    }
    for what, response in answers.items():
        assert response.status_code >= 300, what
        assert_common_headers(response, what)
    for what in ("page 404", "api 404", "api 401", "page 403"):
        assert "no-store" in answers[what].headers.get("Cache-Control", ""), what


def test_hsts_on_https(app, rep):
    response = rep.get("/", base_url="https://localhost")
    assert "max-age=" in response.headers.get("Strict-Transport-Security", "")
    assert "Strict-Transport-Security" not in rep.get("/").headers


@pytest.mark.parametrize("trusted, hsts", [(0, False), (1, True)])
def test_hsts_through_a_proxy_only_when_the_proxy_is_trusted(app_config, trusted, hsts):
    proxied = create_app({**app_config, "TRUSTED_PROXIES": trusted})
    # TLS ended at the proxy, which says so; an untrusted header is anyone's to send.
    response = proxied.test_client().get("/login", headers={"X-Forwarded-Proto": "https"})
    assert ("max-age=" in response.headers.get("Strict-Transport-Security", "")) is hsts
    with proxied.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("name, value", [("TRUSTED_PROXIES", -1), ("TRUSTED_PROXIES", "two"),
                                         ("API_TOKEN_DAYS", 0), ("API_TOKEN_DAYS", True)])
def test_a_bad_number_setting_stops_the_start_naming_it(app_config, name, value):
    with pytest.raises(RuntimeError, match=f"PORTAL_{name}"):
        create_app({**app_config, name: value})


# ---- production start-up ------------------------------------------------------------------


def production_config(app_config, **extra) -> dict:
    config = {k: v for k, v in app_config.items() if k not in ("TESTING", "SECRET_KEY")}
    config["ENV"] = "production"
    config.update(extra)
    return config


@pytest.mark.parametrize("key", [None, "", "dev", "secret", "changeme", "short-key-123",
                                 "a" * 31, "x" * 64, "ab" * 32])
def test_production_refuses_a_missing_or_weak_secret_key(app_config, monkeypatch, key):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    extra = {} if key is None else {"SECRET_KEY": key}
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(production_config(app_config, **extra))


def test_production_refuses_from_the_environment_too(app_config, monkeypatch):
    monkeypatch.setenv("PORTAL_ENV", "production")
    monkeypatch.setenv("PORTAL_SECRET_KEY", "changeme")
    config = {k: v for k, v in app_config.items() if k not in ("TESTING", "SECRET_KEY")}
    with pytest.raises(RuntimeError):
        create_app(config)


@pytest.mark.parametrize("variable", ["PORTAL_DEBUG", "FLASK_DEBUG"])
def test_production_refuses_to_start_in_debug_mode(app_config, monkeypatch, variable):
    monkeypatch.setenv(variable, "1" if variable == "FLASK_DEBUG" else "true")
    with pytest.raises(RuntimeError, match="debug mode"):
        create_app(production_config(app_config, SECRET_KEY=STRONG_KEY))
    monkeypatch.delenv(variable)
    with pytest.raises(RuntimeError, match="debug mode"):
        create_app(production_config(app_config, SECRET_KEY=STRONG_KEY, DEBUG=True))


def test_production_starts_with_a_strong_key_and_debug_off(app_config):
    prod = create_app(production_config(app_config, SECRET_KEY=STRONG_KEY))
    assert prod.debug is False
    assert prod.config["SECRET_KEY"] == STRONG_KEY
    with prod.app_context():
        Base.metadata.create_all(db.engine)
    response = prod.test_client().get("/login")
    assert response.status_code == 200
    assert_common_headers(response, "production /login")
    with prod.app_context():
        db.engine.dispose()


def test_production_errors_stay_quiet(app_config):
    prod = create_app(production_config(app_config, SECRET_KEY=STRONG_KEY))

    def explode():
        raise RuntimeError("database password is hunter2")

    prod.add_url_rule("/explode", view_func=explode)
    with prod.app_context():
        Base.metadata.create_all(db.engine)
    response = prod.test_client().get("/explode")
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "Traceback" not in text and "Werkzeug Debugger" not in text
    assert_common_headers(response, "production 500")
    with prod.app_context():
        db.engine.dispose()
