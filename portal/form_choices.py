"""WTForms 3.3 takes choices as SelectChoice objects (tuples are deprecated)."""

from __future__ import annotations

from collections.abc import Iterable

from wtforms.fields.choices import SelectChoice


def choices(pairs: Iterable[tuple[str, str]]) -> list[SelectChoice]:
    return [SelectChoice(value, label) for value, label in pairs]


def tag_choices(tags: Iterable, none_label: str) -> list[SelectChoice]:
    """A select of taxonomy tags (stages, stakeholders…) whose first option picks none."""
    return choices([("", none_label), *((tag.slug, tag.name) for tag in tags)])
