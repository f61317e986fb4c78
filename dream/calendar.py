"""ISO weeks and the Thursday rule.

A week belongs to the month, quarter and year in which its Thursday falls. Week columns are named
``y_YYWW`` with the ISO year in two digits: below 90 means 20YY, otherwise 19YY.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class IsoWeek:
    aar: int  # ISO year
    uge: int  # ISO week 1..53

    @property
    def monday(self) -> dt.date:
        return dt.date.fromisocalendar(self.aar, self.uge, 1)

    @property
    def thursday(self) -> dt.date:
        return dt.date.fromisocalendar(self.aar, self.uge, 4)

    @property
    def maaned(self) -> tuple[int, int]:
        """(year, month) of the week by the Thursday rule."""
        t = self.thursday
        return t.year, t.month

    @property
    def kvartal(self) -> tuple[int, int]:
        year, month = self.maaned
        return year, (month - 1) // 3 + 1

    @property
    def column(self) -> str:
        return f"y_{self.aar % 100:02d}{self.uge:02d}"

    def plus_weeks(self, n: int) -> IsoWeek:
        return IsoWeek.of(self.monday + dt.timedelta(weeks=n))

    @staticmethod
    def of(day: dt.date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return IsoWeek(year, week)


def weeks_in_year(year: int) -> int:
    """52 or 53: 28 December always lies in the year's last ISO week."""
    return dt.date(year, 12, 28).isocalendar()[1]


def expand_two_digit_year(yy: int) -> int:
    return 2000 + yy if yy < 90 else 1900 + yy


def week_range(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """Every ISO week from ``first`` to ``last``, both included."""
    if last < first:
        return []
    n = (last.monday - first.monday).days // 7
    return [first.plus_weeks(i) for i in range(n + 1)]


def last_full_month(today: dt.date) -> tuple[int, int]:
    first_of_month = today.replace(day=1)
    prev = first_of_month - dt.timedelta(days=1)
    return prev.year, prev.month


def last_week_of_month(year: int, month: int) -> IsoWeek:
    """The last ISO week whose Thursday lies in the month."""
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    day = nxt - dt.timedelta(days=1)
    while IsoWeek.of(day).maaned != (year, month):
        day -= dt.timedelta(days=1)
    return IsoWeek.of(day)


def default_week_range(today: dt.date, years: int = 11) -> list[IsoWeek]:
    """The last ``years`` years up to the last full month, as FLIS keeps them: from week 1 of the first
    year to the last week (by its Thursday) of the last full month."""
    end_year, end_month = last_full_month(today)
    return week_range(IsoWeek(end_year - years + 1, 1), last_week_of_month(end_year, end_month))


def months_of(weeks: list[IsoWeek]) -> list[tuple[int, int]]:
    """The months the weeks cover by the Thursday rule, in order, each once."""
    return sorted({w.maaned for w in weeks})
