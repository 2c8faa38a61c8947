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
from pathlib import Path
from urllib.parse import urlencode

from load_forms import EDIT_NOTE, item_form
from locust import FastHttpUser, HttpUser, events, task

PLAN: dict = json.loads(Path(os.environ["LOAD_PLAN"]).read_text()) if os.environ.get("LOAD_PLAN") else {}
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
