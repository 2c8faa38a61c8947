"""The content exchange format (INTERFACES section 4): import all or nothing, export everything."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid
from ..models import ARGUMENT_FIELDS, TAG_MODELS, ContentItem, User
from ..progress import Progress, quiet
from . import taxonomy as taxonomy_service
from .files import (
    DEFAULT_MAX_BYTES,
    ReceivedFile,
    discard_unreferenced,
    keep_file,
    receive_file,
    stored_path,
)
from .items import ItemInput, apply_item, clean_argument, validate

ITEM_KEYS = (
    "slug", "title", "summary", "type", "audience", "status", "stages", "stakeholders",
    "solutions", "verticals", "owner", "review_by", "body", "argument", "file",
)  # fmt: skip
TAG_KEYS = {"slug", "name", "description"}
STAGE_KEYS = TAG_KEYS | {"phase", "buyer_goal", "exit_criteria"}
LIST_KEYS = ("stages", "stakeholders", "solutions", "verticals")
# The steps an import tells its progress about.
CHECKING_FILES = "checking files"
SAVING_ITEMS = "saving items"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    taxonomy: dict[str, int] = field(default_factory=dict)  # created or updated tags per kind

    def line(self) -> str:
        return f"created {self.created}, updated {self.updated}, unchanged {self.unchanged}"


class ImportFailed(Invalid):
    """Every problem found, each naming the file, the item and the field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__({"": problems[0] if len(problems) == 1
                          else f"{problems[0]} (and {len(problems) - 1} more problems)"})


def read_exchange_file(path: Path) -> dict:
    if not path.is_file():
        raise ImportFailed([f"{path}: no such file"])
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text)
        else:
            raise ImportFailed([f"{path.name}: use a .json, .yaml or .yml file"])
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        where = getattr(exc, "lineno", None) or getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ImportFailed([f"{path.name}: not valid {path.suffix[1:].upper()}"
                            + (f" (line {where})" if where else "")]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ImportFailed([f"{path.name}: expected a mapping with 'taxonomy' and 'items'"])
    unknown = set(data) - {"taxonomy", "items"}
    if unknown:
        raise ImportFailed([f"{path.name}: unknown top-level key '{sorted(unknown)[0]}'"])
    return data


def _text(value, name: str, problems: list[str], where: str, default: str = "") -> str:
    if value is None:
        return default
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        problems.append(f"{where}: {name}: expected a text")
        return default
    return value


def _slug_list(value, name: str, problems: list[str], where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(f"{where}: {name}: expected a list of slugs")
        return ()
    return tuple(value)


def _date(value, problems: list[str], where: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: review_by: expected a date like 2027-03-31, got '{value}'")
        return None


def _item_input(raw: dict, problems: list[str], where: str) -> ItemInput:
    unknown = [k for k in raw if k not in ITEM_KEYS]
    for key in unknown:
        problems.append(f"{where}: {key}: not a field of an item")
    return ItemInput(
        slug=_text(raw.get("slug"), "slug", problems, where),
        title=_text(raw.get("title"), "title", problems, where),
        summary=_text(raw.get("summary"), "summary", problems, where),
        type=_text(raw.get("type"), "type", problems, where),
        audience=_text(raw.get("audience"), "audience", problems, where, "internal"),
        status=_text(raw.get("status"), "status", problems, where, "draft"),
        **{k: _slug_list(raw.get(k), k, problems, where) for k in LIST_KEYS},
        owner=_text(raw.get("owner"), "owner", problems, where) or None,
        review_by=_date(raw.get("review_by"), problems, where),
        body=_text(raw.get("body"), "body", problems, where),
        argument=raw.get("argument") or {},
    )


def _check_taxonomy(data: dict, name: str, problems: list[str]) -> dict[str, list[dict]]:
    taxonomy = data.get("taxonomy") or {}
    if not isinstance(taxonomy, dict):
        problems.append(f"{name}: taxonomy: expected a mapping of tag lists")
        return {}
    checked: dict[str, list[dict]] = {}
    for kind, entries in taxonomy.items():
        if kind not in TAG_MODELS:
            problems.append(f"{name}: taxonomy: unknown list '{kind}'")
            continue
        if not isinstance(entries, list):
            problems.append(f"{name}: taxonomy.{kind}: expected a list")
            continue
        seen: set[str] = set()
        allowed = STAGE_KEYS if kind == "stages" else TAG_KEYS
        for n, entry in enumerate(entries, 1):
            where = f"{name}: taxonomy.{kind} #{n}"
            if not isinstance(entry, dict):
                problems.append(f"{where}: expected a mapping with slug and name")
                continue
            where = f"{name}: taxonomy.{kind} '{entry.get('slug')}'"
            for key in entry:
                if key not in allowed:
                    problems.append(f"{where}: {key}: not a field of {kind}")
            for key, reason in taxonomy_service.validate_tag(kind, entry).items():
                problems.append(f"{where}: {key}: {reason}")
            if entry.get("slug") in seen:
                problems.append(f"{where}: slug: listed twice")
            seen.add(entry.get("slug"))
        checked[kind] = entries
    return checked


def _resolve_file(folder: Path, value, problems: list[str], where: str) -> Path | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        problems.append(f"{where}: file: expected a relative path")
        return None
    candidate = (folder / value).resolve()
    if Path(value).is_absolute() or not candidate.is_relative_to(folder.resolve()):
        problems.append(f"{where}: file: '{value}' is outside the exchange file's folder")
        return None
    if not candidate.is_file():
        problems.append(f"{where}: file: '{value}' does not exist")
        return None
    return candidate


def import_library(session: Session, path: Path, upload_dir: Path, *, actor: User | None = None,
                   dry_run: bool = False, max_bytes: int = DEFAULT_MAX_BYTES,
                   progress: Progress = quiet) -> ImportReport:
    """Import an exchange file. Every problem is found before anything is written; any
    problem means nothing is imported. A dry run checks and counts, then rolls back.
    `progress` hears of each file checked and each item saved."""
    path = Path(path)
    name = path.name
    data = read_exchange_file(path)
    problems: list[str] = []
    taxonomy = _check_taxonomy(data, name, problems)
    raw_items = data.get("items") or []
    if not isinstance(raw_items, list):
        raise ImportFailed([f"{name}: items: expected a list"])

    known = {kind: {t.slug for t in taxonomy_service.ordered(session, kind)}
             | {e.get("slug") for e in taxonomy.get(kind, []) if isinstance(e, dict)}
             for kind in TAG_MODELS}
    inputs: list[tuple[ItemInput, Path | None, str]] = []
    seen: set[str] = set()
    for n, raw in enumerate(raw_items, 1):
        if not isinstance(raw, dict):
            problems.append(f"{name}: item #{n}: expected a mapping")
            continue
        where = f"{name}: item '{raw.get('slug')}' (#{n})"
        data_in = _item_input(raw, problems, where)
        for key, reason in validate(session, data_in, known_tags=known).items():
            problems.append(f"{where}: {key}: {reason}")
        if data_in.slug in seen:
            problems.append(f"{where}: slug: repeats an earlier item's slug")
        seen.add(data_in.slug)
        file_path = _resolve_file(path.parent, raw.get("file"), problems, where)
        inputs.append((data_in, file_path, where))
    if problems:
        raise ImportFailed(problems)

    # Checking files and reading their text is the slow part: done before the write lock.
    received: list[ReceivedFile | None] = []
    try:
        with_files = sum(1 for _, file_path, _ in inputs if file_path is not None)
        checked = 0
        for _, file_path, where in inputs:
            received.append(_receive(upload_dir, file_path, max_bytes, problems, where))
            if file_path is not None:
                checked += 1
                progress(CHECKING_FILES, checked, with_files)
        if problems:
            raise ImportFailed(problems)
        return _write_import(session, taxonomy, inputs, received, upload_dir, actor, name,
                             dry_run, progress)
    finally:
        for file in received:
            if file is not None:
                file.discard()


def _receive(upload_dir: Path, file_path: Path | None, max_bytes: int, problems: list[str],
             where: str) -> ReceivedFile | None:
    if file_path is None:
        return None
    try:
        with file_path.open("rb") as source:
            return receive_file(upload_dir, source, file_path.name, max_bytes)
    except Invalid as exc:
        problems.append(f"{where}: file: {exc.reasons['file']}")
        return None


def _write_import(session: Session, taxonomy: dict, inputs: list, received: list,
                  upload_dir: Path, actor: User | None, name: str, dry_run: bool,
                  progress: Progress) -> ImportReport:
    report = ImportReport()
    begin_write(session)
    try:
        for kind, entries in taxonomy.items():
            for position, entry in enumerate(entries):
                outcome = taxonomy_service.merge_tag(session, kind, entry, position)
                if outcome != "unchanged":
                    report.taxonomy[kind] = report.taxonomy.get(kind, 0) + 1
        session.flush()
        for done, ((data_in, _, _), incoming) in enumerate(zip(inputs, received, strict=True), 1):
            file = keep_file(session, upload_dir, incoming) if incoming else None
            _, outcome = apply_item(session, data_in, actor, note=f"Imported from {name}", file=file)
            setattr(report, outcome, getattr(report, outcome) + 1)
            progress(SAVING_ITEMS, done, len(inputs))
        session.flush()
    except BaseException:
        session.rollback()
        discard_unreferenced(session, upload_dir)
        raise
    if dry_run:
        session.rollback()
        discard_unreferenced(session, upload_dir)
    else:
        session.commit()
        session.info.pop("new_files", None)
    return report


class _BlockStyleDumper(yaml.SafeDumper):
    """Multi-line texts as literal blocks, so an exported body reads like the Markdown it is."""


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockStyleDumper.add_representer(str, _represent_str)


def _export_item(item: ContentItem, folder: Path, upload_dir: Path) -> dict:
    out: dict = {
        "slug": item.slug, "title": item.title, "summary": item.summary,
        "type": item.type.slug, "audience": item.audience, "status": item.status,
        "stages": [t.slug for t in item.stages],
        "stakeholders": [t.slug for t in item.stakeholders],
        "solutions": [t.slug for t in item.solutions],
        "verticals": [t.slug for t in item.verticals],
    }
    if item.owner_email:
        out["owner"] = item.owner_email
    if item.review_by:
        out["review_by"] = item.review_by
    if item.body:
        out["body"] = item.body
    argument, _ = clean_argument(item.argument)
    if argument:
        out["argument"] = {k: argument[k] for k in ARGUMENT_FIELDS if k in argument}
    if item.file is not None:
        relative = Path("files") / item.slug / (item.file_name or f"file{item.file.kind}")
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(stored_path(upload_dir, item.file.sha256), target)
        out["file"] = relative.as_posix()
    return out


def _export_tag(kind: str, tag) -> dict:
    out = {"slug": tag.slug, "name": tag.name}
    if kind == "stages":
        out.update(phase=tag.phase, buyer_goal=tag.buyer_goal, exit_criteria=list(tag.exit_criteria))
    if tag.description:
        out["description"] = tag.description
    return out


def export_library(session: Session, path: Path, upload_dir: Path) -> int:
    """Write the whole library, every status, with each item's file in files/ beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    taxonomy = {kind: [_export_tag(kind, t) for t in taxonomy_service.ordered(session, kind)]
                for kind in TAG_MODELS}
    items = [_export_item(item, path.parent, upload_dir)
             for item in session.scalars(select(ContentItem).order_by(ContentItem.slug))]
    document = {"taxonomy": taxonomy, "items": items}
    if path.suffix.lower() == ".json":
        text = json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n"
    else:
        text = yaml.dump(document, Dumper=_BlockStyleDumper, sort_keys=False,
                         allow_unicode=True, width=100)
    path.write_text(text, encoding="utf-8")
    return len(items)
