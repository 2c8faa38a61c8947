"""API tokens: they expire, can be revoked from three places, end for good on a password change
or a deactivation, and say when they were last used without ever failing a read."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update

from content_library.models import ApiToken, User, utcnow
from content_library.services import users as user_service
from portal.extensions import db
from tests.conftest import PASSWORD, page_token


def issue(app, email: str) -> str:
    with app.app_context():
        return user_service.issue_token(db.session, email)


def api_status(app, token: str) -> int:
    return app.test_client().get("/api/v1/content/visible",
                                 headers={"Authorization": f"Bearer {token}"}).status_code


def token_rows(app, email: str) -> list[ApiToken]:
    with app.app_context():
        return list(db.session.scalars(select(ApiToken).join(User).where(User.email == email)
                                       .order_by(ApiToken.id)))


@pytest.fixture
def visible(make_item):
    return make_item("visible")


def test_a_token_expires_after_the_configured_days(app_config, visible, make_user):
    from portal import create_app

    app = create_app({**app_config, "API_TOKEN_DAYS": 7})
    _, email = make_user("rep")
    result = app.test_cli_runner().invoke(args=["users", "token", email])
    token = result.output.strip()
    assert result.exit_code == 0 and re.fullmatch(r"pt_[\w-]+", token)  # only the token
    [row] = token_rows(app, email)
    assert timedelta(days=7) - (row.expires_at - row.created_at) < timedelta(minutes=1)
    assert api_status(app, token) == 200
    with app.app_context():
        db.session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert api_status(app, token) == 401
    with app.app_context():
        db.engine.dispose()


def test_tokens_last_ninety_days_by_default(app, make_user):
    _, email = make_user("rep")
    issue(app, email)
    [row] = token_rows(app, email)
    assert timedelta(days=90) - (row.expires_at - row.created_at) < timedelta(minutes=1)


def test_a_person_revokes_one_token_then_all_on_the_account_page(app, client, make_user, login,
                                                                 visible):
    _, email = make_user("rep")
    first, second, third = (issue(app, email) for _ in range(3))
    login(email)
    page = client.get("/account").get_data(as_text=True)
    assert page.count("Revoke</button>") == 3 and "Never" in page
    one = token_rows(app, email)[0]
    answer = client.post(f"/account/tokens/{one.id}/revoke",
                         data={"csrf_token": page_token(client, "/account")})
    assert answer.status_code == 302
    assert [api_status(app, t) for t in (first, second, third)] == [401, 200, 200]
    client.post("/account/tokens/revoke", data={"csrf_token": page_token(client, "/account")})
    assert [api_status(app, t) for t in (second, third)] == [401, 401]
    assert "No API token works now." in client.get("/account").get_data(as_text=True)


def test_nobody_revokes_another_persons_token_from_their_account(app, client, make_user, login,
                                                                 visible):
    _, owner = make_user("rep")
    _, other = make_user("rep")
    token = issue(app, owner)
    login(other)
    [row] = token_rows(app, owner)
    answer = client.post(f"/account/tokens/{row.id}/revoke",
                         data={"csrf_token": page_token(client, "/account")})
    assert answer.status_code == 404
    beyond = client.post(f"/account/tokens/{2**70}/revoke",
                         data={"csrf_token": page_token(client, "/account")})
    assert beyond.status_code == 404
    assert api_status(app, token) == 200


def test_an_admin_sees_when_tokens_were_last_used_and_revokes_them(app, client, make_user, login,
                                                                   visible):
    _, admin = make_user("admin")
    uid, email = make_user("rep")
    used, unused = issue(app, email), issue(app, email)
    assert api_status(app, used) == 200
    login(admin)
    page = client.get(f"/admin/users/{uid}").get_data(as_text=True)
    table = page[page.index('id="api-tokens"'):]
    assert table.count(" UTC</td>") == 3 and table.count("Never") == 1  # 2 created, 1 used
    client.post(f"/admin/users/{uid}/tokens/revoke",
                data={"csrf_token": page_token(client, f"/admin/users/{uid}")})
    assert [api_status(app, t) for t in (used, unused)] == [401, 401]


def test_the_command_line_revokes_every_token_of_a_person(app, runner, make_user, visible):
    _, email = make_user("rep")
    tokens = [issue(app, email) for _ in range(2)]
    result = runner.invoke(args=["users", "revoke-tokens", email])
    assert result.exit_code == 0 and "revoked 2 API tokens" in result.output
    assert [api_status(app, t) for t in tokens] == [401, 401]
    ghost = runner.invoke(args=["users", "revoke-tokens", "ghost@example.com"])
    assert ghost.exit_code != 0 and "ghost@example.com" in ghost.output
    assert len(ghost.output.strip().splitlines()) == 1


def test_deactivation_ends_tokens_for_good(app, make_user, visible):
    uid, email = make_user("rep")
    token = issue(app, email)
    with app.app_context():
        person = db.session.get(User, uid)
        user_service.update_user(db.session, person, name=person.name, role="rep", active=False)
        assert api_status(app, token) == 401
        user_service.update_user(db.session, person, name=person.name, role="rep", active=True)
    assert api_status(app, token) == 401  # reactivating the person brings no old token back
    assert api_status(app, issue(app, email)) == 200


def test_a_password_change_ends_tokens(app, client, make_user, login, visible):
    _, email = make_user("rep")
    token = issue(app, email)
    login(email)
    client.post("/account", data={"csrf_token": page_token(client, "/account"),
                                  "current_password": PASSWORD,
                                  "new_password": "Another-Long-Phrase-7"})
    assert api_status(app, token) == 401


def test_an_admin_setting_a_password_ends_tokens(app, client, make_user, login, visible):
    _, admin = make_user("admin")
    uid, email = make_user("rep")
    token = issue(app, email)
    login(admin)
    answer = client.post(f"/admin/users/{uid}", data={
        "csrf_token": page_token(client, f"/admin/users/{uid}"), "name": "Rep", "role": "rep",
        "active": "y", "new_password": "Another-Long-Phrase-7"})
    assert answer.status_code == 302
    assert api_status(app, token) == 401


def test_last_use_is_noted_at_most_once_a_minute(app, make_user, visible):
    _, email = make_user("rep")
    token = issue(app, email)
    assert token_rows(app, email)[0].last_used_at is None
    assert api_status(app, token) == 200
    first = token_rows(app, email)[0].last_used_at
    assert first is not None and utcnow() - first < timedelta(minutes=1)
    assert api_status(app, token) == 200
    assert token_rows(app, email)[0].last_used_at == first  # no write for each request
    with app.app_context():
        db.session.execute(update(ApiToken).values(last_used_at=first - timedelta(minutes=2)))
        db.session.commit()
    assert api_status(app, token) == 200
    assert token_rows(app, email)[0].last_used_at > first - timedelta(minutes=2)


def test_a_busy_database_never_fails_a_read_for_the_last_use(app, app_config, make_user, visible):
    _, email = make_user("rep")
    token = issue(app, email)
    [row] = token_rows(app, email)
    other = create_engine(app_config["DATABASE_URL"])  # another process's writer
    with other.connect() as writer:
        if writer.dialect.name == "sqlite":
            writer.exec_driver_sql("PRAGMA busy_timeout=0")
            writer.exec_driver_sql("BEGIN IMMEDIATE")  # holds the database's write lock
            writer.exec_driver_sql("UPDATE users SET name = name")
        else:
            writer.execute(text("SELECT id FROM api_tokens WHERE id = :id FOR UPDATE"),
                           {"id": row.id})
        assert api_status(app, token) == 200
        writer.rollback()
    other.dispose()
    assert token_rows(app, email)[0].last_used_at is None  # skipped, not waited for
