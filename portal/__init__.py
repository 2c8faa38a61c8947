"""The web portal: app factory. Defaults → instance config → PORTAL_* environment → given config."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from content_library.services.usage import RETENTION_DAYS
from content_library.services.users import TOKEN_DAYS

from .extensions import csrf, db, login_manager, migrate

DEFAULT_MAX_UPLOAD = 50 * 1024 * 1024
WEAK_KEYS = {"", "dev", "secret", "changeme", "change-me", "development", "test"}


def _defaults(instance: Path) -> dict:
    return {
        "ENV": "development",  # PORTAL_ENV=production for a real deployment
        "DATABASE_URL": f"sqlite:///{instance / 'portal.db'}",
        "SEARCH_BACKEND": "whoosh",
        "INDEX_DIR": str(instance / "index"),
        "UPLOAD_DIR": str(instance / "files"),
        "MAX_UPLOAD_BYTES": DEFAULT_MAX_UPLOAD,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "portal_session",
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=2),  # idle timeout
        "SESSION_ABSOLUTE_HOURS": 12,
        "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
        "WTF_CSRF_SSL_STRICT": True,
        "SEARCH_WRITER_TIMEOUT": 5.0,
        "JSON_SORT_KEYS": False,
        "API_TOKEN_DAYS": TOKEN_DAYS,
        # After this many days a usage event forgets who did it (its role and counts stay).
        "USAGE_RETENTION_DAYS": RETENTION_DAYS,
        # Reverse proxies in front of the portal whose X-Forwarded-For/-Proto/-Host to believe.
        # 0 believes none: anyone can send those headers, and the log-in throttle counts
        # failures per client address.
        "TRUSTED_PROXIES": 0,
        # E-mail for share links, invitations and first-open notes (content_library/mail.py).
        # None: nothing is sent and the pages show the link to copy.
        "SMTP_URL": None,
        "MAIL_FROM": "portal@localhost",
        # One line per request on the portal.access logger: "json" or "text"; None chooses
        # json in production and text otherwise (portal/request_log.py).
        "LOG_FORMAT": None,
        # Redis for the share-page and generation throttles (portal/rate_limits.py), e.g.
        # redis://127.0.0.1:6379/0; None keeps them in the database with the others. Every key
        # starts with REDIS_KEY_PREFIX, so deployments sharing one Redis never count together.
        "REDIS_URL": None,
        "REDIS_KEY_PREFIX": "portal",
        # Seconds a worker keeps a stage page's ranking (portal/stage_rankings.py); 0: never.
        "STAGE_RANKING_SECONDS": 30,
    }


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    instance = Path(app.instance_path)
    app.config.update(_defaults(instance))
    if config is None:
        app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("PORTAL")
    if config:
        app.config.update(config)
    _settle_secrets(app, instance)
    production = app.config["ENV"] == "production"
    # Secure cookies need HTTPS; the single-machine default serves plain http://127.0.0.1.
    # (Flask's own defaults already hold SESSION_COOKIE_SECURE=False, so setdefault would not do.)
    app.config["SESSION_COOKIE_SECURE"] = production or bool(app.config["SESSION_COOKIE_SECURE"])
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_UPLOAD_BYTES"]) + 1024 * 1024
    if production and app.debug:
        # The debugger runs any Python a visitor types into its console.
        raise RuntimeError("Flask's debug mode is on (FLASK_DEBUG or PORTAL_DEBUG): "
                           "it must be off with PORTAL_ENV=production.")
    _settle_numbers(app)

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).resolve().parent.parent / "migrations"),
                     render_as_batch=True, compare_type=True)

    from . import auth, cli, errors, forking, health, indexing, numbers, request_log, security, usage, views

    forking.init_app(app)
    health.init_app(app)
    numbers.init_app(app)
    from . import rate_limits  # the throttles' counts in Redis, when PORTAL_REDIS_URL is set
    rate_limits.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    indexing.init_app(app)
    from . import ranking  # search's usage boost kept current (docs/analytics.md)
    ranking.init_app(app)
    views.init_app(app)
    from . import stage_rankings
    stage_rankings.init_app(app)
    usage.init_app(app)
    cli.init_app(app)
    request_log.init_app(app)  # inside ProxyFix: it logs the client's address
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    return app


def _settle_numbers(app: Flask) -> None:
    """Whole-number settings: a typo stops the start with the setting's name, not later."""
    for name, lowest in (("API_TOKEN_DAYS", 1), ("TRUSTED_PROXIES", 0), ("USAGE_RETENTION_DAYS", 1)):
        value = app.config[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
            raise RuntimeError(f"PORTAL_{name} must be a whole number of at least {lowest}, "
                               f"not {value!r}.")


def _settle_secrets(app: Flask, instance: Path) -> None:
    key = app.config.get("SECRET_KEY")
    production = app.config["ENV"] == "production"
    if production:
        # A repeated character or two ("x" * 64) is as long as a real key but guessable.
        if (not key or str(key).lower() in WEAK_KEYS or len(str(key)) < 32
                or len(set(str(key))) < 5):
            raise RuntimeError(
                "PORTAL_SECRET_KEY must be set to a random value of at least 32 characters "
                "in production (python -c 'import secrets; print(secrets.token_hex(32))')."
            )
        return
    if key:
        return
    # A single machine gets a key generated once and kept in the instance folder.
    instance.mkdir(parents=True, exist_ok=True)
    key_file = instance / "secret_key"
    if not key_file.exists():
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(32))
    app.config["SECRET_KEY"] = key_file.read_text().strip()
