"""PDFs that act instead of showing are refused at upload (issue 10 section 2).

Chromium's PDF viewer runs a document's JavaScript, and the preview's `sandbox` CSP does not
stop it. Every PDF here is written byte by byte, so that each trick is exactly what it says,
wherever it hides: a plain object, a compressed object stream, an escaped name, an object
that the cross-reference table does not list.
"""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.actions import JavaScript

from content_library import file_types
from content_library.file_types import RejectedFile, extract_text, sniff

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def build_pdf(catalog: bytes = b"", page: bytes = b"", extra: dict[int, bytes] | None = None,
              packed: frozenset[int] = frozenset(), words: str = "Quarterly pipeline review",
              unlisted: bytes = b"") -> bytes:
    """A one-page PDF. `extra` adds objects from number 6 on; `packed` puts those numbers in a
    compressed object stream (with a cross-reference stream); `unlisted` is appended as
    objects that no cross-reference entry names."""
    content = f"BT /F1 12 Tf 20 100 Td ({words}) Tj ET".encode("latin-1")
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
           b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R " + page + b" >>",
        4: FONT,
        5: b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        **(extra or {}),
    }
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for number, body in objects.items():
        if number not in packed:
            offsets[number] = len(out)
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    out += unlisted
    size = max(objects) + 1
    if not packed:
        xref_at = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % size
        for number in range(1, size):
            out += b"%010d 00000 n \n" % offsets[number] if number in offsets else \
                b"0000000000 65535 f \n"
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
        return bytes(out)
    stream_number, xref_number = size, size + 1
    inside = sorted(packed)
    bodies, header, position = b"", b"", 0
    for number in inside:
        header += b"%d %d " % (number, position)
        bodies += objects[number] + b"\n"
        position = len(bodies)
    data = zlib.compress(header + bodies)
    offsets[stream_number] = len(out)
    out += (b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\n"
            b"stream\n" % (stream_number, len(inside), len(header), len(data))
            + data + b"\nendstream\nendobj\n")
    offsets[xref_number] = len(out)
    rows = b""
    for number in range(xref_number + 1):
        if number in offsets:
            rows += b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00\x00"
        elif number in packed:
            rows += b"\x02" + stream_number.to_bytes(4, "big") \
                + inside.index(number).to_bytes(2, "big")
        else:
            rows += b"\x00" + bytes(4) + b"\xff\xff"
    out += (b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\n"
            b"stream\n" % (xref_number, xref_number + 1, len(rows))
            + rows + b"\nendstream\nendobj\n")
    out += b"startxref\n%d\n%%%%EOF\n" % offsets[xref_number]
    return bytes(out)


ALERT = b"<< /S /JavaScript /JS (app.alert\\('owned'\\)) >>"

ACTIVE = {
    "open action runs javascript": (
        dict(catalog=b"/OpenAction 6 0 R", extra={6: ALERT}), file_types.PDF_SCRIPT_MESSAGE),
    "open action javascript inside a compressed object stream": (
        dict(catalog=b"/OpenAction 6 0 R", extra={6: ALERT}, packed=frozenset({1, 6})),
        file_types.PDF_SCRIPT_MESSAGE),
    "javascript behind escaped names": (
        dict(catalog=b"/OpenAction << /S /Java#53cript /J#53 (app.alert\\(1\\)) >>"),
        file_types.PDF_SCRIPT_MESSAGE),
    "document-level javascript name tree": (
        dict(catalog=b"/Names << /JavaScript 6 0 R >>",
             extra={6: b"<< /Names [(start) 7 0 R] >>", 7: ALERT}),
        file_types.PDF_SCRIPT_MESSAGE),
    "xfa form": (
        dict(catalog=b"/AcroForm << /Fields [] /XFA 6 0 R >>",
             extra={6: b"<< /Length 4 >>\nstream\n<x/>\nendstream"}),
        file_types.PDF_SCRIPT_MESSAGE),
    "link to a javascript: url": (
        dict(page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
                  b"/A << /S /URI /URI (Java\tScript:app.alert\\(1\\)) >> >>]"),
        file_types.PDF_SCRIPT_MESSAGE),
    "launch action": (
        dict(catalog=b"/OpenAction << /S /Launch /F (calc.exe) >>"), file_types.PDF_LAUNCH_MESSAGE),
    "additional actions on a page": (
        dict(page=b"/AA << /O << /S /URI /URI (https://example.com/track) >> >>"),
        file_types.PDF_ACTIONS_MESSAGE),
    "additional actions packed in an object stream": (
        dict(page=b"/AA 6 0 R", extra={6: b"<< /O << /S /Named /N /Print >> >>"},
             packed=frozenset({6})),
        file_types.PDF_ACTIONS_MESSAGE),
    "embedded file": (
        dict(catalog=b"/Names << /EmbeddedFiles << /Names [(a.txt) 6 0 R] >> >>",
             extra={6: b"<< /Type /Filespec /F (a.txt) /EF << /F 7 0 R >> >>",
                    7: b"<< /Type /EmbeddedFile /Length 2 >>\nstream\nhi\nendstream"}),
        file_types.PDF_EMBEDDED_MESSAGE),
    "file attachment annotation": (
        dict(page=b"/Annots [6 0 R]",
             extra={6: b"<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] "
                       b"/FS << /Type /Filespec /F (x.exe) >> >>"}),
        file_types.PDF_EMBEDDED_MESSAGE),
    "script in an object the cross-reference table does not list": (
        dict(unlisted=b"9 0 obj\n" + ALERT + b"\nendobj\n"), file_types.PDF_SCRIPT_MESSAGE),
}


def written(tmp_path: Path, data: bytes, name: str = "file.pdf") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(ACTIVE))
def test_a_pdf_that_can_act_is_refused(tmp_path: Path, case: str) -> None:
    parts, message = ACTIVE[case]
    path = written(tmp_path, build_pdf(**parts))
    with pytest.raises(RejectedFile) as caught:
        sniff(path)
    assert str(caught.value) == message


CLEAN = {
    "plain": {},
    "open action that only shows the first page": dict(catalog=b"/OpenAction [3 0 R /Fit]"),
    "objects in a compressed object stream": dict(packed=frozenset({1, 2, 4})),
    "a web link": dict(page=b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 9 9] "
                            b"/A << /S /URI /URI (https://example.com) >> >>]"),
    "page text that looks like an object header": dict(words="see 1 0 obj and /JS"),
}


@pytest.mark.parametrize("case", sorted(CLEAN))
def test_a_pdf_that_only_shows_is_accepted_and_read(tmp_path: Path, case: str) -> None:
    path = written(tmp_path, build_pdf(**CLEAN[case]))
    kind = sniff(path)
    assert kind.kind == "pdf"
    assert extract_text(path, kind)


def test_what_a_pdf_library_writes_is_caught_too(tmp_path: Path) -> None:
    clean = written(tmp_path, build_pdf(), "clean.pdf")
    scripted = PdfWriter(clone_from=clean)
    scripted.add_open_action(JavaScript("app.alert('owned');"))
    attached = PdfWriter(clone_from=clean)
    attached.add_attachment("invoice.exe", b"MZ")
    for writer, message in ((scripted, file_types.PDF_SCRIPT_MESSAGE),
                            (attached, file_types.PDF_EMBEDDED_MESSAGE)):
        out = io.BytesIO()
        writer.write(out)
        with pytest.raises(RejectedFile) as caught:
            sniff(written(tmp_path, out.getvalue(), "written.pdf"))
        assert str(caught.value) == message


def test_checking_a_pdf_is_bounded(tmp_path: Path, monkeypatch) -> None:
    many = {number: b"<< /N %d >>" % number for number in range(6, 60)}
    path = written(tmp_path, build_pdf(extra=many))
    assert sniff(path).kind == "pdf"
    monkeypatch.setattr(file_types, "MAX_PDF_OBJECTS", 20)
    with pytest.raises(RejectedFile) as caught:
        sniff(path)
    assert str(caught.value) == file_types.PDF_TOO_COMPLEX_MESSAGE
    monkeypatch.setattr(file_types, "MAX_PDF_OBJECTS", 200_000)
    monkeypatch.setattr(file_types, "MAX_PDF_NODES", 50)
    with pytest.raises(RejectedFile):
        sniff(path)
