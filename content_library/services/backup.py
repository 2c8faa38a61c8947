"""`portal backup` and `portal restore`: the database and the stored files in one archive.

The archive is a gzip-compressed tar file holding, in this order:

- `backup.json`: what it is (format 1), when it was made, the database kind (`sqlite` or
  `postgresql`), its migration revision, how many files it carries and which files the
  database referred to that were not in the files folder (normally none);
- the database: `database.sqlite3` (SQLite's online backup, a consistent copy while writers
  run) or `database.pgdump` (pg_dump's custom format, taken in an exported snapshot);
- `files/ab/abcdef…`: every stored file the database copy refers to, by its sha256.

Files are stored by content hash and a row in `stored_files` is never deleted, so copying
after the database snapshot the files that snapshot names gives a consistent pair even
while people upload.

Restoring reads and checks the whole archive (every file's hash included) into a staging
folder beside the files folder before it changes anything; then the database is replaced
in one transaction and the files moved into place. The search index is the caller's to
rebuild (it is derived from the database). A backup is restored into a database of the same
kind; moving between SQLite and PostgreSQL is `library export` / `library import`'s job.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Collection, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, literal, select, text
from sqlalchemy.engine import URL, make_url

from ..database import make_engine
from ..models import Base
from ..progress import Progress, quiet
from .files import stored_path

FORMAT = 1
MANIFEST = "backup.json"
SUFFIXES = (".tar.gz", ".tgz")
_DATABASE_MEMBER = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
_SHA = re.compile(r"[0-9a-f]{64}")
_FILE_MEMBER = re.compile(r"files/([0-9a-f]{2})/([0-9a-f]{64})")
_CHUNK = 1 << 20
# Gzip's quick levels: uploads are mostly compressed already (PDF, Office), the database is not.
_COMPRESSION = 3

# The steps progress is told about.
COPYING_DATABASE = "copying the database"
COPYING_FILES = "copying files"
READING = "reading the archive"
RESTORING_DATABASE = "restoring the database"
PLACING_FILES = "putting files in place"



class BackupFailed(Exception):
    """Bad input or a failed step, in one line; nothing was changed."""


@dataclass
class Manifest:
    database: str
    revision: list[str]
    files: int
    missing: list[str] = field(default_factory=list)
    made_at: str = ""
    format: int = FORMAT

    def line(self) -> str:
        text = (f"{self.database} database at revision {','.join(self.revision) or 'none'}, "
                f"{self.files} file{'s' if self.files != 1 else ''}")
        if self.missing:
            text += f"; {len(self.missing)} file(s) the database refers to were missing"
        return text


def database_kind(url: str) -> str:
    try:
        kind = make_url(url).get_backend_name()
    except Exception:
        raise BackupFailed(f"cannot read the database URL {url!r}") from None
    if kind not in _DATABASE_MEMBER:
        raise BackupFailed(f"backups cover SQLite and PostgreSQL databases, not {kind}")
    return kind


def _sqlite_file(url: str) -> Path:
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise BackupFailed("backups need an SQLite database in a file (sqlite:///path/portal.db)")
    return Path(name)


def check_archive_name(path: Path) -> None:
    if not path.name.endswith(SUFFIXES):
        raise BackupFailed(f"{path}: a backup's name ends in .tar.gz or .tgz")


# Backing up ---------------------------------------------------------------------------------


def backup(url: str, upload_dir: Path, target: Path, *, progress: Progress = quiet) -> Manifest:
    """Write one archive of the database and the files it refers to; returns its manifest."""
    target = Path(target)
    upload_dir = Path(upload_dir)
    kind = database_kind(url)
    check_archive_name(target)
    if not target.parent.is_dir():
        raise BackupFailed(f"{target}: the folder {target.parent} does not exist")
    if kind == "sqlite" and not _sqlite_file(url).is_file():
        raise BackupFailed(f"the database file {_sqlite_file(url)} does not exist")
    partial = target.with_name(f".{target.name}.partial")
    with tempfile.TemporaryDirectory(prefix=".portal-backup-", dir=target.parent) as work:
        snapshot = Path(work) / _DATABASE_MEMBER[kind]
        progress(COPYING_DATABASE, 0, 1)
        if kind == "sqlite":
            shas, revision = _sqlite_snapshot(_sqlite_file(url), snapshot)
        else:
            shas, revision = _postgres_snapshot(url, snapshot)
        progress(COPYING_DATABASE, 1, 1)
        present = [sha for sha in shas if stored_path(upload_dir, sha).is_file()]
        missing = sorted(set(shas) - set(present))
        manifest = Manifest(database=kind, revision=revision, files=len(present), missing=missing,
                            made_at=datetime.now(UTC).isoformat(timespec="seconds"))
        try:
            # Readable by its owner only: it holds the whole database (password hashes too).
            with _private(partial) as raw, \
                    tarfile.open(fileobj=raw, mode="w:gz", compresslevel=_COMPRESSION) as archive:
                _add_bytes(archive, MANIFEST, json.dumps(asdict(manifest), indent=1).encode())
                archive.add(snapshot, arcname=snapshot.name, recursive=False)
                for done, sha in enumerate(present, 1):
                    archive.add(stored_path(upload_dir, sha), arcname=f"files/{sha[:2]}/{sha}",
                                recursive=False)
                    progress(COPYING_FILES, done, len(present))
            os.replace(partial, target)
        except OSError as exc:
            raise BackupFailed(f"{target}: cannot write the archive ({exc.strerror or exc})") from None
        finally:
            partial.unlink(missing_ok=True)
    return manifest


def _private(path: Path):
    """A new file (replacing any of that name) that only its owner may read."""
    path.unlink(missing_ok=True)
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(datetime.now(UTC).timestamp())
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def _sqlite_snapshot(source_path: Path, into: Path) -> tuple[list[str], list[str]]:
    """SQLite's online backup in one step: one read transaction, so one consistent state,
    however many writers commit meanwhile (WAL lets them)."""
    try:
        with closing(sqlite3.connect(source_path, timeout=30)) as source, \
                closing(sqlite3.connect(into)) as copy:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
            if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupFailed(f"the copy of {source_path} fails SQLite's check")
            return _sqlite_references(copy)
    except sqlite3.Error as exc:
        raise BackupFailed(f"cannot copy the database {source_path}: {exc}") from None


def _sqlite_references(connection: sqlite3.Connection) -> tuple[list[str], list[str]]:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    shas = ([row[0] for row in connection.execute("SELECT sha256 FROM stored_files")]
            if "stored_files" in tables else [])
    revision = (sorted(row[0] for row in connection.execute("SELECT version_num FROM alembic_version"))
                if "alembic_version" in tables else [])
    return shas, revision


def _postgres_snapshot(url: str, into: Path) -> tuple[list[str], list[str]]:
    """pg_dump inside a snapshot this connection exports: the dump and the list of files
    it refers to are read at the same instant."""
    pg_dump = _tool("pg_dump")
    dsn, env = _libpq(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
                shas: list[str] = []
                if inspect(connection).has_table("stored_files"):
                    shas = list(connection.execute(text("SELECT sha256 FROM stored_files")).scalars())
                revision = sorted(MigrationContext.configure(connection).get_current_heads())
                _run([pg_dump, "--format=custom", f"--snapshot={snapshot}", f"--file={into}",
                      f"--dbname={dsn}"], env, "pg_dump")
    except BackupFailed:
        raise
    except Exception as exc:
        raise BackupFailed(f"cannot read the database: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    return shas, revision


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _tool(name: str) -> str:
    """A PostgreSQL client program: on the PATH, else the newest in /usr/lib/postgresql."""
    found = shutil.which(name)
    if found:
        return found

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.parent.name
        return tuple(int(p) for p in part.split(".") if p.isdigit())

    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=version)
    if candidates:
        return candidates[-1]
    raise BackupFailed(f"{name} is not installed (Debian: apt-get install postgresql-client); "
                       "PostgreSQL backups need it")


def _libpq(url: str) -> tuple[str, dict]:
    """The URL as libpq reads it, with the password in PGPASSWORD, not on a command line."""
    parsed: URL = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    return parsed.set(drivername="postgresql", password=None).render_as_string(hide_password=False), env


# The PostgreSQL programs run with argument lists (no shell), found by `_tool`; the URL's
# password travels in the environment: hence the `noqa: S603` below.


def _run(command: list[str], env: dict, name: str) -> None:
    with tempfile.TemporaryFile() as errors:
        result = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=errors,  # noqa: S603
                                check=False)
        if result.returncode != 0:
            errors.seek(0)
            said = errors.read().decode("utf-8", "replace").strip().splitlines()
            raise BackupFailed(f"{name} failed: {said[0] if said else f'exit {result.returncode}'}")


# Restoring ----------------------------------------------------------------------------------


def holdings(url: str, upload_dir: Path) -> str | None:
    """Why this instance is not empty (a table with rows, stored files), or None."""
    kind = database_kind(url)
    if not (kind == "sqlite" and not _sqlite_file(url).exists()):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                present = set(inspect(connection).get_table_names())
                for table in Base.metadata.sorted_tables:
                    if table.name in present and connection.execute(
                            select(literal(1)).select_from(table).limit(1)).first():
                        return f"its database already holds {table.name}"
        except Exception as exc:
            raise BackupFailed(f"cannot read the database: {_first_line(exc)}") from None
        finally:
            engine.dispose()
    stored = sum(1 for _ in _stored_files(Path(upload_dir)))
    if stored:
        return f"its files folder {upload_dir} already holds {stored} stored files"
    return None


def _stored_files(upload_dir: Path) -> Iterator[Path]:
    if not upload_dir.is_dir():
        return
    for path in upload_dir.glob("??/*"):
        if _SHA.fullmatch(path.name) and path.parent.name == path.name[:2] and path.is_file():
            yield path


def read_manifest(source: Path) -> Manifest:
    """The archive's manifest (its first member), checked."""
    with _open_archive(source) as archive:
        return _manifest(archive, source)


@contextmanager
def _open_archive(source: Path) -> Iterator[tarfile.TarFile]:
    source = Path(source)
    if not source.is_file():
        raise BackupFailed(f"{source}: no such file")
    try:
        with tarfile.open(source, "r|gz") as archive:
            yield archive
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupFailed(f"{source}: not a readable portal backup ({_first_line(exc)})") from None


def _manifest(archive: tarfile.TarFile, source: Path) -> Manifest:
    first = archive.next()
    if first is None or first.name != MANIFEST or not first.isfile():
        raise BackupFailed(f"{source}: not a portal backup (it does not start with {MANIFEST})")
    try:
        data = json.loads(archive.extractfile(first).read())
        manifest = Manifest(**{key: data[key] for key in
                               ("database", "revision", "files", "missing", "made_at", "format")})
    except (ValueError, KeyError, TypeError):
        raise BackupFailed(f"{source}: its {MANIFEST} cannot be read") from None
    if manifest.format != FORMAT or manifest.database not in _DATABASE_MEMBER:
        raise BackupFailed(f"{source}: a backup of format {manifest.format} for "
                           f"{manifest.database} is not one this portal reads")
    return manifest


def restore(url: str, upload_dir: Path, source: Path, *, force: bool = False,
            known_revisions: Collection[str] | None = None,
            progress: Progress = quiet) -> Manifest:
    """Put an archive's database and files in place of this instance's (empty, or anything
    with `force`). Everything is read and checked before anything changes."""
    source = Path(source)
    upload_dir = Path(upload_dir)
    kind = database_kind(url)
    with _open_archive(source) as archive:
        manifest = _manifest(archive, source)
        if manifest.database != kind:
            raise BackupFailed(f"{source} holds a {manifest.database} database and this portal "
                               f"uses {kind}: restore it into a {manifest.database} instance "
                               "(library export/import moves content between the two)")
        unknown = [r for r in manifest.revision if known_revisions is not None
                   and r not in known_revisions]
        if unknown:
            raise BackupFailed(f"{source} was made at migration {','.join(unknown)}, which this "
                               "version of the portal does not know: install the version that "
                               "made it (or a newer one) first")
        if not force:
            held = holdings(url, upload_dir)
            if held:
                raise BackupFailed(f"this instance is not empty ({held}): restore into an "
                                   "empty one, or pass --force to replace what it holds")
        upload_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".portal-restore-", dir=upload_dir.parent))
        try:
            staged_files = _stage(archive, source, manifest, staging, progress)
            progress(RESTORING_DATABASE, 0, 1)
            if kind == "sqlite":
                _restore_sqlite(staging / _DATABASE_MEMBER[kind], _sqlite_file(url))
            else:
                _restore_postgres(staging / _DATABASE_MEMBER[kind], url)
            progress(RESTORING_DATABASE, 1, 1)
            _move_files(staged_files, upload_dir, force, progress)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _stage(archive: tarfile.TarFile, source: Path, manifest: Manifest, staging: Path,
           progress: Progress) -> list[Path]:
    """Read the rest of the archive into `staging`, each file checked against its hash."""
    database_name = _DATABASE_MEMBER[manifest.database]
    database_seen = False
    files: list[Path] = []
    while (member := archive.next()) is not None:  # on from the manifest, in one pass
        if not member.isfile():
            raise BackupFailed(f"{source}: unexpected entry {member.name!r}")
        if member.name == database_name and not database_seen:
            database_seen = True
            _copy_out(archive, member, staging / database_name)
            continue
        match = _FILE_MEMBER.fullmatch(member.name)
        if not match or match.group(1) != match.group(2)[:2]:
            raise BackupFailed(f"{source}: unexpected entry {member.name!r}")
        target = staging / "files" / match.group(2)
        if _copy_out(archive, member, target) != match.group(2):
            raise BackupFailed(f"{source}: the file {match.group(2)} is damaged (its content "
                               "does not match its hash)")
        files.append(target)
        progress(READING, len(files), manifest.files)
    if not database_seen:
        raise BackupFailed(f"{source}: the archive holds no {database_name}")
    if len(files) != manifest.files:
        raise BackupFailed(f"{source}: the archive holds {len(files)} files, its manifest says "
                           f"{manifest.files} (cut short?)")
    return files


def _copy_out(archive: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    reader = archive.extractfile(member)
    with _private(target) as out:  # as private as an upload (mkstemp) is
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _restore_sqlite(staged: Path, target: Path) -> None:
    """SQLite's backup API, from the staged copy onto the instance's file: the whole
    database replaced in one go, or not at all."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(sqlite3.connect(staged)) as copy, \
                closing(sqlite3.connect(target, timeout=30)) as live:
            if copy.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupFailed("the archive's database fails SQLite's check")
            copy.backup(live)
    except sqlite3.Error as exc:
        raise BackupFailed(f"cannot write the database {target}: {exc}") from None


def _restore_postgres(dump: Path, url: str) -> None:
    """The dump as SQL (pg_restore), after dropping the tables there are, all through psql
    in one transaction: the database is replaced whole, or left as it was."""
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    dsn, env = _libpq(url)
    _run([pg_restore, "--list", str(dump)], env, "pg_restore")  # readable by this pg_restore?
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
            preparer = connection.dialect.identifier_preparer
    except Exception as exc:
        raise BackupFailed(f"cannot read the database: {_first_line(exc)}") from None
    finally:
        engine.dispose()
    drops = "".join(f"DROP TABLE IF EXISTS {preparer.quote(name)} CASCADE;\n" for name in tables)
    with tempfile.TemporaryFile() as errors:
        sql = subprocess.Popen(  # noqa: S603
            [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(dump)],
            stdout=subprocess.PIPE, stderr=errors, env=env)
        apply = subprocess.Popen(  # noqa: S603
            [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "--file=-",
             f"--dbname={dsn}"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors, env=env)
        with suppress(BrokenPipeError):  # psql stopped at an error: its exit code says so
            apply.stdin.write(drops.encode())
            shutil.copyfileobj(sql.stdout, apply.stdin, _CHUNK)
        with suppress(BrokenPipeError):
            apply.stdin.close()
        sql.stdout.close()
        failed = [code for code in (sql.wait(), apply.wait()) if code]
        if failed:
            errors.seek(0)
            said = [line for line in errors.read().decode("utf-8", "replace").splitlines()
                    if line.strip()]
            raise BackupFailed("restoring the PostgreSQL database failed, nothing changed: "
                               + (said[0] if said else f"exit {failed[0]}"))


def _move_files(staged: list[Path], upload_dir: Path, replace: bool, progress: Progress) -> None:
    """Into the files folder; with `replace`, the stored files the archive lacks go."""
    wanted = {path.name for path in staged}
    if replace:
        for path in list(_stored_files(upload_dir)):
            if path.name not in wanted:
                path.unlink()
    for done, path in enumerate(staged, 1):
        target = stored_path(upload_dir, path.name)
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        progress(PLACING_FILES, done, len(staged))
