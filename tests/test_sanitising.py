"""Promise 3: no stored or reflected script.

Item bodies are Markdown, and Python-Markdown passes raw HTML through, so everything it
makes goes through nh3's allow-list (content_library.rendering). Titles, summaries and
anything reflected from the address are left to Jinja's autoescaping. Each surface that
shows them is checked here, and the Markdown cleaner is fuzzed with Hypothesis.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content_library.rendering import markdown_to_html, sanitise_html
from tests.champion_support import share

# ---- what "safe" means, checked with a real HTML parser --------------------------------------

DANGEROUS_TAGS = {
    "script", "iframe", "frame", "frameset", "style", "svg", "math", "object", "embed", "applet",
    "base", "form", "button", "textarea", "select", "link", "meta", "img", "video",
    "audio", "source", "template", "noscript", "xmp", "plaintext", "portal", "marquee",
}  # fmt: skip
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "background",
                  "poster", "cite", "srcset", "ping"}
DANGEROUS_ATTRIBUTES = {"style", "srcdoc", "formaction"}
SCHEMES_KEPT = {"", "http", "https", "mailto"}


def link_scheme(value: str) -> str:
    # Browsers drop ASCII tab/newline anywhere in a URL and trim control characters and
    # spaces at both ends before they look for the scheme.
    cleaned = re.sub(r"[\t\n\r]", "", html.unescape(value)).strip("\x00- ")
    if ":" not in cleaned.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]:
        return ""
    return urlsplit(cleaned).scheme.lower() or cleaned.split(":", 1)[0].lower()


def is_task_checkbox(attrs: dict) -> bool:
    """The one input content may hold: a task list's disabled checkbox."""
    return (attrs.get("type") == "checkbox" and "disabled" in attrs
            and set(attrs) <= {"type", "disabled", "checked", "aria-label"})


class Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in DANGEROUS_TAGS:
            self.problems.append(f"<{tag}>")
        if tag == "input" and not is_task_checkbox(dict(attrs)):
            self.problems.append(f"<input {attrs}>")
        for name, value in attrs:
            if name.startswith("on") or name in DANGEROUS_ATTRIBUTES:
                self.problems.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and value is not None:
                if tag == "a" and name == "href":
                    self.links.append(value)
                if link_scheme(value) not in SCHEMES_KEPT:
                    self.problems.append(f"{tag} {name}={value!r}")

    handle_startendtag = handle_starttag


def problems_in(fragment: str) -> list[str]:
    inspector = Inspector()
    inspector.feed(fragment)
    inspector.close()
    found = list(inspector.problems)
    lowered = fragment.lower()
    for marker in ("<script", "<iframe", "<style", "<svg", "<object", "<embed"):
        if marker in lowered:
            found.append(f"raw {marker}")
    return found


def links_in(fragment: str) -> list[str]:
    inspector = Inspector()
    inspector.feed(fragment)
    return inspector.links


ATTACKS = {
    "script": "<script>alert('script')</script>",
    "script upper": "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
    "img onerror": '<img src="x" onerror="alert(1)">',
    "onclick": '<p onclick="alert(1)">click</p>',
    "markdown js link": "[click me](javascript:alert(1))",
    "markdown js image": "![pic](javascript:alert(1))",
    "html js link": '<a href="javascript:alert(1)">go</a>',
    "js link mixed case": '<a href="JaVaScRiPt:alert(1)">go</a>',
    "js link entity tab": '<a href="jav&#x09;ascript:alert(1)">go</a>',
    "js link leading space": '<a href=" javascript:alert(1)">go</a>',
    "data link": "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "data image": '<img src="data:image/svg+xml,<svg onload=alert(1)>">',
    "vbscript": '<a href="vbscript:msgbox(1)">vb</a>',
    "iframe": '<iframe src="https://evil.example"></iframe>',
    "iframe srcdoc": "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "style": "<style>body { background: url(javascript:alert(1)) }</style>",
    "style attr": '<p style="background:url(javascript:alert(1))">styled</p>',
    "svg": '<svg><script>alert(1)</script><circle onload="alert(1)"/></svg>',
    "svg animate": '<svg><a><animate attributeName="href" values="javascript:alert(1)"/>'
                   '<text y="20">x</text></a></svg>',
    "math": "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph>"
            "</table></mtext></math>",
    "object": '<object data="https://evil.example/x.swf"></object>',
    "embed": '<embed src="https://evil.example/x.swf">',
    "base": '<base href="https://evil.example/">',
    "form": '<form action="https://evil.example"><button>Go</button></form>',
    "meta refresh": '<meta http-equiv="refresh" content="0;url=https://evil.example">',
    "comment trick": "<!--><script>alert(1)</script>-->",
    "split tag": "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "attribute breakout": '<a title=\'"><script>alert(1)</script>\' href="/x">t</a>',
    "reference link": "[ref][1]\n\n[1]: javascript:alert(1)",
    "autolink js": "<javascript:alert(1)>",
}


# ---- the cleaner itself ----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_markdown_cleaner_removes_each_attack(name):
    out = markdown_to_html(ATTACKS[name] + "\n\nAfter the attack.")
    assert problems_in(out) == [], out
    assert "After the attack." in out


def test_good_links_are_kept():
    body = ("[site](https://example.com/a?b=1) [plain](http://example.com) "
            "[mail](mailto:sales@example.com) [page](/content/other-item) "
            "[anchor](#part-proof) [relative](other-item)")
    links = links_in(markdown_to_html(body))
    assert links == ["https://example.com/a?b=1", "http://example.com",
                     "mailto:sales@example.com", "/content/other-item", "#part-proof",
                     "other-item"]


def test_links_cannot_carry_the_referrer_or_the_opener():
    out = markdown_to_html("[site](https://example.com)")
    assert 'rel="noopener noreferrer nofollow"' in out


def test_ordinary_markdown_survives():
    out = markdown_to_html("## Why now\n\n* **Bold** and *soft*\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    for tag in ("<h2>", "<li>", "<strong>", "<em>", "<table>", "<td>"):
        assert tag in out


FRAGMENTS = [*ATTACKS.values(), "\n", "\n\n", "    ", "> ", "* ", "1. ", "`", "```\n", "<", ">",
             "&", '"', "'", "=", "(", ")", "[", "]", "!", ":", "/", "\\", "&#x3C;", "&lt;",
             "javascript:", "on", "onerror=", "href=", "<a ", "<p ", "<img ", "data:", "\t",
             "\x00", "| a |\n|---|\n"]
MARKDOWN_TEXT = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=25,
).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(MARKDOWN_TEXT)
def test_property_markdown_output_never_carries_script(text):
    out = markdown_to_html(text)
    assert problems_in(out) == [], (text, out)
    # Cleaning what is already clean changes nothing a browser would run.
    assert problems_in(sanitise_html(out)) == []


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_property_arbitrary_text_never_becomes_markup_with_handlers(text):
    out = markdown_to_html(text)
    assert "<script" not in out.lower()
    assert problems_in(out) == []  # no on...= attribute, no javascript: or data: link


# ---- the pages and the API -------------------------------------------------------------------

HOSTILE_BODY = "[safe link](https://example.com/ok)\n\n" + "\n\n".join(ATTACKS.values())
HOSTILE_TEXT = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
ESCAPED_TEXT = "&lt;script&gt;alert(2)&lt;/script&gt;"


def body_section(page: str) -> str:
    match = re.search(r'<section class="body prose">(.*?)</section>', page, flags=re.S)
    assert match, "no body section on the page"
    return match.group(1)


class PageInspector(HTMLParser):
    """A whole page may have forms and inputs; it may not have handlers, inline scripts or
    script links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and not (attributes.get("src") or "").startswith("/static/"):
            self.problems.append(f"inline or foreign script {attributes}")
        if tag in ("iframe", "object", "embed", "base"):
            self.problems.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on") or name == "srcdoc":
                self.problems.append(f"{tag} {name}=")
            if name in URL_ATTRIBUTES and value and link_scheme(value) not in SCHEMES_KEPT:
                self.problems.append(f"{tag} {name}={value!r}")

    handle_startendtag = handle_starttag


def only_static_scripts(page: str) -> None:
    inspector = PageInspector()
    inspector.feed(page)
    inspector.close()
    assert inspector.problems == []


@pytest.fixture
def hostile(app, make_item, make_user):
    slug = make_item("hostile", title="Hostile " + HOSTILE_TEXT, summary="Sum " + HOSTILE_TEXT,
                     body=HOSTILE_BODY, stakeholders=("cfo",),
                     argument={"value_statement": HOSTILE_TEXT, "proof": [HOSTILE_TEXT]})
    share(app, [slug], by=make_user("rep")[1], company="Buyer Inc")  # for the champions
    return slug


def test_item_page_shows_no_script(app, make_user, login, hostile):
    _, email = make_user("rep")
    page = login(email).get(f"/content/{hostile}").get_data(as_text=True)
    assert problems_in(body_section(page)) == []
    assert "https://example.com/ok" in links_in(body_section(page))
    only_static_scripts(page)
    assert ESCAPED_TEXT in page  # title, summary and argument parts: escaped, shown as text
    assert HOSTILE_TEXT not in page


def test_api_body_html_shows_no_script(app, make_user, login, hostile):
    _, email = make_user("champion")
    data = login(email).get(f"/api/v1/content/{hostile}").get_json()
    assert problems_in(data["body_html"]) == []
    assert "https://example.com/ok" in links_in(data["body_html"])
    # The raw fields are data, not markup: JSON is served as application/json with nosniff.
    assert data["title"] == "Hostile " + HOSTILE_TEXT


def test_version_page_shows_no_script(app, make_user, login, hostile):
    _, email = make_user("manager")
    response = login(email).get(f"/content/{hostile}/versions/1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    only_static_scripts(page)
    assert HOSTILE_TEXT not in page


@pytest.mark.parametrize("role,path", [
    ("rep", "/stages/understanding-offerings"),
    ("rep", "/stages/understanding-offerings?stakeholder=cfo"),
    ("rep", "/content/hostile"),
    ("manager", "/library"),
    ("manager", "/library?q=Hostile"),
    ("manager", "/content/hostile/versions"),
    ("manager", "/content/hostile/edit"),
    ("champion", "/shared"),
])
def test_titles_and_summaries_are_escaped_everywhere(app, make_user, login, hostile, role, path):
    _, email = make_user(role)
    response = login(email).get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert HOSTILE_TEXT not in page
    assert "&lt;script&gt;alert(2)" in page  # the title is there, as text
    only_static_scripts(page)


def test_taxonomy_names_are_escaped(app, make_user, login, make_item):
    from content_library.services import taxonomy as taxonomy_service
    from portal.extensions import db

    with app.app_context():
        taxonomy_service.merge_tag(db.session, "stakeholders",
                                   {"slug": "evil", "name": HOSTILE_TEXT}, 9)
        db.session.commit()
    make_item("tagged", stakeholders=("evil",))
    _, email = make_user("rep")
    client = login(email)
    for path in ("/stages/understanding-offerings", "/content/tagged"):
        page = client.get(path).get_data(as_text=True)
        assert HOSTILE_TEXT not in page and ESCAPED_TEXT in page, path


# ---- reflected values ------------------------------------------------------------------------

REFLECTED = '"><script>alert(3)</script><x y="'


def test_login_next_is_escaped(app, client):
    page = client.get("/login", query_string={"next": REFLECTED}).get_data(as_text=True)
    assert "<script>alert(3)" not in page
    only_static_scripts(page)


def test_library_search_words_are_escaped(app, make_user, login):
    _, email = make_user("manager")
    page = login(email).get("/library", query_string={"q": REFLECTED}).get_data(as_text=True)
    assert "<script>alert(3)" not in page
    assert "&#34;&gt;&lt;script&gt;" in page or "&quot;&gt;&lt;script&gt;" in page


def test_bad_filter_values_are_not_reflected_raw(app, make_user, login, taxonomy):
    _, email = make_user("rep")
    client = login(email)
    page = client.get("/stages/understanding-offerings",
                      query_string={"stakeholder": REFLECTED}).get_data(as_text=True)
    assert "<script>alert(3)" not in page
    response = client.get("/api/v1/stages/understanding-offerings/content",
                          query_string={"stakeholder": REFLECTED})
    assert response.status_code == 400 and response.is_json
    assert response.headers["X-Content-Type-Options"] == "nosniff"
