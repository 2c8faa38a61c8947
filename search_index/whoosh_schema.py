"""The Whoosh schema and how a :class:`SearchableItem` becomes a document.

Bump :data:`SCHEMA_VERSION` whenever the schema or the analysis changes: an
index made by another version is replaced by a fresh, empty one (and the
caller rebuilds it).
"""

from __future__ import annotations

from datetime import UTC, datetime

from whoosh import fields, formats

from content_library.records import SearchableItem

from .base import FACETS
from .query_text import (
    PAIRS_FIELD,
    make_analyzer,
    make_pair_analyzer,
    make_word_analyzer,
    pairs_of,
    terms_of,
)

SCHEMA_VERSION = "1"

TEXT_FIELDS = ("title", "summary", "argument", "tags", "body", "file_text")

#: Facet name -> index field. The field names are the facet names.
FACET_FIELDS = {facet: facet for facet in FACETS}

#: Unstemmed words of published items, one field per audience, for "did you
#: mean" and completions. Splitting by audience keeps internal words out of
#: the lexicon a champion's corrections are drawn from.
WORDS_EXTERNAL = "words_external"
WORDS_INTERNAL = "words_internal"

PUBLISHED = "published"
EXTERNAL = "external"


def build_schema() -> fields.Schema:
    analyzer = make_analyzer()
    words = make_word_analyzer()
    facet_fields = {
        name: fields.KEYWORD(commas=True, lowercase=False, scorable=True) for name in FACET_FIELDS.values()
    }
    # no positions: phrases are matched through the pairs field
    return fields.Schema(
        slug=fields.ID(unique=True, stored=True, sortable=True),
        title=fields.TEXT(analyzer=analyzer, stored=True, phrase=False),
        summary=fields.TEXT(analyzer=analyzer, stored=True, phrase=False),
        argument=fields.TEXT(analyzer=analyzer, phrase=False),
        tags=fields.TEXT(analyzer=analyzer, phrase=False),
        body=fields.TEXT(analyzer=analyzer, phrase=False),
        file_text=fields.TEXT(analyzer=analyzer, phrase=False),
        audience=fields.ID,
        status=fields.ID,
        updated_at=fields.DATETIME(sortable=True),
        usage_score=fields.NUMERIC(float, stored=True),
        fingerprint=fields.STORED,
        **facet_fields,
        **{
            PAIRS_FIELD: fields.FieldType(formats.Existence(), make_pair_analyzer(), scorable=True),
            WORDS_EXTERNAL: fields.FieldType(formats.Existence(), words, scorable=True),
            WORDS_INTERNAL: fields.FieldType(formats.Existence(), words, scorable=True),
        },
    )


def _utc_naive(moment: datetime | None) -> datetime:
    if moment is None:
        return datetime(1970, 1, 1)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _keywords(values: tuple[str, ...]) -> str:
    return ",".join(v.strip() for v in values if v and "," not in v and v.strip())


def to_document(item: SearchableItem) -> dict:
    """The Whoosh document for one item (keyword arguments of add_document)."""
    document = {
        "slug": item.slug,
        "title": item.title or "",
        "summary": item.summary or "",
        "argument": item.argument_text or "",
        "tags": item.tag_names or "",
        "body": item.body_text or "",
        "file_text": item.file_text or "",
        "audience": EXTERNAL if item.audience == EXTERNAL else "internal",
        "status": item.status or "",
        "updated_at": _utc_naive(item.updated_at),
        "usage_score": min(max(float(item.usage_score or 0.0), 0.0), 1.0),
        "fingerprint": item.fingerprint or "",
    }
    texts = (item.title, item.summary, item.argument_text, item.tag_names, item.body_text)
    document[PAIRS_FIELD] = " ".join(
        pair for text in (*texts, item.file_text) for pair in pairs_of(terms_of(text or ""))
    )
    for facet, values in item.facet_values().items():
        document[FACET_FIELDS[facet]] = _keywords(tuple(values))
    if item.status == PUBLISHED:
        words = " ".join(text or "" for text in texts)
        target = WORDS_EXTERNAL if item.audience == EXTERNAL else WORDS_INTERNAL
        document[target] = words
    return document
