"""Promise 1 on every surface that exists today, and promise 10 (no mass assignment).

Six items, one per status and audience that matters, each with a file, all on one stage.
Five callers: a champion, a rep, a manager, an admin and nobody. Each surface must show
exactly what content_library.visibility allows, and an item a caller may not read must
answer exactly like a slug that does not exist.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from pypdf import PdfWriter
from sqlalchemy import select

from content_library import visibility
from content_library.models import ContentItem, User
from content_library.services import items as item_service
from content_library.services.files import store_file
from portal.extensions import db
from tests.champion_support import share
from tests.conftest import PASSWORD, log_in, page_token

STAGE = "understanding-offerings"
ITEMS = {
    "pub-ext": ("published", "external"),
    "pub-int": ("published", "internal"),
    "draft-ext": ("draft", "external"),
    "draft-int": ("draft", "internal"),
    "review-ext": ("in_review", "external"),
    "arch-ext": ("archived", "external"),
}
EVERY = set(ITEMS)
PUBLISHED = {"pub-ext", "pub-int"}
READS = {"champion": {"pub-ext"}, "rep": PUBLISHED, "manager": EVERY, "admin": EVERY}
LISTED = {"champion": {"pub-ext"}, "rep": PUBLISHED, "manager": PUBLISHED, "admin": PUBLISHED}
ROLES = ("champion", "rep", "manager", "admin")


def title(slug: str) -> str:
    return f"Item {slug.upper()}"


def pdf_bytes(marker: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.add_metadata({"/Title": marker})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.fixture
def world(app, taxonomy, make_user):
    """The six items, each saved once with its own PDF, all on one share link to the
    champions' company: a link opens only what is published and external."""
    with app.app_context():
        for slug, (status, audience) in ITEMS.items():
            attached = store_file(db.session, Path(app.config["UPLOAD_DIR"]),
                                  io.BytesIO(pdf_bytes(slug)), f"{slug}.pdf")
            item_service.save_item(db.session, item_service.ItemInput(
                slug=slug, title=title(slug), summary=f"Summary of {slug}", type="case-study",
                status=status, audience=audience, stages=(STAGE,), body=f"Body of {slug}",
            ), None, file=attached)
    share(app, list(ITEMS), by=make_user("rep")[1], company="Buyer Inc")
    return ITEMS


@pytest.fixture
def as_role(app, make_user, world):
    def sign_in(role: str):
        client = app.test_client()
        if role != "anonymous":
            _, email = make_user(role)
            assert log_in(client, email).status_code == 302
        return client

    return sign_in


def fetch(client, path: str):
    """GET, read the whole body and close: a sent file holds its handle until closed."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def page_words(response) -> str:
    """An answer's body without what differs from one request to the next."""
    text = response.get_data(as_text=True)
    text = re.sub(r"Reference: [0-9a-f]+", "Reference: …", text)
    return re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', 'name="csrf_token"', text)


def json_shape(response) -> dict:
    data = response.get_json()
    assert isinstance(data, dict)
    return {k: v for k, v in data.items() if k != "request_id"}


def assert_looks_missing(client, path_for_hidden: str, path_for_missing: str) -> None:
    hidden = fetch(client, path_for_hidden)
    missing = fetch(client, path_for_missing)
    assert hidden.status_code == missing.status_code == 404, path_for_hidden
    if missing.is_json:
        assert hidden.is_json
        assert json_shape(hidden) == json_shape(missing)
        assert set(hidden.get_json()) == {"error", "request_id"}
    else:
        assert page_words(hidden) == page_words(missing)
    body = hidden.get_data(as_text=True)
    assert "Traceback" not in body


def slugs_on_page(page: str) -> set[str]:
    # A card's link may carry the stage the rep was on (?stage=...), for usage tracking.
    return {m for m in re.findall(r'href="/content/([a-z0-9-]+)(?:\?[^"]*)?"', page) if m in ITEMS}


def titles_on_page(page: str) -> set[str]:
    return {slug for slug in ITEMS if title(slug) in page}


# ---- each role, every surface -------------------------------------------------------------


def check_one_item_surfaces(client, role: str) -> None:
    """The item page, the API item, the download and the inline preview."""
    for slug in ITEMS:
        page = client.get(f"/content/{slug}")
        api = client.get(f"/api/v1/content/{slug}")
        download = fetch(client, f"/content/{slug}/file")
        preview = fetch(client, f"/content/{slug}/file?inline=1")
        if slug in READS[role]:
            assert page.status_code == 200, (role, slug)
            assert title(slug) in page.get_data(as_text=True)
            assert api.status_code == 200 and api.get_json()["slug"] == slug
            assert api.get_json()["file_url"] == f"/content/{slug}/file"
            assert download.status_code == 200 and download.data.startswith(b"%PDF")
            assert preview.status_code == 200
        elif role == "rep" and ITEMS[slug][0] == "archived":
            # Staff are told an archived item was archived; the rest stays hidden.
            assert page.status_code == 410 and "was archived" in page.get_data(as_text=True)
            assert f"Body of {slug}" not in page.get_data(as_text=True)
            assert_looks_missing(client, f"/api/v1/content/{slug}", "/api/v1/content/no-such-item")
            assert_looks_missing(client, f"/content/{slug}/file", "/content/no-such-item/file")
        else:
            assert_looks_missing(client, f"/content/{slug}", "/content/no-such-item")
            assert_looks_missing(client, f"/api/v1/content/{slug}", "/api/v1/content/no-such-item")
            assert_looks_missing(client, f"/content/{slug}/file", "/content/no-such-item/file")
            assert_looks_missing(client, f"/content/{slug}/file?inline=1",
                                 "/content/no-such-item/file?inline=1")
            for response in (page, api, download, preview):
                assert title(slug).encode() not in response.data, (role, slug)
                assert b"%PDF" not in response.data, (role, slug)


def check_stage_pages(client, role: str) -> None:
    if role == "champion":
        assert client.get(f"/stages/{STAGE}").status_code == 403
        assert client.get("/").headers["Location"].endswith("/shared")
        return
    for query in ("", "?stakeholder=cfo", "?vertical=retail&solution=pipeline"):
        response = client.get(f"/stages/{STAGE}{query}")
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert slugs_on_page(page) == LISTED[role], (role, query)
        assert titles_on_page(page) == LISTED[role], (role, query)
    page = client.get("/").get_data(as_text=True)
    match = re.search(rf'href="/stages/{STAGE}">.*?class="stage-count">(\d+) item', page, re.S)
    assert match and int(match.group(1)) == len(LISTED[role]), role


def check_api_lists(client, role: str) -> None:
    if role == "champion":  # as on the stage pages: the playbooks are the seller's
        for path in ("/api/v1/stages", f"/api/v1/stages/{STAGE}/content"):
            response = client.get(path)
            assert response.status_code == 403 and set(response.get_json()) == {
                "error", "request_id"}, path
        return
    for query in ("", "?stakeholder=cfo", "?vertical=healthcare"):
        response = client.get(f"/api/v1/stages/{STAGE}/content{query}")
        assert response.status_code == 200
        assert {r["slug"] for r in response.get_json()["results"]} == LISTED[role], (role, query)
        text = response.get_data(as_text=True)
        for slug in EVERY - LISTED[role]:
            assert title(slug) not in text and f'"{slug}"' not in text
    stages = {s["slug"]: s for s in client.get("/api/v1/stages").get_json()}
    assert stages[STAGE]["count"] == len(LISTED[role]), role
    assert sum(s["count"] for s in stages.values()) == len(LISTED[role]), role


def check_shared_and_library(client, role: str) -> None:
    response = client.get("/shared")
    if role == "champion":
        assert response.status_code == 200
        assert titles_on_page(response.get_data(as_text=True)) == LISTED[role], role
    else:  # the deal room is a champion's; staff are sent to theirs
        assert response.status_code == 302 and response.headers["Location"] == "/"
    if role in ("manager", "admin"):
        assert titles_on_page(client.get("/library").get_data(as_text=True)) == EVERY
        for status in ("draft", "in_review", "archived"):
            page = client.get(f"/library?status={status}").get_data(as_text=True)
            assert titles_on_page(page) == {s for s, (st, _) in ITEMS.items() if st == status}
        assert client.get("/admin/taxonomy").status_code == 200
        assert client.get("/admin/users").status_code == (200 if role == "admin" else 403)
        return
    # A whole function the role may not use: 403, and the page names no item.
    for path in ("/library", "/library/new", "/admin/users", "/admin/users/new",
                 "/admin/taxonomy", "/content/pub-ext/edit"):
        response = client.get(path)
        assert response.status_code == 403, (role, path)
        assert titles_on_page(response.get_data(as_text=True)) == set()


def check_versions(client, role: str) -> None:
    if role in ("manager", "admin"):
        for slug in ITEMS:
            assert client.get(f"/content/{slug}/versions").status_code == 200
            assert client.get(f"/content/{slug}/versions/1").status_code == 200
        assert client.get("/content/no-such-item/versions").status_code == 404
        return
    for suffix in ("/versions", "/versions/1", "/versions/2"):
        answers = [client.get(f"/content/{slug}{suffix}") for slug in [*ITEMS, "no-such-item"]]
        statuses = {a.status_code for a in answers}
        assert len(statuses) == 1 and statuses <= {403, 404}, (role, suffix, statuses)
        assert len({page_words(a) for a in answers}) == 1, suffix  # nothing tells them apart


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_what_it_may(app, as_role, role):
    client = as_role(role)
    check_one_item_surfaces(client, role)
    check_stage_pages(client, role)
    check_api_lists(client, role)
    check_shared_and_library(client, role)
    check_versions(client, role)


@pytest.mark.parametrize("role, active", [(role, True) for role in ROLES]
                         + [("rep", False), ("auditor", True)])
def test_search_sees_internal_items_exactly_when_the_item_pages_do(role, active):
    person = User(role=role, active=active)
    internal = ContentItem(status="published", audience="internal")
    assert visibility.viewer_for(person).sees_internal is visibility.can_read(person, internal)
    assert visibility.viewer_for(None).sees_internal is False


def test_the_api_404_is_an_error_object(app, as_role):
    client = as_role("champion")
    response = client.get("/api/v1/content/draft-int")
    assert response.status_code == 404 and response.is_json
    data = response.get_json()
    assert set(data) == {"error", "request_id"}
    assert isinstance(data["error"], str) and data["error"]
    assert "draft-int" not in data["error"]  # not even the slug it was asked for


# ---- nobody logged in --------------------------------------------------------------------


def test_anonymous_pages_redirect_to_log_in(app, as_role):
    client = as_role("anonymous")
    paths = ["/", "/shared", f"/stages/{STAGE}", "/library", "/admin/users", "/account",
             *(f"/content/{s}" for s in ITEMS), *(f"/content/{s}/file" for s in ITEMS),
             "/content/pub-ext/versions", "/content/no-such-item"]
    for path in paths:
        response = fetch(client, path)
        assert response.status_code == 302, path
        assert response.headers["Location"].split("?")[0].endswith("/login"), path
        assert b"%PDF" not in response.data and b"Item " not in response.data


def test_anonymous_api_answers_401_json(app, as_role):
    client = as_role("anonymous")
    for path in ("/api/v1/stages", f"/api/v1/stages/{STAGE}/content", "/api/v1/content/pub-ext",
                 "/api/v1/content/no-such-item"):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.is_json and "error" in response.get_json()


def test_a_deactivated_champion_sees_nothing(app, make_user, world):
    uid, email = make_user("champion")
    client = app.test_client()
    log_in(client, email)
    with app.app_context():
        db.session.get(User, uid).active = False
        db.session.commit()
    assert client.get("/content/pub-ext").status_code == 302
    assert client.get("/api/v1/content/pub-ext").status_code == 401


# ---- promise 10: no mass assignment --------------------------------------------------------


def user_row(app, uid: int) -> dict:
    with app.app_context():
        person = db.session.get(User, uid)
        return {c: getattr(person, c) for c in ("id", "email", "name", "role", "company",
                                                "password_hash", "active", "session_version")}


SMUGGLED = {"role": "admin", "id": "999", "email": "boss@example.com", "active": "y",
            "password_hash": "$argon2id$v=19$m=8,t=1,p=1$AAAA$BBBB", "session_version": "77",
            "company": "Evil Corp", "is_admin": "1", "version": "42"}


def test_account_form_changes_only_the_password(app, make_user):
    uid, email = make_user("rep")
    client = app.test_client()
    log_in(client, email)
    before = user_row(app, uid)
    token = page_token(client, "/account")
    response = client.post("/account", data=dict(SMUGGLED, csrf_token=token,
                                                 current_password=PASSWORD,
                                                 new_password="Marigold-Harbour-77"))
    assert response.status_code == 302
    after = user_row(app, uid)
    assert after["password_hash"] != before["password_hash"]
    assert after["session_version"] == before["session_version"] + 1  # sessions end, by design
    for key in ("id", "email", "name", "role", "company", "active"):
        assert after[key] == before[key], key


def test_admin_user_form_changes_only_its_fields(app, make_user, login):
    _, admin_email = make_user("admin")
    uid, _ = make_user("rep", name="Rita Rep")
    client = login(admin_email)
    before = user_row(app, uid)
    token = page_token(client, f"/admin/users/{uid}")
    response = client.post(f"/admin/users/{uid}", data=dict(
        SMUGGLED, csrf_token=token, name="Rita Renamed", role="rep", active="y", company=""))
    assert response.status_code == 302
    after = user_row(app, uid)
    assert after["name"] == "Rita Renamed"
    for key in ("id", "email", "role", "password_hash", "active", "session_version", "company"):
        assert after[key] == before[key], key


def test_admin_cannot_smuggle_a_password_hash_when_creating(app, make_user, login):
    _, admin_email = make_user("admin")
    client = login(admin_email)
    token = page_token(client, "/admin/users/new")
    response = client.post("/admin/users/new", data=dict(
        SMUGGLED, csrf_token=token, email="new.person@example.com", name="New Person",
        role="rep", password="Juniper-Lantern-58"))
    assert response.status_code == 302
    with app.app_context():
        person = db.session.scalar(select(User).where(User.email == "new.person@example.com"))
        assert person.role == "rep" and person.company == ""
        assert person.password_hash != SMUGGLED["password_hash"]
        assert person.session_version != 77 and person.id != 999


def item_row(app, slug: str) -> dict:
    with app.app_context():
        item = item_service.get_item(db.session, slug)
        return {"id": item.id, "status": item.status, "owner": item.owner_email,
                "audience": item.audience, "version": item.version, "file_id": item.file_id,
                "file_name": item.file_name, "created_at": item.created_at,
                "title": item.title}


def test_a_rep_cannot_post_the_item_forms(app, make_user, make_item):
    make_item("pub-int", title=title("pub-int"), audience="internal")
    _, email = make_user("rep")
    client = app.test_client()
    log_in(client, email)
    token = page_token(client, "/account")
    before = item_row(app, "pub-int")
    response = client.post("/content/pub-int/edit", data={
        "csrf_token": token, "title": "Taken over", "type": "case-study", "audience": "external",
        "status": "published", "stages": STAGE, "owner": "rep@example.com"})
    assert response.status_code == 403
    response = client.post("/content/pub-int/status", data={"csrf_token": token,
                                                            "status": "archived"})
    assert response.status_code == 403
    response = client.post("/content/pub-int/versions/1/restore", data={"csrf_token": token})
    assert response.status_code == 403
    assert item_row(app, "pub-int") == before


def test_item_form_ignores_fields_it_does_not_name(app, make_user, login, world):
    # (the world: pub-int has a file, which the smuggled file fields must not touch)
    _, email = make_user("manager")
    client = login(email)
    before = item_row(app, "pub-int")
    token = page_token(client, "/content/pub-int/edit")
    response = client.post("/content/pub-int/edit", data={
        "csrf_token": token, "title": "Renamed", "slug": "pub-int", "type": "case-study",
        "audience": "internal",
        "status": "published", "stages": STAGE, "version": str(before["version"]),
        "id": "999", "file_id": "999", "file_name": "evil.html", "owner_email": "x@example.com",
        "created_at": "2000-01-01", "author_id": "1", "updated_at": "2000-01-01"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    after = item_row(app, "pub-int")
    assert after["title"] == "Renamed"
    assert after["version"] == before["version"] + 1
    for key in ("id", "status", "audience", "owner", "file_id", "file_name", "created_at"):
        assert after[key] == before[key], key
    with app.app_context():
        assert db.session.scalar(select(ContentItem).where(ContentItem.id == 999)) is None
