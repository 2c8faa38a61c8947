"""Turn what a user typed into a safe Whoosh query.

The only syntax is plain words and "quoted phrases". Everything else a query
language might mean -- ``field:value``, ``*`` and ``?`` wildcards, ``~`` fuzzy
matching, ``[a TO z]`` ranges, ``^`` boosts, parentheses, AND/OR/NOT -- is
punctuation or an ordinary word here: the tokenizer keeps only runs of word
characters, so ``audience:internal`` searches for the words "audience" and
"internal". The text is capped at :data:`MAX_CHARS` characters and
:data:`MAX_TERMS` terms, and the query objects are built directly, never by a
query parser, so no input can reach a field, a wildcard expansion or a deep
recursion.

Each term becomes an OR across the text fields (with the field boosts of
:data:`FIELD_BOOSTS`); the terms and phrases are ANDed together. A phrase needs
each of its adjacent term pairs ("return on investment" -> ``return``
followed by ``invest``) inside one field. The index keeps, for each term of
an item, the terms that follow it in one of its texts (see
:class:`search_index.whoosh_schema.FollowedTerms`), so a pair is one scan of
one term's postings instead of a positional scan, which measured 15x slower
at 10,000 items. The query scores a phrase by its words; which documents may
match at all is decided from the followers (see the backend).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache

from whoosh import query
from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.lang.porter2 import stem

from .base import SynonymTable

MAX_CHARS = 256
MAX_TERMS = 32

#: Separates a term's followers in a text posting's value; never inside a
#: term, since terms are runs of word characters.
FOLLOWER_SEPARATOR = " "

#: Text fields searched, with their boosts.
FIELD_BOOSTS: dict[str, float] = {
    "title": 3.0,
    "summary": 1.5,
    "argument": 1.2,
    "tags": 1.5,
    "body": 1.0,
    "file_text": 0.7,
}

# The same pattern the analyzer tokenizes with, so a "surface word" found here
# is exactly one token for the analyzer.
_WORD = re.compile(r"\w+(?:\.?\w+)*", re.UNICODE)
_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})


@lru_cache(maxsize=50_000)
def _stem_cached(word: str) -> str:
    return stem(word)


def stem_word(word: str) -> str:
    """English (Snowball "Porter2") stem of a lower-case word; cached, thread-safe.

    A module-level function so the index schema, which Whoosh pickles, can
    refer to it by name.
    """
    return _stem_cached(word)


def make_analyzer():
    """The analyzer of every searchable text field: words, lower case, no stop
    words or one-letter tokens, English stems ("integrating" -> "integr")."""
    return (
        RegexTokenizer(_WORD.pattern)
        | LowercaseFilter()
        | StopFilter(minsize=2)
        | StemFilter(stemfn=stem_word, cachesize=None)
    )


def make_word_analyzer():
    """Lower-case words without stemming: the spelling and completion lexicon."""
    return RegexTokenizer(_WORD.pattern) | LowercaseFilter() | StopFilter(minsize=2)


_STOP = StopFilter(minsize=2)
_STOP_WORDS = frozenset(_STOP.stops)


def analyse_word(word: str) -> str | None:
    """The index term for one lower-case surface word, or None for a stop word."""
    if len(word) < 2 or word in _STOP_WORDS:
        return None
    return stem_word(word)


#: Surface word as written -> its term ("" for a stop word): indexing looks
#: up each word of a text once here instead of lowering, filtering and
#: stemming it again. Emptied when full; a lost entry is only recomputed.
_TERM_OF: dict[str, str] = {}
_TERM_OF_LIMIT = 200_000


def _term_of(word: str) -> str:
    """The term of a surface word as written ("" for a stop word), remembered."""
    known = _TERM_OF
    term = known.get(word)
    if term is None:
        if len(known) >= _TERM_OF_LIMIT:
            known.clear()
        term = known[word] = analyse_word(word.lower()) or ""
    return term


def terms_of(text: str) -> list[str]:
    """The analysed terms of a text, in order: exactly what
    :func:`make_analyzer` gives, a good deal faster."""
    return [term for word in _WORD.findall(text) if (term := _term_of(word))]


def term_spans(text: str) -> Iterator[tuple[str, int, int]]:
    """Each analysed term of a text with where its word starts and ends: the
    analyzer's tokens with their characters, without its per-token objects."""
    for match in _WORD.finditer(text):
        term = _term_of(match.group(0))
        if term:
            yield term, match.start(), match.end()


def words_of(text: str) -> list[str]:
    """The lower-case words of a text that :func:`make_word_analyzer` keeps."""
    words = []
    for word in _WORD.findall(text):
        word = word.lower()
        if len(word) >= 2 and word not in _STOP_WORDS:
            words.append(word)
    return words


def pairs_of(terms: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """Adjacent term pairs: what a phrase needs, each inside one field."""
    return list(zip(terms, terms[1:], strict=False))


@dataclass(frozen=True)
class Word:
    surface: str  # as typed, lower-cased
    term: str | None  # analysed form; None for a stop word
    typed: str = ""  # as typed, in its own case ("" when the same as ``surface``)

    @property
    def written(self) -> str:
        return self.typed or self.surface


@dataclass(frozen=True)
class Chunk:
    """A run of words typed outside quotes (``quoted`` False) or one phrase."""

    words: tuple[Word, ...]
    quoted: bool

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(w.term for w in self.words if w.term)


@dataclass(frozen=True)
class ParsedText:
    chunks: tuple[Chunk, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not any(chunk.terms for chunk in self.chunks)

    def terms(self) -> tuple[str, ...]:
        """Every analysed term, in order, without repeats."""
        return tuple(dict.fromkeys(t for chunk in self.chunks for t in chunk.terms))

    def surface_words(self) -> tuple[str, ...]:
        """Every typed word that is not a stop word, in order, without repeats."""
        return tuple(dict.fromkeys(w.surface for chunk in self.chunks for w in chunk.words if w.term))

    def replaced(self, corrections: dict[str, str]) -> ParsedText:
        """The same text with some surface words replaced (for "did you mean")."""
        chunks = []
        for chunk in self.chunks:
            words = []
            for w in chunk.words:
                new = corrections.get(w.surface)
                words.append(Word(new, analyse_word(new)) if new else w)
            chunks.append(Chunk(tuple(words), chunk.quoted))
        return ParsedText(tuple(chunks))

    def as_text(self) -> str:
        parts = []
        for chunk in self.chunks:
            words = " ".join(w.surface for w in chunk.words)
            if not words:
                continue
            parts.append(f'"{words}"' if chunk.quoted and len(chunk.words) > 1 else words)
        return " ".join(parts)


def clean(text: str) -> str:
    """Cap the length and blank out control, format and unpaired surrogate
    characters (NUL bytes included)."""
    text = (text or "")[:MAX_CHARS].translate(_QUOTES)
    return "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in text)


def parse(text: str) -> ParsedText:
    """Split typed text into plain words and quoted phrases, analysed.

    Quotes pair up left to right; an unpaired quote is ignored (the words
    after it are plain words). At most :data:`MAX_TERMS` non-stop words are
    kept.
    """
    pieces = clean(text).split('"')
    if len(pieces) % 2 == 0:  # an odd number of quotes: the last one is unpaired
        pieces[-2:] = [pieces[-2] + " " + pieces[-1]]
    chunks: list[Chunk] = []
    budget = MAX_TERMS
    for index, piece in enumerate(pieces):
        if budget <= 0:
            break
        words = []
        for match in _WORD.finditer(piece):
            typed = match.group(0)
            surface = typed.lower()
            term = analyse_word(surface)
            if term is not None:
                if budget <= 0:
                    break
                budget -= 1
            words.append(Word(surface, term, "" if typed == surface else typed))
        if words:
            chunks.append(Chunk(tuple(words), quoted=index % 2 == 1))
    return ParsedText(tuple(chunks))


#: What a query asks for: every *unit* must match; a unit matches when any of
#: its *alternatives* does; an alternative is one term or a phrase (2+ terms).
Alternative = tuple[str, ...]
Unit = tuple[Alternative, ...]
Plan = tuple[Unit, ...]

MAX_SYNONYM_TERMS = 8  # words in one synonym
MAX_EXTRA_ALTERNATIVES = 64  # synonyms one query may add in all


@lru_cache(maxsize=16)
def _synonym_index(table: SynonymTable) -> tuple[dict[Alternative, Unit], int]:
    """Analysed synonym -> every member of its groups; and the longest synonym."""
    index: dict[Alternative, dict[Alternative, None]] = {}
    for group in table:
        members = [tuple(terms_of(member)) for member in group]
        members = [m for m in dict.fromkeys(members) if m and len(m) <= MAX_SYNONYM_TERMS]
        if len(members) < 2:
            continue
        for member in members:
            alternatives = index.setdefault(member, {member: None})
            alternatives.update(dict.fromkeys(members))
    longest = max((len(key) for key in index), default=0)
    return {key: tuple(found) for key, found in index.items()}, longest


def plan(parsed: ParsedText, synonyms: SynonymTable = ()) -> Plan:
    """The units to match: each plain word, each quoted phrase, and each run of
    words (or phrase) that is a synonym, widened to its whole group."""
    return tuple(labelled_plan(parsed, synonyms))


def labelled_plan(parsed: ParsedText, synonyms: SynonymTable = ()) -> dict[Unit, tuple[str, ...]]:
    """The units of :func:`plan`, in order, each with the words or phrases, as
    typed, that asked for it: what a result lacking that unit is missing."""
    index, longest = _synonym_index(synonyms) if synonyms else ({}, 0)
    budget = MAX_EXTRA_ALTERNATIVES
    units: dict[Unit, dict[str, None]] = {}

    def add(key: Alternative, label: str) -> None:
        nonlocal budget
        found = index.get(key)
        if found and len(found) - 1 <= budget:
            budget -= len(found) - 1
            unit = found
        else:
            unit = (key,)
        units.setdefault(unit, {})[label] = None

    for chunk in parsed.chunks:
        terms = chunk.terms
        if chunk.quoted and len(terms) > 1:
            add(terms, " ".join(w.written for w in chunk.words))
            continue
        # where each term's word stands among the chunk's words, stop words included
        at = [number for number, w in enumerate(chunk.words) if w.term]
        position = 0
        while position < len(terms):
            longest_here = min(longest, len(terms) - position)
            size = next(
                (n for n in range(longest_here, 1, -1) if terms[position : position + n] in index), 1
            )
            run = chunk.words[at[position] : at[position + size - 1] + 1]
            add(terms[position : position + size], " ".join(w.written for w in run))
            position += size
    return {unit: tuple(labels) for unit, labels in units.items()}


def plan_terms(units: Plan) -> frozenset[str]:
    """Every term a plan may match (for highlighting)."""
    return frozenset(term for unit in units for alternative in unit for term in alternative)


class _Union(query.Or):
    """OR as a tree of union matchers at every index size: Whoosh otherwise
    pre-scores every posting of every field below 5,000 documents, which is
    slower for common words than skipping low-scoring blocks."""

    matcher_type = query.Or.DEFAULT_MATCHER


def term_query(term: str, boosts: dict[str, float] = FIELD_BOOSTS) -> query.Query:
    return _Union([query.Term(field, term, boost=boost) for field, boost in boosts.items()])


def phrase_query(words: tuple[str, ...], boosts: dict[str, float] = FIELD_BOOSTS) -> query.Query:
    """All the phrase's words, each scored per field. Whether the words are
    adjacent is checked by the backend, which limits the search to the
    documents where they are."""
    return query.And([term_query(word, boosts) for word in dict.fromkeys(words)])


def alternative_query(terms: Alternative, boosts: dict[str, float] = FIELD_BOOSTS) -> query.Query:
    return term_query(terms[0], boosts) if len(terms) == 1 else phrase_query(terms, boosts)


def build_query(units: Plan, boosts: dict[str, float] = FIELD_BOOSTS) -> query.Query | None:
    """AND of the units, each an OR of its alternatives, each term an OR across
    the text fields; None when there is nothing to match."""
    parts = []
    for unit in units:
        options = [alternative_query(alternative, boosts) for alternative in unit]
        parts.append(options[0] if len(options) == 1 else _Union(options))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)
