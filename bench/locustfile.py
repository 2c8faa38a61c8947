"""The users of bench/load.py, for Locust's headless mode (bench/load.py starts it; docs/performance.md).

PortalUser, with no pause between actions (a closed loop: 32 users are 32 requests in flight):
60% search and stage pages, 25% item pages, 10% usage writes through the API, 5% content edits
through the item form. CeilingUser asks for the bare page of bench/ceiling_app.py.

bench/load.py writes the plan (LOAD_PLAN, a JSON file: session cookies of a rep and of a manager,
an API token, the slugs and words to use) and reads back what the users were told had been stored
(LOAD_COUNTS, written when Locust quits): usage events answered 201, edits answered with the
redirect to the saved item, item pages answered 200 (each one a view event of the rep).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

from locust import FastHttpUser, HttpUser, events, task

PLAN: dict = json.loads(Path(os.environ["LOAD_PLAN"]).read_text()) if os.environ.get("LOAD_PLAN") else {}
EDIT_NOTE = "bench/load.py edit"
# What the portal said it stored, counted here and written out when Locust quits.
ACKNOWLEDGED = {"usage_events": 0, "edits": 0, "item_views": 0, "edits_refused": 0}
_numbers = itertools.count()
# LOAD_CLIENT=requests: Locust's HttpUser (python-requests), far heavier on the client's CPU
# than the default FastHttpUser (geventhttpclient); the ceiling depends on it a great deal.
Client = HttpUser if os.environ.get("LOAD_CLIENT") == "requests" else FastHttpUser


@events.quitting.add_listener
def _write_counts(environment, **kwargs) -> None:
    if os.environ.get("LOAD_COUNTS"):
        with open(os.environ["LOAD_COUNTS"], "w") as out:
            json.dump(ACKNOWLEDGED, out)


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


class PortalUser(Client):
    """A rep reading (pages with the rep's session), reporting usage (the API with a token),
    and now and then a manager editing an item of their own share of the library (so two
    users never edit the same item: each edit is a new version, never a conflict)."""

    def on_start(self) -> None:
        number = next(_numbers)
        self.rng = random.Random(number)
        self.rep = {"Cookie": PLAN["rep_cookie"]}
        self.manager = {"Cookie": PLAN["manager_cookie"]}
        self.api = {"Authorization": f"Bearer {PLAN['token']}", "Content-Type": "application/json"}
        share = PLAN["edit_slugs"]
        self.mine = share[number % PLAN["edit_groups"]::PLAN["edit_groups"]]
        self.edits = 0

    @task(35)
    def search_page(self) -> None:
        words = " ".join(self.rng.sample(PLAN["words"], self.rng.choice((1, 1, 2))))
        self.client.get("/search?" + urlencode({"q": words}), headers=self.rep, name="/search?q=")

    @task(25)
    def stage_page(self) -> None:
        self.client.get(f"/stages/{self.rng.choice(PLAN['stages'])}", headers=self.rep,
                        name="/stages/<slug>")

    @task(25)
    def item_page(self) -> None:
        with self.client.get(f"/content/{self.rng.choice(PLAN['items'])}", headers=self.rep,
                             name="/content/<slug>", catch_response=True) as answer:
            if answer.status_code == 200:
                ACKNOWLEDGED["item_views"] += 1

    @task(10)
    def usage_write(self) -> None:
        body = json.dumps({"kind": "view", "content": self.rng.choice(PLAN["items"]), "deal": None})
        with self.client.post("/api/v1/usage", data=body, headers=self.api, name="POST /api/v1/usage",
                              catch_response=True) as answer:
            if answer.status_code == 201:
                ACKNOWLEDGED["usage_events"] += 1
            else:
                answer.failure(f"usage not stored: {answer.status_code}")

    @task(5)
    def edit(self) -> None:
        slug = self.mine[self.edits % len(self.mine)]
        self.edits += 1
        page = self.client.get(f"/content/{slug}/edit", headers=self.manager,
                               name="/content/<slug>/edit")
        if page.status_code != 200:
            return
        fields = []
        for name, value in item_form(page.text):
            if name == "summary":
                # A new marker each time, in this run and the next, so every save is a change
                # (a new version): the same summary again would be "Nothing changed".
                value = re.sub(r" lb\d+$", "", value.strip()) + f" lb{time.time_ns()}"
            elif name == "note":
                value = EDIT_NOTE
            fields.append((name, value))
        with self.client.post(f"/content/{slug}/edit", data=urlencode(fields), allow_redirects=False,
                              headers={**self.manager, "Content-Type": "application/x-www-form-urlencoded"},
                              name="POST /content/<slug>/edit", catch_response=True) as answer:
            if answer.status_code in (302, 303) and "/edit" not in answer.headers.get("Location", "/edit"):
                ACKNOWLEDGED["edits"] += 1
            else:
                ACKNOWLEDGED["edits_refused"] += 1
                answer.failure(f"edit not saved: {answer.status_code}")


class CeilingUser(Client):
    """The bare 5 KB page of bench/ceiling_app.py, as fast as it comes."""

    @task
    def page(self) -> None:
        self.client.get("/", name="ceiling /")
