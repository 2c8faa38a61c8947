"""Nothing open crosses a fork.

A pre-forking server (gunicorn with `--preload`, uWSGI, a multiprocessing pool) may build
the app once and fork workers from it. A database connection or an index file handle used
by two processes at once corrupts both sides' conversations, so a forked child forgets what
its parent opened and opens its own on first use: each engine's pooled connections are left
to the parent (`Engine.dispose(close=False)`: closing them here would close the parent's),
the search backend is set aside unclosed and made again, and the usage recorder's waiting
events stay the parent's to write. Without `--preload` every worker builds its own app and
none of this has anything to do.
"""

from __future__ import annotations

import os
import weakref

from flask import Flask

from .extensions import db

_apps: weakref.WeakSet[Flask] = weakref.WeakSet()


def forget_inherited(app: Flask) -> None:
    """In a forked child: leave the parent's connections and handles to the parent."""
    db.engine_of(app).dispose(close=False)
    recorder = app.extensions.get("usage")
    if recorder is not None:
        recorder.after_fork()
    search = app.extensions.pop("search", None)
    if search is not None:
        # Kept, not closed: its files and connections are the parent's.
        app.extensions.setdefault("inherited", []).append(search)


def _in_child() -> None:
    for app in list(_apps):
        forget_inherited(app)


os.register_at_fork(after_in_child=_in_child)


def init_app(app: Flask) -> None:
    _apps.add(app)
