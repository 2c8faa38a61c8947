"""Where the Whoosh index lives on disk, and who may write to it.

Layout of ``index_dir``::

    CURRENT            the name of the live generation folder (replaced atomically)
    write.lock         held by whoever writes: one writer across all processes
    gen-<id>/          a complete Whoosh index, plus SCHEMA_VERSION beside it

A rebuild writes a new ``gen-<id>`` folder next to the live one while holding
the write lock (so incremental writers wait or give up with
:class:`IndexBusy` and leave their changes pending), then swaps ``CURRENT``
with one ``os.replace``: readers see the old index or the new one, never a
half-built one.

Nothing a reader might still be using is deleted at once. Whoosh opens some
segment files lazily (stored fields, field lengths), so a request whose reader
opened just before a merge or a swap would find them gone. Instead a merged-
away segment, or a replaced generation folder, is *retired* and deleted by a
later write once it has been retired for ``retire_after`` seconds (five
minutes by default, far longer than any request).

Segments are written as separate files (``compound=False``): Whoosh copies a
compound segment file into memory each time a reader opens it, which made a
fresh reader per request cost tens of milliseconds. Posting blocks are not
compressed (``compression=0``): zlib on blocks of a few hundred bytes was a
sixth of the indexing time, for an index a quarter smaller. Readers of any
compression level read them alike.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from whoosh import index as whoosh_index
from whoosh.codec import default_codec
from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC, FileIndex, LockError
from whoosh.reading import SegmentReader
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from .base import IndexBusy
from .whoosh_schema import SCHEMA_VERSION, build_schema

_POINTER = "CURRENT"
_LOCK = "write.lock"
_VERSION_FILE = "SCHEMA_VERSION"
_INCOMPLETE = "INCOMPLETE"  # an empty index made in place of a missing one
_RETIRED_AT = "RETIRED_AT"  # in a replaced generation folder: when it was replaced
_RETIRED_SEGMENTS = "retired-segments.json"  # in a generation: segment id -> time
_GENERATION = re.compile(r"^gen-[0-9a-f]+-[0-9a-f]+$")
_POLL = 0.01
RETIRE_AFTER = 300.0
#: Merging (see :func:`merge_similar`): this many segments of one size tier are merged
#: into one, as long as the merged segment holds no more than MAX_MERGED items.
MERGE_FACTOR = 10
MAX_MERGED = 20_000


class IndexStore:
    """The live Whoosh index of one folder, its generations and its lock."""

    def __init__(self, root: Path, writer_timeout: float = 5.0, retire_after: float = RETIRE_AFTER):
        self.root = Path(root)
        self.writer_timeout = float(writer_timeout)
        self.retire_after = float(retire_after)
        self.schema = build_schema()
        self._indexes: dict[str, FileIndex] = {}

    # Reading ---------------------------------------------------------------

    def current_name(self) -> str | None:
        """The live generation folder's name, if it exists and has our schema."""
        try:
            name = (self.root / _POINTER).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not _GENERATION.match(name):
            return None
        try:
            version = (self.root / name / _VERSION_FILE).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        return name if version == SCHEMA_VERSION else None

    def open(self, name: str) -> FileIndex:
        """The (cached) index object of one generation folder."""
        ix = self._indexes.get(name)
        if ix is None:
            storage = FileStorage(str(self.root / name))
            ix = FileIndex(storage, schema=self.schema)
            self._indexes = {name: ix}  # older generations are retired
        return ix

    def current(self) -> tuple[str, FileIndex] | None:
        name = self.current_name()
        if name is None:
            return None
        try:
            return name, self.open(name)
        except (OSError, whoosh_index.EmptyIndexError):
            return None

    def needs_rebuild(self) -> bool:
        """No usable index, or only the empty stand-in made when one was missing."""
        name = self.current_name()
        return name is None or (self.root / name / _INCOMPLETE).exists()

    # Writing ---------------------------------------------------------------

    @contextmanager
    def locked(self, timeout: float | None = None) -> Iterator[float]:
        """Hold the folder's write lock; yields the deadline (``time.monotonic``).

        Raises IndexBusy when it is not free within ``timeout`` seconds.
        """
        timeout = self.writer_timeout if timeout is None else timeout
        deadline = time.monotonic() + max(timeout, 0.0)
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FileStorage(str(self.root)).lock(_LOCK)
        while not lock.acquire(blocking=False):
            if time.monotonic() >= deadline:
                raise IndexBusy(f"the search index at {self.root} is being written to")
            time.sleep(_POLL)
        try:
            yield deadline
        finally:
            lock.release()

    def writer(self, ix: FileIndex, deadline: float, **options) -> SegmentWriter:
        """Whoosh's own writer lock, taken within what is left of the deadline."""
        remaining = max(deadline - time.monotonic(), 0.0)
        try:
            writer = _PatientWriter(
                ix, timeout=remaining, delay=_POLL, compound=False, codec=_codec(), **options
            )
        except LockError:
            raise IndexBusy(f"the search index at {self.root} is being written to") from None
        writer.retire_after = self.retire_after
        return writer

    def ensure_current(self) -> tuple[str, FileIndex]:
        """The live index, creating an empty one when missing or outdated.

        Call with the write lock held.
        """
        found = self.current()
        if found is not None:
            self.sweep(keep=found[0])
            return found
        name, ix = self.create_generation(incomplete=True)
        self.swap_to(name)
        return name, ix

    def create_generation(self, incomplete: bool = False) -> tuple[str, FileIndex]:
        """A new, empty index folder beside the live one (not yet live).

        ``incomplete`` marks a stand-in for a missing index: it answers
        queries, but :meth:`needs_rebuild` stays true until a rebuild.
        """
        name = f"gen-{time.time_ns():x}-{secrets.token_hex(4)}"
        folder = self.root / name
        folder.mkdir(parents=True)
        (folder / _VERSION_FILE).write_text(SCHEMA_VERSION + "\n", encoding="ascii")
        if incomplete:
            (folder / _INCOMPLETE).write_text("rebuild me\n", encoding="ascii")
        storage = FileStorage(str(folder))
        ix = FileIndex.create(storage, self.schema)
        return name, ix

    def swap_to(self, name: str) -> None:
        """Make ``name`` the live generation and retire the others.

        Call with the write lock held.
        """
        pointer = self.root / _POINTER
        staging = self.root / f"{_POINTER}.{secrets.token_hex(4)}"
        with open(staging, "w", encoding="ascii") as handle:
            handle.write(name + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(staging, pointer)
        self.sweep(keep=name)

    def discard(self, name: str) -> None:
        """Delete a generation no reader has seen (a failed rebuild's)."""
        if _GENERATION.match(name):
            shutil.rmtree(self.root / name, ignore_errors=True)

    def sweep(self, keep: str) -> None:
        """Retire every generation folder but ``keep``; delete those retired
        for longer than ``retire_after`` seconds. Call with the write lock held."""
        now = time.time()
        for entry in self.root.iterdir():
            if not entry.is_dir() or not _GENERATION.match(entry.name) or entry.name == keep:
                continue
            marker = entry / _RETIRED_AT
            try:
                retired = float(marker.read_text(encoding="ascii"))
            except (OSError, ValueError):
                marker.write_text(repr(now), encoding="ascii")
                retired = now
            if now - retired >= self.retire_after:
                shutil.rmtree(entry, ignore_errors=True)


def _codec():
    """Whoosh's codec, posting blocks uncompressed (see the module's notes)."""
    return default_codec(compression=0)


class ReaderPool:
    """Open readers of the live generation, each lent to one thread at a time.

    A fresh reader per search reopens every segment's term table and columns,
    which measured a few milliseconds per search on an index of ten segments.
    A lent reader comes back to the pool unless it failed or a newer
    generation has appeared meanwhile; readers of older generations are
    closed as soon as a newer one is seen.
    """

    def __init__(self, keep: int = 4):
        self._keep = keep
        self._idle: list = []
        self._key: tuple | None = None  # (folder name, generation) of the idle readers
        self._lock = threading.Lock()

    @contextmanager
    def lend(self, name: str, ix: FileIndex) -> Iterator:
        wanted = (name, ix.latest_generation())
        reader = None
        with self._lock:
            if self._key != wanted:
                stale, self._idle, self._key = self._idle, [], wanted
            else:
                stale = []
                if self._idle:
                    reader = self._idle.pop()
        for old in stale:
            _close(old)
        if reader is None:
            reader = ix.reader()
        try:
            yield reader
        except BaseException:
            _close(reader)
            raise
        generation = reader.generation()
        with self._lock:
            if self._key == (name, generation) and len(self._idle) < self._keep:
                self._idle.append(reader)
                reader = None
        if reader is not None:
            _close(reader)

    def clear(self) -> None:
        with self._lock:
            stale, self._idle, self._key = self._idle, [], None
        for old in stale:
            _close(old)


def _close(reader) -> None:
    with suppress(Exception):
        reader.close()


class _PatientWriter(SegmentWriter):
    """Whoosh's segment writer, except that

    - files of merged-away segments are retired and deleted only after a grace
      period (Whoosh deletes them at once, under readers that have yet to open
      them);
    - the field lengths of the new segment are kept in memory as they are
      written, so that writing the postings reads them from there: Whoosh
      reads each one back from the segment's length columns, once per
      posting, which was a fifth of the indexing time.
    """

    retire_after = RETIRE_AFTER

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._lengths = _FieldLengths()
        self.perdocwriter = _RecordingPerDocWriter(self.perdocwriter, self._lengths)

    def per_document_reader(self):
        return _KnownLengths(super().per_document_reader(), self._lengths)

    def _commit_toc(self, segments):
        TOC(self.schema, segments, self.generation).write(self.storage, self.indexname)
        retire_unused_files(self.storage, self.indexname, self.generation, segments, self.retire_after)


class _FieldLengths:
    """Each field's length in each document of a segment being written, as
    the length byte Whoosh stores (lengths are kept to 256 steps)."""

    def __init__(self):
        self._bytes: dict[str, bytearray] = {}

    def add(self, docnum: int, fieldname: str, length: int | None) -> None:
        if not length:
            return
        found = self._bytes.get(fieldname)
        if found is None:
            found = self._bytes[fieldname] = bytearray()
        if len(found) <= docnum:
            found.extend(bytes(docnum + 1 - len(found)))
        found[docnum] = length_to_byte(length)

    def get(self, docnum: int, fieldname: str, default=None):
        """What the segment's reader will answer (no length: ``default``)."""
        found = self._bytes.get(fieldname)
        if found is None or docnum >= len(found) or not found[docnum]:
            return default
        return byte_to_length(found[docnum])


class _RecordingPerDocWriter:
    """Whoosh's per-document writer, noting each field length it writes."""

    def __init__(self, inner, lengths: _FieldLengths):
        self._inner = inner
        self._lengths = lengths
        self._docnum = 0

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def start_doc(self, docnum):
        self._docnum = docnum
        return self._inner.start_doc(docnum)

    def add_field(self, fieldname, fieldobj, value, length):
        self._lengths.add(self._docnum, fieldname, length)
        return self._inner.add_field(fieldname, fieldobj, value, length)


class _KnownLengths:
    """A per-document reader of the new segment answering field lengths from
    memory; everything else is the reader's."""

    def __init__(self, inner, lengths: _FieldLengths):
        self._inner = inner
        self._lengths = lengths

    def __getattr__(self, name):
        return getattr(self._inner, name)

    def doc_field_length(self, docnum, fieldname, default=None):
        return self._lengths.get(docnum, fieldname, default)


def size_tier(segment) -> int:
    """A segment's size tier: the number of digits of its live item count, less one."""
    return len(str(max(segment.doc_count(), 1))) - 1


def merge_similar(writer, segments) -> list:
    """Whoosh merge policy: whenever MERGE_FACTOR segments of one size tier exist (ten of
    1,000 items, ten of 10 items...), merge them into the segment being committed, smallest
    first, while the merged segment stays within MAX_MERGED items; keep the others.

    Whoosh's own policy (MERGE_SMALL) never merges segments of 1,000 items: a bulk import
    drained 1,000 items per commit left about 100 segments at 100,000 items, and every
    later search and write paid per segment. This one costs each item about one more
    write per tenfold growth of its segment, and no single commit rewrites more than
    MAX_MERGED items: a rebuild's segments of 5,000 are left as they are."""
    tiers: dict[int, list] = {}
    for segment in segments:
        tiers.setdefault(size_tier(segment), []).append(segment)
    merged: set = set()
    for members in tiers.values():
        if len(members) < MERGE_FACTOR:
            continue
        chosen, size = [], 0
        for segment in sorted(members, key=lambda s: s.doc_count()):
            if size + segment.doc_count() > MAX_MERGED:
                break
            chosen.append(segment)
            size += segment.doc_count()
        if len(chosen) >= MERGE_FACTOR:
            merged.update(id(segment) for segment in chosen)
    for segment in segments:
        if id(segment) in merged:
            reader = SegmentReader(writer.storage, writer.schema, segment)
            try:
                writer.add_reader(reader)
            finally:
                reader.close()
    return [segment for segment in segments if id(segment) not in merged]


def retire_unused_files(storage, indexname, generation, segments, retire_after) -> None:
    """Delete old TOC files; delete files of segments that are no longer live
    once they have been unused for ``retire_after`` seconds."""
    folder = Path(storage.folder)
    ledger_path = folder / _RETIRED_SEGMENTS
    try:
        ledger: dict[str, float] = json.loads(ledger_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        ledger = {}
    live = {segment.segment_id() for segment in segments}
    toc = re.compile(rf"^_{re.escape(indexname)}_(\d+)\.toc$")
    segment_file = re.compile(rf"^({re.escape(indexname)}_[0-9a-z]+)\.")
    now = time.time()
    still_retired: dict[str, float] = {}
    for filename in storage.list():
        toc_match = toc.match(filename)
        if toc_match:
            if int(toc_match.group(1)) != generation:
                _delete(storage, filename)
            continue
        segment_match = segment_file.match(filename)
        if not segment_match or segment_match.group(1) in live:
            continue
        segment_id = segment_match.group(1)
        retired = ledger.get(segment_id, now)
        if now - retired >= retire_after:
            _delete(storage, filename)
        else:
            still_retired[segment_id] = retired
    staging = folder / f"{_RETIRED_SEGMENTS}.{secrets.token_hex(4)}"
    staging.write_text(json.dumps(still_retired), encoding="utf-8")
    os.replace(staging, ledger_path)


def _delete(storage, filename: str) -> None:
    # a platform that refuses to delete an open file: a later commit retries
    with suppress(OSError):
        storage.delete_file(filename)
