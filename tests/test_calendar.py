import datetime as dt

import pytest

from dream.calendar import IsoWeek, default_week_range, expand_two_digit_year, last_week_of_month, weeks_in_year, week_range


@pytest.mark.parametrize("year, weeks", [(2015, 53), (2016, 52), (2020, 53), (2021, 52), (2026, 53), (2004, 53), (2019, 52)])
def test_53_week_years(year, weeks):
    assert weeks_in_year(year) == weeks


@pytest.mark.parametrize("week, monday, month, quarter", [
    (IsoWeek(2015, 53), dt.date(2015, 12, 28), (2015, 12), (2015, 4)),  # Thursday 31 Dec 2015
    (IsoWeek(2020, 53), dt.date(2020, 12, 28), (2020, 12), (2020, 4)),  # Thursday 31 Dec 2020
    (IsoWeek(2026, 53), dt.date(2026, 12, 28), (2026, 12), (2026, 4)),  # Thursday 31 Dec 2026
    # Monday in December, Thursday in January: the week belongs to January and to the new ISO year.
    (IsoWeek(2025, 1), dt.date(2024, 12, 30), (2025, 1), (2025, 1)),
    # The reverse: a week that starts in December and ends in January with its Thursday still in December
    # belongs to December and the old year: 2009-W53 runs Monday 28 Dec 2009 - Sunday 3 Jan 2010.
    (IsoWeek(2009, 53), dt.date(2009, 12, 28), (2009, 12), (2009, 4)),
    # A month boundary inside a week: Monday 29 Sep 2025, Thursday 2 Oct 2025 -> October, Q4.
    (IsoWeek(2025, 40), dt.date(2025, 9, 29), (2025, 10), (2025, 4)),
    # Monday 4 Jan 2021 is week 1 of 2021, whereas 1-3 Jan 2021 belong to 2020-W53.
    (IsoWeek(2021, 1), dt.date(2021, 1, 4), (2021, 1), (2021, 1)),
])
def test_thursday_rule(week, monday, month, quarter):
    assert week.monday == monday
    assert week.maaned == month
    assert week.kvartal == quarter


def test_days_in_january_can_belong_to_the_previous_iso_year():
    assert IsoWeek.of(dt.date(2021, 1, 1)) == IsoWeek(2020, 53)
    assert IsoWeek.of(dt.date(2016, 1, 3)) == IsoWeek(2015, 53)
    assert IsoWeek.of(dt.date(2024, 12, 30)) == IsoWeek(2025, 1)


def test_column_names_and_two_digit_years():
    assert IsoWeek(2013, 26).column == "y_1326"
    assert IsoWeek(1991, 32).column == "y_9132"
    assert expand_two_digit_year(89) == 2089 and expand_two_digit_year(90) == 1990 and expand_two_digit_year(13) == 2013


def test_week_range_crosses_week_53_and_52_weeks_on_is_364_days():
    weeks = week_range(IsoWeek(2020, 52), IsoWeek(2021, 2))
    assert [w.column for w in weeks] == ["y_2052", "y_2053", "y_2101", "y_2102"]
    assert IsoWeek(2020, 1).plus_weeks(52) == IsoWeek(2020, 53)
    assert IsoWeek(2020, 2).plus_weeks(52) == IsoWeek(2021, 1)


def test_default_range_is_11_years_up_to_the_last_full_month():
    weeks = default_week_range(dt.date(2026, 11, 23))
    assert weeks[0] == IsoWeek(2016, 1)
    assert weeks[-1] == IsoWeek(2026, 44)  # Thursday 29 October 2026
    assert weeks[-1] == last_week_of_month(2026, 10)
    assert IsoWeek(2020, 53) in weeks
    assert len(weeks) == len(set(weeks)) == 565
