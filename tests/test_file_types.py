"""Upload type checks, text extraction and template fields (SECURITY.md promise 4).

Every file is built here, small and real, with the same libraries people's tools use.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import docx
import openpyxl
import pptx
import pytest
from openpyxl.workbook.defined_name import DefinedName
from pypdf import PdfWriter

from content_library import file_types
from content_library.file_types import (
    FILE_KINDS,
    FileKind,
    RejectedFile,
    extract_text,
    sniff,
    template_fields,
)

ACCEPTED = "This file is not a PDF, Word, PowerPoint, Excel, PNG, JPEG or MP4 file."

# --- builders -----------------------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.add_heading("Battlecard for Acme", level=1)
    paragraph = document.add_paragraph("Dear ")
    # Word often splits a placeholder across runs: it must still be found.
    paragraph.add_run("{{compa")
    paragraph.add_run("ny_name}}")
    paragraph.add_run(", thanks for meeting {{ contact_first_name }}.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text = "Renewal date"
    table.cell(0, 1).text = "{{renewal_date}} and again {{company_name}}"
    section = document.sections[0]
    section.header.paragraphs[0].text = "Prepared for {{champion_name}}"
    section.footer.paragraphs[0].text = "Confidential: {{company_name}} only"
    document.save(path)
    return path


def make_pptx(path: Path) -> Path:
    presentation = pptx.Presentation()
    for title in ("Why we win", "Pricing objections"):
        slide = presentation.slides.add_slide(presentation.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = f"Talk track for {title.lower()}"
    presentation.save(path)
    return path


def make_xlsx(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "ROI"
    sheet["A1"] = "Seats"
    sheet["B1"] = 250
    sheet["A2"] = "Annual saving"
    sheet["B2"] = "=B1*120"
    second = workbook.create_sheet("Assumptions")
    second["A1"] = "Churn reduction"
    workbook.defined_names["customer_name"] = DefinedName("customer_name", attr_text="ROI!$B$1")
    workbook.defined_names["seat_count"] = DefinedName("seat_count", attr_text="ROI!$B$2")
    workbook.save(path)
    return path


def make_blank_pdf(path: Path) -> Path:
    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    with path.open("wb") as fh:
        writer.write(fh)
    return path


def make_text_pdf(path: Path, words: str = "Quarterly pipeline review") -> Path:
    """A tiny but valid PDF, written by hand: one page showing `words` in Helvetica."""
    content = f"BT /F1 12 Tf 20 100 Td ({words}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    path.write_bytes(bytes(out))
    return path


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + b"\xff\xdb\x00\x43\x00"
    + bytes(range(1, 65))
    + b"\xff\xd9"
)


def mp4_bytes(major: bytes = b"isom", compatible: tuple[bytes, ...] = (b"isom", b"avc1")) -> bytes:
    body = major + b"\x00\x00\x02\x00" + b"".join(compatible)
    ftyp = struct.pack(">I", 8 + len(body)) + b"ftyp" + body
    mdat = struct.pack(">I", 16) + b"mdat" + bytes(8)
    return ftyp + mdat


def rewrite_zip(
    source: Path,
    target: Path,
    replace: dict[str, bytes] | None = None,
    add: dict[str, bytes] | None = None,
) -> Path:
    """Copy an OOXML package, swapping or adding parts."""
    replace = replace or {}
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info)))
        for name, data in (add or {}).items():
            dst.writestr(name, data)
    return target


def content_types(path: Path) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read("[Content_Types].xml")


@pytest.fixture
def docx_file(tmp_path: Path) -> Path:
    return make_docx(tmp_path / "template.docx")


@pytest.fixture
def xlsx_file(tmp_path: Path) -> Path:
    return make_xlsx(tmp_path / "roi.xlsx")


def refused(path: Path) -> str:
    with pytest.raises(RejectedFile) as caught:
        sniff(path)
    return str(caught.value)


# --- sniff: what is accepted ---------------------------------------------------------------------


def test_each_kind_is_sniffed_from_its_bytes_whatever_its_name(tmp_path: Path) -> None:
    # Every file gets a misleading name: only the content may decide.
    files = {
        "docx": make_docx(tmp_path / "looks-like.pdf"),
        "pptx": make_pptx(tmp_path / "looks-like.xlsx"),
        "xlsx": make_xlsx(tmp_path / "looks-like.docx"),
        "pdf": make_blank_pdf(tmp_path / "looks-like.png"),
    }
    (tmp_path / "looks-like.jpg").write_bytes(png_bytes())
    files["png"] = tmp_path / "looks-like.jpg"
    (tmp_path / "looks-like.mp4").write_bytes(JPEG)
    files["jpeg"] = tmp_path / "looks-like.mp4"
    (tmp_path / "no-extension").write_bytes(mp4_bytes())
    files["mp4"] = tmp_path / "no-extension"

    for kind, path in files.items():
        assert sniff(path) == FILE_KINDS[kind], kind


def test_file_kinds_describe_themselves() -> None:
    assert {k.kind for k in FILE_KINDS.values()} == {
        "pdf", "docx", "pptx", "xlsx", "png", "jpeg", "mp4",
    }  # fmt: skip
    assert {k.kind for k in FILE_KINDS.values() if k.previewable} == {"pdf", "png", "jpeg"}
    assert FILE_KINDS["pdf"].mime == "application/pdf"
    assert FILE_KINDS["docx"].extension == ".docx"
    assert FILE_KINDS["mp4"].mime == "video/mp4"
    with pytest.raises(AttributeError):
        FILE_KINDS["pdf"].previewable = False  # type: ignore[misc]


@pytest.mark.parametrize("major", [b"mp42", b"iso2", b"M4V ", b"dash"])
def test_mp4_brands_accepted(tmp_path: Path, major: bytes) -> None:
    path = tmp_path / "clip.bin"
    path.write_bytes(mp4_bytes(major, (major,)))
    assert sniff(path).kind == "mp4"


@pytest.mark.parametrize(
    "major, compatible",
    [
        (b"qt  ", (b"qt  ",)),  # QuickTime .mov
        (b"M4A ", (b"M4A ", b"mp42", b"isom")),  # audio
        (b"heic", (b"mif1", b"heic")),  # still image
        (b"zzzz", (b"zzzz",)),  # unknown
    ],
)
def test_other_iso_media_refused(tmp_path: Path, major: bytes, compatible: tuple) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4_bytes(major, compatible))
    assert refused(path) == ACCEPTED


# --- sniff: what is refused ----------------------------------------------------------------------


def test_empty_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    assert refused(path) == "The file is empty."


@pytest.mark.parametrize(
    "name, data",
    [
        ("page.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
        ("page.pdf", b"\xef\xbb\xbf<html><body onload=alert(1)>"),
        (
            "logo.png",
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" '
            b'onload="alert(1)"><script>alert(2)</script></svg>',
        ),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><rect/></svg>'),
        ("run.pdf", b"#!/bin/sh\nrm -rf /\n"),
        ("setup.docx", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff"),
        ("tool.xlsx", b"\x7fELF\x02\x01\x01\x00" + bytes(8)),
        ("notes.pdf", b"just some text, %PDF- later on\n"),
        ("image.jpg", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
    ],
)
def test_html_svg_scripts_and_executables_refused(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    assert refused(path) == ACCEPTED


def test_legacy_office_and_encrypted_office_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.doc"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    message = refused(path)
    assert ".docx" in message and "password" in message


def test_plain_zip_refused(tmp_path: Path) -> None:
    path = tmp_path / "archive.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.txt", "hello")
        zf.writestr("word/document.xml", "<w:document/>")
    assert refused(path) == ACCEPTED


def test_macro_enabled_content_type_refused(tmp_path: Path, docx_file: Path) -> None:
    types = content_types(docx_file).replace(
        b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
        b"application/vnd.ms-word.document.macroEnabled.main+xml",
    )
    docm = rewrite_zip(docx_file, tmp_path / "innocent.docx", {"[Content_Types].xml": types})
    assert refused(docm) == (
        "Macro-enabled Office files are not accepted: save it as .docx/.pptx/.xlsx without macros."
    )


def test_vba_project_part_refused_even_with_plain_content_types(
    tmp_path: Path, xlsx_file: Path
) -> None:
    xlsm = rewrite_zip(xlsx_file, tmp_path / "x.xlsx", add={"xl/vbaProject.bin": b"\x00" * 64})
    assert "Macro-enabled" in refused(xlsm)


def test_excel4_macro_sheet_refused(tmp_path: Path, xlsx_file: Path) -> None:
    types = content_types(xlsx_file).replace(
        b"</Types>",
        b'<Override PartName="/xl/macrosheets/sheet1.xml" '
        b'ContentType="application/vnd.ms-excel.macrosheet+xml"/></Types>',
    )
    path = rewrite_zip(
        xlsx_file,
        tmp_path / "xlm.xlsx",
        {"[Content_Types].xml": types},
        {"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"},
    )
    assert "Macro-enabled" in refused(path)


def test_activex_refused(tmp_path: Path, docx_file: Path) -> None:
    path = rewrite_zip(docx_file, tmp_path / "ax.docx", add={"word/activeX/activeX1.xml": b"<a/>"})
    assert "ActiveX" in refused(path)


def test_other_ooxml_documents_refused(tmp_path: Path, docx_file: Path) -> None:
    types = content_types(docx_file).replace(b"document.main+xml", b"template.main+xml")
    dotx = rewrite_zip(docx_file, tmp_path / "t.docx", {"[Content_Types].xml": types})
    assert refused(dotx) == ACCEPTED


def test_zip_bomb_refused(tmp_path: Path) -> None:
    path = tmp_path / "bomb.docx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
        zf.writestr("word/document.xml", bytes(50 * 1024 * 1024))  # 50 MB of zeros, ~50 kB zipped
    assert path.stat().st_size < 1024 * 1024
    assert "zip bomb" in refused(path)


def test_too_many_entries_refused(tmp_path: Path) -> None:
    path = tmp_path / "many.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for number in range(3_000):
            zf.writestr(f"x/{number}", b"")
    assert "more than 2,000 parts" in refused(path)


def tiny_zip() -> tuple[bytes, int]:
    """A one-entry archive and where its end-of-central-directory record starts."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("a", b"a")
    data = buffer.getvalue()
    return data, data.rfind(b"PK\x05\x06")


def test_forged_entry_count_refused_before_unpacking(tmp_path: Path) -> None:
    # The end record is read first, so a huge directory never becomes objects in memory.
    data, end = tiny_zip()
    forged = data[:end] + data[end : end + 10] + struct.pack("<HL", 60_000, 60_000 * 46)
    path = tmp_path / "forged.docx"
    path.write_bytes(forged + data[end + 16 :])
    assert "more than 2,000 parts" in refused(path)


def test_forged_zip64_entry_count_refused(tmp_path: Path) -> None:
    data, end = tiny_zip()
    cd_size, cd_offset = struct.unpack("<LL", data[end + 12 : end + 20])
    zip64_at = end
    record = struct.pack(
        "<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 100_000, 100_000, cd_size, cd_offset
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, zip64_at, 1)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, cd_size, cd_offset, 0)
    path = tmp_path / "forged64.xlsx"
    path.write_bytes(data[:end] + record + locator + eocd)
    assert "more than 2,000 parts" in refused(path)


def test_total_uncompressed_size_capped(
    tmp_path: Path, docx_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Building 200 MB would be slow: lower the cap instead; the arithmetic is the same.
    monkeypatch.setattr(file_types, "MAX_ZIP_UNCOMPRESSED", 100_000)
    assert "would unpack to more than" in refused(docx_file)


def billion_laughs(root: str) -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{n} "{f"&lol{n - 1};" * 10}">' for n in range(1, 10)
    ]
    return f'<?xml version="1.0"?>\n<!DOCTYPE {root} [\n{"".join(entities)}\n]>\n'.encode()


def test_entity_bomb_in_content_types_refused(tmp_path: Path, docx_file: Path) -> None:
    body = content_types(docx_file).split(b"?>", 1)[1]
    laughs = billion_laughs("Types") + body.replace(b'Extension="xml"', b'Extension="&lol9;"')
    path = rewrite_zip(docx_file, tmp_path / "laughs.docx", {"[Content_Types].xml": laughs})
    assert "damaged" in refused(path)


def test_external_entity_in_content_types_refused(tmp_path: Path, docx_file: Path) -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE Types [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        + content_types(docx_file)
        .split(b"?>", 1)[1]
        .replace(b'Extension="xml"', b'Extension="&x;"')
    )
    path = rewrite_zip(docx_file, tmp_path / "xxe.docx", {"[Content_Types].xml": xxe})
    assert "damaged" in refused(path)


@pytest.mark.parametrize(
    "types",
    [b"<Types", b"<not-types/>", b"\xff\xfe\x00garbage"],
)
def test_malformed_content_types_refused(tmp_path: Path, docx_file: Path, types: bytes) -> None:
    path = rewrite_zip(docx_file, tmp_path / "bad.docx", {"[Content_Types].xml": types})
    assert "damaged" in refused(path)


def test_missing_main_part_refused(tmp_path: Path, docx_file: Path) -> None:
    path = tmp_path / "hollow.docx"
    with zipfile.ZipFile(docx_file) as src, zipfile.ZipFile(path, "w") as dst:
        for info in src.infolist():
            if info.filename != "word/document.xml":
                dst.writestr(info.filename, src.read(info))
    assert "damaged" in refused(path)


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_duplicate_part_names_refused(tmp_path: Path, docx_file: Path) -> None:
    path = rewrite_zip(docx_file, tmp_path / "twice.docx", add={"word/document.xml": b"<x/>"})
    assert "damaged" in refused(path)


def test_truncated_zip_refused(tmp_path: Path, docx_file: Path) -> None:
    path = tmp_path / "cut.docx"
    path.write_bytes(docx_file.read_bytes()[:2_000])
    assert "damaged" in refused(path)


# --- extract_text ---------------------------------------------------------------------------------


def test_pdf_text_extracted(tmp_path: Path) -> None:
    path = make_text_pdf(tmp_path / "review.pdf")
    kind = sniff(path)
    assert "pipeline" in extract_text(path, kind)


def test_blank_pdf_gives_empty_text(tmp_path: Path) -> None:
    path = make_blank_pdf(tmp_path / "blank.pdf")
    assert extract_text(path, sniff(path)) == ""


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7\nthis is not a pdf at all", b"%PDF-", b"%PDF-1.4\n1 0 obj << /Type /Catalog"],
)
def test_corrupt_pdf_is_refused_and_gives_no_text(tmp_path: Path, data: bytes) -> None:
    """What cannot be read cannot be checked for script either."""
    path = tmp_path / "broken.pdf"
    path.write_bytes(data)
    assert refused(path) == file_types.PDF_DAMAGED_MESSAGE
    assert extract_text(path, FILE_KINDS["pdf"]) is None


def test_password_protected_pdf_is_refused_and_gives_no_text(tmp_path: Path) -> None:
    writer = PdfWriter(clone_from=make_text_pdf(tmp_path / "plain.pdf"))
    writer.encrypt(user_password="s3cret-pass", owner_password="owner-pass", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as fh:
        writer.write(fh)
    assert refused(path) == file_types.PDF_ENCRYPTED_MESSAGE
    assert extract_text(path, FILE_KINDS["pdf"]) is None


def test_docx_text_extracted(docx_file: Path) -> None:
    text = extract_text(docx_file, sniff(docx_file))
    assert "Battlecard for Acme" in text
    assert "Dear {{company_name}}, thanks" in text  # runs joined back together
    assert "Renewal date" in text  # table cells
    assert "Prepared for" in text and "Confidential" in text  # header and footer


def test_pptx_text_extracted_in_slide_order(tmp_path: Path) -> None:
    path = make_pptx(tmp_path / "deck.pptx")
    text = extract_text(path, sniff(path))
    assert "Why we win" in text and "Talk track for pricing objections" in text
    assert text.index("Why we win") < text.index("Pricing objections")


def test_xlsx_text_extracted(xlsx_file: Path) -> None:
    text = extract_text(xlsx_file, sniff(xlsx_file))
    assert "Annual saving" in text and "Churn reduction" in text
    assert "250" in text
    assert "B1*120" not in text  # formulas are not content


def test_media_have_empty_text(tmp_path: Path) -> None:
    path = tmp_path / "pic"
    path.write_bytes(png_bytes())
    assert extract_text(path, FILE_KINDS["png"]) == ""
    assert extract_text(path, FILE_KINDS["mp4"]) == ""


def test_text_capped_at_limit(tmp_path: Path) -> None:
    document = docx.Document()
    for _ in range(3):
        document.add_paragraph("pipeline " * 10_000)  # 90,000 characters each
    path = tmp_path / "long.docx"
    document.save(path)
    text = extract_text(path, sniff(path))
    assert len(text) == file_types.MAX_TEXT_CHARS
    assert text.startswith("pipeline pipeline")


def test_extract_text_never_raises(tmp_path: Path, docx_file: Path, xlsx_file: Path) -> None:
    cut = tmp_path / "cut.docx"
    cut.write_bytes(docx_file.read_bytes()[:3_000])
    assert extract_text(cut, FILE_KINDS["docx"]) is None
    assert extract_text(tmp_path / "missing.pdf", FILE_KINDS["pdf"]) is None
    # A kind that does not match the content gives None, not the wrong parser's guess.
    assert extract_text(xlsx_file, FILE_KINDS["docx"]) is None
    assert (
        extract_text(xlsx_file, FileKind("exe", "application/x-msdownload", ".exe", False)) is None
    )


def test_extract_text_refuses_entity_bombs_inside_parts(tmp_path: Path, docx_file: Path) -> None:
    with zipfile.ZipFile(docx_file) as zf:
        body = zf.read("word/document.xml")
    bomb = billion_laughs("w:document") + body.split(b"?>", 1)[1].replace(b"Battlecard", b"&lol9;")
    path = rewrite_zip(docx_file, tmp_path / "b.docx", {"word/document.xml": bomb})
    assert extract_text(path, FILE_KINDS["docx"]) is None


# --- template_fields ------------------------------------------------------------------------------


def test_docx_template_fields_in_first_seen_order(docx_file: Path) -> None:
    assert template_fields(docx_file, sniff(docx_file)) == [
        "company_name",
        "contact_first_name",
        "renewal_date",
        "champion_name",
    ]


def test_xlsx_template_fields_are_defined_names(xlsx_file: Path) -> None:
    assert template_fields(xlsx_file, sniff(xlsx_file)) == ["customer_name", "seat_count"]


def test_template_fields_empty_for_other_kinds(tmp_path: Path) -> None:
    pdf = make_text_pdf(tmp_path / "a.pdf", "{{company_name}}")
    assert template_fields(pdf, sniff(pdf)) == []
    deck = make_pptx(tmp_path / "d.pptx")
    assert template_fields(deck, sniff(deck)) == []
    broken = tmp_path / "broken.docx"
    broken.write_bytes(b"PK\x03\x04 not really")
    assert template_fields(broken, FILE_KINDS["docx"]) == []


# --- the common passwords list ------------------------------------------------------------------


def test_common_passwords_list_shipped() -> None:
    path = Path(file_types.__file__).parent / "data" / "common-passwords.txt"
    lines = path.read_text(encoding="ascii").splitlines()
    assert len(lines) >= 1_000
    assert len(set(lines)) == len(lines)
    assert all(line == line.strip().lower() and line for line in lines)
    assert sum(len(line) >= 8 for line in lines) >= 600
    for common in ("123456", "password", "qwerty", "iloveyou", "letmein", "football",
                   "welcome1", "passw0rd", "password1!", "qwertyuiop", "1qaz2wsx"):  # fmt: skip
        assert common in lines
