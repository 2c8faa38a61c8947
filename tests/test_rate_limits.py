"""With PORTAL_REDIS_URL set, the throttles that only count (share pages, document generation)
count in Redis (a real server on loopback), with the same limits, window and Retry-After as
in the database; log-in failures stay in the database; a Redis that does not answer leaves
the counting to the database. Each test's keys start with a prefix of its own, so runs
sharing the server never count together. (Across two hosts: tests/test_two_hosts.py.)"""

from __future__ import annotations

import os
import secrets
import socket

import pytest
from sqlalchemy import func, select

from content_library.models import LoginFailure
from content_library.services import share_links, templates, throttle
from portal.extensions import db
from tests.conftest import log_in
from tests.test_share_links import share, world  # noqa: F401 (world is a fixture)

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def need_redis() -> str:
    """The test server's URL; skips, saying why, when it does not answer (fails instead
    under PORTAL_REQUIRE_REDIS, as in CI)."""
    host, _, port = REDIS_URL.split("//", 1)[1].split("/", 1)[0].partition(":")
    try:
        socket.create_connection((host, int(port or 6379)), timeout=2).close()
    except OSError as exc:
        reason = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("PORTAL_REQUIRE_REDIS"):
            pytest.fail(reason)
        pytest.skip(reason)
    return REDIS_URL


@pytest.fixture
def app_config(app_config):
    return {**app_config, "REDIS_URL": need_redis(),
            "REDIS_KEY_PREFIX": f"portal-test-{secrets.token_hex(6)}"}


def _rows(app, prefix: str) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(LoginFailure).where(
            LoginFailure.key.startswith(prefix)))


@pytest.mark.usefixtures("world")
def test_forged_tokens_are_counted_in_redis_with_retry_after(app):
    _, token = share(app)
    client = app.test_client()
    for n in range(share_links.MISS_LIMIT):
        assert client.get(f"/s/forged-token-number-{n:04d}").status_code == 404
    refused = client.get("/s/forged-token-number-0999")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 15 * 60
    assert client.get(f"/s/{token}").status_code == 429  # the real link waits too, from there
    other = {"REMOTE_ADDR": "198.51.100.7"}
    assert app.test_client().get(f"/s/{token}", environ_base=other).status_code == 200
    assert _rows(app, "share-") == 0  # nothing of it in the database


@pytest.mark.usefixtures("world")
def test_opening_a_real_link_is_throttled_in_redis(app, monkeypatch):
    monkeypatch.setattr(share_links, "OPEN_LIMIT", 5)
    _, token = share(app)
    client = app.test_client()
    assert [client.get(f"/s/{token}").status_code for _ in range(6)] == [200] * 5 + [429]


def test_generations_are_counted_in_redis(app, ctx):
    shared = app.extensions["shared_counts"]
    for _ in range(templates.GENERATE_LIMIT):
        templates.count_generation(ctx, ["user:7", "address:203.0.113.9"], shared)
    with pytest.raises(throttle.Throttled) as refused:
        templates.count_generation(ctx, ["user:8", "address:203.0.113.9"], shared)
    assert 1 <= refused.value.retry_after <= 15 * 60
    templates.count_generation(ctx, ["user:8", "address:203.0.113.10"], shared)  # not held up
    assert _rows(app, "generate:") == 0


def test_failed_log_ins_stay_in_the_database(app, make_user):
    _, email = make_user("rep")
    assert log_in(app.test_client(), email, "Wrong-password-1").status_code == 401
    assert _rows(app, f"account:{email}") == 1


def test_a_redis_that_does_not_answer_leaves_the_counting_to_the_database(app, caplog):
    app.extensions["shared_counts"] = throttle.SharedCounts("redis://127.0.0.1:9/0")  # no one there
    client = app.test_client()
    answers = [client.get(f"/s/forged-token-number-{n:04d}").status_code
               for n in range(share_links.MISS_LIMIT + 1)]
    assert answers == [404] * share_links.MISS_LIMIT + [429]
    assert _rows(app, "share-miss:") == share_links.MISS_LIMIT
    assert "counting in the database" in caplog.text
