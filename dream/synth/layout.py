"""The time axis and column layout of the wide table.

Maps every ISO week to its month, quarter and year by the Thursday rule (``dream.calendar``), and names the
columns in the order they are written: person columns, ``y_YYWW`` weeks, ``nykom_YYYY``, the four monthly
families, the two quarterly families and ``ak_YYYY``/``afm_YYYY``. Dates are held as days since
``EPOCH`` (int64) so that ages and event weeks are plain numpy arithmetic.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dream.calendar import IsoWeek, months_of

EPOCH = dt.date(1850, 1, 1)

PERSON_COLUMNS = ("pnr", "koen", "foed_dato")
MONTHLY_FAMILIES = ("arbsted", "branche", "virkform", "grad")
QUARTERLY_FAMILIES = ("match", "visit")
YEARLY_FAMILIES = ("ak", "afm")


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


@dataclass(frozen=True)
class Layout:
    weeks: tuple[IsoWeek, ...]

    @functools.cached_property
    def week_days(self) -> np.ndarray:
        """Monday of every week, as days since EPOCH."""
        return np.array([day_number(w.monday) for w in self.weeks], dtype=np.int64)

    @functools.cached_property
    def months(self) -> list[tuple[int, int]]:
        return months_of(list(self.weeks))

    @functools.cached_property
    def quarters(self) -> list[tuple[int, int]]:
        return sorted({w.kvartal for w in self.weeks})

    @functools.cached_property
    def years(self) -> list[int]:
        # The Thursday of an ISO week always lies in its ISO year, so this is also the Thursday rule.
        return sorted({w.aar for w in self.weeks})

    @functools.cached_property
    def week_month(self) -> np.ndarray:
        pos = {m: i for i, m in enumerate(self.months)}
        return np.array([pos[w.maaned] for w in self.weeks], dtype=np.int32)

    @functools.cached_property
    def week_quarter(self) -> np.ndarray:
        pos = {q: i for i, q in enumerate(self.quarters)}
        return np.array([pos[w.kvartal] for w in self.weeks], dtype=np.int32)

    @functools.cached_property
    def week_year(self) -> np.ndarray:
        pos = {y: i for i, y in enumerate(self.years)}
        return np.array([pos[w.aar] for w in self.weeks], dtype=np.int32)

    @functools.cached_property
    def weeks_per_month(self) -> np.ndarray:
        return np.bincount(self.week_month, minlength=len(self.months)).astype(np.int32)

    @functools.cached_property
    def year_end_days(self) -> np.ndarray:
        """31 December of every year, as days since EPOCH."""
        return np.array([day_number(dt.date(y, 12, 31)) for y in self.years], dtype=np.int64)

    @functools.cached_property
    def year_last_week(self) -> np.ndarray:
        """Index of the last week of every year (residence at year end follows the events up to it)."""
        return np.array([np.flatnonzero(self.week_year == i)[-1] for i in range(len(self.years))])

    def columns(self) -> list[str]:
        cols = list(PERSON_COLUMNS)
        cols += [w.column for w in self.weeks]
        cols += [f"nykom_{y}" for y in self.years]
        for family in MONTHLY_FAMILIES:
            cols += [f"{family}_{y}_{m:02d}" for y, m in self.months]
        for family in QUARTERLY_FAMILIES:
            cols += [f"{family}_{y}_{q}" for y, q in self.quarters]
        for family in YEARLY_FAMILIES:
            cols += [f"{family}_{y}" for y in self.years]
        return cols

    def schema(self) -> pa.Schema:
        return pa.schema([pa.field(c, pa.string()) for c in self.columns()])
