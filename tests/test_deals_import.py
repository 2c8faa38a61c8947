"""`deals import` (INTERFACES section 5) on exports as Salesforce and HubSpot write them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from content_library.errors import Invalid
from content_library.models import CrmStageMapping, Deal, DealStageEntry
from content_library.services import deal_stages
from content_library.services.crm_exports import parse_amount, parse_datetime, salesforce_id
from content_library.services.deals_import import import_deals

# Realistic exports, kept as files:
# - salesforce_api.csv: Workbench / Data Loader: API names, ISO dates, true/false, 18-character ids.
# - salesforce_report.csv: a Lightning report exported as "Details only" CSV: labels, a BOM,
#   US dates, currency signs, 0/1, 15-character ids, a multi-line cell and the footer.
# - hubspot.csv: a HubSpot deals export.
# - opportunity_history.csv: OpportunityHistory, with an amount change that repeats a stage
#   and a row for an opportunity in neither the export nor the portal.
EXPORTS = Path(__file__).parent / "crm_exports"
SALESFORCE_API, SALESFORCE_REPORT, HUBSPOT, HISTORY = (
    (EXPORTS / name).read_text(encoding="utf-8")
    for name in ("salesforce_api.csv", "salesforce_report.csv", "hubspot.csv",
                 "opportunity_history.csv"))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def deals(session) -> dict[str, Deal]:
    session.expire_all()
    return {d.crm_id: d for d in session.scalars(select(Deal))}


def test_salesforce_export_with_api_names(ctx, taxonomy, tmp_path):
    report = import_deals(ctx, write(tmp_path, "deals.csv", SALESFORCE_API), "salesforce")
    assert (report.created, report.updated, report.unchanged) == (5, 0, 0)
    assert report.unmapped == [("Qualification", 1)]
    stored = deals(ctx)
    acme = stored["0065g00000AbCdEAAV"]
    assert (acme.name, acme.account, acme.amount, acme.crm_stage, acme.stage) == (
        "Acme - Forecasting rollout", "0015g00000XyZabAAB", 125000.0, "Negotiating", "negotiating")
    assert (acme.is_closed, acme.outcome, acme.close_date, acme.created_on) == (
        False, None, date(2026, 10, 15), date(2026, 6, 1))
    assert acme.forecast_category == "Commit" and acme.source == "salesforce"
    assert {k: (d.outcome, d.stage) for k, d in stored.items()} == {
        "0065g00000AbCdEAAV": (None, "negotiating"),
        "0065g00000AbCdFAAV": ("won", None),  # "Closed Won" is the closing, not a stage
        "0065g00000AbCdGAAV": ("lost-competition", None),
        "0065g00000AbCdHAAV": ("lost-no-decision", None),
        "0065g00000AbCdJAAV": (None, None),  # unmapped: kept as the CRM wrote it
    }
    assert stored["0065g00000AbCdJAAV"].crm_stage == "Qualification"
    assert stored["0065g00000AbCdJAAV"].amount is None
    assert stored["0065g00000AbCdGAAV"].amount == 300000.5
    assert stored["0065g00000AbCdGAAV"].loss_reason == "Lost to Competitor"


def test_a_report_export_with_labels_is_the_same_deals(ctx, taxonomy, tmp_path):
    first = import_deals(ctx, EXPORTS / "salesforce_report.csv", "salesforce")  # CRLF, as saved
    assert (first.created, first.unmapped) == (5, [("Qualification", 1)])
    labelled = {k: _comparable(d) for k, d in deals(ctx).items()}
    # The API export of the same records changes nothing: 15- and 18-character ids,
    # "$125,000.00" and 125000.00, 10/15/2026 and 2026-10-15, 0/1 and false/true agree.
    again = import_deals(ctx, write(tmp_path, "api.csv", SALESFORCE_API), "salesforce")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert {k: _comparable(d) for k, d in deals(ctx).items()} == labelled
    assert labelled["0065g00000AbCdEAAV"][:3] == ("Acme - Forecasting rollout", 125000.0, "USD")


def _comparable(deal: Deal) -> tuple:
    return (deal.name, deal.amount, deal.currency or "USD", deal.crm_stage, deal.stage,
            deal.created_on, deal.close_date, deal.is_closed, deal.outcome, deal.loss_reason)


def test_hubspot_deals_export(ctx, taxonomy, tmp_path):
    report = import_deals(ctx, write(tmp_path, "hubspot.csv", HUBSPOT), "hubspot")
    assert (report.created, report.unmapped) == (5, [("Appointment scheduled", 1)])
    stored = deals(ctx)
    assert {k: d.outcome for k, d in stored.items()} == {
        "18273645012": None, "18273645013": "won", "18273645014": "lost-competition",
        "18273645015": "lost-no-decision", "18273645016": None}
    globex = stored["18273645013"]
    assert (globex.amount, globex.close_date, globex.created_on, globex.is_closed) == (
        48000.5, date(2026, 9, 30), date(2026, 3, 10), True)
    assert stored["18273645012"].stage == "negotiating"
    hooli = stored["18273645016"]
    assert (hooli.close_date, hooli.amount, hooli.source) == (None, None, "hubspot")


def test_hubspot_date_entered_columns_are_the_stage_history(ctx, taxonomy, tmp_path):
    path = EXPORTS / "hubspot_with_stage_dates.csv"
    report = import_deals(ctx, path, "hubspot")
    assert (report.created, report.stage_entries, report.unmapped) == (2, 5, [])
    globex = deals(ctx)["18273645013"]
    assert [(e.entered_at, e.crm_stage, e.stage) for e in globex.history] == [
        (datetime(2026, 3, 10, 14), "Understanding offerings", "understanding-offerings"),
        (datetime(2026, 8, 1, 10), "Negotiating", "negotiating"),
        (datetime(2026, 9, 30, 17), "Closed won", None),
    ]
    assert import_deals(ctx, path, "hubspot").unchanged == 2
    bad = path.read_text(encoding="utf-8").replace("2026-08-01 10:00", "August")
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "hubspot.csv", bad), "hubspot")
    assert str(failure.value) == (
        'hubspot.csv line 3: Date entered "Negotiating (Sales Pipeline)": expected a date like '
        "2026-03-31 or 3/31/2026, got 'August'")


def test_a_currency_column_takes_codes(ctx, taxonomy, tmp_path):
    text = ("Id,Name,StageName,Amount,CloseDate,CurrencyIsoCode\n"
            "0065g00000AbCdEAAV,Acme,Negotiating,1000,2026-10-15,eur\n"
            "0065g00000AbCdFAAV,Globex,Negotiating,1000,2026-10-15,Euro\n")
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "deals.csv", text), "salesforce")
    assert str(failure.value) == ("deals.csv line 3: CurrencyIsoCode: expected a currency code "
                                  "like USD, got 'Euro'")
    import_deals(ctx, write(tmp_path, "deals.csv", text.rsplit("0065g00000AbCdF", 1)[0]),
                 "salesforce")
    assert deals(ctx)["0065g00000AbCdEAAV"].currency == "EUR"


def test_a_windows_1252_export(ctx, taxonomy, tmp_path):
    path = tmp_path / "legacy.csv"
    path.write_bytes(SALESFORCE_API.replace("Globex renewal", "Globex Société").encode("cp1252"))
    import_deals(ctx, path, "salesforce")
    assert deals(ctx)["0065g00000AbCdFAAV"].name == "Globex Société"


def test_the_same_file_twice_changes_nothing_and_a_newer_export_updates(ctx, taxonomy, tmp_path):
    path = write(tmp_path, "deals.csv", SALESFORCE_API)
    import_deals(ctx, path, "salesforce", history=write(tmp_path, "h.csv", HISTORY))
    before = {k: (d.updated_at, _comparable(d)) for k, d in deals(ctx).items()}
    entries = ctx.scalar(select(func.count()).select_from(DealStageEntry))
    again = import_deals(ctx, path, "salesforce", history=tmp_path / "h.csv")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)
    assert {k: (d.updated_at, _comparable(d)) for k, d in deals(ctx).items()} == before
    assert ctx.scalar(select(func.count()).select_from(DealStageEntry)) == entries

    newer = SALESFORCE_API.replace(
        "Hooli platform,0015g00000XyZafAAB,Qualification,,2026-12-31,false,false",
        "Hooli platform,0015g00000XyZafAAB,Building a business case,90000,2026-12-31,false,false")
    report = import_deals(ctx, write(tmp_path, "deals.csv", newer), "salesforce")
    assert (report.created, report.updated, report.unchanged, report.unmapped) == (0, 1, 4, [])
    hooli = deals(ctx)["0065g00000AbCdJAAV"]
    assert (hooli.amount, hooli.stage) == (90000.0, "building-business-case")


def test_history_keeps_the_changes_of_stage(ctx, taxonomy, tmp_path):
    report = import_deals(ctx, write(tmp_path, "deals.csv", SALESFORCE_API), "salesforce",
                          history=write(tmp_path, "history.csv", HISTORY))
    # Acme's second "Understanding offerings" row is an amount change, not a stage change;
    # the last row names an opportunity in neither the file nor the portal.
    assert (report.stage_entries, report.history_skipped) == (5, 1)
    assert "history rows for unknown deals skipped 1" in report.line()
    acme = deals(ctx)["0065g00000AbCdEAAV"]
    assert [(e.entered_at, e.crm_stage, e.stage) for e in acme.history] == [
        (datetime(2026, 6, 1, 9, 12), "Understanding offerings", "understanding-offerings"),
        (datetime(2026, 7, 1, 10), "Building a business case", "building-business-case"),
        (datetime(2026, 9, 1, 10), "Negotiating", "negotiating"),
    ]
    globex = deals(ctx)["0065g00000AbCdFAAV"]
    assert [(e.crm_stage, e.stage) for e in globex.history] == [
        ("Building a business case", "building-business-case"), ("Closed Won", None)]

    # A newer history export adds a stage change: that deal is updated, the others not.
    newer = HISTORY + "0065g00000AbCdJAAV,Qualification,1,2026-09-01T08:00:00.000+0000\n"
    report = import_deals(ctx, tmp_path / "deals.csv", "salesforce",
                          history=write(tmp_path, "history.csv", newer))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4)


def test_a_manager_mapping_wins_and_remapping_updates_stored_deals(ctx, taxonomy, tmp_path):
    import_deals(ctx, write(tmp_path, "deals.csv", SALESFORCE_API), "salesforce",
                 history=write(tmp_path, "history.csv",
                               "OpportunityId,StageName,CreatedDate\n"
                               "0065g00000AbCdJAAV,Qualification,2026-09-01\n"))
    assert deal_stages.unmapped_stage_names(ctx) == [("Qualification", 1)]
    ctx.add(CrmStageMapping(crm_stage="qualification", stage="understanding-offerings"))
    assert deal_stages.remap(ctx) == 2  # the deal and its one stage entry
    ctx.commit()
    hooli = deals(ctx)["0065g00000AbCdJAAV"]
    assert hooli.stage == "understanding-offerings"
    assert [e.stage for e in hooli.history] == ["understanding-offerings"]
    assert deal_stages.unmapped_stage_names(ctx) == []
    # With the mapping in place, a later import maps the name by itself.
    report = import_deals(ctx, tmp_path / "deals.csv", "salesforce")
    assert (report.unchanged, report.unmapped) == (5, [])


BAD_ROWS = [
    # (text to replace on line 5, replacement, the one-line error)
    ("20000,2026-08-01", "abc,2026-08-01", "deals.csv line 5: Amount: expected a number, got 'abc'"),
    ("20000,2026-08-01", "20000,31/08/2026",
     "deals.csv line 5: CloseDate: expected a date like 2026-03-31 or 3/31/2026, got '31/08/2026'"),
    ("true,false,Omitted,No Decision", "maybe,false,Omitted,No Decision",
     "deals.csv line 5: IsClosed: expected true or false, got 'maybe'"),
    ("Closed Lost,20000,2026-08-01,true,false", "Closed Lost,20000,2026-08-01,false,true",
     "deals.csv line 5: IsWon: a won deal must be closed"),
    ("0065g00000AbCdHAAV", "0065g00000AbCdGAAV",
     "deals.csv line 5: Id: '0065g00000AbCdGAAV' is already on line 4"),
    ("0065g00000AbCdHAAV,Umbrella pilot", "0065g00000AbCdHAAV,",
     "deals.csv line 5: Name: missing"),
    ("20000,2026-08-01,true", "20000,,true",
     "deals.csv line 5: CloseDate: a closed deal needs a close date"),
    ("Umbrella pilot", "U" * 301, "deals.csv line 5: Name: longer than 300 characters"),
    ("Closed Lost,20000", "S" * 121 + ",20000",
     "deals.csv line 5: StageName: longer than 120 characters"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_ROWS)
def test_a_bad_row_is_reported_by_line_and_nothing_is_imported(ctx, taxonomy, tmp_path,
                                                              old, new, message):
    lines = SALESFORCE_API.splitlines(keepends=True)
    assert old in lines[4]
    lines[4] = lines[4].replace(old, new)
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "deals.csv", "".join(lines)), "salesforce")
    assert str(failure.value) == message
    assert ctx.scalar(select(func.count()).select_from(Deal)) == 0


def test_line_numbers_count_the_lines_of_multi_line_cells(ctx, taxonomy, tmp_path):
    bad = SALESFORCE_REPORT.replace('"$20,000.00"', '"twenty"')
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "report.csv", bad), "salesforce")
    assert str(failure.value) == "report.csv line 6: Amount: expected a number, got 'twenty'"


def test_a_multi_line_row_is_reported_by_the_line_it_starts_on(ctx, taxonomy, tmp_path):
    bad = SALESFORCE_REPORT.replace('"$125,000.00"', '"lots"')
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "report.csv", bad), "salesforce")
    assert str(failure.value) == "report.csv line 2: Amount: expected a number, got 'lots'"


def test_a_byte_order_mark_before_the_first_header(ctx, taxonomy, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + SALESFORCE_API.encode())
    assert import_deals(ctx, path, "salesforce").created == 5


def test_every_problem_is_counted_in_one_line(ctx, taxonomy, tmp_path):
    bad = SALESFORCE_API.replace(",20000,", ",abc,").replace(",48000,", ",x,")
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "deals.csv", bad), "salesforce")
    assert str(failure.value) == ("deals.csv line 3: Amount: expected a number, got 'x'"
                                  " (and 1 more problems)")


def test_a_bad_history_row_stops_the_deals_too(ctx, taxonomy, tmp_path):
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "deals.csv", SALESFORCE_API), "salesforce",
                     history=write(tmp_path, "history.csv",
                                   HISTORY.replace("2026-07-01T10:00:00.000+0000", "soon")))
    assert str(failure.value) == ("history.csv line 4: CreatedDate: expected a date like "
                                  "2026-03-31 or 3/31/2026, got 'soon'")
    assert ctx.scalar(select(func.count()).select_from(Deal)) == 0


@pytest.mark.parametrize(("text", "message"), [
    ("Name,Amount\nx,1\n", "deals.csv: no column 'Id' or 'Opportunity ID'"),
    ("", "deals.csv: the file is empty"),
])
def test_a_file_that_is_not_an_export_is_refused(ctx, taxonomy, tmp_path, text, message):
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "deals.csv", text), "salesforce")
    assert str(failure.value).startswith(message)


def test_a_hubspot_closed_deal_needs_its_close_date(ctx, taxonomy, tmp_path):
    bad = HUBSPOT.replace("300000,2026-09-12 10:00", "300000,")
    with pytest.raises(Invalid) as failure:
        import_deals(ctx, write(tmp_path, "hubspot.csv", bad), "hubspot")
    assert str(failure.value) == "hubspot.csv line 4: Close Date: a closed deal needs a close date"


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("$1,250,000.00", "1250000.00", "USD"),
    ("USD 1250000", "1250000.00", "USD"),
    ("1.250.000,00 €", "1250000.00", "EUR"),
    ("12 500,50", "12500.50", None),
    ("1,250", "1250.00", None),
    ("1250.5", "1250.50", None),
    ("(500.00)", "-500.00", None),
    ("£99", "99.00", "GBP"),
    ("", None, None),
])
def test_amounts_as_exports_write_them(text, amount, currency):
    assert parse_amount(text) == (None if amount is None else Decimal(amount), currency)


@pytest.mark.parametrize("text", ["abc", "1,2,3", "1.000,00.5", "12,", "$", "1e5"])
def test_what_is_not_an_amount(text):
    with pytest.raises(ValueError, match="expected a number"):
        parse_amount(text)


@pytest.mark.parametrize(("text", "moment"), [
    ("2026-03-04", datetime(2026, 3, 4)),
    ("2026-03-04T10:00:00.000+0000", datetime(2026, 3, 4, 10)),
    ("2026-03-04T12:00:00.000+0200", datetime(2026, 3, 4, 10)),
    ("2026-03-04T10:00:00Z", datetime(2026, 3, 4, 10)),
    ("2026-03-04 14:03", datetime(2026, 3, 4, 14, 3)),
    ("3/4/2026", datetime(2026, 3, 4)),
    ("03/04/2026 10:00 PM", datetime(2026, 3, 4, 22)),
    ("3/4/2026, 12:05 AM", datetime(2026, 3, 4, 0, 5)),
    ("3/4/26", datetime(2026, 3, 4)),
])
def test_dates_as_exports_write_them(text, moment):
    assert parse_datetime(text) == moment


def test_salesforce_ids_of_15_characters_gain_their_checksum():
    # The example Salesforce's own documentation gives for the conversion.
    assert salesforce_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert salesforce_id("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"


def test_semicolon_separated_european_export(ctx, taxonomy, tmp_path):
    text = ("Id;Name;Account Name;StageName;Amount;CloseDate;IsClosed;IsWon\n"
            "0065g00000AbCdEAAV;Acme;Acme SA;Negotiating;1.250.000,00 €;2026-10-15;false;false\n")
    import_deals(ctx, write(tmp_path, "eu.csv", text), "salesforce")
    acme = deals(ctx)["0065g00000AbCdEAAV"]
    assert (acme.amount, acme.currency, acme.account) == (1250000.0, "EUR", "Acme SA")


def test_the_command_prints_counts_and_unmapped_names(app, runner, taxonomy, tmp_path):
    path = write(tmp_path, "deals.csv", SALESFORCE_API)
    result = runner.invoke(args=["deals", "import", str(path), "--format", "salesforce",
                                 "--history", str(write(tmp_path, "history.csv", HISTORY))])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "created 5, updated 0, unchanged 0; stage changes 5, history rows for unknown deals "
        "skipped 1; unmapped stage names 1",
        "  unmapped stage: Qualification (1 deals)",
    ]
    again = runner.invoke(args=["deals", "import", str(path), "--format", "salesforce"])
    assert again.output.startswith("created 0, updated 0, unchanged 5")


def test_the_command_fails_in_one_line_having_changed_nothing(app, ctx, runner, taxonomy,
                                                              tmp_path):
    bad = write(tmp_path, "deals.csv", SALESFORCE_API.replace(",20000,", ",abc,"))
    result = runner.invoke(args=["deals", "import", str(bad), "--format", "salesforce"])
    assert result.exit_code != 0
    assert result.output.strip() == "Error: deals.csv line 5: Amount: expected a number, got 'abc'"
    missing = runner.invoke(args=["deals", "import", str(tmp_path / "none.csv"),
                                  "--format", "hubspot"])
    assert missing.exit_code != 0 and "none.csv: no such file" in missing.output
    wrong = runner.invoke(args=["deals", "import", str(bad), "--format", "pipedrive"])
    assert wrong.exit_code != 0
    assert ctx.scalar(select(func.count()).select_from(Deal)) == 0
