"""What a new user stumbled on (issue 6, section 5), each through the pages a person uses."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from content_library.models import ContentItem, User
from portal.extensions import db
from tests.conftest import page_token


def text(response) -> str:
    return response.get_data(as_text=True)


def banner(html: str) -> str:
    match = re.search(r'<div class="alert" role="alert">(.*?)</div>', html, re.S)
    assert match, "no error banner at the top of the form"
    return match.group(1)


# ---- every error at once ------------------------------------------------------------------


def test_the_item_form_names_every_problem_at_once_upload_included(
        app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    response = client.post("/library/new", data={
        "csrf_token": page_token(client, "/library/new"), "title": "", "summary": "Kept words",
        "type": "", "audience": "external", "status": "draft",
        "file": (io.BytesIO(b"<html><script>alert(1)</script></html>"), "deck.pdf"),
    }, content_type="multipart/form-data")
    html = text(response)
    assert response.status_code == 400
    top = banner(html)
    for reason in ("Enter a title.", "Choose a content type.", "Choose at least one stage."):
        assert reason in top and reason in html.split("</div>", 1)[1]
    file_reason = re.search(r'<p class="error" id="file-error">([^<]+)</p>', html).group(1)
    assert "not" in file_reason and file_reason in top
    assert 'href="#file"' in top and "Kept words" in html
    assert "Enter a slug" not in html  # made from the title, which is reported already


def test_the_new_user_form_names_every_problem_at_once(client, make_user, login):
    _, email = make_user("admin")
    login(email)
    response = client.post("/admin/users/new", data={
        "csrf_token": page_token(client, "/admin/users/new"), "email": "new@example.com",
        "name": "", "role": "champion", "company": "", "password": "password1"})
    top = banner(text(response))
    assert response.status_code == 400
    assert "Enter the person" in top and "needs the name of their company" in top
    assert "too common" in top


def test_the_user_edit_form_names_every_problem_and_saves_nothing(
        app, client, make_user, login):
    _, email = make_user("admin")
    person_id, _ = make_user("rep", name="Rita Rep")
    login(email)
    response = client.post(f"/admin/users/{person_id}", data={
        "csrf_token": page_token(client, f"/admin/users/{person_id}"), "name": "",
        "role": "champion", "company": "", "active": "y", "new_password": "password1"})
    top = banner(text(response))
    assert response.status_code == 400
    assert "Enter the person" in top and "company" in top and "too common" in top
    with app.app_context():
        person = db.session.get(User, person_id)
        assert (person.name, person.role) == ("Rita Rep", "rep")


def test_a_refused_item_form_saves_nothing(app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    client.post("/library/new", data={
        "csrf_token": page_token(client, "/library/new"), "title": "T", "type": "nope",
        "audience": "external", "status": "draft", "stages": ["negotiating"]})
    with app.app_context():
        assert db.session.scalars(select(ContentItem)).all() == []


# ---- Markdown task lists ------------------------------------------------------------------


def test_task_lists_render_as_disabled_checkboxes(client, make_user, login, make_item):
    make_item("tasks", body="- [ ] Book the CFO meeting\n- [x] Send the ROI model\n\n"
                            "1. [X] Loose one\n\n2. [ ] Loose two")
    _, email = make_user("rep")
    login(email)
    html = text(client.get("/content/tasks"))
    body = html.split('class="body prose"')[1].split("</section>")[0]  # not the forms after it
    boxes = re.findall(r"<input[^>]*>", body)
    assert len(boxes) == 4
    assert all('type="checkbox"' in b and "disabled" in b for b in boxes)
    assert ["checked" in b for b in boxes] == [False, True, True, False]
    assert "[ ]" not in html and "[x]" not in html


def test_any_other_input_in_content_is_reduced_to_a_disabled_checkbox():
    from content_library.rendering import markdown_to_html

    html = markdown_to_html('<input type="text" name="q" value="x" formaction="http://evil" '
                            'onclick="alert(1)" aria-label="Pay here"> and a [ ] bracket')
    tag = re.search(r"<input[^>]*>", html).group(0)
    attributes = set(re.findall(r'([a-z-]+)="', tag))
    assert attributes == {"type", "disabled", "aria-label"}
    assert 'type="checkbox"' in tag and 'aria-label="Task"' in tag
    assert "[ ] bracket" in html  # only a list item's leading box becomes a checkbox


# ---- versions: names, and any two compared --------------------------------------------------


def _edit(client, slug: str, version: int, **changes):
    from tests.conftest import csrf_from

    data = {"csrf_token": csrf_from(text(client.get(f"/content/{slug}/edit"))), "title": "Hist",
            "slug": slug, "type": "case-study", "audience": "external", "status": "published",
            "stages": ["understanding-offerings"], "version": str(version), **changes}
    response = client.post(f"/content/{slug}/edit", data=data)
    assert response.status_code == 302, text(response)[:2000]


def test_the_version_page_shows_names_not_slugs(client, make_user, login, make_item):
    make_item("hist", title="Hist", stakeholders=["cfo"])
    _, email = make_user("manager", name="Maria Marketing")
    login(email)
    _edit(client, "hist", 1, type="battle-card", stages=["building-business-case"],
          stakeholders=["it"], owner=email)
    html = text(client.get("/content/hist/versions/1"))
    diff = html.split("What changed", 1)[1]
    for name in ("Case study", "Battle card", "Understanding offerings",
                 "Building a business case", "CFO", "IT", f"Maria Marketing ({email})"):
        assert name in diff
    for slug in ("case-study", "battle-card", "understanding-offerings", "building-business-case"):
        assert f"{slug}</span>" not in diff


def test_a_file_in_a_comparison_is_shown_by_its_name_not_its_hash():
    from content_library.services.items import compare

    digest = "ab" * 32
    old = {"file": {"sha256": digest, "name": "CFO deck.pdf"}}
    [change] = compare(old, {"file": None})
    assert change.lines == [("-", "CFO deck.pdf")]
    [same_name] = compare(old, {"file": {"sha256": "cd" * 32, "name": "CFO deck.pdf"}})
    assert [mark for mark, _ in same_name.lines] == ["-", "+"]
    assert digest not in repr(change) + repr(same_name)


def test_any_two_versions_can_be_compared(client, make_user, login, make_item):
    make_item("hist", title="Hist", body="one")
    _, email = make_user("manager")
    login(email)
    _edit(client, "hist", 1, body="two")
    _edit(client, "hist", 2, body="three")
    history = text(client.get("/content/hist/versions"))
    assert 'name="from"' in history and 'name="to"' in history
    html = text(client.get("/content/hist/versions/compare?from=3&to=1"))
    assert "From version 1 to version 3" in html
    assert re.search(r'class="del">- one', html) and re.search(r'class="add">\+ three', html)
    assert "two" not in html.split("From version", 1)[1]
    refused = client.get("/content/hist/versions/compare?from=2&to=x", follow_redirects=True)
    assert "Pick two different versions" in text(refused)
    assert client.get("/content/hist/versions/compare?from=1&to=9").status_code == 404


# ---- taxonomy, synonyms, coverage ---------------------------------------------------------


def test_a_taxonomy_entry_gets_its_slug_from_its_name(app, client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    created = client.post("/admin/taxonomy/verticals/new", data={
        "csrf_token": page_token(client, "/admin/taxonomy"), "slug": "",
        "name": "Banking & Insurance"})
    assert created.status_code == 302
    assert "<code>banking-insurance</code>" in text(client.get("/admin/taxonomy"))


def test_a_synonym_group_that_already_exists_is_refused_and_the_words_kept(
        app, client, make_user, login):
    _, email = make_user("manager")
    login(email)
    token = page_token(client, "/admin/synonyms")
    assert client.post("/admin/synonyms", data={
        "csrf_token": token, "terms": "ROI = return on investment = payback"}).status_code == 302
    for typed in ("Return on investment, roi", "payback = ROI"):
        again = client.post("/admin/synonyms", data={"csrf_token": token, "terms": typed})
        html = text(again)
        assert again.status_code == 400 and "already mean the same" in html
        assert re.search(rf">\s*{typed}</textarea>", html)
    assert client.post("/admin/synonyms", data={
        "csrf_token": token, "terms": "ROI = value"}).status_code == 302
    from content_library.services.search_words import synonym_groups

    with app.app_context():
        assert len(synonym_groups(db.session)) == 2


def test_the_everyone_column_of_the_coverage_matrix_is_not_a_row_of_gaps(
        client, make_user, login, make_item):
    make_item("for-cfo", stakeholders=["cfo"])
    _, email = make_user("manager")
    login(email)
    html = text(client.get("/coverage"))
    rows = re.findall(r"<tr>(.*?)</tr>", html.split("<tbody>")[1], re.S)
    assert len(rows) == 3
    for row in rows:
        last_cell = re.findall(r"<td[^>]*>", row)[-1]
        assert 'class="everyone"' in last_cell
    assert html.count('class="gap"') == 3 * 2 - 1  # CFO and IT per stage, less the one item


# ---- publishing, archiving, owners, log-in, archived pages -----------------------------------


def test_publishing_and_archiving_ask_for_confirmation_first(app, client, make_user, login,
                                                              make_item):
    make_item("ready", status="in_review", audience="external")
    _, email = make_user("manager")
    login(email)
    page = text(client.get("/content/ready"))
    assert 'href="/content/ready/status/published"' in page
    assert 'name="status" value="published"' not in page  # no one-click publish
    confirm = client.get("/content/ready/status/published")
    html = text(confirm)
    assert confirm.status_code == 200 and "Publish “Ready”?" in html and "champions" in html
    with app.app_context():
        assert db.session.scalar(select(ContentItem.status)) == "in_review"
    client.post("/content/ready/status", data={"csrf_token": page_token(client, "/content/ready"),
                                               "status": "published"})
    archive = text(client.get("/content/ready"))
    assert 'href="/content/ready/status/archived"' in archive
    assert 'name="status" value="archived"' not in archive
    assert "Archive “Ready”?" in text(client.get("/content/ready/status/archived"))


def _archive(client, slug: str, **fields):
    return client.post(f"/content/{slug}/status", data={
        "csrf_token": page_token(client, f"/content/{slug}"), "status": "archived", **fields})


def test_an_archived_item_tells_a_rep_what_replaced_it_and_a_champion_nothing(
        app, client, make_user, login, make_item):
    make_item("old-deck", title="Old deck", body="Old secret words")
    make_item("new-deck", title="New deck")
    _, manager = make_user("manager")
    login(manager)
    assert _archive(client, "old-deck", replaced_by="new-deck").status_code == 302
    assert 'href="/content/new-deck"' in text(client.get("/content/old-deck"))

    _, rep = make_user("rep")
    login(rep)
    gone = client.get("/content/old-deck")
    html = text(gone)
    assert gone.status_code == 410 and "“Old deck” was archived" in html
    assert 'href="/content/new-deck"' in html and "Old secret words" not in html

    _, champion = make_user("champion")
    login(champion)
    hidden, missing = client.get("/content/old-deck"), client.get("/content/no-such-item")
    assert hidden.status_code == missing.status_code == 404

    def words(response):
        return re.sub(r"Reference: [0-9a-f]+|csrf_token\" type=\"hidden\" value=\"[^\"]+", "",
                      text(response))

    assert words(hidden) == words(missing)


def test_archiving_refuses_a_replacement_that_is_not_published_and_keeps_the_note(
        app, client, make_user, login, make_item):
    make_item("old-deck")
    make_item("draft-deck", status="draft")
    _, manager = make_user("manager")
    login(manager)
    refused = _archive(client, "old-deck", replaced_by="draft-deck", note="Superseded in Q3")
    assert refused.status_code == 400
    assert "Choose a published item" in text(refused) and "Superseded in Q3" in text(refused)
    with app.app_context():
        assert db.session.scalar(select(ContentItem.status).where(
            ContentItem.slug == "old-deck")) == "published"
    assert _archive(client, "old-deck").status_code == 302  # no replacement is fine too
    _, rep = make_user("rep")
    login(rep)
    assert "deal stage" in text(client.get("/content/old-deck"))


def test_the_item_form_owner_must_be_a_known_user_but_imported_owners_stay(
        app, client, make_user, login, make_item):
    make_item("imported", owner="someone@elsewhere.example")
    _, manager = make_user("manager", name="Maria Marketing")
    login(manager)
    form_page = text(client.get("/library/new"))
    assert f'<option value="{manager}">Maria Marketing ({manager})</option>' in form_page
    base = {"csrf_token": page_token(client, "/library/new"), "title": "Owned",
            "type": "case-study", "audience": "external", "status": "draft",
            "stages": ["negotiating"]}
    refused = client.post("/library/new", data={**base, "owner": "stranger@example.com"})
    assert refused.status_code == 400 and "staff account" in text(refused)
    assert client.post("/library/new", data={**base, "owner": manager}).status_code == 302
    edit = text(client.get("/content/imported/edit"))
    assert 'selected value="someone@elsewhere.example"' in edit
    kept = client.post("/content/imported/edit", data={
        **base, "title": "Imported", "slug": "imported", "status": "published",
        "stages": ["understanding-offerings"], "owner": "someone@elsewhere.example",
        "version": "1", "body": "changed"})
    assert kept.status_code == 302


def test_a_deactivated_user_is_told_so_only_after_the_right_password(app, client, make_user):
    from content_library.services import users as user_service
    from tests.conftest import PASSWORD, log_in

    person_id, email = make_user("rep")
    with app.app_context():
        person = db.session.get(User, person_id)
        user_service.update_user(db.session, person, name=person.name, role="rep", active=False)
    wrong = log_in(client, email, "Not-the-password-1")
    assert wrong.status_code == 401 and "inactive" not in text(wrong)
    right = log_in(client, email, PASSWORD)
    assert right.status_code == 403 and "This account is inactive" in text(right)
    assert client.get("/").status_code == 302  # and still not logged in


def test_the_taxonomy_form_names_every_problem_at_once(client, make_user, login, taxonomy):
    _, email = make_user("manager")
    login(email)
    response = client.post("/admin/taxonomy/stages/new", data={
        "csrf_token": page_token(client, "/admin/taxonomy"), "name": "", "slug": "Not A Slug",
        "phase": "nowhere"})
    top = banner(text(response))
    assert response.status_code == 400
    assert "Enter a name." in top and "lowercase letters" in top and "must be one of" in top
