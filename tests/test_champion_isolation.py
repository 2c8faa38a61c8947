"""Nothing internal, unpublished or unshared reaches a champion, by any route.

A library whose hidden parts carry marker words: SECRET in every item no champion may read
(internal, draft, in review, archived, external but never shared, on a revoked or expired
link, on the link of a deactivated rep, sent to someone else), ALPHA in what was shared with
Alpha Health only, BRAVO in what was shared with Bravo Retail's champion only, REP_ONLY in the
rep-only parts of an argument Alpha may read, TEMPLATE in the template library (every
champion's, nobody else's). Then every rule of the URL map, each method, each path value
(every item's slug, a slug that exists nowhere, a revoked share link's token…) is called as a
champion of Alpha, as Bravo's champion and as a visitor who is not logged in, and:

- no answer carries a marker word the caller may not see, in its body or its headers;
- an item the caller may not read answers exactly as a slug that does not exist;
- search (results, totals, facet counts, highlights, "did you mean", suggestions) finds
  exactly the items the caller may read, and never a forbidden word;
- nothing answers 5xx.

Runs on SQLite with Whoosh and, given PostgreSQL, on PostgreSQL with its own search backend.
Markers are lower case in the items and typed in upper case, so that an answer that merely
repeats what was typed is not mistaken for a leak.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from pathlib import Path

import docx
import pytest
from pypdf import PdfWriter
from sqlalchemy import select

from content_library.models import ChampionInvitation, Deal, User, utcnow
from content_library.services import champions, share_links
from content_library.services import items as item_service
from content_library.services.files import store_file
from portal.extensions import db
from tests.champion_support import share
from tests.conftest import log_in, page_token
from tests.search_library import BACKENDS, portal_config_for

SECRET = "zanzibarquokka"
ALPHA = "alphamarmoset"
BRAVO = "bravocapybara"
REP_ONLY = "repsonlyokapi"
TEMPLATE = "templatewombat"
MARKERS = (SECRET, ALPHA, BRAVO, REP_ONLY, TEMPLATE)

ALPHA_CO, BRAVO_CO = "Alpha Health", "Bravo Retail"
A1, A2, B = "ann@alpha.example", "abe@alpha.example", "bea@bravo.example"
REP, GONE_REP = "rita.rep@vendor.example", "gone.rep@vendor.example"
DEAL_AMOUNT = 987_654

# slug: (status, audience, who may read it, marker, extra fields)
ITEMS = {
    "alpha-deck": ("published", "external", {"alpha"}, ALPHA, {"file": "pdf"}),
    "alpha-argument": ("published", "external", {"alpha"}, ALPHA, {"argument": True}),
    "bravo-sheet": ("published", "external", {"bravo"}, BRAVO, {"file": "pdf"}),
    "budget-template": ("published", "external", {"alpha", "bravo"}, TEMPLATE,
                        {"file": "template"}),
    "secret-internal": ("published", "internal", set(), SECRET, {"file": "pdf"}),
    "secret-draft": ("draft", "external", set(), SECRET, {"file": "pdf"}),
    "secret-review": ("in_review", "external", set(), SECRET, {}),
    "secret-archived": ("archived", "external", set(), SECRET, {}),
    "secret-unshared": ("published", "external", set(), SECRET, {"file": "pdf"}),
    "secret-revoked": ("published", "external", set(), SECRET, {}),
    "secret-expired": ("published", "external", set(), SECRET, {}),
    "secret-gone-rep": ("published", "external", set(), SECRET, {}),
    "secret-elsewhere": ("published", "external", set(), SECRET, {}),
    "secret-internal-template": ("published", "internal", set(), SECRET, {"file": "template"}),
    "secret-draft-template": ("draft", "external", set(), SECRET, {"file": "template"}),
}
MISSING = "no-such-item"
CALLERS = {
    "alpha": {"forbidden": {SECRET, BRAVO, REP_ONLY}},
    "bravo": {"forbidden": {SECRET, ALPHA, REP_ONLY}},
    "nobody": {"forbidden": set(MARKERS)},
}


def readable(caller: str) -> set[str]:
    return {slug for slug, (_, _, who, _, _) in ITEMS.items() if caller in who}


# ---- the library ------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def app_config(request, app_config):
    return portal_config_for(request, app_config)


@pytest.fixture(autouse=True)
def _no_share_page_throttle(monkeypatch):
    """The walk opens share pages far more often than a buyer would (their throttle has its
    own tests): it must see each answer as it is, never a 429 for asking too often."""
    monkeypatch.setattr(share_links, "OPEN_LIMIT", 1_000_000)
    monkeypatch.setattr(share_links, "MISS_LIMIT", 1_000_000)


def pdf_with(marker: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    writer.add_metadata({"/Title": f"{marker} file", "/Subject": marker})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def template_with(marker: str, folder: Path) -> bytes:
    document = docx.Document()
    document.add_heading(f"Business case {marker}", level=1)
    document.add_paragraph("Prepared for {{company_name}} by {{champion_name}}.")
    path = folder / f"{marker}.docx"
    document.save(path)
    return path.read_bytes()


def argument(marker: str) -> dict:
    """Buyer parts with the item's marker; the rep-only parts with REP_ONLY."""
    return {"value_statement": f"Forecasts you can trust {marker}.",
            "business_problems": [f"Spreadsheets {marker}"],
            "discovery_questions": [f"How do you forecast today {REP_ONLY}?"],
            "implication_questions": [f"What does a missed quarter cost {REP_ONLY}?"],
            "personal_advantages": [f"Looks good to the board {REP_ONLY}"]}


@pytest.fixture
def world(app, taxonomy, make_user, tmp_path):
    from portal.indexing import backend

    with app.app_context():
        backend().clear()  # the postgres backend's tables outlive each test's tables
    make_user("rep", email=REP, name="Rita Rep")
    make_user("rep", email=GONE_REP, name="Gus Gone")
    make_user("manager", email=f"{SECRET}.owner@vendor.example", name="Olga Owner")
    make_user("champion", email=A1, name="Ann Alpha", company=ALPHA_CO)
    make_user("champion", email=A2, name="Abe Alpha", company=ALPHA_CO.lower())
    make_user("champion", email=B, name="Bea Bravo", company=BRAVO_CO)
    upload = Path(app.config["UPLOAD_DIR"])
    with app.app_context():
        session = db.session
        for slug, (status, audience, who, marker, extra) in ITEMS.items():
            attached = item_service.KEEP_FILE
            if extra.get("file") == "pdf":
                attached = store_file(session, upload, io.BytesIO(pdf_with(marker)), f"{slug}.pdf")
            elif extra.get("file") == "template":
                attached = store_file(session, upload,
                                      io.BytesIO(template_with(marker, tmp_path)), f"{slug}.docx")
            # every item in the staff's eyes: an owner, a review date long past
            item_service.save_item(session, item_service.ItemInput(
                slug=slug, title=f"Forecast {slug.replace('-', ' ')} {marker}",
                summary=f"A forecast summary {marker}.", type="case-study", status=status,
                audience=audience, stages=("building-business-case",),
                stakeholders=("cfo",) if who else ("it",),
                verticals=("healthcare",) if "alpha" in who else
                          ("retail",) if who else ("healthcare", "retail"),
                owner=f"{SECRET}.owner@vendor.example", review_by=date(2020, 1, 1),
                body=f"The forecast body {marker}.",
                argument=argument(marker) if extra.get("argument") else {}),
                None, file=attached)
        deals = {}
        for key, name, account in (("alpha", f"Alpha Health {ALPHA} rollout", ALPHA_CO),
                                   ("secret", f"Hidden {SECRET} deal", ALPHA_CO)):
            deal = Deal(source="salesforce", crm_id=f"006{key:0>12}", name=name, account=account,
                        amount=DEAL_AMOUNT, crm_stage=f"Stage {SECRET}", stage="negotiating",
                        is_closed=False, forecast_category=f"Commit {SECRET}")
            session.add(deal)
            session.flush()
            deals[key] = deal.id
        session.commit()
    alpha_items = ["alpha-deck", "alpha-argument", "secret-internal", "secret-draft",
                   "secret-review", "secret-archived"]
    share(app, alpha_items, by=REP, company=ALPHA_CO, deal_id=deals["alpha"],
          note=f"For the rollout {ALPHA}")
    share(app, ["bravo-sheet"], by=REP, to=B.upper(), note=f"As promised {BRAVO}")
    revoked = share(app, ["secret-revoked"], by=REP, company=ALPHA_CO, deal_id=deals["secret"],
                    note=f"Old {SECRET}", revoked=True)
    share(app, ["secret-expired"], by=REP, company=ALPHA_CO, days=-1, note=f"Late {SECRET}")
    share(app, ["secret-gone-rep"], by=GONE_REP, company=ALPHA_CO, note=f"Gone {SECRET}")
    share(app, ["secret-elsewhere"], by=REP, to="someone.else@alpha.example",
          note=f"Not yours {SECRET}")
    with app.app_context():
        session = db.session
        session.scalar(select(User).where(User.email == GONE_REP)).active = False
        rep = session.scalar(select(User).where(User.email == REP))
        invitation, used = champions.invite(session, rep, champions.NewInvitation(
            email="used@alpha.example", company=ALPHA_CO))
        champions.accept(session, invitation, "Used Once", "Kestrel-Meadow-91")
        session.scalar(select(User).where(User.email == "used@alpha.example")).active = False
        session.commit()
    yield {"revoked": revoked, "used": used}
    with app.app_context():  # leave the scratch database's search tables as they were
        backend().clear()
        close = getattr(backend(), "close", None)
        if close:
            close()


@pytest.fixture
def callers(app, world):
    made = {}
    for caller, email in (("alpha", A1), ("bravo", B), ("nobody", None)):
        client = app.test_client()
        if email:
            assert log_in(client, email).status_code == 302
        made[caller] = client
    return made


# ---- what an answer says ----------------------------------------------------------------


def said(response) -> str:
    """Everything an answer tells: its body (a file's bytes too) and every header."""
    body = response.get_data().decode("latin-1")
    response.close()
    return body + "\n" + "\n".join(f"{k}: {v}" for k, v in response.headers.items())


def leaks(text: str, forbidden: set[str]) -> list[str]:
    return sorted(marker for marker in forbidden if marker in text)


def looks(response, slug: str) -> tuple:
    """An answer as it looks from outside, the slug asked for and what differs from one
    request to the next taken out: two of these are equal when nothing tells them apart."""
    text = response.get_data().decode("latin-1")
    response.close()
    text = re.sub(r"(Reference: |\"request_id\": ?\")[0-9a-f]+", r"\1…", text)
    text = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "csrf", text)
    text = text.replace(slug, "<slug>")
    location = response.headers.get("Location", "").replace(slug, "<slug>")
    headers = {k: v for k, v in response.headers.items()
               if k not in ("Content-Length", "Content-Security-Policy", "Set-Cookie", "Location",
                            "X-Request-ID")}
    return response.status_code, location, text, sorted(headers.items())


# ---- the walk ------------------------------------------------------------------------------

ONE = ("1",)
PATH_VALUES = {
    "kind": ("stages",), "target": ("published", "archived"), "key": ("2026-11",),
    "number": ONE, "deal_id": ONE, "token_id": ONE, "user_id": ONE, "request_id": ONE,
    "group_id": ONE, "action_id": ONE, "invitation_id": ONE, "id": ONE, "share_id": ONE,
}
# Files; logging out would end the walk; the load balancers' probes hold no content (and
# /readyz answers 503 on a test database made without the migrations).
SKIPPED = {"static", "auth.logout", "health.healthz", "health.readyz"}


def slug_values() -> tuple[str, ...]:
    return (*ITEMS, MISSING, "negotiating")


def paths_of(rule, tokens: dict) -> list[tuple[str, str | None]]:
    """(path, the item slug in it or None) for each value of each parameter."""
    combos: list[dict] = [{}]
    for name in sorted(rule.arguments):
        if name == "slug":
            values = slug_values()
        elif name == "token":
            values = (tokens["revoked"], tokens["used"], "forged-" + "x" * 40)
        elif name in PATH_VALUES:
            values = PATH_VALUES[name]
        else:
            raise AssertionError(f"{rule.rule}: no value for <{name}>: add one to PATH_VALUES")
        combos = [{**combo, name: value} for combo in combos for value in values]
    found = []
    for combo in combos:
        try:
            path = rule.build(combo, append_unknown=False)[1]
        except Exception:  # a value the converter refuses (a word for an int): no such path
            continue
        found.append((path, combo.get("slug")))
    return found


def call(client, method: str, path: str, token: str):
    if path.startswith("/api/"):
        return client.open(path, method=method, headers={"X-CSRFToken": token},
                           json={"kind": "view", "content": path.split("/")[-1], "deal": None})
    return client.open(path, method=method, data={"csrf_token": token})


def walk(app, client, caller: str, tokens: dict) -> list[str]:
    forbidden = CALLERS[caller]["forbidden"]
    csrf = page_token(client, "/account" if caller != "nobody" else "/login")
    problems = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint in SKIPPED:
            continue
        for method in sorted(rule.methods & {"GET", "POST", "DELETE"}):
            answers: dict[str | None, tuple] = {}
            for path, slug in paths_of(rule, tokens):
                response = call(client, method, path, csrf)
                where = f"{caller} {method} {path}"
                if response.status_code >= 500:
                    problems.append(f"{where}: {response.status_code}")
                text = said(response)
                problems += [f"{where}: says {marker}" for marker in leaks(text, forbidden)]
                if "Traceback" in text:
                    problems.append(f"{where}: a traceback")
                if slug is not None:
                    answers[slug] = looks(response, slug)
                    opens = ("library.item", "api.content") + (
                        ("library.download",) if ITEMS.get(slug, (None,) * 4 + ({},))[4].get("file") else ())
                    if (method == "GET" and slug in readable(caller) and rule.endpoint in opens
                            and response.status_code != 200):
                        problems.append(f"{where}: {response.status_code} for an item they may read")
            if answers:
                missing = answers[MISSING]
                for slug in ITEMS:
                    if slug not in readable(caller) and answers[slug] != missing:
                        problems.append(f"{caller} {method} {rule.rule} tells {slug} from a "
                                        f"missing item: {answers[slug][:2]} vs {missing[:2]}")
    return problems


def test_no_route_shows_a_caller_anything_they_may_not_see(app, world, callers):
    problems = []
    for caller, client in callers.items():
        problems += walk(app, client, caller, world)
    assert not problems, "\n".join(problems[:60])


# ---- search, as each champion -----------------------------------------------------------

QUERIES = ("", "FORECAST", "FORECAST SUMMARY", SECRET.upper(), ALPHA.upper(), BRAVO.upper(),
           REP_ONLY.upper(), TEMPLATE.upper(), SECRET.upper()[:-1], ALPHA.upper()[:-1] + "T",
           BRAVO.upper()[1:], TEMPLATE.upper()[:-2] + "X", REP_ONLY.upper()[:-1] + "Y",
           f'"FORECAST {SECRET.upper()}"',
           "AUDIENCE:INTERNAL", "STATUS:DRAFT")
PREFIXES = ("FO", "FORE", "FORECAST S", "FORECAST SECRET", "ZANZ", SECRET.upper()[:8],
            ALPHA.upper()[:7], BRAVO.upper()[:7], REP_ONLY.upper()[:6], TEMPLATE.upper()[:6],
            "HIDDEN", "STAGE")


def search_problems(client, caller: str) -> list[str]:
    forbidden, allowed = CALLERS[caller]["forbidden"], readable(caller)
    problems = []
    browse = client.get("/api/v1/search?per_page=100").json
    found = {r["slug"] for r in browse["results"]}
    if found != allowed or browse["total"] != len(allowed):
        problems.append(f"{caller} browses {sorted(found)} ({browse['total']})")
    if sum(browse["facets"]["type"].values()) != len(allowed) or "it" in browse["facets"]["stakeholder"]:
        problems.append(f"{caller}'s facets count what they may not see: {browse['facets']}")
    for text in QUERIES:
        for filters in ({}, {"stakeholder": "it"}, {"vertical": ["healthcare", "retail"]}):
            for path in ("/api/v1/search", "/search"):
                response = client.get(path, query_string={"q": text, **filters})
                where = f"{caller} {path}?q={text} {filters}"
                if response.status_code != 200:
                    problems.append(f"{where}: {response.status_code}")
                body = said(response)
                problems += [f"{where}: says {m}" for m in leaks(body, forbidden)]
                if path.startswith("/api/"):
                    answer = response.json
                    slugs = {r["slug"] for r in answer["results"]}
                    if not slugs <= allowed or answer["total"] > len(allowed):
                        problems.append(f"{where}: finds {sorted(slugs)}, total {answer['total']}")
                    if filters.get("stakeholder") == "it" and (answer["total"] or any(
                            answer["facets"][f] for f in ("type", "stage", "vertical"))):
                        problems.append(f"{where}: counts hidden items: {answer['facets']}")
    for prefix in PREFIXES:
        response = client.get("/search/suggest", query_string={"q": prefix})
        body = said(response)
        problems += [f"{caller} suggest {prefix}: says {m}" for m in leaks(body, forbidden)]
        for suggestion in response.json:
            if suggestion["url"] and suggestion["url"].split("/")[-1] not in allowed:
                problems.append(f"{caller} suggest {prefix}: opens {suggestion['url']}")
    return problems


def test_search_finds_exactly_what_each_champion_may_read(app, world, callers):
    problems = search_problems(callers["alpha"], "alpha") + search_problems(callers["bravo"], "bravo")
    assert not problems, "\n".join(problems[:60])
    nobody = callers["nobody"]
    assert nobody.get("/api/v1/search?q=FORECAST").status_code == 401
    assert nobody.get("/search?q=FORECAST").status_code == 302
    assert nobody.get("/search/suggest?q=FORE").status_code == 302


def test_the_search_index_finds_the_hidden_words_for_staff(app, world, make_user, login):
    """The control: the markers are really in the index, so the walk above proves something."""
    _, email = make_user("manager")
    client = login(email)
    for marker, at_least in ((SECRET, 6), (ALPHA, 2), (BRAVO, 1), (TEMPLATE, 1)):
        assert client.get("/api/v1/search", query_string={"q": marker}).json["total"] >= at_least
    assert client.get("/content/secret-draft").status_code == 200


# ---- the answers a champion does get ----------------------------------------------------------


def test_a_champion_reads_their_items_without_the_staffs_signals(app, world, callers):
    alpha = callers["alpha"]
    page = alpha.get("/content/alpha-argument").get_data(as_text=True)
    assert "Forecasts you can trust" in page and "Spreadsheets" in page  # buyer parts
    for absent in (REP_ONLY, "Discovery questions", "Implication questions",
                   "Personal advantages", "Copy any part", 'class="copy"', "Needs review",
                   "2020-01-01", "owner@vendor", "history", "Used in deals", "Use over the last",
                   "External: can be shared", "Ask marketing", "Was this useful"):
        assert absent not in page, absent
    data = alpha.get("/api/v1/content/alpha-argument").json
    assert not {"owner", "review_by", "stale"} & set(data)
    assert set(data["argument"]) == {"value_statement", "business_problems"}
    download = alpha.get("/content/alpha-deck/file")
    assert download.status_code == 200 and ALPHA.encode() in download.data
    download.close()
    template = alpha.get("/content/budget-template").get_data(as_text=True)
    assert "Fill in this business case" in template and "/content/budget-template/fill" in template


def test_lists_never_mark_an_item_stale_for_a_champion(app, world, callers):
    for path in ("/shared", "/search", "/search?q=FORECAST"):
        page = callers["alpha"].get(path).get_data(as_text=True)
        assert "alpha-deck" in page and "Needs review" not in page, path


def test_the_deal_room_shows_the_deal_by_name_and_nothing_else_of_it(app, world, callers):
    page = callers["alpha"].get("/shared").get_data(as_text=True)
    assert f"Alpha Health {ALPHA} rollout" in page and f"For the rollout {ALPHA}" in page
    assert "Rita Rep" in page
    assert page.index("alpha-deck") < page.index("Template library") < page.index("budget-template")
    for absent in ("987", "Commit", "Stage ", "negotiating", SECRET, BRAVO, "Gus Gone"):
        assert absent not in page, absent
    bravo = callers["bravo"].get("/shared").get_data(as_text=True)
    assert f"As promised {BRAVO}" in bravo and "Shared with you" in bravo  # a link with no deal
    assert ALPHA not in bravo and "budget-template" in bravo


def test_a_used_invitation_and_a_revoked_link_open_nothing(app, world, callers):
    nobody = callers["nobody"]
    for token in (world["used"], world["revoked"]):
        response = nobody.get(f"/invitations/{token}")
        assert response.status_code == 404
        assert "no longer works" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(ChampionInvitation.used_at)) <= utcnow() + timedelta(0)
