"""One renderer for the monthly review: the page, the HTML file and the CSV tables.

The page and the file share `review/_sections.html` and `review/report.css`; the file
wraps them in a document of its own with no reference to anything outside it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import current_app, render_template
from markupsafe import Markup

from content_library.services.effectiveness import Outcomes, wilson_interval
from content_library.services.monthly_review import Review
from content_library.spreadsheet import safe_cell

from .charts import bar_chart


def charts(review: Review, nonce: str | None) -> dict[str, Markup]:
    this, before = review.month.label, review.month.before.label
    usage = bar_chart(
        f"Uses by stage, {this} against {before}; the table below has the figures",
        [s.name for s in review.usage],
        [(this, [s.uses.this for s in review.usage]),
         (before, [s.uses.before for s in review.usage])], nonce)
    rates = ("close rate", "win rate")
    baseline = [review.effectiveness.baseline, review.effectiveness_before.baseline]
    effect = bar_chart(
        f"Close and win rates of deals closed in {this} and in {before}; "
        "the table below has the figures and their n",
        [r.capitalize() for r in rates],
        # Below 5 deals the table says "too few deals": the chart draws no bar either.
        [(label, [None if o.too_few else getattr(o, r.replace(" ", "_")) for r in rates])
         for label, o in zip((this, before), baseline, strict=True)], nonce, percent=True)
    return {"usage": usage, "effectiveness": effect}


def _context(review: Review, nonce: str | None) -> dict:
    return {"review": review, "charts": charts(review, nonce), "interval": interval}


def interval(outcomes: Outcomes, rate: str) -> tuple[float, float] | None:
    """The 95% Wilson interval of a count-based rate, as the API reports it."""
    trials = outcomes.deals if rate == "close_rate" else outcomes.won + outcomes.lost_competition
    return wilson_interval(outcomes.won, trials)


def page(review: Review, nonce: str, **forms) -> str:
    return render_template("review/page.html", **_context(review, nonce), **forms)


def html_file(review: Review) -> str:
    # Straight from the environment: the file has no request, no user and no page chrome,
    # so the page's context processors have nothing to say to it.
    return current_app.jinja_env.get_template("review/file.html").render(**_context(review, None))


# ---- CSV ----------------------------------------------------------------------------------


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _points(value: float | None) -> float | str:
    """A difference of two rates: percentage points, not a percentage of anything. A number,
    so the spreadsheet keeps it one (a "+39.0" text would be neutralised as a formula)."""
    return "" if value is None else round(value * 100, 1)


def tables(review: Review) -> list[tuple[str, Sequence[str], list[Sequence[object]]]]:
    """The review's tables as (title, header, rows), in the page's order."""
    this, before = review.month.key, review.month.before.key
    found = review.findability
    result = [
        ("Usage by stage", ("stage", f"uses {this}", f"uses {before}", "change"),
         [(s.name, s.uses.this, s.uses.before, s.uses.difference) for s in review.usage]),
        ("Top and bottom items per stage",
         ("stage", "end", "item", "title", "owner", f"uses {this}", f"uses {before}"),
         [(s.name, end, i.slug, i.title, i.owner, i.uses.this, i.uses.before)
          for s in review.stage_items for end, items in (("top", s.top), ("bottom", s.bottom))
          for i in items]),
        (f"Unused in {this} ({review.unused.count.this} items; {before}: "
         f"{review.unused.count.before})", ("item", "title", "owner", "last used"),
         [(i.slug, i.title, i.owner, i.last_used.date().isoformat() if i.last_used else "never")
          for i in review.unused.items]),
        (f"Stale at the end of {this} ({review.stale.count.this} items; {before}: "
         f"{review.stale.count.before})", ("item", "title", "owner", "review by"),
         [(i.slug, i.title, i.owner, i.review_by.isoformat() if i.review_by else "")
          for i in review.stale.items]),
        ("Searches with no results", ("query", f"searches {this}", f"searches {before}"),
         [(g.query, g.searches.this, g.searches.before) for g in found.no_results]),
        ("Searches where no result was opened",
         ("query", f"searches {this}", f"searches {before}"),
         [(g.query, g.searches.this, g.searches.before) for g in found.none_opened]),
        ("Coverage gaps", ("stage", "stakeholder", "items for every stakeholder"),
         [(g.stage, g.stakeholder, g.for_everyone) for g in review.coverage_gaps]),
        ("Content requests", ("", this, before),
         [("opened", review.requests.opened.this, review.requests.opened.before),
          ("closed", review.requests.closed.this, review.requests.closed.before),
          ("still open at the end of the month", review.requests.open_at_end, "")]),
        ("Effectiveness: deals closed in the month",
         ("month", "deals (n)", "won", "lost to competition", "lost to no decision",
          "close rate", "close rate 95% low", "close rate 95% high", "win rate",
          "win rate 95% low", "win rate 95% high", "close rate by amount",
          "win rate by amount"),
         [_outcome_row(label, e.baseline) for label, e in
          ((this, review.effectiveness), (before, review.effectiveness_before))]),
        ("Effectiveness: items by deals influenced",
         ("item", "deals (n)", "won", "lost to competition", "lost to no decision",
          "close rate", "close rate 95% low", "close rate 95% high", "win rate",
          "win rate 95% low", "win rate 95% high", "close rate by amount",
          "win rate by amount", "lift (percentage points)"),
         [(*_outcome_row(i.slug, i.outcomes), _points(i.lift))
          for i in review.effectiveness.items[:10]]),
        ("Action items", ("agreed at", "action", "owner", "due", "status"),
         [(a.month, a.text, a.owner, a.due.isoformat() if a.due else "", a.status)
          for group in (review.actions.from_last_meeting, review.actions.carried,
                        review.actions.agreed_now) for a in group]),
    ]
    return result


def _outcome_row(label: str, o: Outcomes) -> tuple:
    if o.too_few:
        rates = ("too few deals",) + ("",) * 7
    else:
        close_ci, win_ci = interval(o, "close_rate"), interval(o, "win_rate")
        rates = (_percent(o.close_rate), *(_percent(v) for v in close_ci or (None, None)),
                 _percent(o.win_rate), *(_percent(v) for v in win_ci or (None, None)),
                 _percent(o.close_rate_amount), _percent(o.win_rate_amount))
    return (label, o.deals, o.won, o.lost_competition, o.lost_no_decision, *rates)


def csv_file(review: Review) -> str:
    """Every table one after another: a title row, a header row, the rows, a blank line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def write(rows: Iterable[Sequence[object]]) -> None:
        writer.writerows([safe_cell(cell) for cell in row] for row in rows)

    write([(f"Monthly enablement review, {review.month.label} against "
            f"{review.month.before.label}",)])
    for title, header, rows in tables(review):
        write([(), (title,), header, *rows] if rows else [(), (title,), ("none",)])
    return out.getvalue()
