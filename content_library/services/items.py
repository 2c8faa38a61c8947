"""Saving content items: validation, versions that never lose a word, the review workflow."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import begin_write, hold_name
from ..errors import Conflict, Invalid, NotFound
from ..models import (
    ARGUMENT_FIELDS,
    ARGUMENT_PARTS,
    AUDIENCES,
    LIST_ARGUMENT_FIELDS,
    STATUS_NAMES,
    STATUSES,
    ContentItem,
    ContentType,
    IndexChange,
    ItemVersion,
    Solution,
    Stage,
    Stakeholder,
    StoredFile,
    User,
    Vertical,
    utcnow,
)
from ..visibility import hides

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MAX_TITLE = 300
MAX_SUMMARY = 1_000
MAX_BODY = 200_000

# Which moves the review workflow allows, from each status.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "draft": ("in_review", "published", "archived"),
    "in_review": ("draft", "published"),
    "published": ("draft", "archived"),
    "archived": ("draft", "published"),
}
TRANSITION_VERBS = {
    "in_review": "Send for review",
    "published": "Publish",
    "draft": "Back to draft",
    "archived": "Archive",
}

TAG_FIELDS: dict[str, type] = {
    "stages": Stage,
    "stakeholders": Stakeholder,
    "solutions": Solution,
    "verticals": Vertical,
}


@dataclass(frozen=True)
class AttachedFile:
    stored: StoredFile
    name: str


@dataclass(frozen=True)
class ItemInput:
    """Everything a person may set on an item, as plain values (tags as slugs)."""

    slug: str
    title: str
    type: str
    summary: str = ""
    audience: str = "internal"
    status: str = "draft"
    stages: tuple[str, ...] = ()
    stakeholders: tuple[str, ...] = ()
    solutions: tuple[str, ...] = ()
    verticals: tuple[str, ...] = ()
    owner: str | None = None
    review_by: date | None = None
    body: str = ""
    argument: dict = field(default_factory=dict)


KEEP_FILE = object()  # save_item's default: leave the item's file as it is


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", (text or "").lower()).strip("-")
    return slug[:120].rstrip("-")


def clean_argument(raw: object) -> tuple[dict, dict[str, str]]:
    """The argument with empty parts dropped, and the reasons any part is malformed."""
    errors: dict[str, str] = {}
    if raw in (None, ""):
        return {}, errors
    if not isinstance(raw, dict):
        return {}, {"argument": "must be a mapping of argument parts"}
    cleaned: dict = {}
    for key, value in raw.items():
        if key not in ARGUMENT_FIELDS:
            errors[f"argument.{key}"] = "is not a part of a sales argument"
            continue
        if key in LIST_ARGUMENT_FIELDS:
            if isinstance(value, str):
                value = [line for line in value.splitlines() if line.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors[f"argument.{key}"] = "must be a list of texts"
                continue
            value = [v.strip() for v in value if v.strip()]
        else:
            if not isinstance(value, str):
                errors[f"argument.{key}"] = "must be a text"
                continue
            value = value.strip()
        if value:
            cleaned[key] = value
    return {k: cleaned[k] for k in ARGUMENT_FIELDS if k in cleaned}, errors


def validate(session: Session, data: ItemInput, *, known_tags: dict | None = None) -> dict[str, str]:
    """Every reason this input cannot be saved, by field. `known_tags` lets an import
    count taxonomy it is about to create."""
    errors: dict[str, str] = {}
    if not data.slug:
        errors["slug"] = "Enter a slug: lowercase letters, digits and '-'."
    elif len(data.slug) > 120 or not SLUG.match(data.slug):
        errors["slug"] = "Use lowercase letters, digits and single '-', at most 120 characters."
    if not data.title.strip():
        errors["title"] = "Enter a title."
    elif len(data.title) > MAX_TITLE:
        errors["title"] = f"Use at most {MAX_TITLE} characters."
    if len(data.summary) > MAX_SUMMARY:
        errors["summary"] = f"Use at most {MAX_SUMMARY} characters."
    if len(data.body) > MAX_BODY:
        errors["body"] = f"Use at most {MAX_BODY:,} characters."
    if data.audience not in AUDIENCES:
        errors["audience"] = "Choose internal (staff only) or external (may reach champions)."
    if data.status not in STATUSES:
        errors["status"] = f"Choose one of {', '.join(STATUSES)}."
    known = known_tags or {}
    types = known.get("content_types") or _slugs(session, ContentType)
    if not data.type:
        errors["type"] = "Choose a content type."
    elif data.type not in types:
        errors["type"] = f"Unknown content type '{data.type}'."
    for name, model in TAG_FIELDS.items():
        wanted = getattr(data, name)
        available = known.get(name) or _slugs(session, model)
        unknown = [s for s in wanted if s not in available]
        if unknown:
            errors[name] = f"Unknown {name[:-1]} '{unknown[0]}'."
        elif len(set(wanted)) != len(wanted):
            errors[name] = f"A {name[:-1]} is listed twice."
    if not data.stages and "stages" not in errors:
        errors["stages"] = "Choose at least one stage."
    if data.owner and not EMAIL.match(data.owner):
        errors["owner"] = "Enter the owner's e-mail address."
    _, argument_errors = clean_argument(data.argument)
    errors.update(argument_errors)
    return errors


def _slugs(session: Session, model) -> set[str]:
    return set(session.scalars(select(model.slug)))


def snapshot(item: ContentItem) -> dict:
    """An item's whole state as plain JSON: what a version keeps and what changes compare."""
    return {
        "slug": item.slug,
        "title": item.title,
        "summary": item.summary,
        "type": item.type.slug,
        "audience": item.audience,
        "status": item.status,
        "stages": [t.slug for t in item.stages],
        "stakeholders": [t.slug for t in item.stakeholders],
        "solutions": [t.slug for t in item.solutions],
        "verticals": [t.slug for t in item.verticals],
        "owner": item.owner_email,
        "review_by": item.review_by.isoformat() if item.review_by else None,
        "body": item.body,
        "argument": dict(item.argument or {}),
        "file": {"sha256": item.file.sha256, "name": item.file_name} if item.file else None,
    }


def _tags(session: Session, model) -> dict[str, object]:
    """Every tag of one kind by slug, loaded once per transaction: an import of thousands
    of items would otherwise ask the database for the same few tags thousands of times."""
    cache = session.info.get("tag_cache")
    transaction = session.get_transaction()
    if cache is None or cache[0] is not transaction:
        cache = (transaction, {})
        session.info["tag_cache"] = cache
    if model not in cache[1]:
        cache[1][model] = {t.slug: t for t in session.scalars(select(model))}
    return cache[1][model]


def _by_slug(session: Session, model, slugs: Sequence[str]) -> list:
    if not slugs:
        return []
    found = _tags(session, model)
    # Display order, as the relationship loads them: the order a person ticked them in
    # is not a change worth a new version.
    return sorted((found[s] for s in slugs), key=lambda t: (t.position, t.id or 0))


def _apply(session: Session, item: ContentItem, data: ItemInput, file) -> None:
    argument, _ = clean_argument(data.argument)
    item.slug = data.slug
    item.title = data.title.strip()
    item.summary = data.summary.strip()
    item.type = _tags(session, ContentType)[data.type]
    item.audience = data.audience
    item.status = data.status
    for name, model in TAG_FIELDS.items():
        setattr(item, name, _by_slug(session, model, getattr(data, name)))
    item.owner_email = (data.owner or "").strip().lower() or None
    item.review_by = data.review_by
    item.body = data.body
    item.argument = argument
    if file is not KEEP_FILE:
        item.file = file.stored if file else None
        item.file_name = file.name if file else None


def get_item(session: Session, slug: str) -> ContentItem:
    item = session.scalar(select(ContentItem).where(ContentItem.slug == slug))
    if item is None:
        raise NotFound(slug)
    return item


def apply_item(session: Session, data: ItemInput, actor: User | None, *, note: str = "",
               expected_version: int | None = None, existing: ContentItem | None = None,
               file=KEEP_FILE) -> tuple[ContentItem, str]:
    """Create or update without committing; returns the item and "created", "updated" or
    "unchanged". Callers validate first (save_item does; an import validates everything)."""
    item = _locked(session, existing, data.slug)
    op = "upsert"
    if item is None:
        item = ContentItem(version=1)
        with session.no_autoflush:
            _apply(session, item, data, file)
        session.add(item)
        outcome = "created"
    else:
        if expected_version is not None and expected_version != item.version:
            raise Conflict(
                f"Someone saved version {item.version} of this item while you were editing "
                f"version {expected_version}."
            )
        before = snapshot(item)
        old_slug = item.slug
        with session.no_autoflush:
            _apply(session, item, data, file)
        after = snapshot(item)
        if after == before:
            return item, "unchanged"
        item.version += 1
        item.updated_at = utcnow()
        if old_slug != item.slug:
            session.add(IndexChange(slug=old_slug, op="delete"))
        outcome = "updated"
        if hides((before["status"], before["audience"]), (after["status"], after["audience"])):
            op = "narrow"  # the index hides it before the commit (see portal/indexing.py)
    session.flush()
    # Here, not at the top: templates reads stored files, whose module imports this one.
    from .templates import sync_fields

    sync_fields(session, item)  # a new or changed file brings its own template fields
    session.add(ItemVersion(item=item, number=item.version, snapshot=snapshot(item),
                            author_id=actor.id if actor else None, note=note[:500]))
    session.add(IndexChange(slug=item.slug, op=op))
    return item, outcome


#: Held by whoever creates an item or renames one, so that two saves giving one slug take
#: turns (one lock for all: an import creating thousands of items takes only one).
NEW_SLUGS = "content-items:new-slug"


def _locked(session: Session, existing: ContentItem | None, slug: str) -> ContentItem | None:
    """The item as the database holds it now, locked until the transaction ends: two
    writers of one item take turns, and the second builds on the first's version (or
    creation) instead of reusing its number (or slug). An `existing` object may have been
    loaded before the transaction began: it is read again."""
    if existing is not None:
        # once per transaction: a second refresh would drop what the caller set since
        locked = session.info.setdefault("items_locked", {})
        if locked.get(existing.id) is not session.get_transaction():
            session.refresh(existing, with_for_update=True)
            locked[existing.id] = session.get_transaction()
        return existing
    found = _select_locked(session, slug)
    if found is None:
        hold_name(session, NEW_SLUGS)
        found = _select_locked(session, slug)  # created by whoever held it before us?
    return found


def _select_locked(session: Session, slug: str) -> ContentItem | None:
    return session.scalar(select(ContentItem).where(ContentItem.slug == slug)
                          .with_for_update().execution_options(populate_existing=True))


# The people who may own an item: active staff (a champion keeps nothing fresh).
_MAY_OWN = (User.active.is_(True), User.role != "champion")


def owner_choices(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(*_MAY_OWN).order_by(User.name, User.email)))


def problems(session: Session, data: ItemInput, existing: ContentItem | None = None, *,
             owner_must_have_account: bool = False) -> dict[str, str]:
    """Every reason save_item would refuse this input, found by reading only.

    `owner_must_have_account` is for people typing into the form: an import keeps owners'
    e-mails as they are, and an owner the item already has stays acceptable."""
    errors = validate(session, data)
    slug_is_new = existing is None or data.slug != existing.slug
    if slug_is_new and "slug" not in errors and session.scalar(
            select(ContentItem.id).where(ContentItem.slug == data.slug)):
        errors["slug"] = "Another item already uses this slug."
    owner = (data.owner or "").strip().lower()
    if (owner_must_have_account and owner and "owner" not in errors
            and owner != (existing.owner_email if existing else None)
            and session.scalar(select(User.id).where(User.email == owner, *_MAY_OWN)) is None):
        errors["owner"] = "Choose an owner who has a staff account here."
    return errors


def save_item(session: Session, data: ItemInput, actor: User | None, *, note: str = "",
              expected_version: int | None = None, existing: ContentItem | None = None,
              file=KEEP_FILE, owner_must_have_account: bool = False) -> tuple[ContentItem, str]:
    begin_write(session)
    if existing is None or data.slug != existing.slug:
        hold_name(session, NEW_SLUGS)  # so that the slug check stays true until the commit
    errors = problems(session, data, existing, owner_must_have_account=owner_must_have_account)
    if errors:
        session.rollback()
        raise Invalid(errors)
    try:
        result = apply_item(session, data, actor, note=note, expected_version=expected_version,
                            existing=existing, file=file)
        session.commit()
    except Conflict:  # from the version check, or from the search index at commit
        session.rollback()
        raise
    return result


def input_from_snapshot(snap: dict) -> ItemInput:
    review_by = date.fromisoformat(snap["review_by"]) if snap.get("review_by") else None
    return ItemInput(
        slug=snap["slug"], title=snap["title"], summary=snap.get("summary", ""),
        type=snap["type"], audience=snap["audience"], status=snap["status"],
        stages=tuple(snap.get("stages", ())), stakeholders=tuple(snap.get("stakeholders", ())),
        solutions=tuple(snap.get("solutions", ())), verticals=tuple(snap.get("verticals", ())),
        owner=snap.get("owner"), review_by=review_by, body=snap.get("body", ""),
        argument=dict(snap.get("argument") or {}),
    )


def _fresh(session: Session, item: ContentItem) -> ContentItem:
    """Start writing, with the item as it is now: a change built on what the caller
    loaded earlier would undo whatever was saved since."""
    begin_write(session)
    return _locked(session, item, item.slug)


def change_status(session: Session, item: ContentItem, status: str, actor: User,
                  note: str = "", replaced_by: str | None = None) -> ContentItem:
    """Move an item through the workflow. Archiving may name the published item that takes
    its place (`replaced_by`, a slug); leaving the archive forgets it."""
    _fresh(session, item)
    if status == item.status and not replaced_by:  # someone made the same move just now
        session.commit()
        return item
    if status not in TRANSITIONS.get(item.status, ()):
        session.rollback()
        raise Invalid({"status": f"An item that is {item.status.replace('_', ' ')} cannot move "
                                 f"to {status.replace('_', ' ')}."})
    data = replace(input_from_snapshot(snapshot(item)), status=status)
    note = note or f"{TRANSITION_VERBS[status]}"
    replacement = None
    if replaced_by and status == "archived":
        replacement = session.scalar(select(ContentItem).where(ContentItem.slug == replaced_by))
        if replacement is None or replacement is item or replacement.status != "published":
            session.rollback()
            raise Invalid({"replaced_by": "Choose a published item to take its place."})
    item.replaced_by = replacement
    save_item(session, data, actor, note=note, existing=item)
    return item


def replacement_choices(session: Session, item: ContentItem) -> list[ContentItem]:
    """The items that may take an archived item's place: published ones, same type first."""
    found = session.scalars(select(ContentItem).where(ContentItem.status == "published",
                                                      ContentItem.id != item.id))
    return sorted(found, key=lambda i: (i.type_id != item.type_id, i.title.lower()))


def get_version(item: ContentItem, number: int) -> ItemVersion:
    for version in item.versions:
        if version.number == number:
            return version
    raise NotFound(f"{item.slug} v{number}")


def restore_version(session: Session, item: ContentItem, number: int, actor: User) -> ContentItem:
    """Bring back an old version's words as a new version; nothing in between is lost.
    The status stays as it is now: restoring words never publishes or withdraws an item."""
    _fresh(session, item)
    old = get_version(item, number)
    data = input_from_snapshot(old.snapshot)
    # Tags deleted since then cannot come back; keep what still exists.
    data = replace(data, slug=item.slug, status=item.status, **{
        name: tuple(s for s in getattr(data, name) if s in _slugs(session, model))
        for name, model in TAG_FIELDS.items()
    })
    file = KEEP_FILE
    wanted = old.snapshot.get("file")
    if wanted is None:
        file = None
    else:
        stored = session.scalar(select(StoredFile).where(StoredFile.sha256 == wanted["sha256"]))
        if stored is not None:
            file = AttachedFile(stored, wanted["name"])
    save_item(session, data, actor, note=f"Restored version {number}", existing=item, file=file)
    return item


FIELD_LABELS = {
    "title": "Title", "summary": "Summary", "type": "Type", "audience": "Audience",
    "status": "Status", "stages": "Stages", "stakeholders": "Stakeholders",
    "solutions": "Solutions", "verticals": "Verticals", "owner": "Owner",
    "review_by": "Review by", "body": "Body", "file": "File", "slug": "Slug",
    **{f"argument.{name}": f"Argument: {heading}" for name, heading, _ in ARGUMENT_PARTS},
}


def display_names(session: Session) -> dict[str, dict[str, str]]:
    """What a person reads instead of the slugs and e-mails a snapshot keeps, by field.
    A tag deleted since, or an owner with no account here, shows as it was stored."""
    names = {name: {t.slug: t.name for t in _tags(session, model).values()}
             for name, model in TAG_FIELDS.items()}
    names["type"] = {t.slug: t.name for t in _tags(session, ContentType).values()}
    names["owner"] = {u.email: f"{u.name} ({u.email})" for u in session.scalars(select(User))}
    names["status"] = dict(STATUS_NAMES)
    names["audience"] = {"internal": "Internal: staff only", "external": "External: may reach champions"}
    return names


def _as_lines(value, names: dict[str, str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [names.get(str(v), str(v)) for v in value]
    if isinstance(value, dict):  # a file: its name is what people know it by
        return [str(value.get("name") or "file")]
    return [names.get(line, line) for line in str(value).splitlines()]


def _flatten(snap: dict) -> dict:
    flat = {k: v for k, v in snap.items() if k != "argument"}
    for name in ARGUMENT_FIELDS:
        flat[f"argument.{name}"] = (snap.get("argument") or {}).get(name)
    return flat


@dataclass(frozen=True)
class FieldChange:
    field: str
    label: str
    lines: list[tuple[str, str]]  # (" ", "+", "-") and the line


def compare(old: dict, new: dict, names: dict[str, dict[str, str]] | None = None
            ) -> list[FieldChange]:
    """What changed between two snapshots, field by field, as line diffs; `names` (from
    display_names) turns slugs and e-mails into what people call them."""
    a, b = _flatten(old), _flatten(new)
    names = names or {}
    changes = []
    for key, label in FIELD_LABELS.items():
        if a.get(key) == b.get(key):
            continue
        field_names = names.get(key, {})
        before, after = _as_lines(a.get(key), field_names), _as_lines(b.get(key), field_names)
        if before == after:  # a file replaced by another of the same name
            lines = [("-", line) for line in before] + [
                ("+", f"{line} (another file of the same name)") for line in after]
        else:
            lines = [(d[0], d[2:]) for d in difflib.ndiff(before, after) if d[0] in " +-"]
        changes.append(FieldChange(key, label, lines))
    return changes
