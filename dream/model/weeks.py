"""Column functions for ISO weeks in Spark: the Thursday rule and labels. ``Column -> Column`` only."""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

DAYS_52_WEEKS = 364


def thursday(monday: Column) -> Column:
    return F.date_add(monday, 3)


def month_of_week(monday: Column) -> Column:
    """The month (1-12) a week belongs to: the month of its Thursday."""
    return F.month(thursday(monday))


def quarter_of_week(monday: Column) -> Column:
    return F.quarter(thursday(monday))


def month_label(monday: Column) -> Column:
    """'YYYY-MM' of the week's Thursday."""
    return F.date_format(thursday(monday), "yyyy-MM")


def week_label(iso_year: Column, week: Column) -> Column:
    """'YYYY-Www', e.g. 2020-W53."""
    return F.format_string("%d-W%02d", iso_year, week)


def week_52_later(monday: Column) -> Column:
    """The Monday of the calendar week exactly 52 weeks on (never "the 52nd next row")."""
    return F.date_add(monday, DAYS_52_WEEKS)

