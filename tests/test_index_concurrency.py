"""Several web processes writing at once: no lock error reaches a person, no update is lost."""

from __future__ import annotations

import multiprocessing
import traceback

from sqlalchemy import func, select

from content_library.models import ContentItem, IndexChange
from portal.extensions import db
from portal.indexing import backend, drain_pending


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
