"""Fixtures: a real app on a real database and a real index in a temporary folder.

The database is SQLite in the test's folder unless PORTAL_TEST_DATABASE_URL names a
PostgreSQL server: then a fresh database is made for the run and dropped after it.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import date
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from content_library import passwords
from content_library.models import Base
from content_library.services import items as item_service
from content_library.services import taxonomy as taxonomy_service
from content_library.services import users as user_service
from portal import create_app
from portal.extensions import db

# The search tests' library, harnesses and scratch PostgreSQL database.
pytest_plugins = ("tests.search_library",)

PASSWORD = "Tangerine-Orbit-42"


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hashing():
    # Argon2id all the same, with tiny costs: the suite creates hundreds of users.
    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture(scope="session")
def database_server():
    """(admin URL, database URL template) for PostgreSQL, or None for SQLite."""
    url = os.environ.get("PORTAL_TEST_DATABASE_URL")
    if not url:
        yield None
        return
    name = f"portal_test_{secrets.token_hex(4)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = url.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def own_postgres_database(database_server):
    """A fresh PostgreSQL database for one test (the postgres search backend's tables
    included), dropped afterwards even if other processes left connections open."""
    if not database_server:
        pytest.skip("PostgreSQL: set PORTAL_TEST_DATABASE_URL to run this")
    name = f"portal_own_{secrets.token_hex(4)}"
    base, _, _ = database_server.rpartition("/")
    admin = create_engine(database_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def app_config(tmp_path: Path, database_server) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-" + "x" * 40,
        "DATABASE_URL": database_server or f"sqlite:///{tmp_path / 'portal.db'}",
        "INDEX_DIR": str(tmp_path / "index"),
        "UPLOAD_DIR": str(tmp_path / "files"),
        "SEARCH_WRITER_TIMEOUT": 2.0,
    }


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
    yield app
    with app.app_context():
        db.session.close()
        if not app_config["DATABASE_URL"].startswith("sqlite"):
            Base.metadata.drop_all(db.engine)
        db.engine.dispose()
        app.extensions["usage"].engine.dispose()  # the usage recorder's own connections


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ---- builders -----------------------------------------------------------------


@pytest.fixture
def make_user(app):
    counter = iter(range(10_000))

    def build(role: str = "rep", email: str | None = None, password: str = PASSWORD, **extra):
        email = email or f"{role}{next(counter)}@example.com"
        company = extra.pop("company", "Buyer Inc" if role == "champion" else "")
        with app.app_context():
            user = user_service.create_user(db.session, user_service.NewUser(
                email=email, name=extra.pop("name", role.title()), role=role,
                password=password, company=company))
            return user.id, user.email

    return build


TAXONOMY = {
    "stages": [
        {"slug": "understanding-offerings", "name": "Understanding offerings",
         "phase": "conversations", "buyer_goal": "Learn what is possible.",
         "exit_criteria": ["Problem acknowledged"]},
        {"slug": "building-business-case", "name": "Building a business case",
         "phase": "funded-project", "buyer_goal": "Justify and fund the project.",
         "exit_criteria": ["Budget approved", "Economic buyer engaged"]},
        {"slug": "negotiating", "name": "Negotiating", "phase": "vendor-of-choice",
         "buyer_goal": "Agree terms.", "exit_criteria": []},
    ],
    "stakeholders": [{"slug": "cfo", "name": "CFO"}, {"slug": "it", "name": "IT"}],
    "solutions": [{"slug": "forecasting", "name": "Forecasting"},
                  {"slug": "pipeline", "name": "Pipeline"}],
    "verticals": [{"slug": "healthcare", "name": "Healthcare"},
                  {"slug": "retail", "name": "Retail"}],
    "content_types": [{"slug": "case-study", "name": "Case study"},
                      {"slug": "sales-argument", "name": "Sales argument"},
                      {"slug": "battle-card", "name": "Battle card"}],
}


@pytest.fixture
def taxonomy(app):
    with app.app_context():
        for kind, entries in TAXONOMY.items():
            for position, entry in enumerate(entries):
                taxonomy_service.merge_tag(db.session, kind, entry, position)
        db.session.commit()
    return TAXONOMY


@pytest.fixture
def make_item(app, taxonomy):
    def build(slug: str = "item", **fields):
        values = {"title": slug.replace("-", " ").title(), "type": "case-study",
                  "audience": "external", "status": "published",
                  "stages": ("understanding-offerings",), **fields}
        for key in ("stages", "stakeholders", "solutions", "verticals"):
            values[key] = tuple(values.get(key, ()))
        with app.app_context():
            item, _ = item_service.save_item(
                db.session, item_service.ItemInput(slug=slug, **values), None)
            return item.slug

    return build


# ---- HTTP helpers ---------------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def page_token(client, path: str = "/login") -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def log_in(client, email: str, password: str = PASSWORD):
    token = page_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


@pytest.fixture
def login(client):
    def do(email: str, password: str = PASSWORD):
        response = log_in(client, email, password)
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return client

    return do


def today() -> date:
    return date.today()


class SmtpInbox:
    """What a real SMTP server on loopback received: one email.message.Message per letter."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp_server():
    """A real SMTP server (aiosmtpd) on a free loopback port; yields (url, inbox)."""
    from aiosmtpd.controller import Controller

    from tests.browser_support import free_port

    inbox = SmtpInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(range(8590, 8640)))
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", inbox
    finally:
        controller.stop()
