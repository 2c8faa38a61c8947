"""Reading and editing the taxonomy: stages, stakeholders, solutions, verticals, content types."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid, NotFound
from ..models import PHASES, TAG_MODELS, ContentItem, IndexChange, Stage, item_stages
from .items import SLUG

KIND_NAMES = {
    "stages": "Stages",
    "stakeholders": "Stakeholders",
    "solutions": "Solutions",
    "verticals": "Verticals",
    "content_types": "Content types",
}


def ordered(session: Session, kind: str) -> list:
    model = TAG_MODELS[kind]
    return list(session.scalars(select(model).order_by(model.position, model.id)))


def stages(session: Session) -> list[Stage]:
    return ordered(session, "stages")


def get_stage(session: Session, slug: str) -> Stage:
    stage = session.scalar(select(Stage).where(Stage.slug == slug))
    if stage is None:
        raise NotFound(slug)
    return stage


def published_counts_by_stage(session: Session, condition) -> dict[str, int]:
    rows = session.execute(
        select(Stage.slug, func.count(ContentItem.id))
        .join(item_stages, item_stages.c.stage_id == Stage.id)
        .join(ContentItem, ContentItem.id == item_stages.c.item_id)
        .where(condition)
        .group_by(Stage.slug)
    )
    return {slug: count for slug, count in rows}


def validate_tag(kind: str, entry: dict) -> dict[str, str]:
    errors: dict[str, str] = {}
    slug = entry.get("slug")
    if not isinstance(slug, str) or not SLUG.match(slug) or len(slug) > 120:
        errors["slug"] = "must be lowercase letters, digits and '-', at most 120 characters"
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = "is required"
    elif len(name) > 200:
        errors["name"] = "must be at most 200 characters"
    if kind == "stages":
        if entry.get("phase", "conversations") not in PHASES:
            errors["phase"] = f"must be one of {', '.join(PHASES)}"
        criteria = entry.get("exit_criteria", [])
        if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
            errors["exit_criteria"] = "must be a list of texts"
        if not isinstance(entry.get("buyer_goal", ""), str):
            errors["buyer_goal"] = "must be a text"
    if not isinstance(entry.get("description", ""), str):
        errors["description"] = "must be a text"
    return errors


def merge_tag(session: Session, kind: str, entry: dict, position: int | None) -> str:
    """Create or update one tag by slug, without committing. Returns created/updated/unchanged."""
    model = TAG_MODELS[kind]
    tag = session.scalar(select(model).where(model.slug == entry["slug"]))
    outcome = "unchanged"
    if tag is None:
        tag = model(slug=entry["slug"], position=position or 0)
        session.add(tag)
        outcome = "created"
    values = {"name": entry["name"].strip(), "description": entry.get("description", "") or ""}
    if kind == "stages":
        values.update(phase=entry.get("phase", "conversations"),
                      buyer_goal=entry.get("buyer_goal", "") or "",
                      exit_criteria=list(entry.get("exit_criteria", []) or []))
    if position is not None:
        values["position"] = position
    for key, value in values.items():
        if getattr(tag, key, None) != value:
            setattr(tag, key, value)
            if outcome == "unchanged":
                outcome = "updated"
    return outcome


def save_tag(session: Session, kind: str, entry: dict, *, original_slug: str | None = None) -> None:
    """A manager's edit of one tag. Renaming a tag re-indexes the items that carry it."""
    if kind not in TAG_MODELS:
        raise NotFound(kind)
    errors = validate_tag(kind, entry)
    model = TAG_MODELS[kind]
    begin_write(session)
    existing = None
    if original_slug:
        existing = session.scalar(select(model).where(model.slug == original_slug))
        if existing is None:
            session.rollback()
            raise NotFound(original_slug)
    clash = session.scalar(select(model).where(model.slug == entry.get("slug")))
    if clash is not None and clash is not existing:
        errors["slug"] = "is already used"
    if errors:
        session.rollback()
        raise Invalid(errors)
    if existing is not None:
        existing.slug = entry["slug"]
    else:
        last = session.scalar(select(func.max(model.position))) or 0
        entry = {**entry}
        merge_tag(session, kind, entry, last + 1)
        session.commit()
        return
    merge_tag(session, kind, entry, None)
    _reindex_items_tagged(session, kind, existing)
    session.commit()


def _reindex_items_tagged(session: Session, kind: str, tag) -> None:
    if kind == "content_types":
        slugs = session.scalars(select(ContentItem.slug).where(ContentItem.type_id == tag.id))
    else:
        relation = getattr(ContentItem, kind)
        slugs = session.scalars(select(ContentItem.slug).where(relation.any(id=tag.id)))
    for slug in slugs:
        session.add(IndexChange(slug=slug, op="upsert"))


def move_tag(session: Session, kind: str, slug: str, offset: int) -> None:
    """Move a tag up (-1) or down (+1) in display order."""
    begin_write(session)
    tags = ordered(session, kind)
    index = next((i for i, t in enumerate(tags) if t.slug == slug), None)
    if index is None:
        session.rollback()
        raise NotFound(slug)
    other = index + offset
    if 0 <= other < len(tags):
        tags[index], tags[other] = tags[other], tags[index]
    for position, tag in enumerate(tags):
        tag.position = position
    session.commit()


def delete_tag(session: Session, kind: str, slug: str) -> None:
    """Only an unused tag can go: removing one in use would silently re-tag content."""
    model = TAG_MODELS[kind]
    begin_write(session)
    tag = session.scalar(select(model).where(model.slug == slug))
    if tag is None:
        session.rollback()
        raise NotFound(slug)
    if kind == "content_types":
        used = session.scalar(select(func.count()).where(ContentItem.type_id == tag.id))
    else:
        used = session.scalar(select(func.count()).select_from(ContentItem)
                              .where(getattr(ContentItem, kind).any(id=tag.id)))
    if used:
        session.rollback()
        raise Invalid({"slug": f"{used} item(s) still use '{slug}': re-tag them first."})
    session.delete(tag)
    session.commit()
