"""Sending a file: always a download with a server-chosen name, never sniffed or cached."""

from __future__ import annotations

import io
from pathlib import Path

from flask import send_file

from content_library.services.files import without_control_characters


def attachment(path: Path | io.BytesIO, mime: str, name: str, *, inline: bool = False):
    """A stored file (a path) or one made for this request (bytes in a BytesIO)."""
    # Names stored before uploads were cleaned may still hold characters that disguise them.
    name = without_control_characters(name).strip() or "file"
    response = send_file(path, mimetype=mime, as_attachment=not inline, download_name=name,
                         conditional=False, etag=False, max_age=0)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if inline:
        # A PDF or image shown in the browser runs nothing and reaches nothing.
        response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'"
    return response


def made_file(content: bytes, mime: str, name: str):
    """A file made for this request (a filled-in template), sent as a download."""
    return attachment(io.BytesIO(content), mime, name)
