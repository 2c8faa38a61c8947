"""A busy writer never makes a reader fail or wait, and slow file work holds no lock.

A search logs a row, best effort: with the write lock held elsewhere it still answers, and
skips the row. Reading an upload's text happens before the save takes the write lock, which
log-ins and every other writer wait for.
"""

from __future__ import annotations

import io
import json
import logging
import sqlite3
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, func, select, text

from content_library.models import SearchLog
from content_library.services import files as file_service
from portal.extensions import db
from tests.conftest import TAXONOMY, page_token
from tests.test_uploads import pdf_bytes


@contextmanager
def search_log_locked(app):
    """Another connection holding what a search's log row would wait for."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        other = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the database's one write lock
        try:
            yield
        finally:
            other.execute("ROLLBACK")
            other.close()
    else:
        engine = create_engine(url)
        with engine.connect() as other, other.begin():
            other.execute(text("LOCK TABLE search_log IN ACCESS EXCLUSIVE MODE"))
            yield
        engine.dispose()


def logged(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(SearchLog))
        db.session.close()
        return count


def test_a_search_answers_while_another_process_holds_the_write_lock(
        app, client, make_user, login, make_item, caplog):
    make_item("forecast-guide", title="Forecast guide")
    _, rep = make_user("rep")
    login(rep)
    assert client.get("/search?q=forecast").status_code == 200  # first request: index drain
    before = logged(app)
    assert before == 1
    caplog.set_level(logging.WARNING, logger="content_library.services.search_words")
    with search_log_locked(app):
        page = client.get("/search?q=forecast")
        api = client.get("/api/v1/search", query_string={"q": "forecast guide"})
    assert page.status_code == 200 and "Forecast guide" in page.get_data(as_text=True)
    assert api.status_code == 200 and api.json["total"] == 1
    assert logged(app) == before  # both rows skipped, not waited for
    skipped = [r for r in caplog.records if "search not logged" in r.getMessage()]
    assert len(skipped) == 2
    # The lock gone, logging goes on as before, on connections back at their usual timeout.
    assert client.get("/search?q=forecast").status_code == 200
    assert logged(app) == before + 1


def instrument_file_reading(app, monkeypatch) -> list[str]:
    """Make text and template-field reading first try to take the write lock from another
    connection, without waiting; returns where it records "free" or "locked" each time."""
    url = app.config["DATABASE_URL"]
    if not url.startswith("sqlite"):
        pytest.skip("only SQLite has one write lock for the whole database")
    seen: list[str] = []

    def instrumented(read):
        def run(path, kind):
            other = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0,
                                    isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
                seen.append("free")
            except sqlite3.OperationalError:
                seen.append("locked")
            finally:
                other.close()
            return read(path, kind)
        return run

    monkeypatch.setattr(file_service, "extract_text", instrumented(file_service.extract_text))
    monkeypatch.setattr(file_service, "template_fields",
                        instrumented(file_service.template_fields))
    return seen


def test_reading_an_uploads_text_holds_no_write_lock(app, client, taxonomy, make_user, login,
                                                     monkeypatch):
    seen = instrument_file_reading(app, monkeypatch)
    _, manager = make_user("manager")
    login(manager)
    response = client.post("/library/new", content_type="multipart/form-data", data={
        "csrf_token": page_token(client, "/library/new"), "title": "Quarterly deck",
        "slug": "deck", "type": "case-study", "audience": "external", "status": "published",
        "stages": "understanding-offerings", "file": (io.BytesIO(pdf_bytes()), "deck.pdf")})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    assert seen == ["free", "free"]


def test_an_import_reads_its_files_before_taking_the_write_lock(app, runner, tmp_path,
                                                                 monkeypatch):
    seen = instrument_file_reading(app, monkeypatch)
    (tmp_path / "files").mkdir()
    for name in ("a.pdf", "b.pdf"):
        (tmp_path / "files" / name).write_bytes(pdf_bytes() + name.encode())
    items = [{"slug": f"deck-{n}", "title": f"Deck {n}", "type": "case-study",
              "audience": "external", "status": "published", "stages": ["negotiating"],
              "file": f"files/{n}.pdf"} for n in ("a", "b")]
    path = tmp_path / "lib.json"
    path.write_text(json.dumps({"taxonomy": TAXONOMY, "items": items}))
    result = runner.invoke(args=["library", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "created 2" in result.output
    assert seen == ["free"] * 4
