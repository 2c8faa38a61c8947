"""The buyer's pages: what a share link opens, with no log-in.

Each request is counted against its address first (in the database, across workers), then
the token must name a live link, then the item must still be published and external. Every
failure is the same friendly 404. Nothing internal reaches these pages: no owners, review
dates, freshness marks or usage figures, and only the buyer's parts of a sales argument.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user

from content_library.errors import NotFound
from content_library.models import BUYER_ARGUMENT_PARTS, ShareLink
from content_library.rendering import markdown_to_html
from content_library.services import share_links, templates
from content_library.services.files import stored_path
from content_library.services.throttle import Throttled

from .. import usage as usage_pages
from ..downloads import attachment
from ..extensions import db
from ..rate_limits import shared_counts
from . import on_share_page, send

bp = Blueprint("buyer", __name__, url_prefix="/s")


def private_headers(response):
    """A share page's address holds its token: no Referer carries it to another site, no
    cache keeps the page, no search engine lists it."""
    if on_share_page():
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


@bp.errorhandler(NotFound)
def _gone(_exc):
    # One page for a forged, expired, revoked or rep-less link and for an item no longer shared.
    return render_template("shares/gone.html"), 404


@bp.errorhandler(Throttled)
def _throttled(exc: Throttled):
    minutes = max(1, -(-exc.retry_after // 60))
    return (render_template("shares/busy.html", minutes=minutes), 429,
            {"Retry-After": str(exc.retry_after)})


def _address() -> str:
    return request.remote_addr or "unknown"


def _open(token: str) -> ShareLink:
    """The live link, once this request has been counted against its address's limits."""
    session = db.session
    share_links.take_turn(session, _address(), shared=shared_counts())
    try:
        return share_links.live_link(session, token)
    except NotFound:
        share_links.note_miss(session, _address(), shared=shared_counts())
        raise


def _rep_previewing(link: ShareLink) -> bool:
    """The link's own rep, logged in, checking what the buyer sees: nothing is recorded."""
    return current_user.is_authenticated and current_user.id == link.created_by_id


def _record(link: ShareLink, kind: str, items, **details) -> None:
    if not _rep_previewing(link):
        usage_pages.record_events(*share_links.buyer_events(link, kind, items, **details))


@bp.get("/<token>")
def landing(token: str):
    link = _open(token)
    items = share_links.visible_items(link)
    preview = _rep_previewing(link)
    page = render_template("shares/landing.html", link=link, items=items, token=token,
                           preview=preview)
    if not preview:
        first = share_links.note_open(db.session, link,
                                      url_for("shares.detail", share_id=link.id))
        _record(link, "share_open", items)
        if first:
            send(share_links.first_open_letter(
                link, url_for("shares.detail", share_id=link.id, _external=True)))
    return page


@bp.get("/<token>/items/<slug>")
def item(token: str, slug: str):
    link = _open(token)
    found = share_links.shared_item(link, slug)
    page = render_template("shares/item.html", link=link, item=found, token=token,
                           body_html=markdown_to_html(found.body), parts=BUYER_ARGUMENT_PARTS,
                           preview=_rep_previewing(link),
                           fillable=bool(found.file and templates.fields(db.session, found)))
    _record(link, "view", [found])
    return page


@bp.get("/<token>/items/<slug>/download")
def download(token: str, slug: str):
    link = _open(token)
    found = share_links.shared_file(link, slug)
    path = stored_path(Path(current_app.config["UPLOAD_DIR"]), found.file.sha256)
    if not path.is_file():
        raise NotFound(slug)
    response = attachment(path, found.file.mime, found.file_name or "file")
    _record(link, "download", [found])
    return response


@bp.route("/<token>/items/<slug>/fill", methods=["GET", "POST"])
def fill(token: str, slug: str):
    """The champion fills in a shared business-case template and downloads it, named after
    their company (the link's, else the one they type); the document counts for the link's
    deal. A link with downloads switched off offers no document, filled or not."""
    from ..business_cases.forms import fill_form
    from ..business_cases.routes import client_keys, filled_from_form, send_document

    link = _open(token)
    found = share_links.shared_file(link, slug)
    template_fields = templates.fields(db.session, found)
    if not template_fields:
        raise NotFound(slug)
    ask_company = not link.company
    form = fill_form(template_fields, ask_company=ask_company,
                     **({} if request.method == "POST" else {"formdata": None}))
    status, headers = 200, {}
    if request.method == "POST":
        company = (form.company.data or "") if ask_company else link.company
        document, status, headers = filled_from_form(
            found, form, template_fields, company=company,
            client=client_keys(f"share:{link.id}"))
        if document is not None:
            _record(link, "template_generated", [found], format=document.format)
            return send_document(document)
    return render_template("shares/fill.html", link=link, item=found, token=token, form=form,
                           company=link.company, format=templates.template_format(found),
                           preview=_rep_previewing(link)), status, headers
