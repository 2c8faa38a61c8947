"""Where the throttles that only count (share pages, document generation) keep their counts:
in Redis when PORTAL_REDIS_URL is set (`throttle.SharedCounts`, the `limits` library's moving
window), else in the database like every other throttle. Either way every worker of every
host counts together. Redis connections are made per process (redis-py opens new ones after
a fork), so nothing here needs portal/forking.py."""

from __future__ import annotations

from flask import Flask, current_app

from content_library.services.throttle import SharedCounts


def init_app(app: Flask) -> None:
    url = app.config.get("REDIS_URL")
    if url:
        app.extensions["shared_counts"] = SharedCounts(url, app.config["REDIS_KEY_PREFIX"])


def shared_counts() -> SharedCounts | None:
    """The Redis counts, or None: count in the database."""
    return current_app.extensions.get("shared_counts")
