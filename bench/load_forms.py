"""What bench/load.py's users need to edit an item through its form, without Locust (which
patches the standard library with gevent when imported): the fields of a page's forms as a
browser sends them, and the change note that marks the bench's edits in the item history."""

from __future__ import annotations

import re
from html.parser import HTMLParser

EDIT_NOTE = "bench/load.py edit"


class FormFields(HTMLParser):
    """The fields of every form of a page, as a browser would send them (files left out)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[list[list[str]]] = []
        self._select: list[str] | None = None  # [name, first option, chosen option]
        self._textarea: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        attr = {name: value if value is not None else "" for name, value in attrs}
        name = attr.get("name")
        if tag == "form":
            self.forms.append([])
        elif not self.forms:
            return
        elif tag == "input" and name:
            kind = attr.get("type", "text").lower()
            if kind in ("checkbox", "radio") and "checked" not in attr:
                return
            if kind not in ("file", "submit", "button", "reset", "image"):
                self.forms[-1].append([name, attr.get("value", "on" if kind == "checkbox" else "")])
        elif tag == "textarea" and name:
            self._textarea = [name, ""]
            self.forms[-1].append(self._textarea)
        elif tag == "select" and name:
            self._select = [name, "", ""]
        elif tag == "option" and self._select is not None:
            value = attr.get("value", "")
            if not self._select[1]:
                self._select[1] = value
            if "selected" in attr:
                self._select[2] = value

    def handle_data(self, data) -> None:
        if self._textarea is not None:
            self._textarea[1] += data

    def handle_endtag(self, tag) -> None:
        if tag == "textarea" and self._textarea is not None:
            # As a browser does: the line break right after <textarea> is not part of the text.
            self._textarea[1] = re.sub(r"^\r?\n", "", self._textarea[1])
            self._textarea = None
        elif tag == "select" and self._select is not None and self.forms:
            name, first, chosen = self._select
            self.forms[-1].append([name, chosen or first])
            self._select = None


def item_form(html: str) -> list[tuple[str, str]]:
    parser = FormFields()
    parser.feed(html)
    return [(name, value) for name, value in
            next(form for form in parser.forms if any(name == "title" for name, _ in form))]
