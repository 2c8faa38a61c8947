"""Highlights: the item's own title or summary, escaped, with ``<mark>`` around
the words that matched.

We tokenise the stored text as the index's analyzer does (so "integrating" in
a summary is marked for a search on "integration") and build the HTML
ourselves: every character outside a match, and inside it, goes through
``html.escape``, and the only tags we ever write are ``<mark>`` and
``</mark>``. No highlighter formatter of the engine is involved.
"""

from __future__ import annotations

from collections.abc import Collection
from html import escape

from .query_text import term_spans

WINDOW = 240  # characters of a long text to show around the first match


def _spans(text: str, terms: Collection[str]) -> list[tuple[int, int]]:
    return [(start, end) for term, start, end in term_spans(text) if term in terms]


def _window(text: str, spans: list[tuple[int, int]]) -> tuple[int, int]:
    if len(text) <= WINDOW:
        return 0, len(text)
    first = spans[0][0] if spans else 0
    start = max(first - WINDOW // 4, 0)
    if start:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < first else start
    end = min(start + WINDOW, len(text))
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > max(first, start) else end
    return start, end


def mark(text: str, terms: Collection[str]) -> str:
    """``text`` escaped, shortened around the first match, matches in <mark>."""
    text = text or ""
    return _marked(text, _spans(text, terms) if terms else [])


def _marked(text: str, spans: list[tuple[int, int]]) -> str:
    start, end = _window(text, spans)
    parts = ["\u2026" if start else ""]
    position = start
    for span_start, span_end in spans:
        if span_start < position or span_end > end:
            continue
        parts.append(escape(text[position:span_start]))
        parts.append("<mark>" + escape(text[span_start:span_end]) + "</mark>")
        position = span_end
    parts.append(escape(text[position:end]))
    if end < len(text):
        parts.append("\u2026")
    return "".join(parts)


def highlight(title: str, summary: str, terms: Collection[str]) -> str:
    """The summary with its matches marked; the title if only it matched; the
    plain summary (or title) when nothing did."""
    if terms:
        for text in (summary, title):
            spans = _spans(text, terms) if text else []
            if spans:
                return _marked(text, spans)
    return mark(summary or title or "", ())
