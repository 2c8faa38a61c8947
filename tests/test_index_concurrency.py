"""Several processes writing at once: no lock error reaches a person or a log as a
traceback, no update is lost. On SQLite with Whoosh and, given PORTAL_TEST_DATABASE_URL,
on PostgreSQL with its own search backend."""

from __future__ import annotations

import json
import multiprocessing
import traceback
from pathlib import Path

import pytest
from sqlalchemy import func, select

from content_library.models import ContentItem, IndexChange, ItemVersion
from portal.extensions import db
from portal.indexing import backend, drain_pending


@pytest.fixture(params=["sqlite", "postgres"])
def app_config(request, app_config, tmp_path):
    if request.param == "sqlite":
        return {**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}"}
    url = request.getfixturevalue("own_postgres_database")
    return {**app_config, "DATABASE_URL": url, "SEARCH_BACKEND": "postgres"}


def _worker(config: dict, prefix: str, count: int, errors) -> None:
    try:
        from content_library.services import items as item_service
        from portal import create_app
        from portal.extensions import db as worker_db

        app = create_app(config)
        with app.app_context():
            for n in range(count):
                item_service.save_item(worker_db.session, item_service.ItemInput(
                    slug=f"{prefix}-{n}", title=f"{prefix} item {n}", type="case-study",
                    audience="external", status="published",
                    stages=("understanding-offerings",)), None)
                worker_db.session.close()
    except Exception:  # reported to the test, which fails with the traceback
        errors.put(traceback.format_exc())


def test_two_processes_saving_at_once_lose_nothing(app, app_config, taxonomy):
    context = multiprocessing.get_context("spawn")
    errors = context.Queue()
    workers = [context.Process(target=_worker, args=(app_config, name, 15, errors))
               for name in ("east", "west")]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert not problems, problems[0]
    assert all(worker.exitcode == 0 for worker in workers)

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ContentItem)) == 30
        drain_pending(app)  # whatever a busy lock left pending is applied now
        assert db.session.scalar(select(func.count()).select_from(IndexChange)) == 0
        indexed = backend(app).fingerprints()
    assert {f"{side}-{n}" for side in ("east", "west") for n in range(15)} <= set(indexed)


IMPORTERS = 3
IMPORT_ROUNDS = 4


def _import_worker(config: dict, name: str, folder: str, start, reports) -> None:
    """`portal library import` of the same item, each round at the same moment as the
    other importers, each time with words of its own."""
    try:
        from portal import create_app

        runner = create_app(config).test_cli_runner()
        answers = []
        for round_number in range(IMPORT_ROUNDS):
            path = Path(folder) / f"{name}-{round_number}.json"
            path.write_text(json.dumps({"items": [{
                "slug": "shared-plan", "title": "Shared plan", "type": "case-study",
                "audience": "external", "status": "published", "stages": ["understanding-offerings"],
                "body": f"{name} wrote this in round {round_number}.",
            }]}))
            start.wait(60)
            result = runner.invoke(args=["library", "import", str(path)])
            answers.append((result.exit_code, repr(result.exception), result.output))
        reports.put((name, answers))
    except Exception:  # reported to the test, which fails with the traceback
        reports.put((name, traceback.format_exc()))


def test_importers_updating_one_item_at_once_all_land_as_consecutive_versions(app, app_config,
                                                                           taxonomy, tmp_path,
                                                                           capfd):
    context = multiprocessing.get_context("spawn")
    start, reports = context.Barrier(IMPORTERS), context.Queue()
    workers = [context.Process(target=_import_worker,
                               args=(app_config, f"importer{n}", str(tmp_path), start, reports))
               for n in range(IMPORTERS)]
    for worker in workers:
        worker.start()
    answers = dict(reports.get(timeout=300) for _ in workers)
    for worker in workers:
        worker.join(60)
    for name, theirs in answers.items():
        assert isinstance(theirs, list), theirs
        for exit_code, exception, output in theirs:
            assert (exit_code, exception) == (0, "None"), f"{name}: {exception} {output}"
            assert "Traceback" not in output and "database is locked" not in output, output
    errors = capfd.readouterr().err  # the importers' own log lines, drains included
    assert "Traceback" not in errors and "database is locked" not in errors, errors

    with app.app_context():
        numbers = list(db.session.scalars(select(ItemVersion.number).order_by(ItemVersion.number)))
        assert numbers == list(range(1, IMPORTERS * IMPORT_ROUNDS + 1))
        assert db.session.scalar(select(ContentItem.version)) == len(numbers)
        db.session.close()
    drain_pending(app)  # anything a busy moment left pending, as the next request would
    result = app.test_cli_runner().invoke(args=["index", "check", "--quiet"])
    assert result.output.startswith("index: missing 0, stale 0, extra 0, pending 0"), result.output
