"""Log-in, log-out, sessions that really end, and API tokens."""

from __future__ import annotations

import time

from flask import Flask, g, session
from flask_login import AnonymousUserMixin

from content_library.models import User
from content_library.services.users import user_for_token

from ..extensions import db, login_manager


class Anonymous(AnonymousUserMixin):
    role = None
    active = False
    is_manager = False


def _load_user(user_id: str) -> User | None:
    """A session counts only while its user is active, its session version is current,
    and it is younger than the absolute limit."""
    try:
        uid, version = (int(part) for part in user_id.split("."))
    except (ValueError, AttributeError):
        return None
    from flask import current_app

    login_at = session.get("login_at", 0)
    if time.time() - login_at > current_app.config["SESSION_ABSOLUTE_HOURS"] * 3600:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def _load_from_request(req) -> User | None:
    if not req.path.startswith("/api/"):
        return None
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = user_for_token(db.session, header[7:].strip())
    if user is not None:
        g.token_auth = True
    return user


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_from_request)
    login_manager.anonymous_user = Anonymous
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to see this page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = None  # renewal and versions handle it; "strong" breaks proxies

    @app.before_request
    def _keep_session_alive():
        if session.get("_user_id"):
            session.permanent = True  # idle timeout: PERMANENT_SESSION_LIFETIME from last request

    from .routes import bp

    app.register_blueprint(bp)
