"""Quiet failures: a page in words or JSON with a request id, never a traceback."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from content_library.errors import NotAllowed, NotFound

from .request_log import REQUEST_ID

log = logging.getLogger("portal")

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please log in first.",
    403: "Your role does not give access to this page.",
    404: "There is nothing here, or you do not have access to it.",
    405: "That action is not allowed here.",
    413: "The upload is too large.",
    429: "Too many attempts: wait a little and try again.",
    500: "Something went wrong on our side. It has been logged.",
}


def request_id() -> str:
    """This request's id: the one the request log gave it (and sent back as X-Request-ID)."""
    if "request_id" not in g:
        g.request_id = request.environ.get(REQUEST_ID) or secrets.token_hex(6)
    return g.request_id


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_response(status: int, message: str | None = None, headers: dict | None = None):
    message = message or MESSAGES.get(status, "Request failed.")
    if wants_json():
        response = jsonify({"error": message, "request_id": request_id()})
    else:
        response = render_template("error.html", status=status, message=message,
                                   request_id=request_id())
    return response, status, headers or {}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return error_response(400, "The form expired or was sent without its security token: "
                                   "reload the page and try again.")

    @app.errorhandler(NotFound)
    def _not_found(exc):
        return error_response(404)

    @app.errorhandler(NotAllowed)
    def _not_allowed(exc):
        return error_response(403)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if isinstance(exc, InternalServerError):
            return _crash(exc)
        headers = {}
        if exc.code == 405 and exc.get_response().headers.get("Allow"):
            headers["Allow"] = exc.get_response().headers["Allow"]
        retry = getattr(exc, "retry_after", None)
        if retry:
            headers["Retry-After"] = str(retry)
        message = MESSAGES.get(exc.code) if exc.code in (404, 403, 500) else None
        if message is None:
            message = exc.description if exc.description and exc.code != 405 else None
        return error_response(exc.code or 500, message, headers)

    @app.errorhandler(Exception)
    def _crash(exc):
        log.exception("unhandled error, request id %s", request_id())
        return error_response(500)
