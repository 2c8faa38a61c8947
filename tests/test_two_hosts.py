"""Two hosts, one database: two portal instances (separate gunicorn masters on two ports, two
workers each, as two machines behind a load balancer would run) on one PostgreSQL database
searching with the postgres backend. What one host does, the other knows at once: an edit
is found by search, failed log-ins and forged share links are counted together, and a
deactivation ends the person's sessions everywhere. Nothing is shared between the hosts but
the database (and the secret key, as every host of a deployment has it).

The whole module runs twice: with every throttle counting in the database, and with
PORTAL_REDIS_URL set, where the share-page throttle counts in Redis (log-ins stay in the
database either way).

Both hosts believe one reverse proxy (PORTAL_TRUSTED_PROXIES=1): each test's visitors come
from their own forwarded address, so the throttles of one test do not reach another.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from content_library.models import Base, LoginFailure
from content_library.services import users as user_service
from content_library.services.index_feed import DatabaseFeed
from content_library.services.share_links import MISS_LIMIT
from content_library.services.users import THROTTLE_LIMIT
from portal.extensions import db
from portal.indexing import backend
from search_index import sync
from tests.browser_support import free_port
from tests.conftest import PASSWORD
from tests.gunicorn_support import Visitor, app_on, gunicorn
from tests.search_library import fresh_database
from tests.test_rate_limits import need_redis
from tests.test_serving import one_item_library

pytestmark = pytest.mark.postgres

PORTS_A = range(5201, 5206)
PORTS_B = range(5206, 5211)
PEOPLE = {"manager": "hosts.manager@example.com", "admin": "hosts.admin@example.com",
          "rep": "hosts.rep@example.com", "leaver": "hosts.leaver@example.com",
          "guessed": "hosts.guessed@example.com"}


@dataclass
class Hosts:
    a: int  # host A's port
    b: int  # host B's port
    tokens: dict[str, str]  # API tokens by PEOPLE key
    ids: dict[str, int]  # user ids by PEOPLE key
    settings: dict  # the PORTAL_* settings both hosts run with


def _seed(settings: dict) -> tuple[dict, dict]:
    """The schema, one published item ("roi-story"), the people, their API tokens, and the
    search index built: done once, before either host starts."""
    with app_on(settings) as app:
        Base.metadata.create_all(db.engine)
        one_item_library(db.session)
        ids, tokens = {}, {}
        for key, email in PEOPLE.items():
            role = key if key in ("manager", "admin") else "rep"
            ids[key] = user_service.create_user(db.session, user_service.NewUser(
                email=email, name=key.title(), role=role, password=PASSWORD)).id
            tokens[key] = user_service.issue_token(db.session, email)
        sync.rebuild(backend(app), DatabaseFeed(db.session))
    return ids, tokens


@pytest.fixture(scope="module", params=["database", "redis"], ids=["counts-in-database", "counts-in-redis"])
def hosts(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("two-hosts")
    counts = ({"REDIS_URL": need_redis(), "REDIS_KEY_PREFIX": f"portal-hosts-{secrets.token_hex(6)}"}
              if request.param == "redis" else {})
    with fresh_database("portal_hosts") as url:
        settings = {"DATABASE_URL": url, "SEARCH_BACKEND": "postgres",
                    "SECRET_KEY": "hosts-" + "k" * 40, "TRUSTED_PROXIES": 1,
                    "UPLOAD_DIR": str(folder / "files"), "INDEX_DIR": str(folder / "unused-index"),
                    **counts}
        ids, tokens = _seed(settings)
        a, b = free_port(PORTS_A), free_port(PORTS_B)
        with gunicorn(settings, a, folder / "host-a.log"), gunicorn(settings, b, folder / "host-b.log"):
            yield Hosts(a, b, tokens, ids, settings)


def _rows(hosts: Hosts, prefix: str) -> int:
    """Attempts the database holds under keys starting with `prefix`."""
    with app_on(hosts.settings):
        return db.session.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.key.startswith(prefix)))


def _found(port: int, token: str, words: str) -> list[str]:
    answer = Visitor(token=token).get(port, f"/api/v1/search?q={words}")
    assert answer.status == 200, answer.text[:500]
    return [result["slug"] for result in answer.json()["results"]]


def test_an_edit_on_one_host_is_found_by_search_on_the_other_at_once(hosts):
    manager = Visitor("198.51.100.10")
    assert manager.log_in(hosts.a, PEOPLE["manager"]).status == 302
    rep_token = hosts.tokens["rep"]
    for edited_on, searched_on, word in ((hosts.a, hosts.b, "zephyrquartz"),
                                         (hosts.b, hosts.a, "marigoldvector")):
        assert _found(searched_on, rep_token, word) == []
        csrf, version = manager.edit_form(edited_on, "roi-story")
        saved = manager.post(edited_on, "/content/roi-story/edit", {
            "csrf_token": csrf, "title": "ROI story", "slug": "roi-story", "type": "case-study",
            "audience": "external", "status": "published", "stages": ["negotiating"],
            "body": f"Payback in nine months, said the {word} team.", "version": str(version)})
        assert saved.status == 302, saved.text[:1000]
        # The very next request, on the other host: no wait, no retry.
        assert _found(searched_on, rep_token, word) == ["roi-story"]


def _alternating(hosts: Hosts, count: int):
    return [hosts.a if n % 2 == 0 else hosts.b for n in range(count)]


def test_failed_log_ins_on_both_hosts_count_together(hosts):
    guesser = Visitor("198.51.100.20")
    csrf = guesser.csrf(hosts.a)  # the session cookie, and so the token, is good on both hosts

    def guess(port: int, password: str = "Wrong-password-1"):
        return guesser.post(port, "/login", {"email": PEOPLE["guessed"], "password": password,
                                             "csrf_token": csrf})

    statuses = [guess(port).status for port in _alternating(hosts, THROTTLE_LIMIT)]
    assert statuses == [401] * THROTTLE_LIMIT  # five on each host: neither alone is at the limit
    assert _rows(hosts, f"account:{PEOPLE['guessed']}") == THROTTLE_LIMIT  # Redis or not
    for port in (hosts.a, hosts.b):
        refused = guess(port, PASSWORD)  # even the right password is not checked now
        assert refused.status == 429, refused.text[:500]
        assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    # The account is locked everywhere, from any address; the address too, for any account.
    elsewhere = Visitor("198.51.100.21")
    assert elsewhere.log_in(hosts.b, PEOPLE["guessed"]).status == 429
    assert Visitor("198.51.100.20").log_in(hosts.a, PEOPLE["rep"]).status == 429
    # Someone else, somewhere else, logs in as usual on either host.
    assert Visitor("198.51.100.22").log_in(hosts.b, PEOPLE["rep"]).status == 302


def test_forged_share_links_on_both_hosts_count_together(hosts):
    prober = Visitor("198.51.100.30")
    forged = [f"forged-token-{n:04d}-abcdefghijklmnop" for n in range(MISS_LIMIT)]
    statuses = [prober.get(port, f"/s/{token}").status
                for port, token in zip(_alternating(hosts, MISS_LIMIT), forged, strict=True)]
    assert statuses == [404] * MISS_LIMIT  # ten on each host
    for port in (hosts.a, hosts.b):
        refused = prober.get(port, "/s/forged-token-next-abcdefghijklmnop")
        assert refused.status == 429, refused.text[:500]
        assert int(refused.headers["Retry-After"]) > 0
    # Another address is not held back by this one's guesses.
    assert Visitor("198.51.100.31").get(hosts.b, f"/s/{forged[0]}").status == 404
    in_redis = "REDIS_URL" in hosts.settings
    assert _rows(hosts, "share-miss:198.51.100.30") == (0 if in_redis else MISS_LIMIT)


def test_deactivating_on_one_host_ends_the_sessions_on_the_other(hosts):
    leaver = Visitor("198.51.100.40")
    assert leaver.log_in(hosts.a, PEOPLE["leaver"]).status == 302
    assert leaver.get(hosts.b, "/").status == 200  # the session cookie from A works on B
    api = Visitor(token=hosts.tokens["leaver"])
    assert api.get(hosts.b, "/api/v1/stages").status == 200

    admin = Visitor("198.51.100.41")
    assert admin.log_in(hosts.a, PEOPLE["admin"]).status == 302
    page = f"/admin/users/{hosts.ids['leaver']}"
    saved = admin.post(hosts.a, page, {"csrf_token": admin.csrf(hosts.a, page), "name": "Leaver",
                                       "role": "rep", "company": ""})  # "active" unticked
    assert saved.status == 302, saved.text[:1000]

    for port in (hosts.b, hosts.a):
        ended = leaver.get(port, "/")
        assert ended.status == 302 and "/login" in ended.headers["Location"], ended.status
        assert api.get(port, "/api/v1/stages").status == 401
    assert leaver.log_in(hosts.b, PEOPLE["leaver"]).status == 403  # inactive, on B as well
