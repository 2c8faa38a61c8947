"""Extensions created once and bound to an app in the factory."""

from __future__ import annotations

from flask import Flask, g
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from content_library.database import make_engine, make_session_factory
from content_library.models import Base


class Database:
    """One engine per app, one session per request (or CLI command), closed at teardown."""

    metadata = Base.metadata

    def __init__(self) -> None:
        self._apps: dict[int, tuple[Engine, sessionmaker[Session]]] = {}

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        self._apps[id(app)] = (engine, make_session_factory(engine))
        app.extensions["portal_db"] = self
        app.teardown_appcontext(self._close)

    def _pair(self):
        from flask import current_app

        return self._apps[id(current_app._get_current_object())]

    def session_factory(self, app: Flask) -> sessionmaker[Session]:
        return self._apps[id(app)][1]

    def engine_of(self, app: Flask) -> Engine:
        return self._apps[id(app)][0]

    @property
    def engine(self) -> Engine:
        return self._pair()[0]

    def get_engine(self) -> Engine:  # what Flask-Migrate's env.py asks for
        return self.engine

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            g.db_session = self._pair()[1]()
        return g.db_session

    def _close(self, _exc) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


db = Database()
csrf = CSRFProtect()
login_manager = LoginManager()
migrate = Migrate()
