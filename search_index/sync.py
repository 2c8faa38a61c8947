"""Keeping the index in step with the database, which is the source of truth.

The item services write a change record in the same transaction as the change. After
commit, `drain` applies the pending records to the backend with plain values and deletes
them; whatever stays pending (a crash, a busy writer lock) is applied by the next drain.
`check` compares fingerprints to find what drifted anyway; `repair` fixes it.

Every writer here reads the database only once it holds the index's writer lock, and
writes each item as the database holds it then, whatever the change record said: two
processes draining at once apply in the order they read, so an older state never
overwrites a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from content_library.records import ItemChange, SearchableItem, content_fingerprint


class Feed(Protocol):
    def pending(self, limit: int = 1000) -> list[ItemChange]: ...
    def records(self, slugs: Iterable[str]) -> dict[str, SearchableItem]: ...
    def everything(self) -> Iterator[SearchableItem]: ...
    def acknowledge(self, change_ids: Iterable[int]) -> bool: ...
    def catch_up(self) -> None:
        """End any read in progress, so what is read next sees every commit made so far."""


def as_stored(feed: Feed, slugs: Iterable[str]) -> tuple[list[SearchableItem], list[str]]:
    """The items among ``slugs`` as the database holds them now, and the slugs it no
    longer has: what the index should hold for them."""
    slugs = list(dict.fromkeys(slugs))
    records = feed.records(slugs)
    return list(records.values()), [slug for slug in slugs if slug not in records]


def drain(backend, feed: Feed, batch: int = 1000) -> int:
    """Apply every pending change; returns how many items were touched.

    Raises the backend's IndexBusy when the writer lock cannot be had: the changes stay
    pending and the next drain (next save, next start, `index check --repair`) applies them.
    """
    touched = 0
    taken: list[ItemChange] = []

    def read() -> tuple[list[SearchableItem], list[str]]:
        feed.catch_up()
        taken[:] = feed.pending(batch)
        return as_stored(feed, (change.slug for change in taken))

    while feed.pending(1):
        backend.update(read)
        if not taken or not feed.acknowledge(change.id for change in taken):
            break  # what stays pending is applied (again, harmlessly) by a later drain
        touched += len({change.slug for change in taken})
    return touched


def refresh(backend, feed: Feed, slugs: Iterable[str]) -> int:
    """Bring these items in the index to what the database holds now; returns how many."""
    slugs = list(slugs)
    for start in range(0, len(slugs), 500):
        def read(chunk=slugs[start:start + 500]) -> tuple[list[SearchableItem], list[str]]:
            feed.catch_up()
            return as_stored(feed, chunk)

        backend.update(read)
    return len(slugs)


def rebuild(backend, feed: Feed) -> int:
    """Rebuild the whole index; acknowledges only the changes made before it read the
    database: those made during the rebuild stay pending for the next drain."""
    before: list[ItemChange] = []

    def items() -> Iterator[SearchableItem]:
        # read only once the rebuild holds the writer lock, like every other writer
        feed.catch_up()
        before.extend(feed.pending(10_000_000))
        yield from feed.everything()

    count = backend.rebuild(items())
    feed.acknowledge(change.id for change in before)
    return count


@dataclass
class Drift:
    missing: list[str] = field(default_factory=list)  # in the database, not in the index
    stale: list[str] = field(default_factory=list)  # indexed from an older state
    extra: list[str] = field(default_factory=list)  # in the index, gone from the database

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)

    def line(self) -> str:
        return f"missing {len(self.missing)}, stale {len(self.stale)}, extra {len(self.extra)}"


def check(backend, feed: Feed) -> Drift:
    indexed = backend.fingerprints()
    drift = Drift()
    seen = set()
    for record in feed.everything():
        seen.add(record.slug)
        fingerprint = indexed.get(record.slug)
        if fingerprint is None:
            drift.missing.append(record.slug)
        elif content_fingerprint(fingerprint) != content_fingerprint(record.fingerprint):
            drift.stale.append(record.slug)
    drift.extra = sorted(set(indexed) - seen)
    drift.missing.sort()
    drift.stale.sort()
    return drift


def repair(backend, feed: Feed, drift: Drift) -> None:
    refresh(backend, feed, drift.missing + drift.stale + drift.extra)
    # What the check just repaired includes whatever was pending.
    if feed.pending(1):
        drain(backend, feed)
