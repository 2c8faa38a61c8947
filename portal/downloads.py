"""Sending a stored file: always a download with a server-chosen name, never sniffed or cached."""

from __future__ import annotations

from pathlib import Path

from flask import send_file


def attachment(path: Path, mime: str, name: str, *, inline: bool = False):
    response = send_file(path, mimetype=mime, as_attachment=not inline, download_name=name,
                         conditional=False, etag=False, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if inline:
        # A PDF or image shown in the browser runs nothing and reaches nothing.
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    return response
