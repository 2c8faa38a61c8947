"""Search inside PostgreSQL's own full-text search, for deployments with several web hosts.

Every host reads and writes one table in the portal's database, so there is no index
folder to share. The promises are the Whoosh backend's (see ``docs/search.md``):

- **What a person typed** goes through :mod:`search_index.query_text` (plain words and
  quoted phrases, synonyms, caps on length and terms). Each alternative becomes
  ``plainto_tsquery``/``phraseto_tsquery('english', <bound text>)``; units are joined
  with ``&&``, alternatives with ``||``; PostgreSQL's canonical text of that tsquery
  is then bound to the searches. No SQL and no tsquery syntax is ever built from input.
- **Visibility inside SQL**: only ``status = 'published'``; an ``external`` audience for
  anyone who is not staff; for a viewer allowed only some items (a champion), only those
  slugs. Totals, facet counts, hits, "did you mean" and suggestions all carry that
  condition, and the spelling lexicon holds only published words, split by audience. A
  viewer allowed only some items has words corrected and completed from the titles and
  summaries of those items only: the lexicon holds the rep-only parts of arguments too.
- **Facets**: one statement counts each facet over the matches with every *other*
  facet's selection applied (``&&`` overlap within a facet, AND across), in one pass
  over the matches; with words, the same pass ranks the page of items with every unit.
- **Browsing** (no words) is answered once per selection, page and viewer class, and
  kept per process under the tables' generation: one number every write raises in its
  own transaction, read in the search's own snapshot, so a kept answer is never one a
  write has changed (a viewer allowed only some items is never kept).
- **Some of the words**: when no more than a page matches every unit, the total and facets
  are counted again over the units ORed, and the page is ordered by how many units each
  row matches (one ``@@`` per unit), then by score.
- **Ranking**: ``ts_rank_cd`` over a weighted vector (title A; summary and tags B;
  argument C; body and file text D) times the freshness and usage boost. It reads only
  the document itself, so a score says nothing about documents the viewer cannot see.
- **Writers** take one advisory lock per table (one writer at a time, like Whoosh),
  wait at most ``writer_timeout`` for it or for any row (``SET LOCAL lock_timeout``),
  and raise :class:`IndexBusy` instead. Readers never wait for writers.

The fields of one item are separated by a gap of :data:`FIELD_GAP` positions in the
vector (a one-space lexeme no query can produce), so a phrase never runs from the end
of the title into the summary.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from content_library.records import SearchableItem, Viewer

from .base import (
    FACETS,
    MAX_ANY_STATUS,
    Hit,
    IndexBusy,
    SearchBackend,
    SearchQuery,
    SearchResult,
    SynonymTable,
    merge_suggestions,
    missing_words,
    normalise_synonyms,
    some_words_follow,
)
from .completion import MAX_CANDIDATES, Typed, best_completions, one_spelling_per_term, typed
from .highlight import highlight
from .query_text import (
    ParsedText,
    Plan,
    analyse_word,
    clean,
    labelled_plan,
    make_word_analyzer,
    parse,
    plan,
    plan_terms,
    terms_of,
)
from .spelling import CorrectionBudget, buyer_lexicon, completions_from, correct_from, correctable

__all__ = ["IndexBusy", "PostgresBackend"]

log = logging.getLogger(__name__)
T = TypeVar("T")

SCHEMA_VERSION = "2"  # 2: narrow rows (the lexicon words out of line), a generation
_MARK = "enablement-portal search index"
_SCHEMA_1 = f"{_MARK}; schema 1;"  # upgraded in place: see _Statements.since_1

FEW_RESULTS = 3  # fewer results than this and "did you mean" is tried
MAX_SUGGESTIONS = 20

#: ts_rank_cd weights of the D, C, B and A parts of the vector.
RANK_WEIGHTS = (0.1, 0.2, 0.4, 1.0)
FRESHNESS_WEIGHT = 0.15
USAGE_WEIGHT = 0.15
FRESHNESS_DAYS = 365

FIELD_GAP = 200  # vector positions between two fields: longer than any phrase one may type
#: Characters of body and of file text indexed, tried in turn when a document's vector
#: would pass PostgreSQL's 1 MB limit (only text with very many distinct words does).
TEXT_CAPS = (2**31 - 1, 200_000, 20_000, 0)
MAX_WORD_LENGTH = 60  # longer "words" stay out of the spelling lexicon
MAX_SCANNED_WORDS = 20_000  # lexicon words one spelling correction may compare
MAX_TITLE_CANDIDATES = 500
READ_TIMEOUT_MS = 10_000  # a backstop: searches take milliseconds
_BATCH = 500
#: Answers to browsing (no words) kept per process, keyed by the tables' generation.
BROWSED_ANSWERS = 256
_KEEP_IDLE = 4

_TABLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,40}")
_WORD_ANALYZER = make_word_analyzer()
_TITLE_WORD = re.compile(r"\w", re.UNICODE)

_BOOST = sql.SQL(
    "(1 + {fw} * LEAST(GREATEST(1 - ((now() AT TIME ZONE 'UTC')::date"
    " - (COALESCE(updated_at, 'epoch') AT TIME ZONE 'UTC')::date) / {days}::float8, 0), 1)"
    " + {uw} * LEAST(GREATEST(usage_score, 0), 1))"
).format(
    fw=sql.Literal(FRESHNESS_WEIGHT), uw=sql.Literal(USAGE_WEIGHT), days=sql.Literal(FRESHNESS_DAYS)
)
_VISIBLE = sql.SQL(
    "status = 'published' AND (audience = 'external' OR %(staff)s)"
    " AND (%(only)s::text[] IS NULL OR slug = ANY(%(only)s::text[]))"
)


def is_staff(viewer: Viewer) -> bool:
    """Staff see every published item; everyone else only published external ones.
    Only a plain True opens internal items: anything else fails closed."""
    return viewer.sees_internal is True


class _Sight(NamedTuple):
    """What a viewer may see, as the SQL's parameters: ``staff`` and ``only``."""

    staff: bool
    only: list[str] | None  # None: every item the class may see; else these slugs only

    @property
    def params(self) -> dict[str, Any]:
        return {"staff": self.staff, "only": self.only}


def sight_of(viewer: Viewer) -> _Sight:
    allowed = viewer.allowed_slugs
    only = None if allowed is None else sorted(_plain(s) for s in allowed if isinstance(s, str))
    return _Sight(is_staff(viewer), only)


def _empty_result() -> SearchResult:
    return SearchResult(total=0, hits=[], facets={facet: {} for facet in FACETS}, suggestion=None)


# Values going in --------------------------------------------------------------


def _plain(text: str | None) -> str:
    """Text PostgreSQL accepts: no NUL characters, no unpaired surrogates."""
    text = (text or "").replace("\x00", " ")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _lexicon_words(item: SearchableItem) -> list[str]:
    """The unstemmed words "did you mean" and completions may offer (as Whoosh's
    words fields: title, summary, argument, tags and body; not the file text)."""
    texts = (item.title, item.summary, item.argument_text, item.tag_names, item.body_text)
    found = {token.text for text in texts if text for token in _WORD_ANALYZER(_plain(text))}
    return sorted(word for word in found if len(word) <= MAX_WORD_LENGTH)


def _row(item: SearchableItem) -> dict[str, Any]:
    row: dict[str, Any] = {
        "slug": _plain(item.slug),
        "title": _plain(item.title),
        "summary": _plain(item.summary),
        "tags": _plain(item.tag_names),
        "argument": _plain(item.argument_text),
        "body": _plain(item.body_text),
        "file_text": _plain(item.file_text),
        "audience": "external" if item.audience == "external" else "internal",
        "status": _plain(item.status),
        "updated_at": _utc(item.updated_at),
        "usage_score": min(max(float(item.usage_score or 0.0), 0.0), 1.0),
        "fingerprint": _plain(item.fingerprint),
        "words": _lexicon_words(item),
    }
    for facet, values in item.facet_values().items():
        row[facet] = list(dict.fromkeys(_plain(v) for v in values if v))
    return row


def _contributions(status: str, audience: str, words: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(word, audience) pairs one document adds to the lexicon: none unless published."""
    if status == "published":
        for word in words:
            yield word, audience


# Connections ------------------------------------------------------------------


class _Connections:
    """A few idle connections kept for reuse. Each operation takes one for itself, so
    threads never share a connection; a process forked with idle connections leaves
    them to its parent."""

    def __init__(self, dsn: str, keep: int = _KEEP_IDLE):
        params = conninfo_to_dict(dsn)
        params.setdefault("connect_timeout", 10)
        params.setdefault("application_name", "portal-search")
        self._params = params
        self._keep = keep
        self._idle: list[psycopg.Connection] = []
        self._inherited: list[psycopg.Connection] = []
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def connect(self) -> psycopg.Connection:
        return psycopg.connect(autocommit=True, **self._params)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        conn = self._take()
        try:
            yield conn
        finally:
            self._give_back(conn)

    def _take(self) -> psycopg.Connection:
        with self._lock:
            if os.getpid() != self._pid:
                self._inherited.extend(self._idle)  # the parent's: never used nor closed here
                self._idle, self._pid = [], os.getpid()
            if self._idle:
                return self._idle.pop()
        return self.connect()

    def _give_back(self, conn: psycopg.Connection) -> None:
        healthy = not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE
        if healthy:
            with self._lock:
                if os.getpid() == self._pid and len(self._idle) < self._keep:
                    self._idle.append(conn)
                    return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


# Statements -------------------------------------------------------------------


class _Statements:
    """The SQL of one set of tables; identifiers come from the checked table name only."""

    def __init__(self, table: str):
        self.name = table
        self.table = sql.Identifier(table)
        self.words = sql.Identifier(f"{table}_words")
        self.state = sql.Identifier(f"{table}_state")

    def names(self) -> tuple[str, str, str]:
        """The documents, the lexicon, and the generation: one row, one number that
        every write raises in its own transaction (what cached answers are keyed by)."""
        return self.name, f"{self.name}_words", f"{self.name}_state"

    def ddl(self) -> list[sql.Composed]:
        facets = sql.SQL(", ").join(
            sql.SQL("{} text[] NOT NULL DEFAULT '{{}}'").format(sql.Identifier(f)) for f in FACETS
        )
        create = [
            sql.SQL(
                "CREATE TABLE {t} (slug text PRIMARY KEY, title text NOT NULL, summary text NOT NULL,"
                " audience text NOT NULL, status text NOT NULL, {facets},"
                " updated_at timestamptz, usage_score float8 NOT NULL DEFAULT 0,"
                " fingerprint text NOT NULL DEFAULT '', words text[] NOT NULL DEFAULT '{{}}',"
                " title_words tsvector NOT NULL, document tsvector NOT NULL)"
            ).format(t=self.table, facets=facets),
            sql.SQL(
                'CREATE TABLE {w} (word text COLLATE "C" NOT NULL, audience text NOT NULL,'
                " docs integer NOT NULL, PRIMARY KEY (word, audience))"
            ).format(w=self.words),
            *self.since_1(),
        ]
        for column in ("document", "title_words", *FACETS):
            create.append(
                sql.SQL("CREATE INDEX {i} ON {t} USING gin ({c})").format(
                    i=sql.Identifier(f"{self.name}_{column}_gin"), t=self.table, c=sql.Identifier(column)
                )
            )
        return create

    def since_1(self) -> list[sql.Composed]:
        """What schema 2 adds to schema 1's tables (so they are upgraded in place)."""
        return [
            # Rows over 512 bytes move their largest values out of line: the lexicon words
            # first (a kilobyte, read only by writers), so the row that counting reads for
            # every match stays narrow; the facets stay in it. Rows written before keep
            # their layout until rewritten (a rebuild, or VACUUM FULL).
            sql.SQL("ALTER TABLE {t} SET (toast_tuple_target = 512)").format(t=self.table),
            sql.SQL("ALTER TABLE {t} ALTER words SET STORAGE EXTERNAL, {main}").format(
                t=self.table,
                main=sql.SQL(", ").join(
                    sql.SQL("ALTER {} SET STORAGE MAIN").format(sql.Identifier(f)) for f in FACETS
                ),
            ),
            sql.SQL("CREATE TABLE {s} (generation bigint NOT NULL)").format(s=self.state),
            sql.SQL("INSERT INTO {s} VALUES (0)").format(s=self.state),
        ]

    def drop(self) -> sql.Composed:
        return sql.SQL("DROP TABLE IF EXISTS {t}, {w}, {s}").format(t=self.table, w=self.words, s=self.state)

    def comment(self, complete: bool) -> sql.Composed:
        """Marks the tables as ours, with the schema version and whether a rebuild
        has filled them since they were made."""
        state = "complete" if complete else "incomplete"
        text = sql.Literal(f"{_MARK}; schema {SCHEMA_VERSION}; {state}")
        return sql.SQL("; ").join(
            sql.SQL("COMMENT ON TABLE {} IS {}").format(table, text)
            for table in (self.table, self.words, self.state)
        )

    def next_generation(self) -> sql.Composed:
        return sql.SQL("UPDATE {s} SET generation = generation + 1").format(s=self.state)

    def upsert(self) -> sql.Composed:
        def part(field: str, weight: str, capped: bool = False) -> sql.Composable:
            value = sql.Placeholder(field)
            if capped:
                value = sql.SQL("left({}, %(cap)s)").format(value)
            return sql.SQL("setweight(to_tsvector('english', {}), {})").format(value, sql.Literal(weight))

        gap = sql.SQL(f" || ''' '':{FIELD_GAP}'::tsvector || ")
        document = gap.join(
            [
                part("title", "A"),
                part("summary", "B"),
                part("tags", "B"),
                part("argument", "C"),
                part("body", "D", capped=True),
                part("file_text", "D", capped=True),
            ]
        )
        columns = ["slug", "title", "summary", "audience", "status", *FACETS]
        columns += ["updated_at", "usage_score", "fingerprint", "words"]
        arrays = (*FACETS, "words")
        values = [
            sql.SQL("{}::text[]").format(sql.Placeholder(c)) if c in arrays else sql.Placeholder(c)
            for c in columns
        ]
        values += [sql.SQL("to_tsvector('simple', %(title)s)"), document]
        columns += ["title_words", "document"]
        updates = sql.SQL(", ").join(
            sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in columns[1:]
        )
        statement = "INSERT INTO {t} ({cols}) VALUES ({vals}) ON CONFLICT (slug) DO UPDATE SET {u}"
        return sql.SQL(statement).format(
            t=self.table,
            cols=sql.SQL(", ").join(map(sql.Identifier, columns)),
            vals=sql.SQL(", ").join(values),
            u=updates,
        )


def _selection(filters: dict[str, tuple[str, ...]]) -> tuple[dict[str, sql.Composable], dict[str, Any]]:
    """Facet -> its SQL condition (overlap with the chosen slugs), and the parameters."""
    conditions, params = {}, {}
    for facet in FACETS:
        chosen = filters.get(facet)
        if chosen:
            name = f"f_{facet}"
            # a value PostgreSQL cannot hold matches nothing (it stays a filter)
            params[name] = [v for v in chosen if v == _plain(v)]
            conditions[facet] = sql.SQL("{} && {}::text[]").format(
                sql.Identifier(facet), sql.Placeholder(name)
            )
    return conditions, params


def _all(conditions: Iterable[sql.Composable]) -> sql.Composable:
    parts = list(conditions)
    return sql.SQL(" AND ").join(parts) if parts else sql.SQL("TRUE")


# The backend ------------------------------------------------------------------


class PostgresBackend(SearchBackend):
    """Search over the table ``table`` (and ``<table>_words``) of the database at ``dsn``.

    The tables are created when missing. One instance per process, safe to share
    between threads; any number of processes and hosts may use the same tables.
    Writers wait at most ``writer_timeout`` seconds for a lock, then raise
    :class:`IndexBusy`. Call :meth:`close` to close the idle connections.
    """

    def __init__(self, dsn: str, writer_timeout: float = 5.0, table: str = "search_documents"):
        if not isinstance(table, str) or not _TABLE_NAME.fullmatch(table):
            raise ValueError(f"unusable search table name {table!r}: lower-case letters, digits, _")
        self._sql = _Statements(table)
        self._writer_timeout = max(float(writer_timeout), 0.0)
        self._lock_key = int.from_bytes(
            hashlib.blake2b(f"{_MARK}:{table}".encode(), digest_size=8).digest(), "big", signed=True
        )
        self._pool = _Connections(dsn)
        self._browsed: OrderedDict[tuple, SearchResult] = OrderedDict()
        self._browsed_lock = threading.Lock()
        try:
            self._ensure_schema()
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        self._pool.close()

    # Transactions -----------------------------------------------------------

    def _run(self, work: Callable[[psycopg.Cursor], T], *, write: bool, retry: bool = True) -> T:
        """``work(cursor)`` in one transaction: READ COMMITTED holding the writer lock,
        or a REPEATABLE READ, READ ONLY snapshot. A pooled connection found dead (the
        server restarted, a firewall dropped it) is replaced once, when ``retry``
        allows running ``work`` again."""
        for attempt in range(2):
            with self._pool.connection() as conn:
                try:
                    return self._transaction(conn, work, write)
                except psycopg.OperationalError:
                    if not conn.broken or attempt or not retry:
                        raise
        raise AssertionError("unreachable")

    def _transaction(
        self,
        conn: psycopg.Connection,
        work: Callable[[psycopg.Cursor], T],
        write: bool,
        wait: float | None = None,
    ) -> T:
        conn.isolation_level = (
            psycopg.IsolationLevel.READ_COMMITTED if write else psycopg.IsolationLevel.REPEATABLE_READ
        )
        conn.read_only = not write
        with conn.transaction(), conn.cursor() as cur:
            if write:
                wait = self._writer_timeout if wait is None else wait
                waiting = str(max(int(wait * 1000), 1))
                cur.execute("SELECT set_config('lock_timeout', %s, true)", (waiting,))
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
            else:
                cur.execute("SELECT set_config('statement_timeout', %s, true)", (str(READ_TIMEOUT_MS),))
            return work(cur)

    def _write(self, work: Callable[[psycopg.Cursor], T], retry: bool = True) -> T:
        for attempt in range(2):
            try:
                return self._run(work, write=True, retry=retry)
            except (errors.LockNotAvailable, errors.DeadlockDetected) as exc:
                raise IndexBusy(f"the search table {self._sql.name} is locked by another writer") from exc
            except errors.UndefinedTable:
                if attempt or not retry:
                    raise
                self._ensure_schema()  # dropped from under us: make it again
        raise AssertionError("unreachable")

    def _read(self, work: Callable[[psycopg.Cursor], T], default: T) -> T:
        try:
            return self._run(work, write=False)
        except errors.UndefinedTable:
            return default

    # Schema -----------------------------------------------------------------

    def _state(self, cur: psycopg.Cursor) -> str | None:
        """The comment on our table; None when a table is missing (schema 1 had no
        generation table)."""
        documents, words, state = self._sql.names()
        cur.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND to_regclass(%s) IS NOT NULL,"
            " to_regclass(%s) IS NOT NULL, obj_description(to_regclass(%s), 'pg_class')",
            (documents, words, state, documents),
        )
        exists, counted, comment = cur.fetchone()
        comment = comment or ""
        if not exists or (not counted and not comment.startswith(_SCHEMA_1)):
            return None
        return comment

    def _schema_is_current(self, state: str | None) -> bool:
        return state is not None and state.startswith(f"{_MARK}; schema {SCHEMA_VERSION};")

    def _ensure_schema(self) -> None:
        """Create the tables when missing, upgrade ours in place from schema 1, or
        replace ours when made by another schema version (then :meth:`needs_rebuild` is
        true until a rebuild). Several hosts starting at once do it once, under the
        writer lock."""
        if self._schema_is_current(self._read_state()):
            return
        with self._pool.connection() as conn:
            self._transaction(conn, self._create_schema, write=True, wait=max(self._writer_timeout, 30.0))

    def _create_schema(self, cur: psycopg.Cursor) -> None:
        state = self._state(cur)
        if self._schema_is_current(state):
            return  # another process made it while we waited
        if state is not None and state.startswith(_SCHEMA_1):
            # no rebuild, no moment without documents: searches go on with every row
            for statement in self._sql.since_1():
                cur.execute(statement)
            cur.execute(self._sql.comment(complete=state.endswith("; complete")))
            return
        for name in self._sql.names():
            cur.execute(
                "SELECT to_regclass(%s) IS NOT NULL, obj_description(to_regclass(%s), 'pg_class')",
                (name, name),
            )
            exists, comment = cur.fetchone()
            if exists and not (comment or "").startswith(_MARK):
                raise RuntimeError(
                    f"table {name} exists and is not part of a search index of this portal;"
                    " choose another search table name"
                )
        cur.execute(self._sql.drop())
        for statement in self._sql.ddl():
            cur.execute(statement)
        cur.execute(self._sql.comment(complete=False))

    def _read_state(self) -> str | None:
        with self._pool.connection() as conn, conn.cursor() as cur:
            return self._state(cur)

    def needs_rebuild(self) -> bool:
        state = self._read_state()
        return not self._schema_is_current(state) or not (state or "").endswith("; complete")

    # Writing ----------------------------------------------------------------

    def update(self, read: Callable[[], tuple[Iterable[SearchableItem], Iterable[str]]]) -> None:
        self._write(lambda cur: self._apply(cur, *read()))

    def hide(self, items: Iterable[SearchableItem], gone: Iterable[str],
             connection=None) -> Callable[[], None]:
        """The writes run in ``connection``'s transaction (the portal's own database, where
        these tables live), under the writer lock that transaction then holds until it
        ends: the index changes in the very commit that hides the items."""
        if connection is None:
            raise ValueError("the postgres backend hides items in the committing transaction")
        try:
            with connection.transaction(), connection.cursor() as cur:
                cur.execute("SELECT current_setting('lock_timeout')")
                before = cur.fetchone()[0]
                waiting = str(max(int(self._writer_timeout * 1000), 1))
                cur.execute("SELECT set_config('lock_timeout', %s, true)", (waiting,))
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key,))
                cur.execute("SELECT set_config('lock_timeout', %s, true)", (before,))
                self._apply(cur, items, gone)
        except (errors.LockNotAvailable, errors.DeadlockDetected) as exc:
            raise IndexBusy(f"the search table {self._sql.name} is locked by another writer") from exc
        return lambda: None

    def _apply(self, cur: psycopg.Cursor, items: Iterable[SearchableItem], gone: Iterable[str]) -> None:
        rows: dict[str, dict[str, Any]] = {}
        for item in items:
            if not item.slug:
                raise ValueError("an item without a slug cannot be indexed")
            row = _row(item)
            rows[row["slug"]] = row
        removed = [slug for slug in dict.fromkeys(_plain(s) for s in gone if s) if slug not in rows]
        if rows:
            self._replace(cur, list(rows.values()))
        if removed:
            self._remove(cur, removed)
        if rows or removed:
            cur.execute(self._sql.next_generation())

    def rebuild(self, items: Iterable[SearchableItem]) -> int:
        """Replace every document in one transaction (searches keep reading the old
        ones until it commits); a slug seen twice keeps its first item."""
        self._ensure_schema()
        # never run twice: the items may be a generator, half read by the first run
        return self._write(lambda cur: self._rebuild(cur, items), retry=False)

    def clear(self) -> None:
        self.rebuild(())

    def _replace(self, cur: psycopg.Cursor, rows: list[dict[str, Any]]) -> None:
        change = self._forget_lexicon(cur, [row["slug"] for row in rows])
        for row in rows:
            change.update(_contributions(row["status"], row["audience"], row["words"]))
        self._insert(cur, rows)
        self._apply_lexicon(cur, change)

    def _remove(self, cur: psycopg.Cursor, slugs: list[str]) -> None:
        change = self._forget_lexicon(cur, slugs)
        delete = sql.SQL("DELETE FROM {t} WHERE slug = ANY(%s::text[])").format(t=self._sql.table)
        cur.execute(delete, (slugs,))
        self._apply_lexicon(cur, change)

    def _rebuild(self, cur: psycopg.Cursor, items: Iterable[SearchableItem]) -> int:
        # DELETE, not TRUNCATE: TRUNCATE's lock would stop every search until commit.
        cur.execute(sql.SQL("DELETE FROM {w}").format(w=self._sql.words))
        cur.execute(sql.SQL("DELETE FROM {t}").format(t=self._sql.table))
        cur.execute(self._sql.next_generation())
        seen: set[str] = set()
        batch: list[dict[str, Any]] = []
        for item in items:
            if not item.slug or _plain(item.slug) in seen:
                continue
            row = _row(item)
            seen.add(row["slug"])
            batch.append(row)
            if len(batch) >= _BATCH:
                self._insert(cur, batch)
                batch = []
        if batch:
            self._insert(cur, batch)
        cur.execute(
            sql.SQL(
                "INSERT INTO {w} (word, audience, docs) SELECT word, audience, count(*)"
                " FROM {t}, unnest(words) AS word WHERE status = 'published' GROUP BY word, audience"
            ).format(w=self._sql.words, t=self._sql.table)
        )
        cur.execute(self._sql.comment(complete=True))
        return len(seen)

    def _insert(self, cur: psycopg.Cursor, rows: list[dict[str, Any]]) -> None:
        statement = self._sql.upsert()
        try:
            with cur.connection.transaction():
                cur.executemany(statement, [{**row, "cap": TEXT_CAPS[0]} for row in rows])
            return
        except errors.ProgramLimitExceeded:
            pass
        for row in rows:  # one of them has too many distinct words: shorten only that one
            for cap in TEXT_CAPS:
                try:
                    with cur.connection.transaction():
                        cur.execute(statement, {**row, "cap": cap})
                    if cap < TEXT_CAPS[0]:
                        log.warning("search: indexed the first %d characters of %s's text", cap, row["slug"])
                    break
                except errors.ProgramLimitExceeded:
                    if cap == TEXT_CAPS[-1]:
                        raise

    def _forget_lexicon(self, cur: psycopg.Cursor, slugs: list[str]) -> Counter:
        """The lexicon change that removing these documents' current words makes."""
        cur.execute(
            sql.SQL("SELECT status, audience, words FROM {t} WHERE slug = ANY(%s::text[])").format(
                t=self._sql.table
            ),
            (slugs,),
        )
        change: Counter = Counter()
        for status, audience, words in cur.fetchall():
            change.subtract(_contributions(status, audience, words))
        return change

    def _apply_lexicon(self, cur: psycopg.Cursor, change: Counter) -> None:
        changed = sorted((key, n) for key, n in change.items() if n)
        if not changed:
            return
        words = [word for (word, _), _ in changed]
        cur.execute(
            sql.SQL(
                "INSERT INTO {w} AS old (word, audience, docs)"
                " SELECT * FROM unnest(%s::text[], %s::text[], %s::int[])"
                " ON CONFLICT (word, audience) DO UPDATE SET docs = old.docs + EXCLUDED.docs"
            ).format(w=self._sql.words),
            (words, [audience for (_, audience), _ in changed], [n for _, n in changed]),
        )
        gone = [word for (word, _), n in changed if n < 0]
        if gone:
            delete = "DELETE FROM {w} WHERE word = ANY(%s::text[]) AND docs <= 0"
            cur.execute(sql.SQL(delete).format(w=self._sql.words), (gone,))

    # Reading ----------------------------------------------------------------

    def fingerprints(self) -> dict[str, str]:
        def read(cur: psycopg.Cursor) -> dict[str, str]:
            cur.execute(sql.SQL("SELECT slug, fingerprint FROM {t}").format(t=self._sql.table))
            return dict(cur.fetchall())

        return self._read(read, {})

    def search(self, query: SearchQuery, viewer: Viewer) -> SearchResult:
        wanted = query.clamped()
        parsed = parse(wanted.text)
        sight = sight_of(viewer)
        return self._read(lambda cur: self._search(cur, wanted, parsed, sight), _empty_result())

    def suggest(self, prefix: str, viewer: Viewer, limit: int = 8) -> list[str]:
        limit = min(max(int(limit), 1), MAX_SUGGESTIONS)
        text = " ".join(clean(prefix)[:100].split())
        if not text:
            return []
        sight = sight_of(viewer)
        return self._read(lambda cur: self._suggest(cur, text, sight, limit), [])

    def find_any_status(
        self, text: str, synonyms: SynonymTable = (), limit: int = MAX_ANY_STATUS
    ) -> list[str]:
        synonyms = normalise_synonyms(synonyms)
        parsed = parse(text)
        units = plan(parsed, synonyms)
        if not units:
            return []
        limit = min(max(int(limit), 1), MAX_ANY_STATUS)

        def find(cur: psycopg.Cursor) -> list[str]:
            tsquery = _tsquery(cur, units, parsed, synonyms)
            if not tsquery:
                return []
            cur.execute("SELECT set_config('enable_seqscan', 'off', true)")  # as in _search
            cur.execute(
                sql.SQL(
                    "SELECT slug FROM {t} WHERE document @@ %(q)s::tsquery ORDER BY"
                    " ts_rank_cd(%(weights)s::float4[], document, %(q)s::tsquery) * {b} DESC, slug"
                    " LIMIT %(limit)s"
                ).format(t=self._sql.table, b=_BOOST),
                {"q": tsquery, "weights": list(RANK_WEIGHTS), "limit": limit},
            )
            return [slug for (slug,) in cur.fetchall()]

        return self._read(find, [])

    # Search -----------------------------------------------------------------

    def _search(
        self, cur: psycopg.Cursor, query: SearchQuery, parsed: ParsedText, sight: _Sight
    ) -> SearchResult:
        labelled = labelled_plan(parsed, query.synonyms)
        units = tuple(labelled)
        conditions, params = _selection(dict(query.filters))
        params.update(sight.params, q=None)
        start = (query.page - 1) * query.per_page
        params.update(limit=query.per_page, offset=start, weights=list(RANK_WEIGHTS))
        if not units:
            return self._browse(cur, query, sight, conditions, params)

        queries = _tsqueries(cur, units, parsed, query.synonyms)
        # The planner does not count the unpacking of each stored vector that a sequential
        # scan's @@ must read, so it passes over the GIN index, which answers plain words
        # without reading a vector (5x faster for a rare word at 5,000 items). Browsing,
        # which has no index to use, keeps the sequential scan.
        cur.execute("SELECT set_config('enable_seqscan', 'off', true)")
        params["q"] = queries.all
        all_words, facets, page = self._counts_and_page(cur, conditions, params)
        total = all_words
        # a unit PostgreSQL reads as stop words only asks for nothing, so is never missing
        asked = [(labels, q) for labels, q in zip(labelled.values(), queries.each, strict=True) if q]
        if some_words_follow(len(asked), all_words, query.per_page):
            # the items with only some of the words count, and are counted, too
            total, facets = self._counts(cur, True, conditions, {**params, "q": queries.any})
        terms = plan_terms(units)
        hits: list[Hit] = []
        if start < total and total > all_words:
            some = {**params, "q": queries.any, "every": queries.all}
            some.update({f"u{n}": q for n, (_, q) in enumerate(asked)})
            labels = [labels for labels, _ in asked]
            for slug, title, summary, score, found in self._page_of_some(cur, len(asked), conditions, some):
                lacks = missing_words(labels, found)
                hits.append(Hit(slug, float(score), highlight(title, summary, terms), lacks))
        else:
            for slug, title, summary, score in page:
                hits.append(Hit(slug=slug, score=float(score), highlight=highlight(title, summary, terms)))
        suggestion = None
        if all_words < FEW_RESULTS:
            suggestion = self._did_you_mean(cur, parsed, query.synonyms, conditions, params, all_words)
        match = "some" if total > all_words else "all"
        return SearchResult(
            total=total, hits=hits, facets=facets, suggestion=suggestion, match=match, all_words=all_words
        )

    def _browse(self, cur: psycopg.Cursor, query: SearchQuery, sight: _Sight,
                conditions: dict[str, sql.Composable], params: dict[str, Any]) -> SearchResult:
        """Browsing: every visible item, freshest and most used first. Browsing has no
        words, so the same few selections come back again and again (facets clicked in
        turn, the stage pages' links to the rest): the answer is kept, keyed by the
        tables' generation (raised by every write, read in this snapshot) and the day (the
        freshness boost's), for everyone but a viewer allowed only some items. It
        counts every visible item, which costs at 100,000 items."""
        key = None
        if sight.only is None:
            today = "SELECT generation, (now() AT TIME ZONE 'UTC')::date FROM {s}"
            cur.execute(sql.SQL(today).format(s=self._sql.state))
            generation, today = cur.fetchone()
            chosen = tuple(sorted(dict(query.filters).items()))
            key = (generation, today, sight.staff, chosen, query.page, query.per_page)
            with self._browsed_lock:
                kept = self._browsed.get(key)
                if kept is not None:
                    self._browsed.move_to_end(key)
                    return _copy(kept)
        total, facets = self._counts(cur, False, conditions, params)
        start = (query.page - 1) * query.per_page
        rows = self._page(cur, conditions, params) if start < total else []
        hits = [Hit(row[0], 0.0, highlight(row[1], row[2], frozenset())) for row in rows]
        result = SearchResult(total=total, hits=hits, facets=facets, all_words=total)
        if key is not None:
            with self._browsed_lock:
                self._browsed[key] = _copy(result)
                while len(self._browsed) > BROWSED_ANSWERS:
                    self._browsed.popitem(last=False)
        return result

    def _matching(self, text: bool) -> sql.Composable:
        match = sql.SQL(" AND document @@ %(q)s::tsquery") if text else sql.SQL("")
        return sql.SQL("{v}{m}").format(v=_VISIBLE, m=match)

    def _counts(
        self, cur: psycopg.Cursor, text: bool, conditions: dict[str, sql.Composable], params: dict[str, Any]
    ) -> tuple[int, dict[str, dict[str, int]]]:
        """The total and every facet's counts, each facet honouring the other facets'
        selections but not its own, in one statement and one pass over the matches."""
        statement = sql.SQL("SELECT {names}, count(*)::int FROM (SELECT {spread} FROM {t} WHERE {where}) AS s"
                            " GROUP BY GROUPING SETS ({sets})")
        cur.execute(statement.format(**self._spread(conditions), t=self._sql.table,
                                     where=self._matches(text, conditions)), params)
        return _counted(cur.fetchall())

    def _counts_and_page(
        self, cur: psycopg.Cursor, conditions: dict[str, sql.Composable], params: dict[str, Any]
    ) -> tuple[int, dict[str, dict[str, int]], list[tuple[str, str, str, float]]]:
        """:meth:`_counts` of the items with every unit, and the page of them, best first,
        from one scan of the matches: a phrase is checked against each stored vector
        once, not once to count and again to rank, and only the matches passing every
        selection are ranked."""
        rank = "ts_rank_cd(%(weights)s::float4[], document, %(q)s::tsquery)::float8 * {b}"
        every = _all(conditions.values())
        statement = sql.SQL(
            "WITH matched AS MATERIALIZED (SELECT slug, {facets}, CASE WHEN {every} THEN {rank} END AS score"
            "  FROM {t} WHERE {where}),"
            " page AS (SELECT slug, score FROM matched WHERE score IS NOT NULL"
            "  ORDER BY score DESC, slug LIMIT %(limit)s OFFSET %(offset)s)"
            " SELECT {names}, count(*)::int, NULL, NULL, NULL, NULL::float8, NULL::bigint"
            "  FROM (SELECT {spread} FROM matched) AS s GROUP BY GROUPING SETS ({sets})"
            " UNION ALL SELECT {nothing}, NULL, slug, title, summary, page.score,"
            "  row_number() OVER (ORDER BY page.score DESC, slug) FROM page JOIN {t} USING (slug)"
        ).format(
            facets=sql.SQL(", ").join(map(sql.Identifier, FACETS)),
            every=every,
            rank=sql.SQL(rank).format(b=_BOOST),
            t=self._sql.table,
            where=self._matches(True, conditions),
            # in the page's rows, every count column is NULL (GROUPING too)
            nothing=sql.SQL(", ").join(sql.SQL("NULL") for _ in range(len(FACETS) + 2)),
            **self._spread(conditions, counted=sql.SQL("score IS NOT NULL")),
        )
        cur.execute(statement, params)
        rows = cur.fetchall()
        total, facets = _counted([row[: len(FACETS) + 3] for row in rows if row[-1] is None])
        page = sorted((row for row in rows if row[-1] is not None), key=lambda row: row[-1])
        return total, facets, [row[-5:-1] for row in page]

    def _spread(
        self, conditions: dict[str, sql.Composable], counted: sql.Composable | None = None
    ) -> dict[str, sql.Composable]:
        """The parts of a statement counting matched rows as :func:`_counted` reads them.

        Each matched row becomes a few rows, side by side (set-returning functions in a
        select list run in step, the shorter padded with NULL): whether it passes every
        selection (the total), and each facet's values when it passes the *other*
        facets' selections (else none). One grouping set per column counts them."""
        counted = _all(conditions.values()) if counted is None else counted
        spread = [sql.SQL("unnest(ARRAY[{}]) AS counted").format(counted)]
        for n, facet in enumerate(FACETS):
            others = _all(condition for other, condition in conditions.items() if other != facet)
            spread.append(
                sql.SQL("unnest(CASE WHEN {others} THEN {col} END) AS {v}").format(
                    others=others, col=sql.Identifier(facet), v=sql.Identifier(f"v{n}")
                )
            )
        names = [sql.Identifier("counted")] + [sql.Identifier(f"v{n}") for n in range(len(FACETS))]
        listed = sql.SQL(", ").join(names)
        return {
            "names": sql.SQL("GROUPING({}), {}").format(listed, listed),
            "spread": sql.SQL(", ").join(spread),
            "sets": sql.SQL(", ").join(sql.SQL("({})").format(name) for name in names),
        }

    def _matches(self, text: bool, conditions: dict[str, sql.Composable]) -> sql.Composable:
        """The rows any count needs: visible, matching, and missing at most one
        selection (a row missing two counts nowhere; an OR the facets' GIN indexes can
        answer)."""
        if len(conditions) < 2:
            return self._matching(text)
        somewhere = sql.SQL(" OR ").join(
            sql.SQL("({})").format(_all(c for other, c in conditions.items() if other != facet))
            for facet in conditions
        )
        return sql.SQL("{} AND ({})").format(self._matching(text), somewhere)

    def _page(
        self, cur: psycopg.Cursor, conditions: dict[str, sql.Composable], params: dict[str, Any]
    ) -> list[tuple[str, str, str, float]]:
        """A page of browsing: the most boosted (fresh, used) first."""
        statement = sql.SQL(
            "SELECT slug, title, summary, 0.0::float8 FROM {t} WHERE {where} AND {filters}"
            " ORDER BY {b} DESC, updated_at DESC NULLS LAST, slug LIMIT %(limit)s OFFSET %(offset)s"
        ).format(t=self._sql.table, where=self._matching(False), filters=_all(conditions.values()), b=_BOOST)
        cur.execute(statement, params)
        return cur.fetchall()

    def _page_of_some(
        self, cur: psycopg.Cursor, units: int, conditions: dict[str, sql.Composable], params: dict[str, Any]
    ) -> list[tuple[str, str, str, float, list[bool]]]:
        """A page of the items having any of the units ``u0``, ``u1``…: most units
        first (those having all ranked by ``every``, as when only they are asked for),
        then by score (by ``q``, the units ORed); with which units each has.

        Ranking unpacks each ranked row's vector, which is what costs: so how many units
        a row has is counted from one index scan per unit (a plain word needs no vector),
        only the rows of the levels the page reaches are ranked, and only the page's
        rows are tested for which units they lack."""
        each = sql.SQL(" UNION ALL ").join(
            sql.SQL("SELECT slug FROM {t} WHERE document @@ {u}::tsquery").format(
                t=self._sql.table, u=sql.Placeholder(f"u{n}")
            )
            for n in range(units)
        )
        found = sql.SQL(", ").join(
            sql.SQL("document @@ {}::tsquery").format(sql.Placeholder(f"u{n}")) for n in range(units)
        )
        rank = (
            "ts_rank_cd(%(weights)s::float4[], document,"
            " CASE WHEN level = %(units)s THEN %(every)s::tsquery ELSE %(q)s::tsquery END)::float8 * {b}"
        )
        statement = sql.SQL(
            "WITH levels AS MATERIALIZED"
            " (SELECT slug, count(*)::int AS level FROM ({each}) AS found GROUP BY slug),"
            " shown AS MATERIALIZED (SELECT {t}.slug, title, summary, document, updated_at, usage_score,"
            "  level FROM levels JOIN {t} USING (slug) WHERE {visible} AND {filters}),"
            # the lowest level the page needs: from the top, the first to reach its last row
            " reached AS (SELECT level, sum(count(*)) OVER (ORDER BY level DESC) AS rows"
            "  FROM shown GROUP BY level),"
            " page AS (SELECT slug, title, summary, document, level, {rank} AS score FROM shown"
            "  WHERE level >= (SELECT coalesce(max(level), 0) FROM reached"
            "   WHERE rows >= %(offset)s + %(limit)s)"
            "  ORDER BY level DESC, score DESC, slug LIMIT %(limit)s OFFSET %(offset)s)"
            " SELECT slug, title, summary, score, ARRAY[{found}] FROM page"
            " ORDER BY level DESC, score DESC, slug"
        ).format(
            each=each,
            t=self._sql.table,
            rank=sql.SQL(rank).format(b=_BOOST),
            visible=_VISIBLE,
            filters=_all(conditions.values()),
            found=found,
        )
        # Joining row by row after a misestimate (a table not yet analysed after a rebuild),
        # it once counted the levels again for every row: ten seconds. Hashing is never slow.
        cur.execute("SELECT set_config('enable_nestloop', 'off', true)")
        cur.execute(statement, {**params, "units": units})
        page = cur.fetchall()
        cur.execute("SELECT set_config('enable_nestloop', 'on', true)")  # facets unnest row by row
        return page

    def _count(
        self, cur: psycopg.Cursor, tsquery: str, conditions: dict[str, sql.Composable], params: dict[str, Any]
    ) -> int:
        statement = sql.SQL("SELECT count(*) FROM {t} WHERE {where} AND {filters}").format(
            t=self._sql.table, where=self._matching(True), filters=_all(conditions.values())
        )
        cur.execute(statement, {**params, "q": tsquery})
        return cur.fetchone()[0]

    # Did you mean -------------------------------------------------------------

    def _did_you_mean(
        self,
        cur: psycopg.Cursor,
        parsed: ParsedText,
        synonyms: SynonymTable,
        conditions: dict[str, sql.Composable],
        params: dict[str, Any],
        all_words: int,
    ) -> str | None:
        """Each unknown word corrected from the words of documents the viewer may see;
        offered when the correction finds more items with every word, or, when no item
        has every word typed, corrects every unknown word and finds items with some."""
        sight = _Sight(params["staff"], params["only"])
        lexicon = self._buyer_lexicon(cur, sight)
        widened = plan_terms(tuple(unit for unit in plan(parsed, synonyms) if len(unit) > 1))
        words = [w for w in parsed.surface_words() if analyse_word(w) not in widened]
        if lexicon is None:
            known = self._word_counts(cur, words, sight.staff)
        else:
            known = {word: lexicon[word] for word in words if lexicon.get(word)}
        unknown = [word for word in words if not known.get(word)]
        corrections = self._corrections(cur, [w for w in unknown if correctable(w)], sight.staff,
                                        lexicon)
        if not corrections:
            return None
        fixed = parsed.replaced(corrections)
        fixed_units = plan(fixed, synonyms)
        if not fixed_units:
            return None
        queries = _tsqueries(cur, fixed_units, fixed, synonyms)
        if self._count(cur, queries.all, conditions, params) > all_words:
            return fixed.as_text()
        every_word_known = len(corrections) == len(unknown)
        if all_words == 0 and every_word_known and self._count(cur, queries.any, conditions, params):
            return fixed.as_text()  # no item has all the words, though each is known
        return None

    def _buyer_lexicon(self, cur: psycopg.Cursor, sight: _Sight) -> dict[str, int] | None:
        """For a viewer allowed only some items, the words of those items' titles and
        summaries (word -> documents); None for everyone else, who use the lexicon table."""
        if sight.only is None:
            return None
        cur.execute(sql.SQL("SELECT title, summary FROM {t} WHERE {v}").format(
            t=self._sql.table, v=_VISIBLE), sight.params)
        return buyer_lexicon(cur.fetchall())

    def _audiences(self, staff: bool) -> list[str]:
        return ["external", "internal"] if staff else ["external"]

    def _word_counts(self, cur: psycopg.Cursor, words: Sequence[str], staff: bool) -> dict[str, int]:
        """How many visible documents hold each word (unstemmed); absent words left out."""
        if not words:
            return {}
        cur.execute(
            sql.SQL(
                "SELECT word, sum(docs)::int FROM {w} WHERE word = ANY(%s::text[])"
                " AND audience = ANY(%s::text[]) AND docs > 0 GROUP BY word"
            ).format(w=self._sql.words),
            (list(words), self._audiences(staff)),
        )
        return dict(cur.fetchall())

    def _corrections(self, cur: psycopg.Cursor, words: list[str], staff: bool,
                     lexicon: dict[str, int] | None = None) -> dict[str, str]:
        """Word -> the closest visible word (fewest edits, then most documents), for the
        first few words and within one query's correction budget; from ``lexicon`` when
        given, else from the lexicon table."""
        budget = CorrectionBudget()
        words = [word for word in words if budget.take_word()]
        if lexicon is not None:
            found = {word: correct_from(word, lexicon, budget) for word in words}
            return {word: better for word, better in found.items() if better}
        candidates = {word: list(budget.candidates(word)) for word in words}
        counts = self._word_counts(cur, sorted({c for found in candidates.values() for c in found}), staff)
        corrections = {}
        for word in words:
            ranked = [(1, -counts[c], c) for c in candidates[word] if counts.get(c)]
            if not ranked and budget.work_left:
                seen = dict(self._nearby_words(cur, word, staff, budget.work_left))
                ranked = [(edits, -seen[found], found) for found, edits in budget.near(word, seen)]
            if ranked:
                corrections[word] = min(ranked)[2]
        return corrections

    def _nearby_words(self, cur: psycopg.Cursor, word: str, staff: bool, most: int) -> list[tuple[str, int]]:
        """Visible words with the same first letter and a length within two (``most`` of them)."""
        cur.execute(
            sql.SQL(
                "SELECT word, sum(docs)::int FROM {w} WHERE word LIKE %s ESCAPE '\\'"
                " AND length(word) BETWEEN %s AND %s AND audience = ANY(%s::text[]) AND docs > 0"
                " GROUP BY word LIMIT %s"
            ).format(w=self._sql.words),
            (_like_prefix(word[:1]), len(word) - 2, len(word) + 2, self._audiences(staff),
             min(most, MAX_SCANNED_WORDS)),
        )
        return cur.fetchall()

    # Completion ---------------------------------------------------------------

    def _suggest(self, cur: psycopg.Cursor, text: str, sight: _Sight, limit: int) -> list[str]:
        titles = self._complete_title(cur, text, sight, limit)
        words = self._complete_word(cur, text, sight, limit)
        return merge_suggestions(words, titles, limit)

    def _complete_title(self, cur: psycopg.Cursor, text: str, sight: _Sight, limit: int) -> list[str]:
        """Visible titles with a word start from which the title begins with ``text``;
        those starting with it first, then the shorter."""
        prefix = text.lower()[:80]
        cur.execute("SELECT plainto_tsquery('simple', %s)::text", (prefix,))
        words = cur.fetchone()[0]
        if not words:
            return []
        cur.execute(
            sql.SQL(
                "SELECT title FROM {t} WHERE {v} AND title_words @@ %(q)s::tsquery"
                " ORDER BY length(title), title LIMIT %(n)s"
            ).format(t=self._sql.table, v=_VISIBLE),
            {**sight.params, "q": words + ":*", "n": MAX_TITLE_CANDIDATES},
        )
        ranked = []
        for (title,) in cur.fetchall():
            lowered = title.lower()
            if any(lowered.startswith(prefix, at) for at in _word_starts(lowered)):
                ranked.append(((not lowered.startswith(prefix), len(title), lowered), title))
        result: list[str] = []
        seen: set[str] = set()
        for _, title in sorted(ranked):
            if title.casefold() not in seen:
                seen.add(title.casefold())
                result.append(title)
        return result[:limit]

    def _complete_word(self, cur: psycopg.Cursor, text: str, sight: _Sight, limit: int) -> list[str]:
        """The whole typed text with its last word completed (see
        :mod:`search_index.completion`)."""
        found = typed(text)
        if found is None:
            return []
        lexicon = self._buyer_lexicon(cur, sight)
        if lexicon is not None:
            frequency = completions_from(found.stub, lexicon, MAX_CANDIDATES)
        else:
            frequency = self._word_completions(cur, found, sight.staff)
        if found.previous is None:
            counted = [(docs, docs, word) for word, docs in frequency.items()]
        else:
            counted = self._phrase_counts(cur, found, frequency, sight)
        return [found.head + word for word in best_completions(counted, limit)]

    def _word_completions(self, cur: psycopg.Cursor, found: Typed, staff: bool) -> dict[str, int]:
        """The lexicon table's most frequent words that complete what is being typed."""
        cur.execute(
            sql.SQL(
                "SELECT word, sum(docs)::int FROM {w} WHERE word LIKE %s ESCAPE '\\' AND word <> %s"
                " AND audience = ANY(%s::text[]) AND docs > 0"
                " GROUP BY word ORDER BY sum(docs) DESC, word LIMIT %s"
            ).format(w=self._sql.words),
            (_like_prefix(found.stub), found.stub, self._audiences(staff), MAX_CANDIDATES),
        )
        return dict(cur.fetchall())

    def _phrase_counts(
        self, cur: psycopg.Cursor, found: Typed, frequency: dict[str, int], sight: _Sight
    ) -> list[tuple[int, int, str]]:
        """For each candidate, the visible documents holding every typed word where the
        candidate directly follows the last of them (stop words between counted as
        positions, as in a typed phrase)."""
        units = plan(found.context)
        context = _tsquery(cur, units, found.context, ()) if units else ""
        if not frequency or not context:
            return []
        # a candidate PostgreSQL drops as a stop word would leave the lead-in alone
        cur.execute(
            sql.SQL(
                "SELECT c.word, (SELECT count(*)::int FROM {t} WHERE {v}"
                " AND document @@ (phraseto_tsquery('english', %(lead)s || ' ' || c.word)"
                " && %(context)s::tsquery))"
                " FROM unnest(%(words)s::text[]) AS c(word)"
                " WHERE plainto_tsquery('english', c.word)::text <> ''"
            ).format(t=self._sql.table, v=_VISIBLE),
            {**sight.params, "lead": found.lead_in, "context": context,
             "words": list(one_spelling_per_term(list(frequency)).values())},
        )
        return [(docs, frequency[word], word) for word, docs in cur.fetchall()]


# Helpers ------------------------------------------------------------------------


def _counted(rows: Iterable[Sequence[Any]]) -> tuple[int, dict[str, dict[str, int]]]:
    """The total and facet counts from the rows of a statement made with
    ``_spread``: GROUPING(), counted, one value column per facet, count."""
    total = 0
    found: dict[str, dict[str, int]] = {facet: {} for facet in FACETS}
    last = len(FACETS)
    for grouped, counted, *values, count in rows:
        # GROUPING() has a 1 bit for each column not in the row's set, the first highest
        column = next(n for n in range(last + 1) if not grouped & (1 << (last - n)))
        if column == 0:
            if counted:
                total = count
        elif values[column - 1] is not None and count:
            found[FACETS[column - 1]][values[column - 1]] = count
    facets = {f: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for f, c in found.items()}
    return total, facets


def _copy(result: SearchResult) -> SearchResult:
    """A result no caller can change a kept one through (hits are frozen)."""
    facets = {facet: dict(counts) for facet, counts in result.facets.items()}
    return replace(result, hits=list(result.hits), facets=facets)


def _like_prefix(text: str) -> str:
    """A LIKE pattern for "starts with ``text``", its wildcards escaped."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _word_starts(text: str) -> Iterator[int]:
    for position, char in enumerate(text):
        if _TITLE_WORD.match(char) and (position == 0 or not _TITLE_WORD.match(text[position - 1])):
            yield position


@lru_cache(maxsize=16)
def _synonym_surfaces(table: SynonymTable) -> dict[tuple[str, ...], str]:
    """Analysed synonym -> one way of writing it, to hand to PostgreSQL's parser."""
    found: dict[tuple[str, ...], str] = {}
    for group in table:
        for member in group:
            found.setdefault(tuple(terms_of(member)), _plain(member))
    return found


def _surfaces(parsed: ParsedText, synonyms: SynonymTable) -> dict[tuple[str, ...], str]:
    """Each alternative a plan may hold (analysed terms) -> text as typed, or as the
    synonym table writes it. Phrases keep their stop words, which PostgreSQL counts as
    positions."""
    found: dict[tuple[str, ...], str] = {}
    for chunk in parsed.chunks:
        if chunk.quoted and len(chunk.terms) > 1:
            found.setdefault(chunk.terms, " ".join(w.surface for w in chunk.words))
        for word in chunk.words:
            if word.term:
                found.setdefault((word.term,), word.surface)
    if synonyms:
        for key, text in _synonym_surfaces(synonyms).items():
            found.setdefault(key, text)
    return found


class _Queries(NamedTuple):
    """PostgreSQL's own text of a plan's tsqueries."""

    all: str  # every unit
    any: str  # at least one unit
    each: list[str]  # one unit; empty when PostgreSQL finds only stop words in it


def _tsquery(cur: psycopg.Cursor, units: Plan, parsed: ParsedText, synonyms: SynonymTable) -> str:
    """PostgreSQL's own text of the query with every unit (see :func:`_tsqueries`)."""
    return _tsqueries(cur, units, parsed, synonyms).all


def _tsqueries(cur: psycopg.Cursor, units: Plan, parsed: ParsedText, synonyms: SynonymTable) -> _Queries:
    """The units ANDed, ORed and one by one, each unit an OR of its alternatives, each
    built by plainto_tsquery (a word) or phraseto_tsquery (a phrase) from bound text.
    Empty when PostgreSQL finds only stop words."""
    surfaces = _surfaces(parsed, synonyms)
    parts, params = [], []
    for number, unit in enumerate(units):
        options = []
        for alternative in unit:
            function = "plainto_tsquery" if len(alternative) == 1 else "phraseto_tsquery"
            options.append(sql.SQL("{}('english', %s)").format(sql.SQL(function)))
            params.append(surfaces.get(alternative) or " ".join(alternative))
        name = sql.Identifier(f"u{number}")
        parts.append(sql.SQL("({}) AS {}").format(sql.SQL(" || ").join(options), name))
    names = [sql.Identifier(f"u{number}") for number in range(len(units))]
    statement = sql.SQL("SELECT ({every})::text, ({some})::text, {each} FROM (SELECT {parts}) AS u")
    statement = statement.format(
        every=sql.SQL(" && ").join(names),
        some=sql.SQL(" || ").join(names),
        each=sql.SQL(", ").join(sql.SQL("{}::text").format(name) for name in names),
        parts=sql.SQL(", ").join(parts),
    )
    cur.execute(statement, params)
    every, some, *each = cur.fetchone()
    return _Queries(every, some, each)
