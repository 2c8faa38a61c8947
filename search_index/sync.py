"""Keeping the index in step with the database, which is the source of truth.

The item services write a change record in the same transaction as the change. After
commit, `drain` applies the pending records to the backend with plain values and deletes
them; whatever stays pending (a crash, a busy writer lock) is applied by the next drain.
`check` compares fingerprints to find what drifted anyway; `repair` fixes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from content_library.records import ItemChange, SearchableItem


class Feed(Protocol):
    def pending(self, limit: int = 1000) -> list[ItemChange]: ...
    def records(self, slugs: Iterable[str]) -> dict[str, SearchableItem]: ...
    def everything(self) -> Iterator[SearchableItem]: ...
    def acknowledge(self, change_ids: Iterable[int]) -> None: ...


def drain(backend, feed: Feed, batch: int = 1000) -> int:
    """Apply every pending change; returns how many items were touched.

    Raises the backend's IndexBusy when the writer lock cannot be had: the changes stay
    pending and the next drain (next save, next start, `index check --repair`) applies them.
    """
    touched = 0
    while changes := feed.pending(batch):
        latest: dict[str, str] = {}
        for change in changes:
            latest[change.slug] = change.op
        wanted = [slug for slug, op in latest.items() if op == "upsert"]
        records = feed.records(wanted)
        gone = [slug for slug in latest if slug not in records]
        if records:
            backend.index_items(records.values())
        if gone:
            backend.remove_items(gone)
        feed.acknowledge(change.id for change in changes)
        touched += len(latest)
    return touched


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
        elif fingerprint != record.fingerprint:
            drift.stale.append(record.slug)
    drift.extra = sorted(set(indexed) - seen)
    drift.missing.sort()
    drift.stale.sort()
    return drift


def repair(backend, feed: Feed, drift: Drift) -> None:
    fix = drift.missing + drift.stale
    for start in range(0, len(fix), 500):
        records = feed.records(fix[start:start + 500])
        backend.index_items(records.values())
    if drift.extra:
        backend.remove_items(drift.extra)
    # What the check just repaired includes whatever was pending.
    pending = feed.pending(100_000)
    if pending:
        drain(backend, feed)
