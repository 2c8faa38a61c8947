"""Completing the word being typed, the same way in every backend.

"business ca" is completed into a phrase the viewer's documents hold: a word is offered
only where it directly follows the last typed word (stop words between them allowed, as
phrases allow them) in a document the viewer may see that also holds every other typed
word. So it offers "business case", never "business cash" because "cash" is a common
word elsewhere. A single word being typed is completed with the most frequent visible
words. The backend supplies the words and the counts; this module decides what the
typed text asks for.
"""

from __future__ import annotations

from dataclasses import dataclass

from .query_text import ParsedText, Word, analyse_word, parse

#: Lexicon words starting with the typed stub that one completion may check, most
#: frequent first: each costs a phrase lookup.
MAX_CANDIDATES = 30


@dataclass(frozen=True)
class Typed:
    """Typed text split into the words already written and the word being written."""

    head: str  # as typed, up to the last word (its trailing space included)
    stub: str  # the last word, lower case
    context: ParsedText  # the head, parsed

    @property
    def words(self) -> tuple[Word, ...]:
        return tuple(word for chunk in self.context.chunks for word in chunk.words)

    @property
    def previous(self) -> str | None:
        """The analysed term of the last typed word before the stub that is not a stop
        word: the completion must follow it."""
        terms = [word.term for word in self.words if word.term]
        return terms[-1] if terms else None

    @property
    def lead_in(self) -> str:
        """The typed words from :attr:`previous` to the stub ("cost of" in "total cost
        of ow"): what a completed phrase starts with."""
        words = self.words
        last = max((n for n, word in enumerate(words) if word.term), default=len(words))
        return " ".join(word.surface for word in words[last:])


def typed(text: str) -> Typed | None:
    """The typed text split at its last word; None when that word is under two
    characters (too little to complete)."""
    lowered = text.lower()
    cut = len(lowered)
    while cut > 0 and (lowered[cut - 1].isalnum() or lowered[cut - 1] == "_"):
        cut -= 1
    stub = lowered[cut:]
    if len(stub) < 2:
        return None
    return Typed(head=text[:cut], stub=stub, context=parse(text[:cut]))


def one_spelling_per_term(words: list[str]) -> dict[str, str]:
    """Term -> the first of ``words`` (most frequent first) with that term: "forecast",
    "forecasts" and "forecasting" would each complete into the same phrase."""
    chosen: dict[str, str] = {}
    for word in words:
        term = analyse_word(word)
        if term and term not in chosen:
            chosen[term] = word
    return chosen


def best_completions(counted: list[tuple[int, int, str]], limit: int) -> list[str]:
    """Words ranked by (documents holding the completed text, lexicon frequency, word),
    those found nowhere the viewer may look left out."""
    ranked = sorted((c for c in counted if c[0]), key=lambda c: (-c[0], -c[1], c[2]))
    return [word for _, _, word in ranked[:limit]]
