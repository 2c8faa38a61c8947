"""Storing uploaded files: size-capped while reading, typed by content, kept by hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..database import begin_write
from ..errors import Invalid
from ..file_types import FileKind, RejectedFile, extract_text, sniff, template_fields
from ..models import StoredFile
from .items import AttachedFile

CHUNK = 1 << 16
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def stored_path(upload_dir: Path, sha256: str) -> Path:
    """Generated names only, outside any folder the web server serves."""
    return upload_dir / sha256[:2] / sha256


def download_name(original: str, extension: str) -> str:
    """The person's own file name, tidied, with the extension of what the file really is."""
    base = os.path.basename(without_control_characters(original or "").replace("\\", "/"))
    stem = os.path.splitext(base)[0].strip(" .") or "file"
    return stem[:150] + extension


# Controls (C0, DEL, C1), invisible formatting (U+202E turns "cod.exe" around, zero-width
# spaces hide a real extension), line and paragraph separators, lone surrogates.
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def without_control_characters(name: str) -> str:
    """A file name as it will show in a save dialog: nothing in it that moves or hides text."""
    return "".join(ch for ch in name if unicodedata.category(ch) not in _INVISIBLE_CATEGORIES)


def _human_size(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


@dataclass(frozen=True)
class ReceivedFile:
    """An upload read, checked and read for text, waiting in a temporary file to be kept."""

    temporary: Path
    sha256: str
    size: int
    kind: FileKind
    text: str | None
    template_fields: list[str]
    name: str  # the download name

    def discard(self) -> None:
        self.temporary.unlink(missing_ok=True)


def receive_file(upload_dir: Path, source: BinaryIO, original_name: str,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> ReceivedFile:
    """Read at most max_bytes from source, check what it is and read its text: all the slow
    work, done before any database lock is taken. Raises Invalid({"file": why}) and leaves
    nothing behind when the file is refused; otherwise the caller keeps or discards it."""
    incoming = upload_dir / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(dir=incoming)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise Invalid({"file": f"The file is larger than {_human_size(max_bytes)}."})
                digest.update(chunk)
                out.write(chunk)
        try:
            kind = sniff(tmp)
        except RejectedFile as exc:
            raise Invalid({"file": str(exc)}) from None
        return ReceivedFile(tmp, digest.hexdigest(), size, kind, extract_text(tmp, kind),
                            template_fields(tmp, kind), download_name(original_name, kind.extension))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def keep_file(session: Session, upload_dir: Path, received: ReceivedFile) -> AttachedFile:
    """Store a received file once by content hash, in the caller's write transaction. Does
    not commit: the item that carries the file commits both together."""
    begin_write(session)
    session.info.setdefault("new_files", set()).add(received.sha256)
    stored = session.scalar(select(StoredFile).where(StoredFile.sha256 == received.sha256))
    target = stored_path(upload_dir, received.sha256)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(received.temporary, target)
    if stored is None:
        stored = StoredFile(sha256=received.sha256, size=received.size, kind=received.kind.kind,
                            mime=received.kind.mime, text=received.text,
                            template_fields=received.template_fields)
        session.add(stored)
        session.flush()
    return AttachedFile(stored, received.name)


def store_file(session: Session, upload_dir: Path, source: BinaryIO, original_name: str,
               max_bytes: int = DEFAULT_MAX_BYTES) -> AttachedFile:
    """`receive_file`, then `keep_file`: the slow part outside the write lock that log-ins
    and every other writer wait for."""
    received = receive_file(upload_dir, source, original_name, max_bytes)
    try:
        return keep_file(session, upload_dir, received)
    finally:
        received.discard()


def discard_unreferenced(session: Session, upload_dir: Path) -> int:
    """After a rollback: delete the files this session stored that no row refers to, so a
    refused form or import leaves nothing behind on disk either. Returns how many went."""
    removed = 0
    for sha in session.info.pop("new_files", set()):
        if session.scalar(select(StoredFile.id).where(StoredFile.sha256 == sha)) is None:
            path = stored_path(upload_dir, sha)
            if path.exists():
                path.unlink()
                removed += 1
    return removed
