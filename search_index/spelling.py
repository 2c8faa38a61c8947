"""Edit distances for "did you mean", independent of any engine.

The backend supplies the lexicon (only words from documents the viewer may
see); this module only generates and measures candidate spellings, within a
:class:`CorrectionBudget` per query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from string import ascii_lowercase

from .query_text import words_of

MAX_WORD = 30  # longer "words" are not corrected
#: Unknown words one query may have corrected; the others stay as typed. A query
#: with more misspelt words than this rarely finds anything once corrected anyway.
MAX_CORRECTED_WORDS = 3
#: Work one query's corrections may do in all: each candidate spelling looked up
#: and each lexicon word measured counts one. Thirty-two misspelt words cost about
#: 40 times this before it was bounded (0.6 s, 4.7 s with eight at once).
MAX_CORRECTION_WORK = 1_500


class CorrectionBudget:
    """The correction work left to one query: words it may still correct, and look-ups
    and measurements it may still make. Spent as candidates are drawn, so a backend
    never does more than this whatever it is asked."""

    def __init__(self, words: int = MAX_CORRECTED_WORDS, work: int = MAX_CORRECTION_WORK):
        self.words_left = words
        self.work_left = work

    def take_word(self) -> bool:
        """Whether one more word may be corrected (and count it)."""
        if self.words_left <= 0:
            return False
        self.words_left -= 1
        return True

    def spend(self) -> bool:
        """Whether one more unit of work may be done (and count it)."""
        if self.work_left <= 0:
            return False
        self.work_left -= 1
        return True

    def candidates(self, word: str) -> Iterator[str]:
        """The spellings one edit away from ``word``, while the budget lasts."""
        spellings = one_edit_away(word)
        while self.spend():
            candidate = next(spellings, None)
            if candidate is None:
                return
            yield candidate

    def near(self, word: str, lexicon: Iterable[str]) -> Iterator[tuple[str, int]]:
        """Lexicon words within two edits of ``word`` and their distance, measuring
        only while the budget lasts."""
        words = iter(lexicon)
        while self.spend():
            candidate = next(words, None)
            if candidate is None:
                return
            found = distance(word, candidate, limit=2)
            if found <= 2:
                yield candidate, found


def buyer_lexicon(documents: Iterable[Iterable[str]]) -> dict[str, int]:
    """Word -> how many of the documents hold it, from texts a buyer reads on the page (a
    title, a summary): the lexicon of a viewer allowed only some items. The engines' own
    lexicons hold every part of an argument, the rep-only ones too."""
    found: dict[str, int] = {}
    for texts in documents:
        for word in {word for text in texts if text for word in words_of(text)}:
            found[word] = found.get(word, 0) + 1
    return found


def correct_from(word: str, lexicon: Mapping[str, int], budget: CorrectionBudget) -> str | None:
    """The closest word of ``lexicon`` (word -> documents holding it): fewest edits, then
    most documents, then alphabetical; one edit away looked up first."""
    ranked = [(1, -lexicon[c], c) for c in budget.candidates(word) if lexicon.get(c)]
    if not ranked:
        nearby = sorted(known for known in lexicon if known[:1] == word[:1])
        ranked = [(edits, -lexicon[c], c) for c, edits in budget.near(word, nearby)]
    return min(ranked)[2] if ranked else None


def completions_from(stub: str, lexicon: Mapping[str, int], most: int) -> dict[str, int]:
    """The ``most`` words of ``lexicon`` that complete ``stub``, most documents first."""
    found = sorted((word for word in lexicon if word.startswith(stub) and word != stub),
                   key=lambda word: (-lexicon[word], word))
    return {word: lexicon[word] for word in found[:most]}


def correctable(word: str) -> bool:
    return 2 < len(word) <= MAX_WORD and not any(ch.isdigit() for ch in word)


def one_edit_away(word: str) -> Iterator[str]:
    """Every string one deletion, transposition, substitution or insertion
    away from ``word`` (letters a-z plus those of the word itself)."""
    letters = sorted(set(ascii_lowercase) | set(word))
    seen = {word}
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    for head, tail in splits:
        candidates = []
        if tail:
            candidates.append(head + tail[1:])
            candidates.extend(head + ch + tail[1:] for ch in letters)
        if len(tail) > 1:
            candidates.append(head + tail[1] + tail[0] + tail[2:])
        candidates.extend(head + ch + tail for ch in letters)
        for candidate in candidates:
            if candidate not in seen and len(candidate) > 1:
                seen.add(candidate)
                yield candidate


def distance(a: str, b: str, limit: int = 2) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance between ``a``
    and ``b``, or ``limit + 1`` as soon as it must exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                value = min(value, previous2[j - 2] + 1)
            current[j] = value
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return min(previous[-1], limit + 1)
