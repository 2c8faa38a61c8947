"""The demo library's two champion templates: a business case (DOCX) and an ROI calculator (XLSX).

A champion uses them after the rep has left the room, to get the project funded. They are
written by code rather than kept as hand-edited binaries so that a change to them can be
reviewed like any other change, and so that the committed copies in ``files/`` can be
regenerated at will:

    .venv/bin/python -m content_library.demo.make_files

Output is deterministic: document properties and zip entry dates are fixed, so regenerating
without a change in this module (or in python-docx / openpyxl) gives the same bytes.

The business case marks what the champion fills in as ``{{placeholder}}``. Each placeholder is
a run of its own, formatted like the text around it, so a fill-in step can replace
``run.text`` without splitting runs and without leaving highlighting behind. The ROI
calculator gives every input cell, and only those, a workbook-level defined name
(``company_name``, ``licence_cost``…) and computes everything else with live formulas that
refer to those names.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.text.paragraph import Paragraph
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.workbook.defined_name import DefinedName
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

BUSINESS_CASE_FILE = "business-case-template.docx"
ROI_CALCULATOR_FILE = "roi-calculator.xlsx"

# One fixed instant for every date the files carry (properties and zip entries).
FIXED_TIMESTAMP = datetime(2026, 1, 5, 9, 0, 0)
AUTHOR = "Revenue operations business case template"

# The markup understood inside template text: **bold** and {{placeholder}}.
_TOKEN = re.compile(r"(\*\*[^*]+\*\*|\{\{[a-z_]+\}\})")


def write_template_files(folder: Path) -> None:
    """(Re)create the business case DOCX and the ROI calculator XLSX inside ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / BUSINESS_CASE_FILE, _normalised_zip(_business_case_bytes()))
    _write_atomically(folder / ROI_CALCULATOR_FILE, _normalised_zip(_roi_calculator_bytes()))


# ---------------------------------------------------------------------------------------------
# Files on disk


def _normalised_zip(data: bytes) -> bytes:
    """Rewrite an Office zip with fixed entry dates so identical content gives identical bytes."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, source.read(entry.filename))
    return out.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.chmod(temporary, 0o644)  # mkstemp creates 0600; these files are meant to be shared
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------------------------------------
# The business case (DOCX)
#
# The document is data: a list of blocks, each ("kind", content). Kinds: title, subtitle,
# note (guidance to delete before presenting), h1, p, bullets, table (header row + rows).

_GUIDANCE = [
    "**How to use this template.** Replace every field in double curly braces with your own "
    "words and figures: "
    "the ROI calculator that comes with this document computes the financial ones. Keep the "
    "case about your company's problems and results, not about a vendor; decision makers "
    "fund outcomes. Delete this box before you share the document.",
]

_BUSINESS_CASE: list[tuple[str, object]] = [
    ("title", "Business case: {{project_name}}"),
    ("subtitle", "{{company_name}} · prepared by {{champion_name}}, {{champion_title}}"),
    ("subtitle", "For the decision of {{sponsor_name}}, {{sponsor_title}} · {{document_date}}"),
    ("note", _GUIDANCE),
    ("h1", "1. Executive summary"),
    (
        "p",
        "{{company_name}} earns {{annual_revenue}} a year. The way we forecast, price and "
        "renew that revenue relies on spreadsheets, manual roll-ups and approvals by e-mail. "
        "We estimate that this costs us {{current_cost}} a year in lost time, margin and "
        "revenue.",
    ),
    (
        "p",
        "This document proposes {{project_name}}, starting on {{project_start}}. Once fully "
        "adopted it is expected to deliver {{expected_savings}} a year, for a three-year "
        "investment of {{total_investment}}. On conservative assumptions it pays back in "
        "{{payback_months}} months and returns {{roi_percent}} over three years.",
    ),
    (
        "p",
        "**Decision requested:** approve a three-year budget of {{total_investment}} and name "
        "{{champion_name}} as project owner.",
    ),
    ("h1", "2. Current situation"),
    (
        "p",
        "Today {{user_count}} people in sales, finance and customer success take part in "
        "forecasting, quoting and renewals. Their work depends on:",
    ),
    (
        "bullets",
        [
            "a weekly forecast assembled from spreadsheets and CRM exports, which has missed "
            "the quarter by {{forecast_variance}} on average over the last four quarters;",
            "quotes built by hand and approved by e-mail, which take {{quote_turnaround}} on "
            "average to reach the customer;",
            "renewal risk that surfaces late, often within 30 days of the renewal date, when "
            "little can still be done.",
        ],
    ),
    ("p", "**Why now:** {{why_now}}"),
    ("h1", "3. What the current situation costs us"),
    (
        "p",
        "The figures below come from our own data. The ROI calculator that accompanies this "
        "document shows every assumption and can be changed in front of the committee.",
    ),
    (
        "table",
        [
            ["Cost", "How we measured it", "Annual cost"],
            [
                "Manual forecasting, quoting and renewal preparation",
                "{{hours_per_week}} hours a week × {{user_count}} people × loaded hourly cost",
                "{{cost_manual_work}}",
            ],
            [
                "Discounts and pricing errors outside policy",
                "Invoiced price against list price on last quarter's deals",
                "{{cost_leakage}}",
            ],
            [
                "Revenue lost to preventable churn and slipped deals",
                "Finance's churn and slippage report, last twelve months",
                "{{cost_lost_revenue}}",
            ],
            ["**Total**", "", "{{current_cost}}"],
        ],
    ),
    ("h1", "4. Expected gains"),
    (
        "p",
        "We assume partial adoption in the first year ({{year_one_realisation}} of the full "
        "benefit) and the full benefit from the third year.",
    ),
    (
        "table",
        [
            ["Gain", "Assumption", "Annual value at full adoption"],
            [
                "Time given back to selling and to customers",
                "{{time_saved_pct}} of the manual time saved",
                "{{gain_time}}",
            ],
            [
                "Margin protected by guided pricing and approvals",
                "{{leakage_recovered_pct}} of the leakage recovered",
                "{{gain_margin}}",
            ],
            [
                "Revenue protected by earlier warnings on deals and renewals",
                "{{revenue_uplift_pct}} of revenue retained",
                "{{gain_revenue}}",
            ],
            ["**Total expected gain**", "", "{{expected_savings}}"],
        ],
    ),
    ("p", "Gains we have not put a figure on:"),
    (
        "bullets",
        [
            "a forecast that the board and finance can plan hiring and inventory against;",
            "faster answers to customers: quotes in hours rather than days;",
            "managers who spend their week coaching deals rather than chasing updates.",
        ],
    ),
    ("h1", "5. Investment"),
    (
        "table",
        [
            ["Item", "One-off", "Per year"],
            ["Subscription", "–", "{{licence_cost}}"],
            ["Implementation services", "{{implementation_cost}}", "–"],
            ["Internal project team", "{{internal_cost}}", "–"],
            ["**Total over three years**", "", "{{total_investment}}"],
        ],
    ),
    ("h1", "6. Payback and return"),
    (
        "p",
        "On these assumptions the project pays back in {{payback_months}} months. Over three "
        "years it delivers a net benefit of {{net_benefit}}, a return of {{roi_percent}} on "
        "the money invested.",
    ),
    (
        "p",
        "We have also tested the case with every gain halved; the results are in the ROI "
        "calculator, where each assumption is visible and can be challenged.",
    ),
    ("h1", "7. Options considered"),
    (
        "table",
        [
            ["Option", "What it means", "Assessment"],
            [
                "Do nothing",
                "Keep spreadsheets, CRM exports and e-mail approvals",
                "Costs continue at {{current_cost}} a year and grow with the team.",
            ],
            [
                "Build on our existing tools",
                "Extend CRM reports and business intelligence dashboards",
                "Lower subscription cost, but needs {{build_effort}} of internal development "
                "and leaves quoting and renewals manual.",
            ],
            [
                "**Buy a packaged solution (recommended)**",
                "Subscribe to a proven platform and configure it to our process",
                "Fastest time to value; supplier chosen through an evaluation against our own "
                "criteria.",
            ],
        ],
    ),
    ("h1", "8. Risks and how we reduce them"),
    (
        "table",
        [
            ["Risk", "Likelihood", "How we reduce it"],
            [
                "People do not adopt the new process",
                "Medium",
                "Managers run the weekly forecast meeting from the new tool from week one; "
                "adoption is measured every month.",
            ],
            [
                "CRM data is not good enough for a reliable forecast",
                "Medium",
                "Data clean-up in the first four weeks; quality rules enforced when data is "
                "entered.",
            ],
            [
                "Integration with ERP and billing takes longer than planned",
                "Low",
                "Standard connectors, tested during the pilot before go-live.",
            ],
            [
                "Benefits are smaller than expected",
                "Low",
                "Conservative assumptions; finance reviews the benefits six months after go-live.",
            ],
        ],
    ),
    ("h1", "9. Plan"),
    (
        "bullets",
        [
            "{{project_start}}: kick-off, data clean-up and process design;",
            "{{pilot_date}}: pilot with one team, success criteria agreed in advance;",
            "{{go_live_date}}: go-live for all users;",
            "six months after go-live: benefits review with finance.",
        ],
    ),
    ("h1", "10. Recommendation"),
    (
        "p",
        "We recommend that {{sponsor_name}} approves {{project_name}} with a three-year "
        "budget of {{total_investment}}, starting on {{project_start}}, with {{champion_name}} "
        "as project owner and a benefits review six months after go-live.",
    ),
    (
        "table",
        [
            ["Prepared by", "Approved by"],
            ["{{champion_name}}, {{champion_title}}", "{{sponsor_name}}, {{sponsor_title}}"],
            ["Date:", "Date:"],
        ],
    ),
]


def _business_case_bytes() -> bytes:
    document = Document()
    _set_up_page_and_styles(document)
    for kind, content in _BUSINESS_CASE:
        _add_block(document, kind, content)
    _add_footer(document)
    _set_core_properties(document)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _set_up_page_and_styles(document) -> None:
    for section in document.sections:
        section.page_height, section.page_width = Cm(29.7), Cm(21.0)  # A4
        section.top_margin = section.bottom_margin = Cm(2.2)
        section.left_margin = section.right_margin = Cm(2.3)
    normal = document.styles["Normal"]
    normal.font.name = "Calibri"
    normal.font.size = Pt(11)
    normal.paragraph_format.space_after = Pt(6)
    document.styles["Heading 1"].paragraph_format.space_before = Pt(18)


def _add_block(document, kind: str, content: object) -> None:
    if kind == "title":
        _write(document.add_paragraph(style="Title"), str(content))
    elif kind == "subtitle":
        paragraph = document.add_paragraph(style="Subtitle")
        _write(paragraph, str(content))
    elif kind == "note":
        _add_note(document, list(content))  # type: ignore[arg-type]
    elif kind == "h1":
        _write(document.add_heading(level=1), str(content))
    elif kind == "p":
        _write(document.add_paragraph(), str(content))
    elif kind == "bullets":
        for line in content:  # type: ignore[attr-defined]
            _write(document.add_paragraph(style="List Bullet"), line)
    elif kind == "table":
        _add_table(document, content)  # type: ignore[arg-type]
    else:
        raise ValueError(f"unknown block kind {kind!r}")


def _write(paragraph: Paragraph, text: str, *, italic: bool = False) -> None:
    """Add ``text`` as runs: **bold** parts and each {{placeholder}} get a run of their own."""
    for part in _TOKEN.split(text):
        if not part:
            continue
        bold = part.startswith("**") and part.endswith("**")
        run = paragraph.add_run(part[2:-2] if bold else part)
        run.bold = bold or None
        run.italic = italic or None


def _add_note(document, lines: Iterable[str]) -> None:
    """Guidance for the champion, in a shaded box that is easy to spot and delete."""
    table = document.add_table(rows=1, cols=1)
    table.style = "Table Grid"
    cell = table.cell(0, 0)
    _shade(cell, "FFF4CE")
    first = True
    for line in lines:
        paragraph = cell.paragraphs[0] if first else cell.add_paragraph()
        first = False
        _write(paragraph, line, italic=True)
        for run in paragraph.runs:
            run.font.color.rgb = RGBColor(0x4A, 0x4A, 0x4A)
    document.add_paragraph()


def _add_table(document, rows: Sequence[Sequence[str]]) -> None:
    table = document.add_table(rows=len(rows), cols=len(rows[0]))
    table.style = "Light Grid Accent 1"
    for row_index, row in enumerate(rows):
        for column_index, text in enumerate(row):
            paragraph = table.cell(row_index, column_index).paragraphs[0]
            _write(paragraph, text)
    document.add_paragraph()


def _shade(cell, hex_colour: str) -> None:
    properties = cell._tc.get_or_add_tcPr()
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), hex_colour)
    properties.append(shading)


def _add_footer(document) -> None:
    paragraph = document.sections[0].footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _write(paragraph, "{{company_name}} · Business case · Confidential · Page ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)
    for run in paragraph.runs:
        run.font.size = Pt(9)


def _set_core_properties(document) -> None:
    properties = document.core_properties
    properties.title = "Business case template"
    properties.subject = "Business case for a revenue operations project"
    properties.author = AUTHOR
    properties.last_modified_by = AUTHOR
    properties.keywords = "business case, ROI, template"
    properties.comments = "Replace every field in double curly braces before sharing."
    properties.revision = 1
    properties.created = FIXED_TIMESTAMP
    properties.modified = FIXED_TIMESTAMP
    properties.last_printed = FIXED_TIMESTAMP


# ---------------------------------------------------------------------------------------------
# The ROI calculator (XLSX)

MONEY = "#,##0"
PERCENT = "0.0%"
INPUT_FILL = PatternFill("solid", fgColor="FFF4CE")
HEADER_FILL = PatternFill("solid", fgColor="1F4E79")
TOTAL_FILL = PatternFill("solid", fgColor="DDEBF7")
THIN = Side(style="thin", color="BFBFBF")

# (defined name, label, example value, number format, unit, where to find it); a str row is a
# group heading. Example values are deliberately conservative: a case that survives the
# finance team's first question is worth more than a big number.
INPUTS: list[tuple[str, str, object, str, str, str] | str] = [
    "Your company",
    ("company_name", "Company name", "{{company_name}}", "@", "", "As on the business case"),
    (
        "annual_revenue",
        "Annual revenue",
        250_000_000,
        MONEY,
        "per year",
        "Last fiscal year, from the annual report",
    ),
    (
        "user_count",
        "People who will use the solution",
        120,
        "#,##0",
        "people",
        "Sellers, managers, deal desk, finance and customer success",
    ),
    "Where time and money go today",
    (
        "hours_lost_per_week",
        "Hours each person spends a week on manual forecasting, quoting or renewal preparation",
        3,
        "0.0",
        "hours a week",
        "Ask five people to log a typical week",
    ),
    (
        "hourly_cost",
        "Loaded cost of one hour of their time",
        85,
        "#,##0.00",
        "per hour",
        "Salary, benefits and overhead divided by 1,800 hours",
    ),
    ("working_weeks", "Working weeks a year", 46, "0", "weeks", "After holidays and training"),
    (
        "discount_leakage_pct",
        "Revenue lost to discounts outside policy and pricing errors",
        0.005,
        "0.00%",
        "of revenue",
        "Invoiced against list price on last quarter's deals",
    ),
    "Expected improvement",
    (
        "time_saved_pct",
        "Share of that manual time saved",
        0.30,
        PERCENT,
        "",
        "Customers report 40-70%; stay below that",
    ),
    (
        "leakage_recovered_pct",
        "Share of the leakage recovered",
        0.25,
        PERCENT,
        "",
        "Approval rules and guided pricing",
    ),
    (
        "revenue_uplift_pct",
        "Revenue kept that would have been lost (churn, slipped deals)",
        0.001,
        "0.00%",
        "of revenue",
        "Be conservative: 0.1% to 0.5%",
    ),
    ("gross_margin_pct", "Gross margin", 0.55, PERCENT, "", "From the finance team"),
    (
        "realisation_year1",
        "Share of the full benefit reached in year 1",
        0.40,
        PERCENT,
        "",
        "Adoption ramps up after go-live",
    ),
    ("realisation_year2", "Share of the full benefit reached in year 2", 0.80, PERCENT, "", ""),
    ("realisation_year3", "Share of the full benefit reached in year 3", 1.0, PERCENT, "", ""),
    "Investment",
    (
        "licence_cost",
        "Subscription (licences and platform fee)",
        160_000,
        MONEY,
        "per year",
        "From the supplier's proposal",
    ),
    (
        "implementation_cost",
        "Implementation services",
        75_000,
        MONEY,
        "one-off",
        "From the supplier's statement of work",
    ),
    (
        "internal_cost",
        "Internal project team time",
        55_000,
        MONEY,
        "one-off",
        "Project lead and administrator time during the rollout",
    ),
]

_PERCENT_INPUTS = [
    row[0] for row in INPUTS if not isinstance(row, str) and row[3] in (PERCENT, "0.00%")
]

_YEARS = ("B", "C", "D")


def _roi_calculator_bytes() -> bytes:
    workbook = Workbook()
    inputs = workbook.active
    inputs.title = "Inputs"
    # Only inputs get a defined name: the portal offers a workbook's defined names as the
    # fields a champion fills in, and a named result would invite overwriting a formula.
    for name, cell in _fill_inputs(inputs).items():
        workbook.defined_names[name] = DefinedName(name, attr_text=cell)
    _fill_calculation(workbook.create_sheet("Calculation"))
    _set_workbook_properties(workbook)
    buffer = io.BytesIO()
    ExcelWriter(workbook, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED)).save()
    return buffer.getvalue()


def _fill_inputs(sheet: Worksheet) -> dict[str, str]:
    """Write the labelled input cells; return {defined name: absolute reference}."""
    sheet["A1"] = "ROI calculator: inputs"
    sheet["A1"].font = Font(size=16, bold=True, color="1F4E79")
    sheet["A2"] = (
        "Fill in the yellow cells with your own figures; amounts are in your currency. "
        "The Calculation sheet updates itself."
    )
    sheet["A2"].font = Font(italic=True, color="595959")
    _header_row(sheet, 4, ["Input", "Value", "Unit", "Where to find it"])
    cells: dict[str, str] = {}
    row = 5
    for entry in INPUTS:
        if isinstance(entry, str):
            row += 1 if row > 5 else 0
            sheet.cell(row=row, column=1, value=entry).font = Font(bold=True, color="1F4E79")
            row += 1
            continue
        name, label, value, number_format, unit, hint = entry
        sheet.cell(row=row, column=1, value=label).alignment = Alignment(wrap_text=True)
        value_cell = sheet.cell(row=row, column=2, value=value)
        value_cell.number_format = number_format
        value_cell.fill = INPUT_FILL
        value_cell.border = Border(top=THIN, bottom=THIN, left=THIN, right=THIN)
        sheet.cell(row=row, column=3, value=unit)
        sheet.cell(row=row, column=4, value=hint).font = Font(color="595959")
        cells[name] = f"Inputs!$B${row}"
        row += 1
    _add_percent_validation(sheet, [cells[name] for name in _PERCENT_INPUTS])
    _set_widths(sheet, {"A": 62, "B": 18, "C": 14, "D": 56})
    sheet.freeze_panes = "A5"
    return cells


def _add_percent_validation(sheet: Worksheet, references: list[str]) -> None:
    validation = DataValidation(
        type="decimal",
        operator="between",
        formula1="0",
        formula2="1",
        showErrorMessage=True,
        errorTitle="Percentage expected",
        error="Enter a percentage between 0% and 100%.",
    )
    for reference in references:
        validation.add(reference.split("!")[1].replace("$", ""))
    sheet.add_data_validation(validation)


def _fill_calculation(sheet: Worksheet) -> None:
    """Write the three-year calculation, every figure a formula over the named inputs."""
    sheet["A1"] = '="Three-year ROI for "&company_name'
    sheet["A1"].font = Font(size=16, bold=True, color="1F4E79")
    sheet["A2"] = "Every figure is calculated from the Inputs sheet: change the inputs, not here."
    sheet["A2"].font = Font(italic=True, color="595959")
    _header_row(sheet, 4, ["Line", "Year 1", "Year 2", "Year 3", "Total", "How it is calculated"])
    _yearly_rows(sheet)
    _summary_rows(sheet)


# Rows 5-17 of the Calculation sheet. Formulas use "{c}" for the year's column.
_YEARLY = [
    (
        5,
        "Share of the full benefit reached",
        ["realisation_year1", "realisation_year2", "realisation_year3"],
        False,
        PERCENT,
        "Adoption ramp from the Inputs sheet",
    ),
    (
        6,
        "Time given back to selling",
        "user_count*hours_lost_per_week*working_weeks*time_saved_pct*hourly_cost*{c}$5",
        True,
        MONEY,
        "People × hours a week × weeks × share saved × hourly cost",
    ),
    (
        7,
        "Margin recovered from discount leakage",
        "annual_revenue*discount_leakage_pct*leakage_recovered_pct*{c}$5",
        True,
        MONEY,
        "Revenue × leakage × share recovered",
    ),
    (
        8,
        "Gross profit on revenue kept",
        "annual_revenue*revenue_uplift_pct*gross_margin_pct*{c}$5",
        True,
        MONEY,
        "Revenue × revenue kept × gross margin",
    ),
    (9, "Benefit", "SUM({c}6:{c}8)", True, MONEY, "Sum of the three benefits"),
    (11, "Subscription", "licence_cost", True, MONEY, "Every year"),
    (12, "Implementation services", ["implementation_cost", "0", "0"], True, MONEY, "Year 1"),
    (13, "Internal project team", ["internal_cost", "0", "0"], True, MONEY, "Year 1"),
    (14, "Cost", "SUM({c}11:{c}13)", True, MONEY, "Sum of the costs"),
    (16, "Net benefit", "{c}9-{c}14", True, MONEY, "Benefit minus cost"),
    (
        17,
        "Cumulative net benefit",
        ["B16", "B17+C16", "C17+D16"],
        False,
        MONEY,
        "Running total of the net benefit",
    ),
]

_TOTAL_ROWS = (9, 14, 16)

# Payback: one-off costs are paid at the start; each year's benefit minus subscription arrives
# evenly over its twelve months. The first year whose cumulative net benefit turns positive
# holds the payback month.
_PAYBACK = (
    "=IF(implementation_cost+internal_cost<=0,0,"
    "IF(B17>=0,ROUND(12*(implementation_cost+internal_cost)/(B9-B11),1),"
    "IF(C17>=0,ROUND(12+12*(-B17)/(C9-C11),1),"
    'IF(D17>=0,ROUND(24+12*(-C17)/(D9-D11),1),"Not within 3 years"))))'
)

_SUMMARY = [
    (20, "Total benefit over three years", "=E9", MONEY),
    (21, "Total cost over three years", "=E14", MONEY),
    (22, "Net benefit over three years", "=B20-B21", MONEY),
    (23, "Return on investment", "=IF(B21=0,0,B22/B21)", "0%"),
    (24, "Payback period (months)", _PAYBACK, "0.0"),
]


def _yearly_rows(sheet: Worksheet) -> None:
    for row, label, formula, with_total, number_format, explanation in _YEARLY:
        sheet.cell(row=row, column=1, value=label)
        for index, column in enumerate(_YEARS):
            text = formula[index] if isinstance(formula, list) else formula.format(c=column)
            cell = sheet[f"{column}{row}"]
            cell.value = 0 if text == "0" else f"={text}"
            cell.number_format = number_format
        if with_total:
            sheet[f"E{row}"] = f"=SUM(B{row}:D{row})"
            sheet[f"E{row}"].number_format = number_format
        sheet.cell(row=row, column=6, value=explanation).font = Font(color="595959")
        if row in _TOTAL_ROWS:
            for column in "ABCDE":
                sheet[f"{column}{row}"].font = Font(bold=True)
                sheet[f"{column}{row}"].fill = TOTAL_FILL
    for row, title in ((10, "Costs"), (15, "Result")):
        sheet.cell(row=row, column=1, value=title).font = Font(bold=True, color="1F4E79")


def _summary_rows(sheet: Worksheet) -> None:
    sheet.cell(row=19, column=1, value="Summary").font = Font(bold=True, size=13, color="1F4E79")
    for row, label, formula, number_format in _SUMMARY:
        sheet.cell(row=row, column=1, value=label).font = Font(bold=True)
        cell = sheet.cell(row=row, column=2, value=formula)
        cell.number_format = number_format
        cell.font = Font(bold=True)
        cell.fill = TOTAL_FILL
    _set_widths(sheet, {"A": 46, "B": 16, "C": 16, "D": 16, "E": 16, "F": 58})
    sheet.freeze_panes = "B5"


def _header_row(sheet: Worksheet, row: int, titles: list[str]) -> None:
    for column, title in enumerate(titles, start=1):
        cell = sheet.cell(row=row, column=column, value=title)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(vertical="center")


def _set_widths(sheet: Worksheet, widths: dict[str, float]) -> None:
    for column, width in widths.items():
        sheet.column_dimensions[column].width = width
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.fitToWidth = 1
    sheet.sheet_properties.pageSetUpPr.fitToPage = True


def _set_workbook_properties(workbook: Workbook) -> None:
    properties = workbook.properties
    properties.title = "ROI calculator"
    properties.subject = "Three-year return on a revenue operations project"
    properties.creator = AUTHOR
    properties.lastModifiedBy = AUTHOR
    properties.created = FIXED_TIMESTAMP
    properties.modified = FIXED_TIMESTAMP


if __name__ == "__main__":
    target = Path(__file__).resolve().parent / "files"
    write_template_files(target)
    print(f"wrote {target / BUSINESS_CASE_FILE} and {target / ROI_CALCULATOR_FILE}")
