"""Imports point one way: portal → content_library, search_index; search_index → records only."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        names: set[str] = set()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def test_content_library_knows_nothing_of_the_web():
    for path, names in imported_modules("content_library").items():
        bad = {n for n in names if n.split(".")[0] in {"flask", "flask_login", "flask_wtf",
                                                       "werkzeug", "portal", "search_index"}}
        assert not bad, f"{path} imports {bad}"


def test_search_index_sees_only_plain_records():
    for path, names in imported_modules("search_index").items():
        bad = {n for n in names if n.split(".")[0] in {"flask", "portal", "sqlalchemy"}
               or (n.startswith("content_library") and n != "content_library.records")}
        assert not bad, f"{path} imports {bad}"
