"""The managers' analytics pages: usage, unused and stale content, findability, stages and
effectiveness, each a table with its CSV; and the use panel on an item's page."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from content_library import visibility
from content_library.errors import Conflict, Invalid, NotFound
from content_library.models import ContentItem, Deal
from content_library.services import catalog, content_requests, content_use, search_words, upkeep
from content_library.services.effectiveness import (
    TOO_FEW_DEALS,
    Period,
    effectiveness,
    period,
    stage_conversion,
)
from content_library.services.items import owner_choices
from content_library.spreadsheet import csv_text

from ..access import requires, user
from ..extensions import db
from ..numbers import page_number, query_number

bp = Blueprint("analytics", __name__, url_prefix="/analytics")

UNDO_KEY = "analytics_undo"  # the manager's last one-click change, for its Undo button


class PageError(Exception):
    """A filter the page cannot use: shown above the form, with what was typed kept."""


def _period() -> Period:
    try:
        return period(request.args.get("from"), request.args.get("to"), date.today())
    except Invalid as exc:
        raise PageError(" ".join(exc.reasons.values())) from None


def _page(template: str, figures, to_csv, *, dated: bool = True, **values):
    """The page (or its CSV with ?format=csv) with figures(when) for the period asked for;
    or the page with its error and no figures (400) when the period was bad: what was typed
    stays in the form."""
    try:
        when = _period() if dated else Period(date.today(), date.today())
    except PageError as exc:
        return render_template(template, error=str(exc), args=request.args, **values), 400
    found = {"when": when, **figures(when)}
    if request.args.get("format") == "csv":
        return to_csv(**found)
    return render_template(template, error=None, args=request.args, **values, **found)


def _csv(name: str, when: Period, header, rows) -> Response:
    response = Response(csv_text(header, rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{name}-{when.start.isoformat()}-{when.end.isoformat()}.csv"')
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _pct(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.4f}"


@bp.get("")
@requires("view_analytics")
def home():
    return render_template("analytics/home.html")


# ---- usage per item -----------------------------------------------------------------------

USAGE_PER_PAGE = 100  # rows on the page; the CSV has them all
USAGE_HEADER = ("slug", "title", "type", "owner", "status", "views", "unique_viewers",
                "downloads", "copies", "shares", "share_opens", "last_used", "stale")


@bp.get("/usage")
@requires("view_analytics")
def usage():
    sort = request.args.get("sort", content_use.DEFAULT_USAGE_SORT)
    sort = sort if sort in content_use.USAGE_SORTS else content_use.DEFAULT_USAGE_SORT
    descending = request.args.get("dir", "desc") != "asc"
    flt = content_use.UsageFilter(stage=request.args.get("stage") or None,
                                  type=request.args.get("type") or None,
                                  owner=request.args.get("owner") or None)

    def figures(when):
        return {"rows": content_use.item_usage(db.session, when, date.today(), flt, sort,
                                               descending)}

    def to_csv(when, rows):
        return _csv("usage", when, USAGE_HEADER, (
            (r.slug, r.title, r.type, r.owner, r.status, r.views, r.unique_viewers, r.downloads,
             r.copies, r.shares, r.share_opens, content_use.iso_moment(r.last_used), r.stale)
            for r in rows))

    return _page("analytics/usage.html", figures, to_csv, sort=sort, descending=descending,
                 flt=flt, choices=catalog.taxonomy_choices(db.session),
                 owners=content_use.owners(db.session), per_page=USAGE_PER_PAGE,
                 page=page_number(request.args.get("page"), last=10_000))


# ---- unused and stale ---------------------------------------------------------------------


def _idle_days() -> int:
    return query_number("days", default=content_use.DEFAULT_IDLE_DAYS, low=1, high=3650)


@bp.get("/idle")
@requires("view_analytics")
def idle():
    days = _idle_days()
    owner = request.args.get("owner") or None
    today = date.today()

    def figures(when):
        return {"unused": content_use.unused_items(db.session, today, days, owner),
                "stale": content_use.stale_items(db.session, today, owner)}

    def to_csv(when, unused, stale):
        rows = [(why, r.slug, r.title, r.owner, r.review_by, content_use.iso_moment(r.last_used))
                for why, found in ((f"unused {days} days", unused), ("past review", stale))
                for r in found]
        return _csv("unused-and-stale", when,
                    ("why", "slug", "title", "owner", "review_by", "last_used"), rows)

    return _page("analytics/idle.html", figures, to_csv, dated=False, days=days, owner=owner,
                 owners=content_use.owners(db.session), people=owner_choices(db.session),
                 renew_days=upkeep.RENEW_DAYS,
                 undo=upkeep.Change.from_dict(session.get(UNDO_KEY)))


def _back():
    return redirect(url_for("analytics.idle", days=request.form.get("days") or None,
                            owner=request.form.get("owner_filter") or None))


def _one_click(action, done: str):
    try:
        change = action()
    except NotFound:
        flash("That item no longer exists.", "error")
    except Invalid as exc:
        flash(" ".join(exc.reasons.values()), "error")
    except Conflict as exc:
        flash(str(exc), "error")
    else:
        session[UNDO_KEY] = change.as_dict()
        flash(done.format(slug=change.slug, after=change.after), "success")
    return _back()


@bp.post("/idle/<slug>/archive")
@requires("manage_content")
def archive(slug: str):
    return _one_click(lambda: upkeep.archive(db.session, slug, user()), "Archived {slug}.")


@bp.post("/idle/<slug>/renew")
@requires("manage_content")
def renew(slug: str):
    def action():
        text = request.form.get("until", "").strip()
        try:
            until = date.fromisoformat(text) if text else None
        except ValueError:
            raise Invalid({"review_by": f"Expected a date like 2027-03-31, got '{text}'."}) from None
        return upkeep.renew_review(db.session, slug, user(), date.today(), until)

    return _one_click(action, "Review date of {slug} renewed to {after}.")


@bp.post("/idle/<slug>/reassign")
@requires("manage_content")
def reassign(slug: str):
    return _one_click(lambda: upkeep.reassign(db.session, slug, user(),
                                              request.form.get("owner", "")),
                      "{slug} now belongs to {after}.")


@bp.post("/undo")
@requires("manage_content")
def undo():
    change = upkeep.Change.from_dict(session.pop(UNDO_KEY, None))
    if change is None:
        flash("There is nothing to undo.", "error")
        return _back()
    try:
        upkeep.undo(db.session, change, user())
    except (Conflict, Invalid, NotFound) as exc:
        flash(str(exc) if isinstance(exc, Conflict) else "That change cannot be undone.", "error")
    else:
        flash(f"Undone: {change.slug} is back as it was.", "success")
    return _back()


# ---- findability backlog ------------------------------------------------------------------


SEARCHES_SHOWN = 200  # lines on the page; the CSV has them all


@bp.get("/searches")
@requires("view_analytics")
def searches():
    def figures(when):
        return {"gaps": content_use.search_backlog(db.session, when)}

    def to_csv(when, gaps):
        return _csv("searches", when, ("query", "count", "zero_results", "opened", "not_opened"),
                    ((g.query, g.count, g.zero_results, g.opened, g.not_opened) for g in gaps))

    return _page("analytics/searches.html", figures, to_csv, shown=SEARCHES_SHOWN,
                 may_add_synonyms=visibility.may(user(), "manage_taxonomy"))


@bp.post("/searches/synonym")
@requires("manage_taxonomy")
def add_synonym():
    query = request.form.get("query", "")
    terms = request.form.get("terms", "")
    try:
        search_words.save_synonyms(db.session, f"{query} = {terms}")
    except Invalid as exc:
        flash(f"Synonym for '{query}' not added: {' '.join(exc.reasons.values())}", "error")
    else:
        flash(f"'{query}' now also finds {terms}.", "success")
    return redirect(url_for("analytics.searches", **{k: v for k, v in request.args.items()}))


@bp.post("/searches/request")
@requires("view_analytics")
def open_request():
    query = request.form.get("query", "")
    try:
        content_requests.request_content(
            db.session, user(), query=query,
            message=f"Reps searched for '{query}' and found nothing they opened.")
    except Invalid as exc:
        flash(" ".join(exc.reasons.values()), "error")
    else:
        flash(f"Content request opened for '{query}'.", "success")
    return redirect(url_for("analytics.searches", **{k: v for k, v in request.args.items()}))


# ---- stages and effectiveness -------------------------------------------------------------


def _no_deals() -> bool:
    return db.session.query(Deal.id).first() is None


@bp.get("/stages")
@requires("view_analytics")
def stages():
    def figures(when):
        return {"rows": stage_conversion(db.session, when)}

    def to_csv(when, rows):
        return _csv("stages", when,
                    ("stage", "entered", "left", "converted", "conversion", "avg_days"),
                    ((s.name, s.entered, s.left, s.converted, _pct(s.conversion),
                      "" if s.avg_days is None else f"{s.avg_days:.1f}") for s in rows))

    return _page("analytics/stages.html", figures, to_csv, no_deals=_no_deals())


EFFECT_HEADER = ("slug", "deals", "won", "lost_competition", "lost_no_decision", "close_rate",
                 "close_rate_ci_low", "close_rate_ci_high", "win_rate", "win_rate_ci_low",
                 "win_rate_ci_high", "close_rate_amount", "win_rate_amount", "lift")


def _effect_row(slug: str, figures: dict, lift: float | None) -> tuple:
    close_ci = figures["close_rate_ci"] or ("", "")
    win_ci = figures["win_rate_ci"] or ("", "")
    return (slug, figures["won"] + figures["lost_competition"] + figures["lost_no_decision"],
            figures["won"], figures["lost_competition"], figures["lost_no_decision"],
            _pct(figures["close_rate"]), *close_ci, _pct(figures["win_rate"]), *win_ci,
            _pct(figures["close_rate_amount"]), _pct(figures["win_rate_amount"]), _pct(lift))


@bp.get("/effectiveness")
@requires("view_analytics")
def effect():
    def figures(when):
        return {"result": effectiveness(db.session, when)}

    def to_csv(when, result):
        rows = [_effect_row("(all deals)", result.baseline.as_dict(), None)]
        rows += [_effect_row(e.slug, e.outcomes.as_dict(), e.lift) for e in result.items]
        return _csv("effectiveness", when, EFFECT_HEADER, rows)

    return _page("analytics/effectiveness.html", figures, to_csv, no_deals=_no_deals(),
                 too_few=TOO_FEW_DEALS)


# ---- the panel on an item's page ----------------------------------------------------------


@bp.app_context_processor
def _item_use_panel():
    def item_use(item: ContentItem):
        """The item's use over the last year and its deals, for its owner and managers; None
        for everyone else (the template then shows nothing)."""
        viewer = user()
        if viewer is None or not (visibility.may(viewer, "view_analytics")
                                  or (item.owner_email and viewer.email == item.owner_email)):
            return None
        months = content_use.use_by_month(db.session, item.id, date.today())
        return {"months": months, "peak": max((m.total for m in months), default=0),
                "deals": content_use.deals_used_in(db.session, item.id)}

    return {"item_use": item_use}
