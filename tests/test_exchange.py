"""The exchange format: import all or nothing, errors that name file, item and field, round trip."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from content_library.models import ContentItem, ItemVersion, Stage
from portal.extensions import db
from tests.conftest import TAXONOMY


def write(path: Path, document) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False) if path.suffix != ".json"
                    else json.dumps(document))
    return path


def item(slug="cfo-roi", **fields):
    return {"slug": slug, "title": "ROI for the CFO", "summary": "Numbers.", "type": "case-study",
            "audience": "external", "status": "published", "stages": ["building-business-case"],
            "stakeholders": ["cfo"], **fields}


def counts(session) -> tuple[int, int, int]:
    return (session.scalar(select(func.count()).select_from(ContentItem)),
            session.scalar(select(func.count()).select_from(ItemVersion)),
            session.scalar(select(func.count()).select_from(Stage)))


def run_import(runner, path, *args):
    return runner.invoke(args=["library", "import", str(path), *args])


def test_import_creates_taxonomy_and_items_and_counts_them(app, runner, tmp_path):
    path = write(tmp_path / "lib.yaml", {"taxonomy": TAXONOMY, "items": [item(), item("b")]})
    result = run_import(runner, path)
    assert result.exit_code == 0, result.output
    assert "created 2, updated 0, unchanged 0" in result.output
    again = run_import(runner, path)
    assert "created 0, updated 0, unchanged 2" in again.output


def test_import_of_a_changed_item_keeps_the_previous_version(app, runner, tmp_path):
    write(tmp_path / "a.yaml", {"taxonomy": TAXONOMY, "items": [item(body="old words")]})
    run_import(runner, tmp_path / "a.yaml")
    write(tmp_path / "b.yaml", {"items": [item(body="new words")]})
    result = run_import(runner, tmp_path / "b.yaml")
    assert "updated 1" in result.output
    with app.app_context():
        versions = db.session.scalars(select(ItemVersion).order_by(ItemVersion.number)).all()
        assert [v.snapshot["body"] for v in versions] == ["old words", "new words"]


def test_dry_run_counts_but_changes_nothing(app, runner, tmp_path):
    path = write(tmp_path / "lib.json", {"taxonomy": TAXONOMY, "items": [item()]})
    result = run_import(runner, path, "--dry-run")
    assert result.exit_code == 0 and "created 1" in result.output
    with app.app_context():
        assert counts(db.session) == (0, 0, 0)


BAD = {
    "unknown stage slug": (item(stages=["nowhere"]), "item 'cfo-roi' (#1): stages"),
    "missing title": (item(title=""), "item 'cfo-roi' (#1): title"),
    "bad status": (item(status="live"), "item 'cfo-roi' (#1): status"),
    "bad audience": (item(audience="public"), "item 'cfo-roi' (#1): audience"),
    "bad date": (item(review_by="31/03/2027"), "item 'cfo-roi' (#1): review_by"),
    "file missing": (item(file="files/nothing.pdf"), "item 'cfo-roi' (#1): file"),
    "file outside": (item(file="../secret.pdf"), "item 'cfo-roi' (#1): file"),
    "absolute file": (item(file="/etc/passwd"), "item 'cfo-roi' (#1): file"),
    "unknown field": (item(price=3), "item 'cfo-roi' (#1): price"),
    "bad slug": (item(slug="Bad Slug"), "(#1): slug"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_kind_of_mistake_is_named_and_nothing_is_imported(app, runner, tmp_path, case):
    bad_item, expected = BAD[case]
    (tmp_path / "secret.pdf").write_bytes(b"%PDF-1.4\n")
    folder = tmp_path / "exchange"
    folder.mkdir()
    path = write(folder / "lib.yaml", {"taxonomy": TAXONOMY, "items": [bad_item, item("good")]})
    result = run_import(runner, path)
    assert result.exit_code != 0
    assert "lib.yaml" in result.output and expected in result.output, result.output
    with app.app_context():
        assert counts(db.session) == (0, 0, 0)


def test_a_repeated_slug_is_an_error(app, runner, tmp_path):
    path = write(tmp_path / "lib.yaml", {"taxonomy": TAXONOMY, "items": [item(), item()]})
    result = run_import(runner, path)
    assert result.exit_code != 0 and "(#2): slug" in result.output
    with app.app_context():
        assert counts(db.session) == (0, 0, 0)


def test_broken_yaml_is_a_one_line_error(app, runner, tmp_path):
    path = tmp_path / "lib.yaml"
    path.write_text("items: [\n  - {slug: a\n")
    result = run_import(runner, path)
    assert result.exit_code != 0 and "lib.yaml: not valid YAML" in result.output


def test_a_file_that_is_not_what_it_claims_is_refused_whole(app, runner, tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "deck.pdf").write_text("<html><script>alert(1)</script></html>")
    path = write(tmp_path / "lib.yaml", {"taxonomy": TAXONOMY,
                                         "items": [item("good"), item(file="files/deck.pdf")]})
    result = run_import(runner, path)
    assert result.exit_code != 0 and "file" in result.output
    with app.app_context():
        assert counts(db.session) == (0, 0, 0)


def test_export_import_export_gives_the_same_file(app_config, tmp_path, runner, app):
    from content_library.demo.make_files import write_template_files
    from portal import create_app

    source = tmp_path / "source"
    (source / "files").mkdir(parents=True)
    write_template_files(source / "files")
    argument = {"value_statement": "Close the quarter with confidence.",
                "business_problems": ["Forecasts miss by 20%", "Spreadsheets"],
                "financial_justification": "Pays back in 7 months."}
    items = [item(body="## Why\nBecause.\n", argument=argument, review_by="2027-03-31",
                  owner="marketing@example.com", file="files/business-case-template.docx"),
             item("draft-one", status="draft", audience="internal", stakeholders=[]),
             item("archived-one", status="archived", verticals=["healthcare"])]
    write(source / "lib.yaml", {"taxonomy": TAXONOMY, "items": items})
    assert run_import(runner, source / "lib.yaml").exit_code == 0
    first = tmp_path / "first" / "export.yaml"
    assert runner.invoke(args=["library", "export", str(first)]).exit_code == 0

    empty = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
                        "INDEX_DIR": str(tmp_path / "index2"), "UPLOAD_DIR": str(tmp_path / "up2")})
    with empty.app_context():
        from content_library.models import Base

        Base.metadata.create_all(db.engine)
    second_runner = empty.test_cli_runner()
    assert second_runner.invoke(args=["library", "import", str(first)]).exit_code == 0
    second = tmp_path / "second" / "export.yaml"
    assert second_runner.invoke(args=["library", "export", str(second)]).exit_code == 0

    assert first.read_text() == second.read_text()
    exported = yaml.safe_load(first.read_text())
    assert {i["status"] for i in exported["items"]} == {"published", "draft", "archived"}
    copied = [i for i in exported["items"] if "file" in i]
    assert len(copied) == 1
    assert (first.parent / copied[0]["file"]).read_bytes() == \
        (source / "files" / "business-case-template.docx").read_bytes()
