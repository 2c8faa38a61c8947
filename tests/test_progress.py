"""Progress bars on long commands: drawn on a terminal, nothing at all otherwise; the
services tell a progress callback how far they are without knowing who listens."""

from __future__ import annotations

import io
from pathlib import Path

import yaml

from content_library.progress import quiet
from content_library.services import backup as backup_service
from content_library.services import exchange
from content_library.services.deals_import import SAVING_DEALS, import_deals
from portal.indexing import INDEXING, rebuild_index
from portal.progress import bars
from tests.conftest import TAXONOMY
from tests.test_visibility import pdf_bytes

EXPORTS = Path(__file__).parent / "crm_exports"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Heard:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, step: str, done: int, total: int) -> None:
        self.calls.append((step, done, total))

    def last(self, step: str) -> tuple[int, int]:
        return [(done, total) for s, done, total in self.calls if s == step][-1]


def test_no_terminal_no_bars():
    stream = io.StringIO()
    with bars(stream) as progress:
        assert progress is quiet
        progress("copying files", 1, 2)
    assert stream.getvalue() == ""


def test_a_terminal_gets_one_bar_per_step():
    stream = Terminal()
    with bars(stream) as progress:
        for done in range(1, 5):
            progress("copying files", done, 4)
        progress("restoring the database", 0, 1)
        progress("restoring the database", 1, 1)
    drawn = stream.getvalue()
    assert "Copying files" in drawn and "4/4" in drawn and "100%" in drawn
    assert "Restoring the database" in drawn


def test_the_commands_draw_on_a_terminal(app, runner, make_item, monkeypatch):
    make_item("roi-story")
    make_item("rival-card")
    terminal = Terminal()
    monkeypatch.setattr("portal.cli.bars", lambda: bars(terminal))
    result = runner.invoke(args=["index", "rebuild"])
    assert result.output == "indexed 2 items\n"  # standard output stays as it was
    assert "Indexing items" in terminal.getvalue() and "2/2" in terminal.getvalue()


def test_library_import_tells_each_file_and_item(app, ctx, tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "notes.pdf").write_bytes(pdf_bytes("notes"))
    items = [{"slug": f"item-{n}", "title": f"Item {n}", "type": "case-study",
              "audience": "external", "status": "published", "stages": ["negotiating"]}
             for n in range(3)]
    items[1]["file"] = "files/notes.pdf"
    path = tmp_path / "library.yaml"
    path.write_text(yaml.safe_dump({"taxonomy": TAXONOMY, "items": items}))
    heard = Heard()
    exchange.import_library(ctx, path, Path(app.config["UPLOAD_DIR"]), progress=heard)
    assert heard.last(exchange.CHECKING_FILES) == (1, 1)
    assert [c[1] for c in heard.calls if c[0] == exchange.SAVING_ITEMS] == [1, 2, 3]


def test_deals_import_tells_each_deal(ctx):
    heard = Heard()
    report = import_deals(ctx, EXPORTS / "salesforce_report.csv", "salesforce", progress=heard)
    total = report.created + report.updated + report.unchanged
    assert heard.last(SAVING_DEALS) == (total, total)


def test_rebuild_and_backup_tell_their_steps(app, make_item, tmp_path):
    for slug in ("a-item", "b-item", "c-item"):
        make_item(slug)
    heard = Heard()
    assert rebuild_index(app, heard) == 3
    assert heard.last(INDEXING) == (3, 3)
    heard = Heard()
    backup_service.backup(app.config["DATABASE_URL"], Path(app.config["UPLOAD_DIR"]),
                          tmp_path / "b.tar.gz", progress=heard)
    if backup_service.database_kind(app.config["DATABASE_URL"]) == "sqlite":
        assert heard.calls[:2] == [(backup_service.COPYING_DATABASE, 0, 1),
                                   (backup_service.COPYING_DATABASE, 1, 1)]
