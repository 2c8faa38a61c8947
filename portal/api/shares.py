"""POST /api/v1/shares and DELETE /api/v1/shares/<id> (INTERFACES section 6): share published
external items with a buyer by link, and revoke a link."""

from __future__ import annotations

from flask import jsonify, request, url_for

from content_library.errors import Invalid, NotFound
from content_library.services import share_links, usage

from ..access import user
from ..errors import error_response
from ..extensions import db
from .routes import bp

FIELDS = ("content", "deal", "recipient", "expires_in_days", "note", "allow_downloads")


def _refusal(body) -> str | None:
    """What is wrong with the body's shape, before any rule of sharing is asked."""
    if not isinstance(body, dict):
        return ('Send a JSON object: {"content": [slugs], "deal": crm_id or null, '
                '"recipient": e-mail, "expires_in_days": 1..90}.')
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        return f"Unknown field '{unknown[0]}': send {', '.join(FIELDS[:4])} (note and " \
               "allow_downloads are optional)."
    content = body.get("content")
    if not isinstance(content, list) or not all(isinstance(s, str) and s for s in content):
        return "'content' must be a list of item slugs."
    if body.get("deal") is not None and not isinstance(body["deal"], str):
        return "'deal' must be a CRM id (a string) or null."
    if not isinstance(body.get("recipient"), str):
        return "'recipient' must be an e-mail address."
    days = body.get("expires_in_days")
    if isinstance(days, bool) or not isinstance(days, int):
        return "'expires_in_days' must be a whole number from 1 to 90."
    if not isinstance(body.get("note", ""), str):
        return "'note' must be text."
    if not isinstance(body.get("allow_downloads", True), bool):
        return "'allow_downloads' must be true or false."
    return None


@bp.post("/shares")
def create_share():
    if not share_links.may_share(user()):
        return error_response(403, "Champions cannot share: only reps, managers and admins do.")
    body = request.get_json(silent=True)
    refusal = _refusal(body)
    if refusal:
        return error_response(400, refusal)
    try:
        deal = usage.find_deal(db.session, body.get("deal"))
    except NotFound:
        return error_response(404, f"No deal has the CRM id '{body['deal']}'.")
    data = share_links.ShareRequest(
        content=tuple(body["content"]), recipient=body["recipient"],
        expires_in_days=body["expires_in_days"], deal=deal, note=body.get("note", ""),
        allow_downloads=body.get("allow_downloads", True))
    try:
        link, token = share_links.create(db.session, user(), data)
    except NotFound as exc:
        # The same answer for an item that does not exist and one the caller may not read.
        return error_response(404, f"There is no item '{exc.args[0]}'.")
    except Invalid as exc:
        return error_response(400, " ".join(exc.reasons.values()))
    return jsonify({"id": link.id, "url": url_for("buyer.landing", token=token, _external=True),
                    "expires_at": link.expires_at.isoformat() + "Z"}), 201


@bp.delete("/shares/<int:share_id>")
def revoke_share(share_id: int):
    if not share_links.may_share(user()):
        return error_response(403, "Champions have no share links.")
    try:
        share_links.revoke(db.session, user(), share_id)
    except NotFound:
        return error_response(404, f"You have no share link {share_id}.")
    return "", 204
