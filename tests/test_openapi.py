"""The OpenAPI document describes the API as it is: every route, and answers that match it."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import jsonschema
import pytest

from content_library.models import UsageEvent
from portal.api.openapi import document


def _api_routes(app) -> set[tuple[str, str]]:
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith("api_reference."):
            continue
        path = rule.rule.removeprefix("/api/v1")
        for part in rule.arguments:
            path = path.replace(f"<int:{part}>", f"{{{part}}}").replace(f"<{part}>",
                                                                        f"{{{part}}}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found.add((path, method.lower()))
    return found


def test_every_api_route_is_described_and_nothing_else(app):
    spec = document()
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    assert described == _api_routes(app)


def test_the_document_is_valid_openapi_3_1_json_schema(client):
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.json["openapi"] == "3.1.0"
    for name, schema in answer.json["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name


def _validator(spec: dict, schema: dict) -> jsonschema.Validator:
    # The document's own components resolve "#/components/schemas/…".
    return jsonschema.Draft202012Validator({**schema, "components": spec["components"]})


def _answer_schema(spec: dict, path: str, method: str, status: int) -> dict:
    answer = spec["paths"][path][method]["responses"][str(status)]
    return answer["content"]["application/json"]["schema"]


@pytest.fixture
def filled(app, make_item):
    make_item("roi-calculator", audience="external")
    make_item("pricing-sheet")
    with app.app_context():
        from portal.extensions import db

        db.session.add(UsageEvent(kind="view", item_slug="roi-calculator",
                                  occurred_at=datetime.now() - timedelta(days=1)))
        db.session.commit()


@pytest.mark.parametrize("path,url", [
    ("/search", "/api/v1/search?q=roi"),
    ("/search", "/api/v1/search"),
    ("/stages", "/api/v1/stages"),
    ("/content/{slug}", "/api/v1/content/roi-calculator"),
    ("/analytics/content", "/api/v1/analytics/content"),
    ("/analytics/effectiveness", "/api/v1/analytics/effectiveness"),
    ("/analytics/stages", "/api/v1/analytics/stages"),
    ("/analytics/searches", f"/api/v1/analytics/searches?from=2026-01-01&to={date.today()}"),
])
def test_answers_match_the_document(filled, client, make_user, login, path, url):
    login(make_user("manager")[1])
    spec = document()
    answer = client.get(url)
    assert answer.status_code == 200, answer.json
    _validator(spec, _answer_schema(spec, path, "get", 200)).validate(answer.json)


def test_errors_match_the_document(filled, client, make_user, login):
    login(make_user("rep")[1])
    spec = document()
    for url, status, path in (("/api/v1/content/no-such-item", 404, "/content/{slug}"),
                              ("/api/v1/search?per_page=0", 400, "/search"),
                              ("/api/v1/analytics/content", 403, "/analytics/content")):
        answer = client.get(url)
        assert answer.status_code == status
        _validator(spec, _answer_schema(spec, path, "get", status)).validate(answer.json)


def test_the_reference_page_lists_every_endpoint_without_signing_in(client):
    html = client.get("/api/v1/reference").get_data(as_text=True)
    for path, ops in document()["paths"].items():
        for method in ops:
            assert f"{method.upper()} /api/v1{path}" in html
    assert "<script" not in html.split("</head>")[1]  # rendered on the server


def test_a_new_share_and_its_revocation_match_the_document(filled, client, make_user, app):
    _, rep = make_user("rep")
    with app.app_context():
        from content_library.services.users import issue_token
        from portal.extensions import db

        token = issue_token(db.session, rep)
    headers = {"Authorization": f"Bearer {token}"}
    spec = document()
    made = client.post("/api/v1/shares", headers=headers, json={
        "content": ["roi-calculator"], "deal": None, "recipient": "cfo@buyer.example",
        "expires_in_days": 7})
    assert made.status_code == 201, made.json
    schema = spec["paths"]["/shares"]["post"]["responses"]["201"]["content"][
        "application/json"]["schema"]
    _validator(spec, schema).validate(made.json)
    gone = client.delete(f"/api/v1/shares/{made.json['id']}", headers=headers)
    assert str(gone.status_code) in spec["paths"]["/shares/{share_id}"]["delete"]["responses"]
