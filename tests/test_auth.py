"""Log-in, log-out, throttling, passwords, session versions and API tokens."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from content_library.models import ApiToken, LoginFailure, User
from content_library.services import users as user_service
from portal.extensions import db
from tests.conftest import PASSWORD, csrf_from, log_in, page_token


def test_login_renews_the_session_and_lands_on_the_stage_home(client, make_user):
    _, email = make_user("rep")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    response = log_in(client, email)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    with client.session_transaction() as session:
        assert "planted" not in session
    assert "Where is your buyer?" in client.get("/").get_data(as_text=True)


def test_champion_lands_on_what_was_shared(client, make_user):
    _, email = make_user("champion")
    assert log_in(client, email).headers["Location"] == "/shared"


def test_unknown_email_and_wrong_password_get_the_same_answer(client, make_user):
    _, email = make_user("rep")
    wrong = log_in(client, email, "Wrong-password-1")
    unknown = log_in(client, "nobody@example.com", "Wrong-password-1")
    assert wrong.status_code == unknown.status_code == 401
    message = "That e-mail and password do not match an account."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)


def test_logout_really_ends_the_session_even_for_a_copied_cookie(app, client, make_user):
    _, email = make_user("rep")
    log_in(client, email)
    stolen = client.get_cookie("portal_session").value
    token = page_token(client, "/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    other = app.test_client()
    other.set_cookie("portal_session", stolen)
    assert other.get("/").headers["Location"].startswith("/login")


def test_deactivation_ends_sessions_at_once(app, client, make_user):
    uid, email = make_user("rep")
    log_in(client, email)
    assert client.get("/stages/x").status_code in (200, 404)
    with app.app_context():
        person = db.session.get(User, uid)
        user_service.update_user(db.session, person, name=person.name, role="rep", active=False)
    assert client.get("/").status_code == 302
    assert log_in(client, email).status_code == 403  # told the account is inactive


def test_password_change_ends_other_sessions(app, client, make_user):
    uid, email = make_user("rep")
    log_in(client, email)
    with app.app_context():
        person = db.session.get(User, uid)
        user_service.change_password(db.session, person, PASSWORD, "Another-Long-Phrase-7")
    assert client.get("/").status_code == 302
    assert log_in(client, email, "Another-Long-Phrase-7").status_code == 302


def test_login_is_throttled_per_account_with_retry_after(client, make_user):
    _, email = make_user("rep")
    for _ in range(10):
        assert log_in(client, email, "Wrong-password-1").status_code == 401
    blocked = log_in(client, email, PASSWORD)  # even the right password waits
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0


def test_login_is_throttled_per_address_across_accounts(client, make_user):
    for n in range(10):
        log_in(client, f"guess{n}@example.com", "Wrong-password-1")
    _, email = make_user("rep")
    assert log_in(client, email).status_code == 429


def test_the_throttle_is_shared_by_every_worker_through_the_database(app, make_user):
    _, email = make_user("rep")
    with app.app_context():
        for _ in range(10):
            user_service.authenticate(db.session, email, "nope-nope-nope", "10.0.0.1")
    second_worker = app.test_client()  # a different client: only the database is shared
    assert log_in(second_worker, email).status_code == 429


@pytest.mark.parametrize("password, reason", [
    ("", "Enter a password"),
    ("short1!", "at least 8"),
    ("x" * 129, "at most 128"),
    ("password1", "too common"),
    ("aaaaaaaaaaaa", "too easy"),
])
def test_weak_passwords_are_refused(ctx, password, reason):
    from content_library.errors import Invalid

    with pytest.raises(Invalid) as caught:
        user_service.create_user(ctx, user_service.NewUser("p@example.com", "P", "rep", password))
    assert reason in caught.value.reasons["password"]
    assert ctx.scalar(select(User)) is None


def test_long_passwords_are_never_truncated(ctx):
    long = "correct horse battery staple " * 4  # 116 characters
    user_service.create_user(ctx, user_service.NewUser("long@example.com", "L", "rep", long))
    assert user_service.authenticate(ctx, "long@example.com", long, "a") is not None
    assert user_service.authenticate(ctx, "long@example.com", long[:-1], "a") is None


def test_passwords_are_stored_with_argon2id(ctx, make_user):
    make_user("rep", email="hash@example.com")
    stored = ctx.scalar(select(User.password_hash))
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_cli_creates_users_and_refuses_bad_input_changing_nothing(app, runner):
    ok = runner.invoke(args=["users", "create", "new@example.com", "--role", "manager",
                             "--name", "New Person"], input="Quiet-River-Stone-8\n")
    assert ok.exit_code == 0, ok.output
    for args, stdin, words in [
        (["new@example.com", "--role", "rep", "--name", "Dup"], "Quiet-River-Stone-8\n", "already"),
        (["x@example.com", "--role", "boss", "--name", "X"], "Quiet-River-Stone-8\n", "role"),
        (["y@example.com", "--role", "rep", "--name", "Y"], "\n", "password"),
        (["z@example.com", "--role", "rep", "--name", "Z"], "123\n", "password"),
        (["c@example.com", "--role", "champion", "--name", "C"], "Quiet-River-Stone-8\n", "company"),
    ]:
        result = runner.invoke(args=["users", "create", *args], input=stdin)
        assert result.exit_code != 0 and words in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1
    with app.app_context():
        assert db.session.scalars(select(User.email)).all() == ["new@example.com"]


def test_api_token_is_printed_once_stored_hashed_and_works(app, runner, client, make_user,
                                                           make_item):
    _, email = make_user("rep")
    make_item("visible")
    result = runner.invoke(args=["users", "token", email])
    token = result.output.strip()
    assert result.exit_code == 0 and token.startswith("pt_") and "\n" not in token
    with app.app_context():
        stored = db.session.scalar(select(ApiToken.token_hash))
        assert stored != token and token not in stored
    ok = client.get("/api/v1/content/visible", headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 200 and ok.json["slug"] == "visible"
    bad = client.get("/api/v1/content/visible", headers={"Authorization": "Bearer pt_wrong"})
    assert bad.status_code == 401 and "error" in bad.json


def test_token_for_unknown_user_fails_with_one_line(runner, app):
    result = runner.invoke(args=["users", "token", "ghost@example.com"])
    assert result.exit_code != 0 and "ghost@example.com" in result.output


def test_admin_creates_a_user_and_a_refused_form_keeps_what_was_typed(client, make_user, login):
    _, admin = make_user("admin")
    login(admin)
    token = page_token(client, "/admin/users/new")
    refused = client.post("/admin/users/new", data={
        "csrf_token": token, "email": admin, "name": "Typed Name", "role": "rep",
        "password": "password1"})
    html = refused.get_data(as_text=True)
    assert refused.status_code == 400
    assert "A user with this e-mail already exists." in html and "too common" in html
    assert 'value="Typed Name"' in html
    created = client.post("/admin/users/new", data={
        "csrf_token": token, "email": "fresh@example.com", "name": "Fresh", "role": "rep",
        "password": "Quiet-River-Stone-8"})
    assert created.status_code == 302


def test_a_person_creates_an_api_token_shown_once(client, make_user, login):
    _, email = make_user("rep")
    login(email)
    token_page = client.post("/account/token", data={"csrf_token": page_token(client, "/account")})
    token = __import__("re").search(r'id="token-text">(pt_[^<]+)<', token_page.get_data(as_text=True))
    assert token_page.status_code == 200 and token
    api = client.application.test_client()
    answer = api.get("/api/v1/stages", headers={"Authorization": f"Bearer {token.group(1)}"})
    assert answer.status_code == 200
    assert token.group(1) not in client.get("/account").get_data(as_text=True)


def test_a_refused_user_edit_changes_nothing(app, client, make_user, login):
    _, admin = make_user("admin")
    uid, email = make_user("rep", name="Old Name")
    person = app.test_client()
    log_in(person, email)
    login(admin)
    refused = client.post(f"/admin/users/{uid}", data={
        "csrf_token": page_token(client, f"/admin/users/{uid}"), "name": "New Name",
        "role": "manager", "active": "y", "new_password": "password1"})
    assert refused.status_code == 400 and "too common" in refused.get_data(as_text=True)
    with app.app_context():
        stored = db.session.get(User, uid)
        assert (stored.name, stored.role, stored.session_version) == ("Old Name", "rep", 1)
    assert person.get("/").status_code == 200  # their session did not end either


def test_the_new_user_form_starts_on_the_least_powerful_staff_role(client, make_user, login):
    _, admin = make_user("admin")
    login(admin)
    html = client.get("/admin/users/new").get_data(as_text=True)
    assert re.search(r'<option selected value="rep">', html), html
    assert not re.search(r'<option selected value="admin">', html)


@pytest.fixture
def proxied(app_config):
    """A portal behind `hops` trusted reverse proxies, on the test's database."""
    from portal import create_app

    made = []

    def build(hops: int):
        made.append(create_app({**app_config, "TRUSTED_PROXIES": hops}))
        return made[-1]

    yield build
    for portal in made:
        with portal.app_context():
            db.engine.dispose()


def log_in_from(client, address: str, email: str, password: str = PASSWORD):
    headers = {"X-Forwarded-For": address}
    token = csrf_from(client.get("/login", headers=headers).get_data(as_text=True))
    return client.post("/login", headers=headers,
                       data={"email": email, "password": password, "csrf_token": token})


def test_behind_a_trusted_proxy_one_address_is_throttled_not_everyone(proxied, make_user):
    _, email = make_user("rep")
    portal = proxied(1)
    attacker, colleague = portal.test_client(), portal.test_client()
    for n in range(10):
        assert log_in_from(attacker, "203.0.113.9", f"guess{n}@example.com",
                           "Wrong-password-1").status_code == 401
    assert log_in_from(attacker, "203.0.113.9", email).status_code == 429
    assert log_in_from(colleague, "198.51.100.7", email).status_code == 302


def test_without_trusted_proxies_a_forged_address_escapes_nothing(proxied, make_user):
    _, email = make_user("rep")
    portal = proxied(0)
    attacker = portal.test_client()
    for n in range(10):
        log_in_from(attacker, f"203.0.113.{n}", f"guess{n}@example.com", "Wrong-password-1")
    assert log_in_from(attacker, "198.51.100.7", email).status_code == 429


def test_an_account_is_throttled_from_every_address_and_only_for_a_window(app, proxied,
                                                                          make_user):
    _, email = make_user("rep")
    portal = proxied(1)
    for n in range(10):
        log_in_from(portal.test_client(), f"203.0.113.{n}", email, "Wrong-password-1")
    blocked = log_in_from(portal.test_client(), "198.51.100.7", email)
    assert blocked.status_code == 429 and 0 < int(blocked.headers["Retry-After"]) <= 15 * 60
    with app.app_context():  # the window passes: no permanent lock-out
        db.session.execute(update(LoginFailure).values(at=LoginFailure.at - timedelta(minutes=16)))
        db.session.commit()
    assert log_in_from(portal.test_client(), "198.51.100.7", email).status_code == 302
