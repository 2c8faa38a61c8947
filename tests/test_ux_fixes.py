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
    boxes = re.findall(r"<input[^>]*>", html.split('class="body prose"')[1])
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
