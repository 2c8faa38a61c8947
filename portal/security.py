"""Security headers on every response, the CSP nonce, and local-only redirects."""

from __future__ import annotations

import secrets
from urllib.parse import unquote, urlsplit

from flask import Flask, g, request


def csp_nonce() -> str:
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def _plain_path(path: str) -> bool:
    return (path.startswith("/") and not path.startswith("//")
            and not any(ord(c) < 32 or c in "\\\x7f" for c in path))


def is_local_path(target: str | None) -> bool:
    """True only for a path on this site: `/library`, never `//evil`, `/\\evil`,
    `https:evil`, `javascript:…` or anything with a scheme or host."""
    if not target or not isinstance(target, str) or not _plain_path(target):
        return False
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return False
    # The path once percent-decoded too: something that decodes `/%2F…`, `/%5C…` or `/%09/…`
    # on the way must not find `//`, a backslash or a control character either.
    return _plain_path(unquote(parts.path))


def safe_next(target: str | None, default: str) -> str:
    return target if is_local_path(target) else default


def _set_headers(response):
    nonce = g.get("csp_nonce") or csp_nonce()
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        headers["Content-Security-Policy"] = (
            "default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            f"style-src 'self' 'nonce-{nonce}'; "
            "img-src 'self' data:; font-src 'self'; connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
        )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if (request.path.startswith(("/api/", "/login", "/account"))
            or response.mimetype in ("text/html", "application/json")):
        # Pages and JSON (suggestions as you type too) can show a champion's or a draft's
        # words: no shared caches keep them.
        headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_set_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
