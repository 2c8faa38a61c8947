"""The demo library is what a new user sees first: check it is complete, consistent and valid.

These tests read the exchange file and the two champion templates directly, without the
portal, so they stay fast and point at the data when something is wrong.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from datetime import date
from pathlib import Path

import docx
import openpyxl
import pytest
import yaml

DEMO = Path(__file__).resolve().parents[1] / "content_library" / "demo"
LIBRARY = DEMO / "library.yaml"

PHASES = {"conversations", "funded-project", "vendor-of-choice", "closed"}
STATUSES = {"draft", "in_review", "published", "archived"}
AUDIENCES = {"internal", "external"}
SLUG = re.compile(r"[a-z0-9-]{1,120}")
DEMO_OWNERS = {"maria.marketing@demo.example", "admin@demo.example"}

ARGUMENT_LISTS = {
    "business_problems",
    "proof",
    "discovery_questions",
    "implication_questions",
    "client_actions",
    "features",
    "personal_advantages",
    "examples",
}
ARGUMENT_TEXTS = {
    "value_statement",
    "organizational_impact",
    "capability_proof",
    "before_after",
    "financial_justification",
}
REQUIRED_TYPES = {
    "sales-argument",
    "case-study",
    "battle-card",
    "checklist",
    "call-script",
    "letter-template",
    "business-case-template",
    "roi-calculator",
    "value-proposition",
    "cheat-sheet",
    "demo-script",
    "implementation-plan",
    "training-vignette",
}
TAG_LISTS = {
    "stages": "stages",
    "stakeholders": "stakeholders",
    "solutions": "solutions",
    "verticals": "verticals",
}
PLACEHOLDERS = [
    "company_name",
    "champion_name",
    "annual_revenue",
    "current_cost",
    "expected_savings",
    "project_start",
]
PLACEHOLDER = re.compile(r"\{\{[a-z_]+\}\}")


@pytest.fixture(scope="module")
def library() -> dict:
    with LIBRARY.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


@pytest.fixture(scope="module")
def items(library) -> list[dict]:
    return library["items"]


@pytest.fixture(scope="module")
def published(items) -> list[dict]:
    return [item for item in items if item["status"] == "published"]


def _slugs(library: dict, kind: str) -> set[str]:
    return {entry["slug"] for entry in library["taxonomy"][kind]}


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


# --- taxonomy ---------------------------------------------------------------------------------


def test_stages_follow_the_buyer_with_goals_and_exit_criteria(library):
    stages = library["taxonomy"]["stages"]
    assert len(stages) >= 8
    assert {stage["phase"] for stage in stages} == PHASES
    for stage in stages:
        assert stage["phase"] in PHASES, stage["slug"]
        assert stage["name"] and stage["buyer_goal"], stage["slug"]
        assert 2 <= len(stage["exit_criteria"]) <= 4, stage["slug"]
    assert stages[-1]["phase"] == "closed"


def test_stakeholders_solutions_verticals_and_types(library):
    taxonomy = library["taxonomy"]
    assert len(taxonomy["stakeholders"]) >= 5
    assert all(entry["description"] for entry in taxonomy["stakeholders"])
    assert len(taxonomy["solutions"]) == 3
    assert len(taxonomy["verticals"]) >= 4
    assert _slugs(library, "content_types") >= REQUIRED_TYPES
    assert all(entry["name"] and entry["description"] for entry in taxonomy["content_types"])
    for kind, entries in taxonomy.items():
        slugs = [entry["slug"] for entry in entries]
        assert len(slugs) == len(set(slugs)), kind
        assert all(SLUG.fullmatch(slug) for slug in slugs), kind


# --- items ------------------------------------------------------------------------------------


def test_item_slugs_are_valid_and_unique(items):
    slugs = [item["slug"] for item in items]
    assert [slug for slug, count in Counter(slugs).items() if count > 1] == []
    assert [slug for slug in slugs if not SLUG.fullmatch(slug)] == []


def test_every_item_is_well_formed(library, items):
    types = _slugs(library, "content_types")
    for item in items:
        slug = item["slug"]
        assert item["title"].strip() and item["summary"].strip(), slug
        assert item["status"] in STATUSES, slug
        assert item["audience"] in AUDIENCES, slug
        assert item["type"] in types, slug
        assert item["stages"], slug
        assert item["owner"] in DEMO_OWNERS, slug
        _as_date(item["review_by"])


def test_every_tag_used_by_an_item_exists(library, items):
    known = {field: _slugs(library, kind) for field, kind in TAG_LISTS.items()}
    unknown = [
        (item["slug"], field, tag)
        for item in items
        for field in TAG_LISTS
        for tag in item.get(field, [])
        if tag not in known[field]
    ]
    assert unknown == []


def test_item_tags_are_listed_in_display_order(library, items):
    # The importer compares an item's tags as ordered lists, and the database returns them
    # in display order: any other order makes every `demo load` report phantom updates.
    order = {
        field: [e["slug"] for e in library["taxonomy"][kind]] for field, kind in TAG_LISTS.items()
    }
    misordered = [
        (item["slug"], field)
        for item in items
        for field in TAG_LISTS
        if item[field] != sorted(item[field], key=order[field].index)
    ]
    assert misordered == []


def test_published_items_cover_every_stage(library, published):
    assert len(published) >= 60
    for stage in library["taxonomy"]["stages"]:
        in_stage = [item for item in published if stage["slug"] in item["stages"]]
        if stage["phase"] == "closed":
            assert in_stage, stage["slug"]
            continue
        assert len(in_stage) >= 5, stage["slug"]
        stakeholders = {who for item in in_stage for who in item["stakeholders"]}
        assert len(stakeholders) >= 3, stage["slug"]


def test_the_library_has_work_in_progress_and_stale_content(items, published):
    statuses = Counter(item["status"] for item in items)
    assert statuses["draft"] >= 3
    assert statuses["in_review"] >= 2
    assert statuses["archived"] >= 2
    stale = [item for item in published if _as_date(item["review_by"]) < date.today()]
    assert len(stale) >= 4


def test_sales_arguments_are_complete(published):
    arguments = [item for item in published if item["type"] == "sales-argument"]
    assert len(arguments) >= 12
    for item in arguments:
        argument = item["argument"]
        assert set(argument) == ARGUMENT_LISTS | ARGUMENT_TEXTS, item["slug"]
        for field in ARGUMENT_LISTS:
            entries = argument[field]
            assert isinstance(entries, list) and 2 <= len(entries) <= 4, (item["slug"], field)
            assert all(isinstance(entry, str) and entry.strip() for entry in entries)
        for field in ARGUMENT_TEXTS:
            assert isinstance(argument[field], str) and argument[field].strip(), (
                item["slug"],
                field,
            )
    # The same claim is tailored to different people.
    assert len({who for item in arguments for who in item["stakeholders"]}) >= 5


def test_internal_material_never_reaches_champions(items):
    internal_only = {"battle-card", "call-script", "sales-argument", "training-vignette"}
    customer_facing = {"case-study", "business-case-template"}
    for item in items:
        if item["type"] in internal_only:
            assert item["audience"] == "internal", item["slug"]
        if item["type"] in customer_facing:
            assert item["audience"] == "external", item["slug"]


def test_bodies_are_readable_markdown(items):
    for item in items:
        body = item.get("body")
        if item["type"] != "sales-argument":
            assert body, item["slug"]
        if not body:
            continue
        assert 80 <= len(body.split()) <= 300, item["slug"]
        assert not re.search(r"</?[a-zA-Z][^>]*>", body), item["slug"]
        assert re.search(r"^(#{1,6} |\s*[-*] |\s*\d+\. )", body, re.MULTILINE), item["slug"]


def test_referenced_files_exist_inside_the_demo_folder(items):
    files = {item["file"] for item in items if item.get("file")}
    assert {"files/business-case-template.docx", "files/roi-calculator.xlsx"} <= files
    for name in files:
        path = (DEMO / name).resolve()
        assert path.is_relative_to(DEMO.resolve()), name
        assert path.is_file(), name


def test_business_case_templates_are_for_the_champion_and_the_cfo(published):
    templates = [item for item in published if item["type"] == "business-case-template"]
    assert len(templates) >= 2
    for item in templates:
        assert item["audience"] == "external"
        assert "building-business-case" in item["stages"]
        assert {"cfo", "champion"} <= set(item["stakeholders"])
        assert item.get("file")


# --- the champion templates -------------------------------------------------------------------


def _document_runs(document) -> list[str]:
    paragraphs = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                paragraphs.extend(cell.paragraphs)
    for section in document.sections:
        paragraphs.extend(section.footer.paragraphs)
    return [run.text for paragraph in paragraphs for run in paragraph.runs]


def test_business_case_docx_has_placeholders_each_in_one_run():
    document = docx.Document(str(DEMO / "files" / "business-case-template.docx"))
    runs = _document_runs(document)
    whole = {text for text in runs if PLACEHOLDER.fullmatch(text)}
    for name in PLACEHOLDERS:
        assert "{{" + name + "}}" in whole, name
    # No placeholder is split across runs or buried inside a longer run.
    assert sum(len(PLACEHOLDER.findall(text)) for text in runs) == sum(
        1 for text in runs if PLACEHOLDER.fullmatch(text)
    )
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    for section in ("Executive summary", "Investment", "Payback", "Risks", "Recommendation"):
        assert any(section in heading for heading in headings), section


def test_roi_calculator_has_live_formulas_and_named_inputs():
    workbook = openpyxl.load_workbook(DEMO / "files" / "roi-calculator.xlsx")
    assert {"Inputs", "Calculation"} <= set(workbook.sheetnames)
    formulas = [
        cell.value
        for row in workbook["Calculation"].iter_rows()
        for cell in row
        if isinstance(cell.value, str) and cell.value.startswith("=")
    ]
    assert len(formulas) >= 20
    names = dict(workbook.defined_names.items())
    for name in ("company_name", "licence_cost", "annual_revenue", "implementation_cost"):
        assert names[name].attr_text.startswith("Inputs!"), name
        assert any(name in formula for formula in formulas), name
    # Defined names are the fields a champion fills in: inputs only, never a formula.
    assert all(definition.attr_text.startswith("Inputs!") for definition in names.values())


def test_template_files_are_regenerated_identically(tmp_path):
    spec = importlib.util.spec_from_file_location("demo_make_files", DEMO / "make_files.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    first, second = tmp_path / "first", tmp_path / "second"
    module.write_template_files(first)
    module.write_template_files(second)
    for name in ("business-case-template.docx", "roi-calculator.xlsx"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
