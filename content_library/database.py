"""Engine and session set-up shared by the web app, the command line and the tests."""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_MS = 10_000


def make_engine(url: str, *, busy_ms: int = SQLITE_BUSY_MS, **options) -> Engine:
    """`busy_ms`: how long SQLite waits for another writer's lock before giving up."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_ms / 1000}, **options)
        _tune_sqlite(engine, busy_ms)
        return engine
    return create_engine(url, **{"pool_pre_ping": True, **options})


def _tune_sqlite(engine: Engine, busy_ms: int) -> None:
    """WAL with a busy timeout, foreign keys on, and BEGIN IMMEDIATE for writers.

    WAL alone still answers SQLITE_BUSY when a deferred transaction that read first
    tries to write while another process writes: a transaction that will write takes
    the write lock at BEGIN instead (see `begin_write`).
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not pysqlite, emit BEGIN, so we can choose its kind.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get("sqlite_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit: pages render what a service just saved.
    return sessionmaker(bind=engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Start the transaction of a service that reads then writes.

    On SQLite this takes the write lock up front; elsewhere it is a plain transaction.
    A read-only transaction already open (loading the current user, say) is ended first.
    """
    current = session.get_transaction()
    if current is not None:
        if session.info.get("write_transaction") is current:
            return  # already writing in this transaction: one all-or-nothing unit
        if session.new or session.dirty or session.deleted:
            return
        session.commit()
    session.connection(execution_options={"sqlite_write": True})
    session.info["write_transaction"] = session.get_transaction()


def is_busy(error: Exception) -> bool:
    """Whether a database error only says another writer holds the lock (SQLite's
    "database is locked"), which waiting and trying again cures."""
    text = str(getattr(error, "orig", error)).lower()
    return "database is locked" in text or "database table is locked" in text


def hold_name(session: Session, name: str) -> None:
    """Make the writers that name the same thing take turns until the transaction ends.
    SQLite's `begin_write` already holds the whole database; PostgreSQL takes an advisory
    lock on the name (keep the names few: each one takes a slot in the lock table)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"),
                        {"name": name})
