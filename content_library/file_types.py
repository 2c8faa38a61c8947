"""What an uploaded file really is, what text it holds, and which template fields it offers.

The type comes from the bytes and the structure, never from the name (SECURITY.md promise 4;
ASVS 5.2.2). Office files are ZIP packages: they are measured from the central directory
(entry count, declared sizes, compression ratios) before a single part is decompressed, and
every XML part is read with defusedxml, so a DTD, an entity or an external reference is an
error rather than a billion laughs (ASVS 5.2.3). Nothing is ever extracted to disk.

Files that act rather than show are refused too: PDFs with JavaScript, launch or additional
actions, or embedded files; Office files with macro projects (whatever their part is called),
OLE objects, outside templates and links, altChunk imports or DDE fields. Reading text and
template fields is bounded in XML bytes and time, and stops early keeping what it found.

Callers cap the upload size before calling `sniff`; this module only reads what it must.
"""

from __future__ import annotations

import io
import logging
import posixpath
import re
import struct
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from xml.parsers import expat

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree
from defusedxml.ElementTree import ParseError
from defusedxml.expatreader import create_parser

# An xml.etree Element, only ever built by defusedxml. The one bare expat parser (the DDE field
# scan) refuses any DTD itself.
Element = Any

_log = logging.getLogger(__name__)

# --- limits -----------------------------------------------------------------------------------

MAX_TEXT_CHARS = 200_000  # text handed to the search index, per file
MAX_ZIP_ENTRIES = 2_000
MAX_ZIP_UNCOMPRESSED = 200 * 1024 * 1024  # total declared size of all entries
MAX_COMPRESSION_RATIO = 200
# An entry smaller than this cannot hurt whatever its ratio (the total cap still applies), and
# tiny, very regular parts (a blank bitmap, an empty style sheet) legitimately compress hard.
RATIO_CHECK_FROM_BYTES = 1024 * 1024
# 46 bytes of fixed header per central directory record plus a generous name and extra field.
MAX_CENTRAL_DIRECTORY_BYTES = MAX_ZIP_ENTRIES * 2_048
MAX_CONTENT_TYPES_BYTES = 2 * 1024 * 1024
MAX_SMALL_PART_BYTES = 20 * 1024 * 1024  # workbook.xml, presentation.xml, relationship parts
MAX_SHARED_STRING_CHARS = 5_000_000  # an XLSX's shared strings kept to resolve cell values
MAX_PDF_PAGES = 2_000
MAX_PDF_OBJECTS = 200_000  # numbered objects checked for active content, per PDF
MAX_PDF_NODES = 5_000_000  # names, numbers, dictionaries... inside them, all together
PDF_CHECK_SECONDS = 20.0
MAX_TEMPLATE_FIELDS = 500
MAX_RELATIONSHIP_BYTES = 16 * 1024 * 1024  # all relationship parts of a package together
# Word parts whose field codes are checked for DDE: every byte must be read, so a package
# with more is refused rather than half checked.
MAX_FIELD_SCAN_BYTES = 32 * 1024 * 1024
OFFICE_CHECK_SECONDS = 15.0
# Reading text or template fields stops (keeping what it has) after this much XML or time.
MAX_EXTRACT_XML_BYTES = 8 * 1024 * 1024
EXTRACT_SECONDS = 5.0

# --- user-facing reasons ----------------------------------------------------------------------

ACCEPTED_TYPES_MESSAGE = "This file is not a PDF, Word, PowerPoint, Excel, PNG, JPEG or MP4 file."
EMPTY_MESSAGE = "The file is empty."
MACRO_MESSAGE = (
    "Macro-enabled Office files are not accepted: save it as .docx/.pptx/.xlsx without macros."
)
ACTIVEX_MESSAGE = (
    "Office files with ActiveX controls are not accepted: remove the controls and save it again."
)
LEGACY_OFFICE_MESSAGE = (
    "Older Office formats (.doc, .ppt, .xls) and password-protected Office files are not "
    "accepted: save it as .docx, .pptx or .xlsx without a password."
)
ENCRYPTED_MESSAGE = "Password-protected files are not accepted: remove the password and try again."
DAMAGED_MESSAGE = "This file is damaged or is not a valid Word, PowerPoint or Excel document."
TOO_MANY_PARTS_MESSAGE = (
    f"This Office file has more than {MAX_ZIP_ENTRIES:,} parts, which is more than we accept."
)
TOO_LARGE_MESSAGE = (
    f"This Office file would unpack to more than {MAX_ZIP_UNCOMPRESSED // (1024 * 1024)} MB, "
    "which is more than we accept."
)
ZIP_BOMB_MESSAGE = (
    "This Office file is compressed far more than real documents are (a possible zip bomb), "
    "so it is not accepted."
)
TEMPLATE_MESSAGE = (
    "Word files that load their template from another place are not accepted: in Word, "
    "attach the Normal template (Developer > Document Template) or save as a new document."
)
OLE_MESSAGE = (
    "Office files with embedded or linked objects (OLE) are not accepted: paste the content "
    "itself, or a picture of it, and save again."
)
DDE_MESSAGE = (
    "Office files with DDE fields or formulas, which can start programs, are not accepted: "
    "remove them and save again."
)
ALTCHUNK_MESSAGE = (
    "Word files that pull in other documents (altChunk) are not accepted: open the file in "
    "Word, save it again as .docx, and upload that."
)
EXTERNAL_LINK_MESSAGE = (
    "Office files that link to outside files or workbooks are not accepted: break the links "
    "(or paste values) and save again."
)
TOO_LARGE_TO_CHECK_MESSAGE = (
    "This Office file has more content than we can check for fields and formulas that run "
    "programs: split it into smaller files."
)

_PDF_FIX = "print it to a new PDF (Print, then Save as PDF) and upload that."
PDF_SCRIPT_MESSAGE = f"PDFs that contain JavaScript are not accepted: {_PDF_FIX}"
PDF_LAUNCH_MESSAGE = f"PDFs that launch programs or open other files are not accepted: {_PDF_FIX}"
PDF_ACTIONS_MESSAGE = (
    f"PDFs with actions that run by themselves (on opening a page, on focus...) are not "
    f"accepted: {_PDF_FIX}"
)
PDF_EMBEDDED_MESSAGE = f"PDFs with embedded or attached files are not accepted: {_PDF_FIX}"
PDF_ENCRYPTED_MESSAGE = (
    "Password-protected PDFs are not accepted: remove the password and try again."
)
PDF_DAMAGED_MESSAGE = f"This PDF is damaged and cannot be checked: {_PDF_FIX}"
PDF_TOO_COMPLEX_MESSAGE = f"This PDF is too complex to check: {_PDF_FIX}"


class RejectedFile(ValueError):
    """An upload refused; the message is a sentence that can be shown to the uploader."""


@dataclass(frozen=True)
class FileKind:
    kind: str  # "pdf" | "docx" | "pptx" | "xlsx" | "png" | "jpeg" | "mp4"
    mime: str  # the canonical MIME type for that kind
    extension: str  # ".pdf" etc.
    previewable: bool  # may be shown inline (under a sandbox CSP): pdf, png and jpeg only


FILE_KINDS: dict[str, FileKind] = {
    k.kind: k
    for k in (
        FileKind("pdf", "application/pdf", ".pdf", True),
        FileKind(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ".docx",
            False,
        ),
        FileKind(
            "pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ".pptx",
            False,
        ),
        FileKind(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ".xlsx",
            False,
        ),
        FileKind("png", "image/png", ".png", True),
        FileKind("jpeg", "image/jpeg", ".jpg", True),
        FileKind("mp4", "video/mp4", ".mp4", False),
    )
}

_OFFICE_KINDS = frozenset({"docx", "pptx", "xlsx"})
_MEDIA_KINDS = frozenset({"png", "jpeg", "mp4"})

# --- signatures -------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IHDR = b"\x00\x00\x00\x0dIHDR"
_JPEG_SIGNATURE = b"\xff\xd8\xff"
_ZIP_SIGNATURE = b"PK\x03\x04"
_CFB_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: .doc/.xls/.ppt and encrypted OOXML
_HEAD_BYTES = 4_096

# ISO base media brands that are MP4 video (ISO/IEC 14496-12/-14/-15, Apple M4V, DASH).
_MP4_BRANDS = frozenset(
    {
        b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"iso7", b"iso8", b"iso9",
        b"mp41", b"mp42", b"mp71", b"avc1", b"avc3", b"hvc1", b"hev1", b"av01",
        b"M4V ", b"M4VH", b"M4VP", b"dash", b"msdh", b"msix", b"mmp4", b"f4v ", b"XAVC",
    }
)  # fmt: skip
# Same container, different thing: audio, QuickTime, still images. Never MP4 video, even when
# they list an ISO brand as compatible.
_NOT_VIDEO_BRANDS = frozenset(
    {
        b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ", b"qt  ",
        b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1",
        b"avif", b"avis", b"crx ", b"jp2 ", b"jpm ", b"jpx ", b"mjp2",
    }
)  # fmt: skip

# --- Office Open XML names --------------------------------------------------------------------

_CONTENT_TYPES_NS = "http://schemas.openxmlformats.org/package/2006/content-types"
_RELATIONSHIPS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_MC_NS = "http://schemas.openxmlformats.org/markup-compatibility/2006"
_WORD_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/wordprocessingml/2006/main",
        "http://purl.oclc.org/ooxml/wordprocessingml/main",
    }
)
_DRAWING_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/drawingml/2006/main",
        "http://purl.oclc.org/ooxml/drawingml/main",
    }
)
_SHEET_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
        "http://purl.oclc.org/ooxml/spreadsheetml/main",
    }
)
_PRESENTATION_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/presentationml/2006/main",
        "http://purl.oclc.org/ooxml/presentationml/main",
    }
)
_DOC_RELATIONSHIP_NS = frozenset(
    {
        "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
        "http://purl.oclc.org/ooxml/officeDocument/relationships",
    }
)

_MAIN_CONTENT_TYPES = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
}
_CT_HEADER = "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"
_CT_FOOTER = "application/vnd.openxmlformats-officedocument.wordprocessingml.footer+xml"
_CT_SLIDE = "application/vnd.openxmlformats-officedocument.presentationml.slide+xml"
_CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_CT_SHARED_STRINGS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"

# Content types that carry code: VBA projects, macro-enabled main parts, Excel 4.0 macro sheets.
_MACRO_MARKERS = ("macroenabled", "vbaproject", "macrosheet")

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")


# ==============================================================================================
# sniff
# ==============================================================================================


def sniff(path: Path) -> FileKind:
    """Decide the type from the file's bytes and structure, never its name.

    Raises RejectedFile, whose message says why, for anything that is not one of the accepted
    kinds. An OSError opening the file itself (missing, unreadable) is not caught.
    """
    with Path(path).open("rb") as fh:
        head = fh.read(_HEAD_BYTES)
        if not head:
            raise RejectedFile(EMPTY_MESSAGE)
        if head.startswith(b"%PDF-"):
            _inspect_pdf(Path(path))
            return FILE_KINDS["pdf"]
        if head.startswith(_PNG_SIGNATURE) and head[8:16] == _PNG_IHDR:
            return FILE_KINDS["png"]
        if head.startswith(_JPEG_SIGNATURE):
            return FILE_KINDS["jpeg"]
        if _is_mp4(head):
            return FILE_KINDS["mp4"]
        if head.startswith(_ZIP_SIGNATURE):
            return FILE_KINDS[_inspect_package(fh).kind]
        if head.startswith(_CFB_SIGNATURE):
            raise RejectedFile(LEGACY_OFFICE_MESSAGE)
    raise RejectedFile(ACCEPTED_TYPES_MESSAGE)


def _is_mp4(head: bytes) -> bool:
    """An ISO base media file whose leading `ftyp` box names an MP4 video brand."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return False
    size = int.from_bytes(head[:4], "big")
    # size, "ftyp", major brand, minor version, then whole four-byte compatible brands
    if size < 16 or size > len(head) or size % 4:
        return False
    major = head[8:12]
    if major in _MP4_BRANDS:
        return True
    if major in _NOT_VIDEO_BRANDS:
        return False
    compatible = {head[i : i + 4] for i in range(16, size, 4)}
    return bool(compatible & _MP4_BRANDS)


# --- PDFs -------------------------------------------------------------------------------------

# Dictionary keys and name values that make a PDF act rather than show. Chromium's viewer runs
# a document's JavaScript, and its `sandbox` CSP does not stop it, so they are refused at upload.
_PDF_KEYS = {
    "/JS": PDF_SCRIPT_MESSAGE,
    "/JavaScript": PDF_SCRIPT_MESSAGE,  # the document-level name tree of scripts
    "/XFA": PDF_SCRIPT_MESSAGE,  # XML forms carry their own scripts
    "/AA": PDF_ACTIONS_MESSAGE,
    "/EmbeddedFiles": PDF_EMBEDDED_MESSAGE,
    "/EF": PDF_EMBEDDED_MESSAGE,
}
_PDF_NAMES = {
    "/JavaScript": PDF_SCRIPT_MESSAGE,
    "/RichMediaExecute": PDF_SCRIPT_MESSAGE,
    "/Launch": PDF_LAUNCH_MESSAGE,
    "/GoToE": PDF_LAUNCH_MESSAGE,
    "/ImportData": PDF_LAUNCH_MESSAGE,
    "/EmbeddedFile": PDF_EMBEDDED_MESSAGE,
    "/FileAttachment": PDF_EMBEDDED_MESSAGE,
    "/RichMedia": PDF_EMBEDDED_MESSAGE,
}
_PDF_NAME_KEYS = ("/S", "/Type", "/Subtype")
# An object header anywhere in the file: viewers that rebuild a damaged cross-reference
# table find objects this way, so the check looks at them too.
_PDF_WHITESPACE = frozenset({b" ", b"\t", b"\r", b"\n", b"\f", b"\x00"})
_PDF_OBJECT_HEADER = re.compile(rb"(?<![0-9])([0-9]{1,10})[ \t\r\n\f\x00]+([0-9]{1,5})"
                                rb"[ \t\r\n\f\x00]+obj(?![A-Za-z])")


def _inspect_pdf(path: Path) -> None:
    """Refuse a PDF that can run script, launch or embed anything, or that cannot be read.

    Every numbered object is looked at, those inside compressed object streams included,
    and so is every object header in the bytes that the cross-reference table does not
    point to (old revisions, deleted objects): what one reader skips another may find.
    """
    from pypdf import PdfReader  # imported lazily: only uploads of PDFs pay for it
    from pypdf.generic import IndirectObject

    data = path.read_bytes()
    check = _PdfCheck(time.monotonic() + PDF_CHECK_SECONDS)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise RejectedFile(PDF_ENCRYPTED_MESSAGE)
        check.visit(reader.trailer)
        numbered = {(num, gen) for gen, table in reader.xref.items() for num in table}
        numbered |= {(num, 0) for num in reader.xref_objStm}
        if len(numbered) > MAX_PDF_OBJECTS:
            raise RejectedFile(PDF_TOO_COMPLEX_MESSAGE)
        for num, gen in sorted(numbered):
            check.visit(reader.get_object(IndirectObject(num, gen, reader)))
        known_offsets = {offset for table in reader.xref.values() for offset in table.values()}
        _inspect_unlisted_pdf_objects(reader, data, known_offsets, check)
    except RejectedFile:
        raise
    except MemoryError:
        raise
    except Exception as exc:  # pypdf raises anything on hostile input: it cannot be checked
        raise RejectedFile(PDF_DAMAGED_MESSAGE) from exc


def _inspect_unlisted_pdf_objects(reader: Any, data: bytes, known_offsets: set[int],
                                  check: _PdfCheck) -> None:
    stream = io.BytesIO(data)
    seen = 0
    for match in _PDF_OBJECT_HEADER.finditer(data):
        if match.start() in known_offsets:
            continue
        seen += 1
        if seen > MAX_PDF_OBJECTS:
            raise RejectedFile(PDF_TOO_COMPLEX_MESSAGE)
        check.on_time()
        start = match.end()
        while data[start : start + 1] in _PDF_WHITESPACE:
            start += 1
        stream.seek(start)
        found = _object_at(stream, reader)
        check.visit(found)
        if getattr(found, "get", lambda key: None)("/Type") == "/ObjStm":
            for inner in _objects_in_stream(found, reader):
                check.visit(inner)


def _object_at(stream: IO[bytes], reader: Any) -> object:
    from pypdf.generic import read_object

    try:
        return read_object(stream, reader)
    except Exception:  # "1 0 obj" inside a page's text, say: not an object at all
        return None


def _objects_in_stream(stream_object: Any, reader: Any) -> Iterator[Any]:
    """The objects packed in an object stream that no cross-reference entry names."""
    from pypdf.generic import read_object

    if reader.is_encrypted:  # its bytes are ciphertext: nothing can say what it holds
        raise RejectedFile(PDF_DAMAGED_MESSAGE)
    body = io.BytesIO(stream_object.get_data())
    count, first = int(stream_object["/N"]), int(stream_object["/First"])
    header = body.read(first).split()
    if count > MAX_PDF_OBJECTS or len(header) < 2 * count:
        raise RejectedFile(PDF_DAMAGED_MESSAGE)
    for index in range(count):
        body.seek(first + int(header[2 * index + 1]))
        yield read_object(body, reader)


def _is_script_link(value: object) -> bool:
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    # Browsers ignore control characters and spaces inside a scheme: "java\tscript:" runs.
    letters = "".join(ch for ch in str(value) if ch > " ").lower()
    return letters.startswith(("javascript:", "vbscript:"))


class _PdfCheck:
    """Looks through one object's direct contents for what `_PDF_KEYS` and `_PDF_NAMES` name.

    Indirect references are not followed: every numbered object is visited on its own.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.nodes = 0

    def on_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RejectedFile(PDF_TOO_COMPLEX_MESSAGE)

    def visit(self, root: object) -> None:
        from pypdf.generic import ArrayObject, DictionaryObject

        pending = [root]
        while pending:
            node = pending.pop()
            self.nodes += 1
            if self.nodes > MAX_PDF_NODES:
                raise RejectedFile(PDF_TOO_COMPLEX_MESSAGE)
            if self.nodes % 10_000 == 0:
                self.on_time()
            if isinstance(node, DictionaryObject):
                for key, value in dict.items(node):
                    if key in _PDF_KEYS:
                        raise RejectedFile(_PDF_KEYS[key])
                    if key in _PDF_NAME_KEYS and isinstance(value, str) and value in _PDF_NAMES:
                        raise RejectedFile(_PDF_NAMES[value])
                    if key == "/URI" and _is_script_link(value):
                        raise RejectedFile(PDF_SCRIPT_MESSAGE)
                    pending.append(value)
            elif isinstance(node, ArrayObject):
                pending.extend(list.__iter__(node))


# --- Office packages --------------------------------------------------------------------------

# Everything zipfile and zlib raise on a malformed archive. RejectedFile is a ValueError, so
# every `except _ZIP_ERRORS` below re-raises it first.
_ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    RuntimeError,
    IndexError,
    KeyError,
)
_XML_ERRORS = (ParseError, DefusedXmlException, ValueError)


@dataclass(frozen=True)
class _Package:
    kind: str
    main_part: str  # the zip entry name of the main part
    names: dict[str, str]  # lower-cased entry name -> entry name
    overrides: dict[str, str]  # lower-cased entry name -> normalised content type
    defaults: dict[str, str]  # lower-cased extension -> normalised content type

    def content_type(self, part: str) -> str:
        """The content type of a part (lower-cased name): its override, or its extension's."""
        extension = posixpath.splitext(part)[1].lstrip(".")
        return self.overrides.get(part) or self.defaults.get(extension, "")

    def declared_types(self) -> set[str]:
        return set(self.overrides.values()) | set(self.defaults.values())


def _inspect_package(fh: IO[bytes]) -> _Package:
    """Check an OOXML package without unpacking it; raise RejectedFile if it is not acceptable."""
    _check_central_directory(fh)
    try:
        with zipfile.ZipFile(fh) as zf:
            package = _inspect_open_package(zf)
            _check_active_content(zf, package)
            return package
    except RejectedFile:
        raise
    except _ZIP_ERRORS as exc:
        raise RejectedFile(DAMAGED_MESSAGE) from exc


def _check_central_directory(fh: IO[bytes]) -> None:
    """Refuse before zipfile builds one object per entry: it trusts the central directory size.

    Reads the end-of-central-directory record (and its ZIP64 form) the way zipfile finds it.
    """
    try:
        fh.seek(0, 2)
        file_size = fh.tell()
        tail_size = min(file_size, 22 + 65_535)
        fh.seek(file_size - tail_size)
        tail = fh.read(tail_size)
    except OSError as exc:
        raise RejectedFile(DAMAGED_MESSAGE) from exc
    at = len(tail) - 22
    if at < 0:
        raise RejectedFile(DAMAGED_MESSAGE)
    if tail[at : at + 4] != b"PK\x05\x06":
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            raise RejectedFile(DAMAGED_MESSAGE)
    _sig, _disk, _cd_disk, _n_disk, entries, cd_size, _cd_offset, _comment = struct.unpack(
        "<4s4H2LH", tail[at : at + 22]
    )
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        locator_at = at - 20
        if locator_at < 0 or tail[locator_at : locator_at + 4] != b"PK\x06\x07":
            raise RejectedFile(DAMAGED_MESSAGE)
        _sig, _disk, zip64_offset, _disks = struct.unpack(
            "<4sLQL", tail[locator_at : locator_at + 20]
        )
        try:
            fh.seek(zip64_offset)
            record = fh.read(56)
        except (OSError, ValueError, OverflowError) as exc:
            raise RejectedFile(DAMAGED_MESSAGE) from exc
        if len(record) != 56 or record[:4] != b"PK\x06\x06":
            raise RejectedFile(DAMAGED_MESSAGE)
        fields = struct.unpack("<4sQ2H2L4Q", record)
        entries, cd_size = fields[7], fields[8]
    if entries > MAX_ZIP_ENTRIES:
        raise RejectedFile(TOO_MANY_PARTS_MESSAGE)
    if cd_size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise RejectedFile(TOO_MANY_PARTS_MESSAGE)
    fh.seek(0)


def _inspect_open_package(zf: zipfile.ZipFile) -> _Package:
    infos = zf.infolist()
    if len(infos) > MAX_ZIP_ENTRIES:
        raise RejectedFile(TOO_MANY_PARTS_MESSAGE)

    names: dict[str, str] = {}
    total = 0
    for info in infos:
        lowered = info.filename.lower()
        if lowered in names:  # two parts by one name: readers would disagree on which is real
            raise RejectedFile(DAMAGED_MESSAGE)
        names[lowered] = info.filename
        segments = lowered.split("/")
        if lowered.startswith("/") or "\\" in lowered or ".." in segments:
            raise RejectedFile(DAMAGED_MESSAGE)
        if segments[-1] == "vbaproject.bin":
            raise RejectedFile(MACRO_MESSAGE)
        if "activex" in segments[:-1]:
            raise RejectedFile(ACTIVEX_MESSAGE)
        if info.flag_bits & 0x1:
            raise RejectedFile(ENCRYPTED_MESSAGE)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise RejectedFile(DAMAGED_MESSAGE)
        total += info.file_size
        if total > MAX_ZIP_UNCOMPRESSED:
            raise RejectedFile(TOO_LARGE_MESSAGE)
        if info.file_size >= RATIO_CHECK_FROM_BYTES and (
            info.compress_size <= 0 or info.file_size / info.compress_size > MAX_COMPRESSION_RATIO
        ):
            raise RejectedFile(ZIP_BOMB_MESSAGE)

    content_types_name = names.get("[content_types].xml")
    if content_types_name is None:  # a plain ZIP, a JAR, an EPUB, an ODF document...
        raise RejectedFile(ACCEPTED_TYPES_MESSAGE)
    root = _parse_small_part(zf, content_types_name, MAX_CONTENT_TYPES_BYTES)
    if root.tag != f"{{{_CONTENT_TYPES_NS}}}Types":
        raise RejectedFile(DAMAGED_MESSAGE)

    overrides: dict[str, str] = {}
    defaults: dict[str, str] = {}
    all_types: list[str] = []
    for element in root:
        content_type = _normalise_content_type(element.get("ContentType", ""))
        all_types.append(content_type)
        if element.tag == f"{{{_CONTENT_TYPES_NS}}}Override":
            part = element.get("PartName", "").lstrip("/").lower()
            overrides[part] = content_type
        elif element.tag == f"{{{_CONTENT_TYPES_NS}}}Default":
            defaults[element.get("Extension", "").lower()] = content_type
    if any(marker in ct for ct in all_types for marker in _MACRO_MARKERS):
        raise RejectedFile(MACRO_MESSAGE)
    if any("activex" in ct for ct in all_types):
        raise RejectedFile(ACTIVEX_MESSAGE)

    mains = [
        (part, _MAIN_CONTENT_TYPES[ct])
        for part, ct in overrides.items()
        if ct in _MAIN_CONTENT_TYPES
    ]
    if not mains:  # templates, slide shows, XPS, Visio...: OOXML but not what we take
        raise RejectedFile(ACCEPTED_TYPES_MESSAGE)
    if len(mains) > 1:
        raise RejectedFile(DAMAGED_MESSAGE)
    main_part, kind = mains[0]
    if main_part not in names:
        raise RejectedFile(DAMAGED_MESSAGE)
    return _Package(kind=kind, main_part=names[main_part], names=names, overrides=overrides,
                    defaults=defaults)


# --- active Office content --------------------------------------------------------------------

_CT_OLE_OBJECT = "application/vnd.openxmlformats-officedocument.oleobject"
_CT_EXTERNAL_LINK = "application/vnd.openxmlformats-officedocument.spreadsheetml.externallink+xml"
_CT_WORD_PREFIX = "application/vnd.openxmlformats-officedocument.wordprocessingml."
# Relationship types (their last path segment, lower-cased) and what refusing them says.
_REFUSED_RELATIONSHIPS = {
    "vbaproject": MACRO_MESSAGE,  # whatever the part is called: the relationship runs it
    "vbaprojectsignature": MACRO_MESSAGE,
    "wordvbadata": MACRO_MESSAGE,
    "keymapcustomizations": MACRO_MESSAGE,
    "attachedtoolbars": MACRO_MESSAGE,
    "oleobject": OLE_MESSAGE,
    "afchunk": ALTCHUNK_MESSAGE,
    "externallink": EXTERNAL_LINK_MESSAGE,
    "externallinkpath": EXTERNAL_LINK_MESSAGE,
}
# Outside targets that only show something: a web link, or media fetched over the web.
_SHOWN_ONLY_EXTERNAL = {"image", "video", "audio", "media"}
_WEB = ("https://", "http://")
_FIELD_ELEMENTS = frozenset(
    f"{namespace} {local}" for namespace in _WORD_NS for local in ("fldSimple", "instrText", "fldChar")
)
_FORMULA_ELEMENTS = frozenset(f"{namespace} f" for namespace in _SHEET_NS)
_QUOTED_TEXT = re.compile(r'"[^"]*"')
_DDE_FIELD = re.compile(r"\A\s*DDE(?:AUTO)?\b", re.IGNORECASE)


def _check_active_content(zf: zipfile.ZipFile, package: _Package) -> None:
    """Refuse what makes Office run or fetch something: macro projects by relationship, OLE
    objects, outside templates and links, imported documents (altChunk), DDE fields."""
    declared = package.declared_types()
    if _CT_OLE_OBJECT in declared:
        raise RejectedFile(OLE_MESSAGE)
    if _CT_EXTERNAL_LINK in declared:
        raise RejectedFile(EXTERNAL_LINK_MESSAGE)
    deadline = time.monotonic() + OFFICE_CHECK_SECONDS
    _check_relationships(zf, package)
    if package.kind == "docx":
        parts = [name for part, name in package.names.items()
                 if package.content_type(part).startswith(_CT_WORD_PREFIX)]
        _scan_parts(zf, parts, _FieldCodeScanner, deadline)
    elif package.kind == "xlsx":
        parts = [name for part, name in package.names.items()
                 if package.content_type(part) == _CT_WORKSHEET]
        _scan_parts(zf, parts, _FormulaScanner, deadline)


def _check_relationships(zf: zipfile.ZipFile, package: _Package) -> None:
    budget = MAX_RELATIONSHIP_BYTES
    for lowered, name in package.names.items():
        folder, filename = posixpath.split(lowered)
        if posixpath.basename(folder) != "_rels" or not filename.endswith(".rels"):
            continue
        budget -= zf.getinfo(name).file_size
        if budget < 0:
            raise RejectedFile(DAMAGED_MESSAGE)
        source = posixpath.join(posixpath.dirname(folder), filename[: -len(".rels")])
        for rel in _parse_small_part(zf, name, MAX_SMALL_PART_BYTES):
            if rel.tag == f"{{{_RELATIONSHIPS_NS}}}Relationship":
                reason = _relationship_refusal(rel, source, package)
                if reason:
                    raise RejectedFile(reason)


def _relationship_refusal(rel: Element, source: str, package: _Package) -> str | None:
    kind = rel.get("Type", "").rstrip("/").rsplit("/", 1)[-1].lower()
    external = rel.get("TargetMode", "Internal").lower() == "external"
    if kind in _REFUSED_RELATIONSHIPS:
        return _REFUSED_RELATIONSHIPS[kind]
    if kind == "package" and "chart" not in package.overrides.get(source, ""):
        return OLE_MESSAGE  # an embedded document; a chart keeps its data workbook this way
    if not external:
        return None
    if kind == "attachedtemplate":
        return TEMPLATE_MESSAGE
    target = rel.get("Target", "").strip().lower()
    if kind == "hyperlink" and target.startswith((*_WEB, "mailto:", "tel:")):
        return None  # a file: or share link can start a program (PowerPoint's "Run program")
    if kind in _SHOWN_ONLY_EXTERNAL and target.startswith(_WEB):
        return None
    return EXTERNAL_LINK_MESSAGE  # frames, subdocuments, files on a share (\\host\...)


def _scan_parts(zf: zipfile.ZipFile, parts: list[str], scanner: type[_ExpatScanner],
                deadline: float) -> None:
    """Read every byte of these parts with a fresh scanner each: too much is refused, since
    what is not read is not checked."""
    if sum(zf.getinfo(part).file_size for part in parts) > MAX_FIELD_SCAN_BYTES:
        raise RejectedFile(TOO_LARGE_TO_CHECK_MESSAGE)
    for part in parts:
        parser = scanner().parser
        try:
            with zf.open(part) as stream:
                while chunk := stream.read(1 << 20):
                    if time.monotonic() > deadline:
                        raise RejectedFile(TOO_LARGE_TO_CHECK_MESSAGE)
                    parser.Parse(chunk, False)
                parser.Parse(b"", True)
        except expat.ExpatError as exc:
            raise RejectedFile(DAMAGED_MESSAGE) from exc


def _refuse_declarations(*_args: object) -> None:
    raise RejectedFile(DAMAGED_MESSAGE)


class _ExpatScanner:
    """A bare expat parser (these passes read every byte, and SAX costs five times as much)
    that refuses any DTD, as defusedxml does; subclasses look at the few elements they need."""

    def __init__(self) -> None:
        self.parser = expat.ParserCreate(namespace_separator=" ")
        self.parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
        self.parser.StartDoctypeDeclHandler = _refuse_declarations
        self.parser.EntityDeclHandler = _refuse_declarations
        self.parser.ExternalEntityRefHandler = _refuse_declarations
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end

    def start(self, name: str, attrs: dict[str, str]) -> None:
        raise NotImplementedError

    def end(self, name: str) -> None:
        raise NotImplementedError


class _FormulaScanner(_ExpatScanner):
    """Cell formulas: `app|topic!item` is a DDE call (`cmd|' /C calc'!A0`); a `|` appears
    in no other formula syntax outside quoted text."""

    def __init__(self) -> None:
        super().__init__()
        self.formula: list[str] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name in _FORMULA_ELEMENTS:
            self.formula = []
            self.parser.CharacterDataHandler = self.formula.append

    def end(self, name: str) -> None:
        if name in _FORMULA_ELEMENTS:
            self.parser.CharacterDataHandler = None
            if "|" in _QUOTED_TEXT.sub("", "".join(self.formula)):
                raise RejectedFile(DDE_MESSAGE)


class _FieldCodeScanner(_ExpatScanner):
    """Word field codes, fldSimple and instrText alike.

    Complex fields nest: each `begin` opens a code that gathers instrText until its
    `separate` or `end`; each is checked at those points, and whenever it grows long.
    """

    def __init__(self) -> None:
        super().__init__()
        self.codes: list[list[str]] = [[]]  # the bottom one gathers instrText outside fields

    def start(self, name: str, attrs: dict[str, str]) -> None:
        if name not in _FIELD_ELEMENTS:  # nearly every element: keep this test cheap
            return
        uri, _, local = name.rpartition(" ")
        if local == "fldSimple":
            self.check(attrs.get(f"{uri} instr", ""))
        elif local == "instrText":
            self.parser.CharacterDataHandler = self.text
        elif local == "fldChar":
            kind = attrs.get(f"{uri} fldCharType")
            if kind == "begin":
                self.codes.append([])
            elif kind in ("separate", "end"):
                self.check("".join(self.codes[-1]))
                if kind == "end" and len(self.codes) > 1:
                    self.codes.pop()
                else:
                    self.codes[-1] = []

    def end(self, name: str) -> None:
        if name.endswith(" instrText"):
            self.parser.CharacterDataHandler = None

    def text(self, data: str) -> None:
        code = self.codes[-1]
        code.append(data)
        if len(code) > 256:  # a code this long is checked now and kept short
            joined = "".join(code)
            self.check(joined)
            self.codes[-1] = [joined[:64]]

    @staticmethod
    def check(code: str) -> None:
        if _DDE_FIELD.match(code):
            raise RejectedFile(DDE_MESSAGE)


def _normalise_content_type(value: str) -> str:
    return value.split(";", 1)[0].strip().lower()


def _parse_small_part(zf: zipfile.ZipFile, name: str, limit: int) -> Element:
    """A small XML part as a tree, through defusedxml with DTDs forbidden outright."""
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise RejectedFile(DAMAGED_MESSAGE)
    try:
        data = zf.read(info)
    except _ZIP_ERRORS as exc:
        raise RejectedFile(DAMAGED_MESSAGE) from exc
    try:
        return SafeElementTree.fromstring(data, forbid_dtd=True)
    except _XML_ERRORS as exc:
        raise RejectedFile(DAMAGED_MESSAGE) from exc


# ==============================================================================================
# extract_text
# ==============================================================================================


class _Enough(Exception):
    """Raised from inside a parser once enough text has been collected."""


class _TextSink:
    """Collects text up to MAX_TEXT_CHARS, then stops the reader by raising _Enough."""

    def __init__(self, limit: int = MAX_TEXT_CHARS) -> None:
        self.limit = limit
        self.size = 0
        self.parts: list[str] = []

    def add(self, text: str) -> None:
        if not text:
            return
        room = self.limit - self.size
        if len(text) >= room:
            self.parts.append(text[:room])
            self.size = self.limit
            raise _Enough
        self.parts.append(text)
        self.size += len(text)

    def text(self) -> str:
        return "".join(self.parts)


def extract_text(path: Path, kind: FileKind) -> str | None:
    """Plain text of a PDF/DOCX/PPTX/XLSX for the search index; "" for images and video.

    None when the text cannot be read (corrupt, encrypted, not really of `kind`...). Never
    raises. At most MAX_TEXT_CHARS characters; reading stops once that many are collected.
    """
    try:
        if kind.kind in _MEDIA_KINDS:
            return ""
        if kind.kind == "pdf":
            text = _pdf_text(Path(path))
        elif kind.kind in _OFFICE_KINDS:
            text = _office_text(Path(path), kind.kind)
        else:
            return None
    except Exception as exc:  # corrupt input can make any library raise anything
        _log.info("no text from a %s file: %s", kind.kind, type(exc).__name__)
        return None
    return None if text is None else text[:MAX_TEXT_CHARS]


def _pdf_text(path: Path) -> str | None:
    from pypdf import PdfReader  # imported lazily: only uploads of PDFs pay for it

    reader = PdfReader(path)
    # An owner password alone still lets anyone read the text; a user password does not.
    if reader.is_encrypted and not reader.decrypt(""):
        return None
    if len(reader.pages) == 0:
        return None
    sink = _TextSink()
    budget = _ReadBudget()
    with suppress(_Enough):
        for number, page in enumerate(reader.pages):
            if number >= MAX_PDF_PAGES or not budget.on_time():
                break
            text = (page.extract_text() or "").strip()
            if text:
                sink.add(text + "\n")
    return sink.text()


def _office_text(path: Path, kind: str) -> str | None:
    sink = _TextSink()
    budget = _ReadBudget()

    def add_line(text: str) -> None:
        if text.strip():
            sink.add(text + "\n")

    with _open_package(path, kind) as (zf, package), suppress(_Enough):
        if kind == "docx":
            for part in _word_parts(package):
                _read_word_paragraphs(zf, part, add_line, budget)
        elif kind == "pptx":
            for part in _slide_parts(zf, package):
                _read_drawing_paragraphs(zf, part, add_line, budget)
        else:
            _read_workbook_text(zf, package, sink, budget)
    return sink.text()


@contextmanager
def _open_package(path: Path, kind: str) -> Iterator[tuple[zipfile.ZipFile, _Package]]:
    """The package checked again exactly as `sniff` checks it, and of the expected kind."""
    with path.open("rb") as fh:
        if fh.read(4) != _ZIP_SIGNATURE:
            raise RejectedFile(ACCEPTED_TYPES_MESSAGE)
        _check_central_directory(fh)
        with zipfile.ZipFile(fh) as zf:
            package = _inspect_open_package(zf)
            if package.kind != kind:
                raise RejectedFile(ACCEPTED_TYPES_MESSAGE)
            yield zf, package


# --- streaming XML ----------------------------------------------------------------------------


class _ContentHandler:
    """The SAX content handler interface, every event ignored; subclasses pick theirs."""

    def setDocumentLocator(self, locator: object) -> None:
        pass

    def startDocument(self) -> None:
        pass

    def endDocument(self) -> None:
        pass

    def startPrefixMapping(self, prefix: str | None, uri: str) -> None:
        pass

    def endPrefixMapping(self, prefix: str | None) -> None:
        pass

    def startElementNS(self, name: tuple[str | None, str], qname: object, attrs: Any) -> None:
        pass

    def endElementNS(self, name: tuple[str | None, str], qname: object) -> None:
        pass

    def characters(self, content: str) -> None:
        pass

    def ignorableWhitespace(self, whitespace: str) -> None:
        pass

    def processingInstruction(self, target: str, data: str) -> None:
        pass

    def skippedEntity(self, name: str) -> None:
        pass


def _stream_part(zf: zipfile.ZipFile, name: str, handler: _ContentHandler,
                 budget: _ReadBudget) -> None:
    """SAX-parse one part straight from the archive: no tree, no DTD, no entities.

    The parser is defusedxml's expat reader with DTDs forbidden outright; it raises on
    malformed XML, which callers treat as an unreadable file. It stops with _Enough once
    `budget` is spent.
    """
    parser = create_parser(namespaceHandling=1, forbid_dtd=True)
    parser.setContentHandler(handler)
    with zf.open(name) as stream:
        parser.parse(_BudgetedStream(stream, budget))


class _ReadBudget:
    """How much XML one reading of a file may still decompress and parse, and until when.

    SAX in Python parses a few MB a second: a package of 75 MB of markup with little text
    once took 18 s. Text and template fields are worth having in part; the wait is not.
    """

    def __init__(self) -> None:
        self.left = MAX_EXTRACT_XML_BYTES
        self.deadline = time.monotonic() + EXTRACT_SECONDS

    def check(self) -> None:
        if self.left <= 0 or not self.on_time():
            raise _Enough

    def on_time(self) -> bool:
        return time.monotonic() <= self.deadline


class _BudgetedStream:
    def __init__(self, stream: IO[bytes], budget: _ReadBudget) -> None:
        self.stream = stream
        self.budget = budget

    def read(self, size: int = -1) -> bytes:
        self.budget.check()
        wanted = size if size >= 0 else 1 << 16
        data = self.stream.read(min(wanted, self.budget.left))
        self.budget.left -= len(data)
        return data

    def close(self) -> None:  # the SAX reader closes its source; the caller owns the stream
        pass


class _ParagraphHandler(_ContentHandler):
    """Hands each paragraph's text to a callback: WordprocessingML or DrawingML alike.

    Text comes only from `t` elements (never deleted text or field codes); the Fallback
    branch of markup-compatibility blocks is skipped, as it repeats the Choice branch.
    """

    BUFFER_LIMIT = 2 * MAX_TEXT_CHARS  # all open paragraphs together, nested ones included

    def __init__(
        self, namespaces: frozenset[str], on_paragraph: Callable[[str], None], tabs: bool
    ) -> None:
        self.namespaces = namespaces
        self.on_paragraph = on_paragraph
        self.tabs = tabs  # WordprocessingML has <w:tab/> in runs; in DrawingML it is a tab stop
        self.paragraphs: list[list[str]] = []
        self.buffered = 0
        self.in_text = 0
        self.in_run = 0
        self.skipping = 0

    def _append(self, text: str) -> None:
        if self.paragraphs and self.buffered < self.BUFFER_LIMIT:
            self.paragraphs[-1].append(text)
            self.buffered += len(text)

    def startElementNS(self, name, qname, attrs):
        if self.skipping:
            self.skipping += 1
            return
        uri, local = name
        if uri == _MC_NS and local == "Fallback":
            self.skipping = 1
        elif uri in self.namespaces:
            if local == "p":
                self.paragraphs.append([])
            elif local == "t":
                self.in_text += 1
            elif local == "r":
                self.in_run += 1
            elif local == "tab" and self.tabs and self.in_run:
                self._append("\t")
            elif local in ("br", "cr") and (self.in_run or not self.tabs):
                self._append("\n")

    def endElementNS(self, name, qname):
        if self.skipping:
            self.skipping -= 1
            return
        uri, local = name
        if uri in self.namespaces:
            if local == "t":
                self.in_text = max(0, self.in_text - 1)
            elif local == "r":
                self.in_run = max(0, self.in_run - 1)
            elif local == "p" and self.paragraphs:
                pieces = self.paragraphs.pop()
                text = "".join(pieces)
                self.buffered -= len(text)
                self.on_paragraph(text)

    def characters(self, content):
        if self.in_text and not self.skipping:
            self._append(content)


def _read_word_paragraphs(
    zf: zipfile.ZipFile, part: str, on_paragraph: Callable[[str], None], budget: _ReadBudget
) -> None:
    _stream_part(zf, part, _ParagraphHandler(_WORD_NS, on_paragraph, tabs=True), budget)


def _read_drawing_paragraphs(
    zf: zipfile.ZipFile, part: str, on_paragraph: Callable[[str], None], budget: _ReadBudget
) -> None:
    _stream_part(zf, part, _ParagraphHandler(_DRAWING_NS, on_paragraph, tabs=False), budget)


def _natural_key(name: str) -> list[object]:
    return [int(piece) if piece.isdigit() else piece for piece in re.split(r"(\d+)", name)]


def _parts_of_type(package: _Package, content_type: str) -> list[str]:
    found = [
        package.names[part]
        for part, ct in package.overrides.items()
        if ct == content_type and part in package.names
    ]
    return sorted(found, key=_natural_key)


def _word_parts(package: _Package) -> list[str]:
    """The document body, then its headers, then its footers."""
    return [
        package.main_part,
        *_parts_of_type(package, _CT_HEADER),
        *_parts_of_type(package, _CT_FOOTER),
    ]


def _relationship_targets(zf: zipfile.ZipFile, package: _Package, part: str) -> dict[str, str]:
    """Relationship id -> entry name, for the internal relationships of `part`."""
    folder, filename = posixpath.split(part)
    rels_name = package.names.get(posixpath.join(folder, "_rels", filename + ".rels").lower())
    if rels_name is None:
        return {}
    targets: dict[str, str] = {}
    for rel in _parse_small_part(zf, rels_name, MAX_SMALL_PART_BYTES):
        if rel.tag != f"{{{_RELATIONSHIPS_NS}}}Relationship":
            continue
        if rel.get("TargetMode", "Internal") != "Internal":
            continue
        target = rel.get("Target", "")
        if target.startswith("/"):
            resolved = posixpath.normpath(target.lstrip("/"))
        else:
            resolved = posixpath.normpath(posixpath.join(folder, target))
        actual = package.names.get(resolved.lower())
        if actual is not None and rel.get("Id"):
            targets[rel.get("Id", "")] = actual
    return targets


def _relationship_id(element: Element) -> str | None:
    for namespace in _DOC_RELATIONSHIP_NS:
        value = element.get(f"{{{namespace}}}id")
        if value:
            return value
    return None


def _ordered_parts(
    zf: zipfile.ZipFile,
    package: _Package,
    list_elements: Iterable[Element],
    content_type: str,
) -> list[str]:
    """Parts in the order the main part lists them; any it does not list follow, by name."""
    targets = _relationship_targets(zf, package, package.main_part)
    wanted = set(_parts_of_type(package, content_type))
    ordered: list[str] = []
    for element in list_elements:
        rel_id = _relationship_id(element)
        target = targets.get(rel_id or "")
        if target in wanted and target not in ordered:
            ordered.append(target)
    ordered.extend(part for part in _parts_of_type(package, content_type) if part not in ordered)
    return ordered


def _slide_parts(zf: zipfile.ZipFile, package: _Package) -> list[str]:
    presentation = _parse_small_part(zf, package.main_part, MAX_SMALL_PART_BYTES)
    slide_ids = [
        element
        for element in presentation.iter()
        if _local(element.tag) == "sldId" and _namespace(element.tag) in _PRESENTATION_NS
    ]
    return _ordered_parts(zf, package, slide_ids, _CT_SLIDE)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


# --- spreadsheets -----------------------------------------------------------------------------


class _SharedStringsHandler(_ContentHandler):
    """The shared string table, without phonetic guides, up to MAX_SHARED_STRING_CHARS."""

    def __init__(self) -> None:
        self.strings: list[str] = []
        self.current: list[str] | None = None
        self.in_text = 0
        self.in_phonetic = 0
        self.kept = 0

    def startElementNS(self, name, qname, attrs):
        uri, local = name
        if uri not in _SHEET_NS:
            return
        if local == "si":
            self.current = []
        elif local == "t":
            self.in_text += 1
        elif local == "rPh":
            self.in_phonetic += 1

    def endElementNS(self, name, qname):
        uri, local = name
        if uri not in _SHEET_NS:
            return
        if local == "si" and self.current is not None:
            text = "".join(self.current)
            self.strings.append(text)
            self.kept += len(text)
            self.current = None
            if self.kept >= MAX_SHARED_STRING_CHARS:
                raise _Enough
        elif local == "t":
            self.in_text = max(0, self.in_text - 1)
        elif local == "rPh":
            self.in_phonetic = max(0, self.in_phonetic - 1)

    def characters(self, content):
        if self.current is not None and self.in_text and not self.in_phonetic:
            self.current.append(content)


class _SheetHandler(_ContentHandler):
    """Cell values row by row, tab-separated; formulas themselves are not text."""

    def __init__(self, shared: list[str], sink: _TextSink) -> None:
        self.shared = shared
        self.sink = sink
        self.row: list[str] = []
        self.row_size = 0
        self.cell_type = ""
        self.value: list[str] | None = None
        self.collecting = 0

    def startElementNS(self, name, qname, attrs):
        uri, local = name
        if uri not in _SHEET_NS:
            return
        if local == "row":
            self.row = []
            self.row_size = 0
        elif local == "c":
            self.cell_type = attrs.get((None, "t"), "n")
            self.value = []
        elif local in ("v", "t") and self.value is not None:
            self.collecting += 1

    def endElementNS(self, name, qname):
        uri, local = name
        if uri not in _SHEET_NS:
            return
        if local in ("v", "t"):
            self.collecting = max(0, self.collecting - 1)
        elif local == "c" and self.value is not None:
            text = self._cell_text("".join(self.value).strip())
            self.value = None
            if text and self.row_size < MAX_TEXT_CHARS:
                self.row.append(text)
                self.row_size += len(text)
        elif local == "row":
            if self.row:
                self.sink.add("\t".join(self.row) + "\n")
            self.row = []

    def _cell_text(self, raw: str) -> str:
        if self.cell_type == "s":
            try:
                index = int(raw)
            except ValueError:
                return ""
            return self.shared[index] if 0 <= index < len(self.shared) else ""
        if self.cell_type == "b":
            return {"1": "TRUE", "0": "FALSE"}.get(raw, "")
        if self.cell_type == "e":
            return ""
        return raw

    def characters(self, content):
        if self.value is not None and self.collecting:
            self.value.append(content)


def _sheets(zf: zipfile.ZipFile, package: _Package) -> list[tuple[str, str]]:
    """The workbook's (sheet name, worksheet part) pairs, in tab order."""
    workbook = _parse_small_part(zf, package.main_part, MAX_SMALL_PART_BYTES)
    sheet_elements = [
        element
        for element in workbook.iter()
        if _local(element.tag) == "sheet" and _namespace(element.tag) in _SHEET_NS
    ]
    targets = _relationship_targets(zf, package, package.main_part)
    worksheets = set(_parts_of_type(package, _CT_WORKSHEET))
    pairs: list[tuple[str, str]] = []
    for element in sheet_elements:  # chart sheets and dialog sheets have other content types
        target = targets.get(_relationship_id(element) or "")
        if target in worksheets:
            pairs.append((element.get("name", ""), target))
    return pairs


def _read_workbook_text(zf: zipfile.ZipFile, package: _Package, sink: _TextSink,
                        budget: _ReadBudget) -> None:
    sheets = _sheets(zf, package)
    shared: list[str] = []
    shared_parts = _parts_of_type(package, _CT_SHARED_STRINGS)
    if shared_parts:
        handler = _SharedStringsHandler()
        with suppress(_Enough):
            _stream_part(zf, shared_parts[0], handler, budget)
        shared = handler.strings
    for sheet_name, part in sheets:
        if sheet_name:
            sink.add(sheet_name + "\n")
        _stream_part(zf, part, _SheetHandler(shared, sink), budget)


# ==============================================================================================
# template_fields
# ==============================================================================================


def template_fields(path: Path, kind: FileKind) -> list[str]:
    """The fields a champion template offers, distinct and in first-seen order.

    DOCX: the names of `{{placeholder}}`s in the body (paragraphs and tables), then headers,
    then footers, even when Word has split one across several runs. XLSX: the workbook's
    defined names, without Excel's built-in `_xlnm.` ones. Anything else, or a file that cannot
    be read: []. Never raises; at most MAX_TEMPLATE_FIELDS names.
    """
    try:
        if kind.kind == "docx":
            return _docx_fields(Path(path))
        if kind.kind == "xlsx":
            return _xlsx_fields(Path(path))
    except Exception as exc:  # corrupt input can make any library raise anything
        _log.info("no template fields from a %s file: %s", kind.kind, type(exc).__name__)
    return []


class _Distinct:
    def __init__(self) -> None:
        self.seen: dict[str, None] = {}

    def add_all(self, names: Iterable[str]) -> None:
        for name in names:
            if name not in self.seen:
                self.seen[name] = None
                if len(self.seen) >= MAX_TEMPLATE_FIELDS:
                    raise _Enough

    def result(self) -> list[str]:
        return list(self.seen)


def _docx_fields(path: Path) -> list[str]:
    found = _Distinct()
    budget = _ReadBudget()

    def on_paragraph(text: str) -> None:
        if "{{" in text:
            found.add_all(match.group(1) for match in _PLACEHOLDER.finditer(text))

    with _open_package(path, "docx") as (zf, package), suppress(_Enough):
        for part in _word_parts(package):
            _read_word_paragraphs(zf, part, on_paragraph, budget)
    return found.result()


def _xlsx_fields(path: Path) -> list[str]:
    found = _Distinct()
    with _open_package(path, "xlsx") as (zf, package):
        workbook = _parse_small_part(zf, package.main_part, MAX_SMALL_PART_BYTES)
        names = (
            (element.get("name") or "").strip()
            for element in workbook.iter()
            if _local(element.tag) == "definedName" and _namespace(element.tag) in _SHEET_NS
        )
        with suppress(_Enough):
            found.add_all(name for name in names if name and not name.startswith("_xlnm."))
    return found.result()
