"""The metric definitions of INTERFACES section 7, on fixtures computed by hand."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from content_library.errors import Invalid
from content_library.models import ContentItem, Deal, DealStageEntry, UsageEvent
from content_library.services.effectiveness import (
    Outcomes,
    Period,
    effectiveness,
    period,
    stage_conversion,
    wilson_interval,
)

OCTOBER = Period(date(2026, 10, 1), date(2026, 10, 31))


def add_deal(session, crm_id: str, outcome: str | None, close_date: date | None,
             amount: float | None = None, stages=()) -> Deal:
    deal = Deal(source="salesforce", crm_id=crm_id, name=crm_id, amount=amount,
                crm_stage="Closed" if outcome else "Open", is_closed=outcome is not None,
                outcome=outcome, close_date=close_date)
    deal.history = [DealStageEntry(crm_stage=stage or "Closed Won", stage=stage, entered_at=at)
                    for at, stage in stages]
    session.add(deal)
    session.flush()
    return deal


def add_event(session, kind: str, item: str, deal: Deal | None, at: datetime) -> None:
    item_id = session.query(ContentItem.id).filter_by(slug=item).scalar()
    session.add(UsageEvent(kind=kind, item_id=item_id, item_slug=item, role="rep",
                           deal_id=deal.id if deal else None, occurred_at=at))


@pytest.fixture
def october(ctx, make_item):
    """Five deals closed in October 2026, one either side of it, one still open, and four
    items used in different ways. The expected figures below are worked out by hand."""
    for slug in ("roi-calculator", "battle-card", "never-used", "used-too-late", "no-amount"):
        make_item(slug)
    deal = {
        "won-a": add_deal(ctx, "won-a", "won", date(2026, 10, 5), 100),
        "won-b": add_deal(ctx, "won-b", "won", date(2026, 10, 10), 300),
        "lost-c": add_deal(ctx, "lost-c", "lost-competition", date(2026, 10, 12), 200),
        "lost-d": add_deal(ctx, "lost-d", "lost-no-decision", date(2026, 10, 20), 400),
        "lost-e": add_deal(ctx, "lost-e", "lost-competition", date(2026, 10, 31)),  # no amount
        "won-september": add_deal(ctx, "won-september", "won", date(2026, 9, 30), 1000),
        "won-november": add_deal(ctx, "won-november", "won", date(2026, 11, 1), 1000),
        "open": add_deal(ctx, "open", None, date(2026, 10, 15), 5000),
    }
    add_event(ctx, "download", "roi-calculator", deal["won-a"], datetime(2026, 10, 1, 9))
    add_event(ctx, "share", "roi-calculator", deal["won-a"], datetime(2026, 10, 2, 9))  # same pair
    add_event(ctx, "used_in_deal", "roi-calculator", deal["lost-c"],
              datetime(2026, 10, 12, 23, 30))  # on the close date: counts
    add_event(ctx, "share", "roi-calculator", deal["lost-d"], datetime(2026, 10, 21, 8))  # after
    add_event(ctx, "view", "roi-calculator", deal["won-b"], datetime(2026, 10, 3))  # not a link
    add_event(ctx, "used_in_deal", "roi-calculator", deal["open"], datetime(2026, 10, 3))
    add_event(ctx, "download", "roi-calculator", deal["won-september"], datetime(2026, 9, 1))
    add_event(ctx, "share", "battle-card", deal["lost-d"], datetime(2026, 10, 1))
    add_event(ctx, "view", "never-used", None, datetime(2026, 10, 1))
    add_event(ctx, "copy", "never-used", deal["won-b"], datetime(2026, 10, 1))
    add_event(ctx, "download", "used-too-late", deal["won-b"], datetime(2026, 10, 11))
    add_event(ctx, "used_in_deal", "no-amount", deal["lost-e"], datetime(2026, 10, 30))
    ctx.commit()
    return deal


def test_baseline_over_the_deals_closed_in_the_period(ctx, october):
    baseline = effectiveness(ctx, OCTOBER).as_dict()["baseline"]
    # won-a, won-b | lost-c, lost-e | lost-d; September, November and the open deal are out.
    assert (baseline["won"], baseline["lost_competition"], baseline["lost_no_decision"]) == (2, 2, 1)
    assert baseline["close_rate"] == pytest.approx(2 / 5)
    assert baseline["win_rate"] == pytest.approx(2 / 4)
    # Amounts: won 100 + 300, lost to competition 200 + nothing, no decision 400.
    assert baseline["close_rate_amount"] == pytest.approx(400 / 1000)
    assert baseline["win_rate_amount"] == pytest.approx(400 / 600)
    assert baseline["close_rate_ci"] == pytest.approx([0.1176, 0.7693], abs=5e-5)  # 2 of 5
    assert baseline["win_rate_ci"] == pytest.approx(list(wilson_interval(2, 4)))


def test_an_item_counts_the_closed_deals_it_influenced_before_they_closed(ctx, october):
    result = effectiveness(ctx, OCTOBER).as_dict()
    items = {item["slug"]: item for item in result["items"]}
    # roi-calculator: won-a (twice, counted once) and lost-c (on its close date). Not lost-d
    # (shared after it closed), won-b (only viewed), the open deal, nor September's deal.
    roi = items["roi-calculator"]
    assert (roi["deals"], roi["won"], roi["lost_competition"], roi["lost_no_decision"]) == (
        2, 1, 1, 0)
    assert roi["close_rate"] == pytest.approx(0.5) and roi["win_rate"] == pytest.approx(0.5)
    assert roi["close_rate_amount"] == pytest.approx(100 / 300)
    assert roi["win_rate_amount"] == pytest.approx(100 / 300)
    assert roi["lift"] == pytest.approx(0.5 - 0.4)
    # battle-card: only lost-d, lost to no decision: no win-rate denominator at all.
    battle = items["battle-card"]
    assert (battle["deals"], battle["close_rate"], battle["close_rate_ci"][0]) == (1, 0.0, 0.0)
    assert battle["win_rate"] is None and battle["win_rate_ci"] is None
    assert battle["win_rate_amount"] is None and battle["close_rate_amount"] == 0.0
    assert battle["lift"] == pytest.approx(-0.4)
    # no-amount: one deal lost to competition that had no amount: amount rates have nothing
    # to rest on, so they are null while the count rates are 0.
    blank = items["no-amount"]
    assert (blank["close_rate"], blank["win_rate"]) == (0.0, 0.0)
    assert (blank["close_rate_amount"], blank["win_rate_amount"]) == (None, None)
    # Items that influenced no deal closed in the period are not listed; most deals first.
    assert [item["slug"] for item in result["items"]] == ["roi-calculator", "battle-card",
                                                          "no-amount"]


def test_the_period_bounds_are_inclusive_dates(ctx, october):
    last_day = effectiveness(ctx, Period(date(2026, 10, 31), date(2026, 10, 31))).baseline
    assert (last_day.won, last_day.lost_competition) == (0, 1)
    first_day = effectiveness(ctx, Period(date(2026, 9, 30), date(2026, 9, 30))).as_dict()
    assert first_day["baseline"]["won"] == 1
    assert [i["slug"] for i in first_day["items"]] == ["roi-calculator"]


def test_empty_denominators_are_null_never_zero(ctx, october):
    empty = effectiveness(ctx, Period(date(2025, 1, 1), date(2025, 12, 31))).as_dict()
    baseline = empty["baseline"]
    for key in ("close_rate", "win_rate", "close_rate_amount", "win_rate_amount",
                "close_rate_ci", "win_rate_ci"):
        assert baseline[key] is None, key
    assert (baseline["won"], baseline["lost_competition"], baseline["lost_no_decision"]) == (0, 0, 0)
    assert empty["items"] == []


def test_lift_is_null_when_a_close_rate_is():
    nothing = Outcomes()
    assert nothing.close_rate is None and nothing.as_dict()["close_rate_ci"] is None
    assert Outcomes(won=1).too_few and not Outcomes(won=3, lost_competition=2).too_few


@pytest.mark.parametrize(("successes", "trials", "low", "high"), [
    # Newcombe, "Two-sided confidence intervals for the single proportion: comparison of
    # seven methods", Statistics in Medicine 17 (1998) 857-872, table I, method 3 (Wilson's
    # score interval without continuity correction).
    (81, 263, 0.2553, 0.3662),
    (15, 148, 0.0624, 0.1605),
    (0, 20, 0.0000, 0.1611),
    (1, 29, 0.0061, 0.1718),
])
def test_wilson_interval_against_published_values(successes, trials, low, high):
    assert wilson_interval(successes, trials) == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_of_nothing_is_null_and_stays_within_0_and_1():
    assert wilson_interval(0, 0) is None
    assert wilson_interval(5, 5)[1] == 1.0 and wilson_interval(0, 5)[0] == 0.0


def test_periods_default_to_the_last_30_days_and_refuse_bad_dates():
    today = date(2026, 11, 29)
    assert period(None, None, today) == Period(date(2026, 10, 31), today)
    assert period("2026-10-01", "2026-10-31", today) == OCTOBER
    assert period(None, "2026-10-31", today) == Period(date(2026, 10, 2), date(2026, 10, 31))
    with pytest.raises(Invalid) as bad:
        period("yesterday", "2026-13-01", today)
    assert set(bad.value.reasons) == {"from", "to"}
    with pytest.raises(Invalid, match="starts"):
        period("2026-11-01", "2026-10-01", today)


def at(day: int, hour: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour)


UO, BBC, NEG = "understanding-offerings", "building-business-case", "negotiating"


def test_stage_conversion_and_days_in_stage(ctx, taxonomy):
    # S1 goes all the way and is won; its history ends with the closing row.
    add_deal(ctx, "s1", "won", date(2026, 10, 20),
             stages=[(at(1), UO), (at(5), BBC), (at(15), NEG), (at(20), None)])
    # S2 moves on, then back, and is lost with no closing row: it left at its close date.
    add_deal(ctx, "s2", "lost-competition", date(2026, 10, 30),
             stages=[(at(2), UO), (at(4, 12), BBC), (at(6), UO)])
    # S3 is still where it started.
    add_deal(ctx, "s3", None, None, stages=[(at(3), UO)])
    # S4 leaves for a CRM stage no portal stage stands for, then is lost.
    s4 = add_deal(ctx, "s4", "lost-no-decision", date(2026, 10, 25), stages=[(at(10), UO)])
    s4.history.append(DealStageEntry(crm_stage="Qualification", stage=None, entered_at=at(12)))
    # S5 entered the first stage in September: only its second stage counts in October.
    add_deal(ctx, "s5", None, None, stages=[(at(20, month=9), UO), (at(2), BBC)])
    # S6 is won two days after entering the second stage, with no closing row.
    add_deal(ctx, "s6", "won", date(2026, 10, 9), stages=[(at(7), BBC)])
    ctx.commit()

    result = [row.as_dict() for row in stage_conversion(ctx, OCTOBER)]
    assert [row["slug"] for row in result] == [UO, BBC, NEG]
    uo, bbc, neg = result
    # UO: S1, S2, S3, S4 entered; S1 (4 days), S2 (2.5) and S4 (2) left; S1 and S2 reached a
    # later stage (S2 though it was lost in the end), S4 did not.
    assert (uo["entered"], uo["left"], uo["converted"]) == (4, 3, 2)
    assert uo["conversion"] == pytest.approx(2 / 3)
    assert uo["avg_days"] == pytest.approx((4 + 2.5 + 2) / 3)
    # BBC: S1, S2, S5, S6 entered; S1 (10 days), S2 (1.5, back to UO) and S6 (2, won) left;
    # S1 and S6 converted, S2 went backwards.
    assert (bbc["entered"], bbc["left"], bbc["converted"]) == (4, 3, 2)
    assert bbc["avg_days"] == pytest.approx((10 + 1.5 + 2) / 3)
    # NEG: S1 only, five days to its win.
    assert (neg["entered"], neg["left"], neg["converted"], neg["conversion"], neg["avg_days"]) \
        == (1, 1, 1, 1.0, pytest.approx(5.0))


def test_a_stage_nobody_entered_has_null_conversion(ctx, taxonomy):
    add_deal(ctx, "s1", None, None, stages=[(at(1), UO)])
    ctx.commit()
    uo, bbc, _ = (row.as_dict() for row in stage_conversion(ctx, OCTOBER))
    assert (uo["entered"], uo["left"], uo["conversion"], uo["avg_days"]) == (1, 0, None, None)
    assert (bbc["entered"], bbc["conversion"], bbc["avg_days"]) == (0, None, None)
    november = stage_conversion(ctx, Period(date(2026, 11, 1), date(2026, 11, 30)))
    assert [row.entered for row in november] == [0, 0, 0]


def test_a_close_date_before_the_stage_was_entered_counts_zero_days(ctx, taxonomy):
    # The CRM keeps a close date without a time: a deal that entered a stage in the
    # afternoon and closed that day did not spend negative time in it.
    add_deal(ctx, "same-day", "won", date(2026, 10, 7), stages=[(at(7, 15), NEG)])
    ctx.commit()
    neg = stage_conversion(ctx, OCTOBER)[2]
    assert (neg.left, neg.converted, neg.avg_days) == (1, 1, 0.0)
