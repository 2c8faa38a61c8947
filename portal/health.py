"""What a load balancer and a deployment script ask: /healthz (can this process answer?)
and /readyz (is the database at the code's migration?).

Both answer JSON in milliseconds, need no log-in, set no cookie, record no usage and do
none of the background work a first request of a process starts (catching the index up,
refreshing the usage ranking). What failed is named; why is logged, not shown.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app, has_request_context, jsonify, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import select

from content_library.models import User

from .extensions import db

log = logging.getLogger("portal.health")

bp = Blueprint("health", __name__)
PROBES = frozenset({"health.healthz", "health.readyz"})


def is_probe() -> bool:
    """Whether the request being served is one of the probes (which stay out of the way)."""
    return has_request_context() and request.endpoint in PROBES


def _answer(checks: dict, failing: bool):
    response = jsonify({"status": "failing" if failing else "ok", **checks})
    response.status_code = 503 if failing else 200
    response.headers["Cache-Control"] = "no-store"
    return response


def _database_state() -> str:
    try:
        # One cheap read of a portal table: a reachable server without the portal's
        # tables (or an empty file SQLite just made) is no healthy database either.
        with db.engine.connect() as connection:
            connection.execute(select(User.id).limit(1)).all()
    except Exception:
        log.warning("health: the database did not answer", exc_info=True)
        return "unreachable"
    return "ok"


def _index_state() -> str:
    from .indexing import backend

    try:
        incomplete = backend().needs_rebuild()
    except Exception:
        log.warning("health: the search index did not answer", exc_info=True)
        return "unreachable"
    # Missing, made by another schema version, or only the empty stand-in made when it was
    # missing: searches would miss items until `portal index rebuild`.
    return "needs rebuild" if incomplete else "ok"


@bp.get("/healthz")
def healthz():
    checks = {"database": _database_state(), "index": _index_state()}
    return _answer(checks, any(state != "ok" for state in checks.values()))


def migrations_folder(app: Flask) -> Path:
    return Path(app.extensions["migrate"].directory)


@lru_cache(maxsize=8)
def _heads_in(folder: str) -> tuple[str, ...]:
    return tuple(sorted(ScriptDirectory(folder).get_heads()))


def code_revision(app: Flask) -> tuple[str, ...]:
    """The head revision(s) of the migrations this code carries."""
    return _heads_in(str(migrations_folder(app)))


def database_revision(connection) -> tuple[str, ...]:
    """The revision(s) the database's alembic_version table holds (none before migrating)."""
    return tuple(sorted(MigrationContext.configure(connection).get_current_heads()))


def _words(revision: tuple[str, ...]) -> str | None:
    return ",".join(revision) or None


@bp.get("/readyz")
def readyz():
    app = current_app._get_current_object()
    code = code_revision(app)
    try:
        with db.engine.connect() as connection:
            found = database_revision(connection)
    except Exception:
        log.warning("readiness: the database did not answer", exc_info=True)
        return _answer({"database": "unreachable", "code_revision": _words(code)}, True)
    checks = {"database_revision": _words(found), "code_revision": _words(code)}
    return _answer(checks, found != code)


class _Sessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, never saved (so never refreshed) on a probe."""

    def save_session(self, app, session, response):
        if is_probe():
            return None
        return super().save_session(app, session, response)


def init_app(app: Flask) -> None:
    app.session_interface = _Sessions()
    app.register_blueprint(bp)
