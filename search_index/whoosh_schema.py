"""The Whoosh schema and how a :class:`SearchableItem` becomes a document.

Bump :data:`SCHEMA_VERSION` whenever the schema or the analysis changes: an
index made by another version is replaced by a fresh, empty one (and the
caller rebuilds it).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from whoosh import columns, fields, formats

from content_library.records import SearchableItem

from .base import FACETS
from .query_text import FOLLOWER_SEPARATOR, make_analyzer, make_word_analyzer, terms_of, words_of

SCHEMA_VERSION = "3"  # 3: followers in a field of their own, text postings without values,
#                          usage scores in a column

TEXT_FIELDS = ("title", "summary", "argument", "tags", "body", "file_text")

#: Each term of an item's texts with the terms that directly follow it in one of
#: them: what phrases are matched from (:class:`FollowedTerms`).
FOLLOWERS = "followers"

#: Facet name -> index field. The field names are the facet names.
FACET_FIELDS = {facet: facet for facet in FACETS}

#: Unstemmed words of published items, one field per audience, for "did you
#: mean" and completions. Splitting by audience keeps internal words out of
#: the lexicon a champion's corrections are drawn from. Only the short fields
#: feed them (:func:`word_sources`): the body and file text would triple the
#: postings written for little gain, since a word is recognised as correctly
#: spelt from the text fields' own terms as well.
WORDS_EXTERNAL = "words_external"
WORDS_INTERNAL = "words_internal"

PUBLISHED = "published"
EXTERNAL = "external"


class CountedTerms(formats.Format):
    """A text field's postings: the term's frequency in the document as its
    weight, which is all ranking reads (see :mod:`search_index.whoosh_scoring`),
    and no value. A block of such postings decodes about ten times faster than
    one whose postings also carry the followers (schema 2 kept them here), and
    most of a first search at 100,000 items was that decoding.

    The value is analysed with :func:`search_index.query_text.terms_of`, which
    gives exactly the terms of the field's analyzer without building a token
    object per word.
    """

    posting_size = 0
    textual = True

    def __init__(self, field_boost: float = 1.0, **options):
        self.field_boost = field_boost
        self.options = options

    def word_values(self, value, analyzer, **kwargs):
        terms = terms_of(value) if isinstance(value, str) else [str(t) for t in value]
        boost = self.field_boost
        for term, frequency in Counter(terms).items():
            yield term, frequency, frequency * boost, b""


class FollowedTerms(formats.Format):
    """The :data:`FOLLOWERS` field's postings: for each term of an item's texts
    (given as a tuple of texts), the terms that directly follow it in one of them.

    A posting's value is ``b" <follower> <follower> "``: a phrase "a b" occurs in
    a text of a document when the posting of ``a`` contains ``b" b "`` (terms are
    runs of word characters, so never contain the separator). A field of word
    pairs would write a term for nearly every pair of a text, which more than
    halved the indexing rate, and positions would make phrases a slow positional
    scan. One field for every text, rather than followers in each text field's
    postings, keeps them out of what ranking reads, and a phrase is one lookup.
    """

    posting_size = -1
    textual = True

    def __init__(self, **options):
        self.field_boost = 1.0
        self.options = options

    def word_values(self, value, analyzer, **kwargs):
        texts = (value,) if isinstance(value, str) else value
        followers: dict[str, dict[str, None]] = {}
        for text in texts:
            terms = terms_of(text) if text else []
            for first, second in zip(terms, terms[1:], strict=False):
                found = followers.get(first)
                if found is None:
                    followers[first] = {second: None}
                else:
                    found[second] = None
        separator = FOLLOWER_SEPARATOR
        for term, after in followers.items():
            encoded = f"{separator}{separator.join(after)}{separator}".encode()
            yield term, len(after), float(len(after)), encoded



def follower_needle(term: str | bytes) -> bytes:
    """What a :class:`FollowedTerms` posting value contains when ``term``
    follows the posting's term: ``needle in value``."""
    if isinstance(term, str):
        term = term.encode("utf-8")
    separator = FOLLOWER_SEPARATOR.encode("ascii")
    return separator + term + separator


def _text_field(stored: bool = False) -> fields.FieldType:
    return fields.FieldType(CountedTerms(), make_analyzer(), scorable=True, stored=stored)


def build_schema() -> fields.Schema:
    words = make_word_analyzer()
    facet_fields = {
        name: fields.KEYWORD(commas=True, lowercase=False, scorable=True) for name in FACET_FIELDS.values()
    }
    # no positions: phrases are matched through each term's followers
    return fields.Schema(
        **{FOLLOWERS: fields.FieldType(FollowedTerms(), make_analyzer())},
        slug=fields.ID(unique=True, stored=True, sortable=True),
        title=_text_field(stored=True),
        summary=_text_field(stored=True),
        argument=_text_field(),
        tags=_text_field(),
        body=_text_field(),
        file_text=_text_field(),
        audience=fields.ID,
        status=fields.ID,
        updated_at=fields.DATETIME(sortable=True),
        # a column, read whole by ranking; stored fields are read a document at a time
        usage_score=fields.COLUMN(columns.NumericColumn("f", default=0.0)),
        fingerprint=fields.STORED,
        **facet_fields,
        **{
            WORDS_EXTERNAL: fields.FieldType(formats.Existence(), words),
            WORDS_INTERNAL: fields.FieldType(formats.Existence(), words),
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
        FOLLOWERS: (item.title or "", item.summary or "", item.argument_text or "", item.tag_names or "",
                    item.body_text or "", item.file_text or ""),
    }
    for facet, values in item.facet_values().items():
        document[FACET_FIELDS[facet]] = _keywords(tuple(values))
    if item.status == PUBLISHED:
        target = WORDS_EXTERNAL if item.audience == EXTERNAL else WORDS_INTERNAL
        # already split into words: Whoosh indexes a list without re-analysing it
        document[target] = [word for text in word_sources(item) if text for word in words_of(text)]
    return document


def word_sources(item: SearchableItem) -> tuple[str, ...]:
    """The texts whose words feed the spelling and completion lexicon."""
    return (item.title, item.summary, item.argument_text, item.tag_names)
