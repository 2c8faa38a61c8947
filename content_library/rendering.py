"""Markdown in, safe HTML or plain text out.

Python-Markdown does not sanitise (its documentation says so), so every piece of
HTML it produces goes through nh3 with an explicit allow-list before a page shows it.
"""

from __future__ import annotations

import html
import re

import markdown
import nh3

ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "strong",
    "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "ul",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "th": {"align"},
    "td": {"align"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto"}
# Task lists: whatever <input> reaches the cleaner leaves it as a disabled checkbox, ticked
# or not, and nothing else (no name, value, form action or image source).
CHECKBOX_ATTRIBUTES = {"checked": {"", "checked"}}
CHECKBOX_FORCED = {"type": "checkbox", "disabled": "disabled", "aria-label": "Task"}

# "- [ ] to do" and "- [x] done", in tight lists (<li>[ ]) and loose ones (<li><p>[ ]).
_TASK = re.compile(r"(<li>(?:\s*<p>)?)\[([ xX])\](?=\s)")


def _checkbox(match: re.Match) -> str:
    checked = " checked" if match.group(2) in "xX" else ""
    return f'{match.group(1)}<input type="checkbox" disabled{checked}>'


def markdown_to_html(text: str) -> str:
    """Render Markdown and keep only the allow-listed tags, attributes and link schemes."""
    rendered = markdown.markdown(text or "", extensions=["tables", "sane_lists"])
    return sanitise_html(_TASK.sub(_checkbox, rendered))


def sanitise_html(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS | {"input"},
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values={"input": CHECKBOX_ATTRIBUTES},
        set_tag_attribute_values={"input": CHECKBOX_FORCED},
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def markdown_to_text(text: str) -> str:
    """Plain words for the search index: rendered, tags dropped, entities decoded."""
    rendered = markdown.markdown(text or "", extensions=["tables"])
    return _SPACE.sub(" ", html.unescape(_TAG.sub(" ", rendered))).strip()
