"""Bad numbers answer 400 (or 404 in a path), never 500; `page` past either end is clamped.

The main test walks `app.url_map` as every role: each GET route is called with every query
parameter the portal reads set to a hostile number (digits of other scripts, superscripts,
numbers past 64 bits or past int()'s 4,300-digit limit, signs, blanks, words), and each
`<int:…>` in a path is filled with the same kind of values, for GET and POST alike. A route
or parameter added later is covered without touching this file.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

import portal
from portal.health import PROBES
from portal.numbers import LARGEST_ID, page_number, whole_number
from portal.search.service import FACET_KINDS
from tests.conftest import csrf_from, log_in, page_token

ROLES = ("anonymous", "rep", "manager", "admin", "champion")
ITEM = "roi-calculator"

# '²' and '³' pass str.isdigit() but not int(); '①' the same; '٣' (Arabic-Indic three) passes
# both, and \d in a regular expression.
BAD_QUERY_VALUES = ("²", "①", "³", "٣", "1" + "0" * 25, "9" * 5000, "-1", "0", "", "abc",
                    "1.5", " 7", "+7", "1_0")
BAD_PATH_VALUES = ("²", "①", "٣", str(LARGEST_ID + 1), str(2**63), "1" + "0" * 25, "9" * 5000,
                   "-1", "1.5")

_ARG = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def query_names() -> set[str]:
    """Every query parameter the portal's code reads, found in its source."""
    names = {"page", "per_page", *FACET_KINDS}
    for source in Path(portal.__file__).parent.rglob("*.py"):
        names |= set(re.findall(r"""args\.get(?:list)?\(\s*["'](\w+)["']""", source.read_text()))
    return names


def path_for(rule, number: str) -> str:
    """The rule's path with `number` in each int argument and something real in the others."""
    def fill(match: re.Match) -> str:
        converter, name = match.groups()
        if converter == "int":
            return quote(number)
        if name == "kind":
            return "stages"
        if rule.rule.startswith("/admin/taxonomy"):
            return "negotiating"
        return ITEM
    return _ARG.sub(fill, rule.rule)


@pytest.fixture
def world(app, make_item, make_user):
    make_item(ITEM, title="ROI calculator")
    make_item("draft-plan", title="Draft plan", status="draft", audience="internal")
    make_user("rep", email="someone@example.com")


@pytest.fixture
def as_role(app, make_user, world):
    def sign_in(role: str):
        """A client of that role, and the CSRF token of its session."""
        client = app.test_client()
        if role == "anonymous":
            return client, page_token(client, "/login")
        _, email = make_user(role)
        assert log_in(client, email).status_code == 302
        return client, page_token(client, "/account")

    return sign_in


def answer_problem(response, what: str) -> str | None:
    body = response.get_data(as_text=True)
    response.close()
    if response.status_code >= 500:
        return f"{what}: {response.status_code}"
    if "Traceback" in body:
        return f"{what}: a traceback in the answer"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_no_route_answers_5xx_to_a_bad_number(app, as_role, role):
    client, token = as_role(role)
    # The probes read no input; their 503 says the test database is not migrated.
    rules = [r for r in app.url_map.iter_rules() if r.endpoint != "static" and r.endpoint not in PROBES]
    names = query_names()
    # The list really comes from the URL map and the source.
    assert {"/api/v1/search", "/search", "/library", "/admin/users/<int:user_id>"} <= \
        {r.rule for r in rules}
    assert {"page", "per_page", "q", "status"} <= names
    problems = []
    for rule in rules:
        if "GET" not in rule.methods:
            continue
        for value in BAD_QUERY_VALUES:
            path = path_for(rule, "1")
            response = client.get(path, query_string={name: value for name in names})
            problems.append(answer_problem(response, f"GET {path} with {value[:30]!r}"))
    for rule in rules:
        if not any(isinstance(c, portal.numbers.IdConverter) for c in rule._converters.values()):
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            for value in BAD_PATH_VALUES:
                path = path_for(rule, value)
                response = client.open(path, method=method, data={"csrf_token": token})
                problems.append(answer_problem(response, f"{method} {path[:80]}"))
                assert response.status_code in (302, 403, 404), (method, path[:80], role)
    problems = [p for p in problems if p]
    assert not problems, "\n".join(problems[:40])


# ---- what each bad number answers -------------------------------------------------------


@pytest.fixture
def rep(client, make_user, login, world):
    _, email = make_user("rep")
    return login(email)


@pytest.mark.parametrize("query", ["page=²", "page=①", "per_page=³", "page=٣", "per_page=101",
                                   "page=0", "per_page=0", "page=-1", "page=10001",
                                   "page=" + "9" * 5000, "page=1.5", "per_page=%207"])
def test_the_api_refuses_a_bad_page_with_a_json_error(rep, query):
    response = rep.get(f"/api/v1/search?{query}")
    assert response.status_code == 400 and response.is_json
    data = response.get_json()
    assert set(data) == {"error", "request_id"}
    name = query.split("=")[0]
    assert data["error"].startswith(f"{name} must be a whole number from 1 to ")


def test_the_api_takes_good_numbers(rep):
    body = rep.get("/api/v1/search?page=1&per_page=100").get_json()
    assert (body["page"], body["per_page"]) == (1, 100)
    body = rep.get("/api/v1/search?page=&per_page=").get_json()  # empty: the defaults
    assert (body["page"], body["per_page"]) == (1, 20)
    assert rep.get("/api/v1/search?page=0002").get_json()["page"] == 2


@pytest.mark.parametrize("path", ["/search", "/library"])
@pytest.mark.parametrize("value", ["²", "①", "٣", "abc", "1.5", " 2", "+2", "1_0"])
def test_a_page_in_other_digits_answers_a_page_in_words(client, make_user, login, world, path,
                                                        value):
    _, email = make_user("manager")
    login(email)
    response = client.get(path, query_string={"page": value})
    assert response.status_code == 400 and response.mimetype == "text/html"
    assert "The page number must be written in digits 0-9" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/search", "/library"])
@pytest.mark.parametrize("value", ["0", "-3", "99999", "1" + "0" * 40, ""])
def test_a_page_out_of_range_shows_the_nearest_page(client, make_user, login, world, path, value):
    _, email = make_user("manager")
    login(email)
    response = client.get(path, query_string={"page": value})
    assert response.status_code == 200


def test_page_numbers_clamp_and_refuse():
    assert [page_number(t, last=500) for t in (None, "", "1", "007", "0", "000", "-9", "500",
                                                "501", "9" * 40)] == \
        [1, 1, 1, 7, 1, 1, 1, 500, 500, 500]
    for text in ("²", "٣", "1.0", "1e3", " 1", "1 ", "1\n", "+1", "--1", "-"):
        with pytest.raises(Exception, match="digits 0-9"):
            page_number(text, last=500)


def test_whole_numbers_are_ascii_digits_within_bounds():
    assert whole_number("42", 1, 100) == 42
    assert whole_number("0042", 1, 100) == 42
    for text in (None, "", "²", "①", "٣", "4 2", "+42", "-42", "4_2", "101", "0", "42\n",
                 "9" * 20, "9" * 5000):
        assert whole_number(text, 1, 100) is None, text
    assert whole_number(str(LARGEST_ID), 0, LARGEST_ID) == LARGEST_ID


def test_ids_in_paths_are_ascii_digits_up_to_the_largest_id(client, make_user, login, world):
    rep_id, _ = make_user("rep")
    _, email = make_user("admin")
    login(email)
    # The rep's id written in Arabic-Indic digits names no page, as an id past what the
    # database holds names none: the same 404 as any missing thing.
    assert client.get(f"/admin/users/{rep_id}").status_code == 200
    arabic_indic = "".join(chr(0x660 + int(d)) for d in str(rep_id))
    for path in (f"/admin/users/{arabic_indic}", f"/admin/users/{LARGEST_ID + 1}",
                 "/admin/users/" + "9" * 30,
                 f"/admin/users/{2**63}", f"/content/{ITEM}/versions/²",
                 f"/content/{ITEM}/versions/{LARGEST_ID + 1}"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "There is nothing here" in response.get_data(as_text=True)
    assert client.get(f"/admin/users/{LARGEST_ID}").status_code == 404  # in range, no such user


def test_a_version_field_in_other_digits_saves_without_a_crash(app, client, make_user, login,
                                                               world):
    _, email = make_user("manager")
    login(email)
    page = client.get(f"/content/{ITEM}/edit").get_data(as_text=True)
    form = {"csrf_token": csrf_from(page), "slug": ITEM, "title": "ROI calculator, revised",
            "summary": "", "type": "case-study", "audience": "external", "status": "published",
            "stages": "understanding-offerings", "version": "¹"}
    response = client.post(f"/content/{ITEM}/edit", data=form)
    assert response.status_code < 500


# ---- a request to marketing stores what a person typed, within bounds ------------------------


def stored_requests(app) -> list[tuple[str, dict, str]]:
    from content_library.models import ContentRequest
    from portal.extensions import db

    with app.app_context():
        return [(r.query, r.filters, r.message) for r in db.session.query(ContentRequest)]


def ask(client, **fields):
    token = page_token(client, "/search?q=quantum")
    data = {"csrf_token": token, "query": "quantum", "filters": "{}", "message": "A case study"}
    return client.post("/search/request", data={**data, **fields}, follow_redirects=True)


def test_a_request_keeps_its_search_and_filters(app, rep):
    response = ask(rep, filters='{"stage": ["negotiating"], "stakeholder": ["cfo", "it"]}')
    assert "marketing sees your request" in response.get_data(as_text=True)
    assert stored_requests(app) == [
        ("quantum", {"stage": ["negotiating"], "stakeholder": ["cfo", "it"]}, "A case study")]


@pytest.mark.parametrize("filters,reason", [
    ('{"stage": ["' + "x" * 100_000 + '"]}', "take at most 4,000 characters"),
    ('{"stage": [' + ", ".join(['"negotiating"'] * 400) + "]}", "take at most 4,000 characters"),
    ('{"stage": [1, {"a": 2}]}', "must be lists of tags"),
    ('{"stage": "negotiating"}', "must be lists of tags"),
    ("[1, 2]", "must be lists of tags"),
    ("not json", "must be lists of tags"),
])
def test_oversized_or_misshapen_filters_are_refused_in_words(app, rep, filters, reason):
    response = ask(rep, filters=filters)
    assert response.status_code == 200  # back on the search page, which says why
    assert reason in response.get_data(as_text=True)
    assert stored_requests(app) == []


def test_an_overlong_message_is_refused_in_words(app, rep):
    response = ask(rep, message="x" * 2001)
    assert "cannot be longer than 2000 characters" in response.get_data(as_text=True)
    assert stored_requests(app) == []


def test_a_request_records_the_search_as_it_ran(app, rep):
    """The search reads only its first 256 characters; the request records those."""
    ask(rep, query="q" * 5000)
    assert stored_requests(app) == [("q" * 256, {}, "A case study")]


def test_the_service_caps_every_field(app, ctx, make_user):
    from content_library.errors import Invalid
    from content_library.models import User
    from content_library.services import content_requests

    user_id, _ = make_user("rep")
    someone = ctx.get(User, user_id)
    for query, filters, message, field in (
            ("q" * 257, {}, "x", "query"), ("q", {"stage": ["s" * 4000]}, "x", "filters"),
            ("q", {"stage": "s"}, "x", "filters"), ("q", {}, "m" * 2001, "message"),
            ("", {}, " ", "message")):
        with pytest.raises(Invalid) as caught:
            content_requests.request_content(ctx, someone, query=query, filters=filters,
                                             message=message)
        assert set(caught.value.reasons) == {field}


def test_a_file_part_or_a_json_body_is_not_taken_for_the_fields(app, rep):
    import io

    token = page_token(rep, "/search?q=quantum")
    big = io.BytesIO(b'{"stage": ["' + b"y" * 300_000 + b'"]}')
    response = rep.post("/search/request", content_type="multipart/form-data", data={
        "csrf_token": token, "query": "quantum", "message": "From a file part",
        "filters": (big, "filters.json")})
    assert response.status_code == 302
    assert stored_requests(app) == [("quantum", {}, "From a file part")]
    response = rep.post("/search/request", headers={"X-CSRFToken": token},
                        json={"query": "quantum", "filters": {"stage": ["z" * 9000]},
                              "message": ["not", "text"]})
    assert response.status_code == 302
    assert len(stored_requests(app)) == 1
