"""Share links: the rep's pages (share, follow, extend, revoke), the buyer's pages under
`/s/<token>` that need no log-in, and the notifications that say a link was opened."""

from __future__ import annotations

from flask import Flask, current_app, request
from flask_login import current_user

from content_library import mail
from content_library.services import notifications, share_links

from ..extensions import db
from . import logs


def init_app(app: Flask) -> None:
    from .buyer import bp as buyer_bp
    from .buyer import private_headers
    from .routes import bp as shares_bp

    app.register_blueprint(shares_bp)
    app.register_blueprint(buyer_bp)
    # Every answer under /s/, a 404 for a path no route knows included.
    app.after_request(private_headers)
    logs.install()

    @app.context_processor
    def _share_layout():
        person = current_user._get_current_object() if current_user.is_authenticated else None

        def unread_notifications() -> int:
            return notifications.unread_count(db.session, person) if person else 0

        return {
            "may_share": lambda: share_links.may_share(person),
            "unread_notifications": unread_notifications,
        }


def smtp_configured() -> bool:
    return bool(current_app.config.get("SMTP_URL"))


def send(letter: mail.Letter, sender_name: str = "") -> bool:
    """Send through the configured server; False when there is none or it failed."""
    config = current_app.config
    try:
        return mail.send(config.get("SMTP_URL"), config["MAIL_FROM"], letter,
                         share_links.one_line(sender_name))
    except mail.BadSmtpUrl:
        current_app.logger.warning("PORTAL_SMTP_URL is not a usable SMTP URL: nothing sent")
        return False


def on_share_page() -> bool:
    return request.path.startswith("/s/")
