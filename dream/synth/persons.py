"""Synthetic persons: birth date, sex, CPR number, latent traits and the life events that end a history.

What it models:

- Age: the age at the end of the week range is drawn from 16 to 95 with a flat profile up to 65 and a
  thinning tail above, so over the range some persons are under 16 at the start and some pass the
  state-pension age (and the dead stay in the register, as in DREAM).
- CPR: ``DDMMYY`` + 4 digits. The 4 digits are a per-(birth date, sex) serial number kept across chunks,
  so uniqueness is constructed, not hoped for; the last digit is odd for men and even for women and the
  first of the four follows the CPR century rule (0-3: 1900s, 4-9: 2000s, 5-8: 1800s).
- Traits: a benefit risk (low / medium / high: how long the self-supporting spells are), labour-market
  attachment (who has a job in self-supporting months), immigrant background (integration benefits),
  efterløn membership, and how the person's blank cells are spelled (NULL or "").
- Exit events: state-pension age by birth cohort (996 for a few, then 998), death from a Gompertz
  mortality (999, from birth, so some died before the range starts) and rare emigration (997). They are
  stored as week indices relative to the range; a week at or after an event carries its exit code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dream.synth.layout import EPOCH, Layout, day_number

DAYS_PER_YEAR = 365.25
NEVER = np.iinfo(np.int32).max  # event week index for events that do not happen in the range

# Gompertz mortality h(age) = A exp(B age) per year: about 0.02 % at 20, 0.3 % at 50, 1 % at 65, 4 % at 80,
# median life length about 85 years (Danish life tables, roughly).
_GOMPERTZ_A = 2.9e-5
_GOMPERTZ_B = 0.09

_EMIGRATION = 0.03  # share of persons who emigrate in or shortly before the range (997)
_EMIGRATION_IMMIGRANT = 0.15
_DEFERRED_PENSION = 0.05  # share who reach pension age without taking folkepension at once (996 first)


@dataclass
class Persons:
    """One chunk of persons; every array has one entry per person."""

    index: np.ndarray  # global person number 0..persons-1
    birth_day: np.ndarray  # days since EPOCH
    birth_year: np.ndarray
    male: np.ndarray
    pnr: pa.Array
    foed_dato: pa.Array
    blank: np.ndarray  # vocabulary index of the person's blank: 0 NULL, 1 ""
    risk: np.ndarray  # 0 low, 1 medium, 2 high
    worker: np.ndarray  # has a job in months that are mostly self-supporting
    immigrant: np.ndarray
    efterloen_age: np.ndarray  # age at which a member goes on efterløn (inf: not a member)
    pension_week: np.ndarray  # first week index at state-pension age
    deferred_weeks: np.ndarray  # weeks of 996 before 998
    emigration_week: np.ndarray
    death_week: np.ndarray
    forced_kommune: np.ndarray  # municipality index forced for this person, -1 if none

    @property
    def n(self) -> int:
        return len(self.index)

    def age_at(self, day: int | np.ndarray) -> np.ndarray:
        return (day - self.birth_day) / DAYS_PER_YEAR



class PnrAllocator:
    """Hands out the 4-digit CPR serial numbers: one counter per (birth date, sex), kept across chunks.

    A small fixed array (250 years of days x 2 sexes), so memory stays bounded however many persons."""

    _DAYS = 250 * 366

    def __init__(self) -> None:
        self._used = np.zeros((self._DAYS, 2), dtype=np.int32)

    def allocate(self, birth_day: np.ndarray, male: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
        key = birth_day * 2 + male
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        starts = np.flatnonzero(np.r_[True, sorted_key[1:] != sorted_key[:-1]])
        counts = np.diff(np.r_[starts, len(key)])
        # Rank of each person among the persons of the chunk with the same key, plus earlier chunks' use.
        rank = np.empty(len(key), dtype=np.int64)
        rank[order] = np.arange(len(key)) - np.repeat(starts, counts)
        serial = self._used[birth_day, male.astype(np.int64)] + rank
        self._used[sorted_key[starts] // 2, sorted_key[starts] % 2] += counts.astype(np.int32)

        base, capacity = _century_block(birth_year)
        if np.any(serial >= capacity):
            raise OverflowError("more synthetic persons share a birth date than CPR numbers allow")
        # Spread the serials over the block, as real ones are: k -> (7 k + offset) mod capacity is a
        # bijection on 0..capacity-1 (7 is coprime to 2000 and 3000), so uniqueness is kept.
        spread = (7 * serial + 37 * birth_day) % capacity
        return base + 2 * spread + male  # odd last digit for men, even for women


def _century_block(birth_year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First serial and the number of serials per sex by the CPR century digit (7th digit)."""
    base = np.select([birth_year < 1900, birth_year < 2000], [5000, 0], 4000)
    capacity = np.select([birth_year < 1900, birth_year < 2000], [2000, 2000], 3000)
    return base, capacity


def make_persons(
    rng: np.random.Generator, index: np.ndarray, total: int, layout: Layout, pnrs: PnrAllocator
) -> Persons:
    n = len(index)
    forced = _forced_kommune(index, total)
    male = rng.random(n) < 0.5
    birth_day = _birth_days(rng, n, layout, forced >= 0)
    dates = np.datetime64(EPOCH, "D") + birth_day
    birth_year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    serial = pnrs.allocate(birth_day, male, birth_year)

    risk = rng.choice(3, size=n, p=[0.50, 0.33, 0.17]).astype(np.uint8)
    worker = rng.random(n) < np.array([0.92, 0.85, 0.60])[risk]
    immigrant = rng.random(n) < 0.09
    pension_age = _pension_age(birth_day)
    persons = Persons(
        index=index,
        birth_day=birth_day,
        birth_year=birth_year,
        male=male,
        pnr=_pnr_strings(dates, serial),
        foed_dato=pa.array(dates.astype(str).astype("S10")).cast(pa.string()),
        blank=(rng.random(n) < 0.5).astype(np.uint8),
        risk=risk,
        worker=worker,
        immigrant=immigrant,
        efterloen_age=_efterloen_age(rng, birth_year, pension_age),
        pension_week=_event_week(layout, birth_day + pension_age * DAYS_PER_YEAR),
        deferred_weeks=np.where(rng.random(n) < _DEFERRED_PENSION, rng.integers(13, 260, n), 0),
        emigration_week=_emigration_week(rng, layout, birth_day, immigrant),
        death_week=_event_week(layout, birth_day + _death_age(rng, n) * DAYS_PER_YEAR),
        forced_kommune=forced,
    )
    # The persons that guarantee every municipality is present stay resident and alive throughout.
    persons.emigration_week[forced >= 0] = NEVER
    persons.death_week[forced >= 0] = NEVER
    return persons


def _forced_kommune(index: np.ndarray, total: int) -> np.ndarray:
    """With 50,000 persons or more, persons 0..97 live in municipality 0..97 so that all 98 are present."""
    if total < 50_000:
        return np.full(len(index), -1, dtype=np.int64)
    return np.where(index < 98, index, -1)


def _birth_days(rng: np.random.Generator, n: int, layout: Layout, forced: np.ndarray) -> np.ndarray:
    end = layout.week_days[-1]
    ages = np.arange(16, 96)
    # Flat up to 65, then thinning: the weights of the would-be age at the end of the range.
    weights = np.where(ages <= 65, 1.0, np.maximum(0.05, 1.0 - (ages - 65) / 35))
    age = rng.choice(ages, size=n, p=weights / weights.sum()) + rng.random(n)
    age = np.where(forced, rng.uniform(30, 60, n), age)
    return (end - np.floor(age * DAYS_PER_YEAR)).astype(np.int64)


def _pension_age(birth_day: np.ndarray) -> np.ndarray:
    """Folkepension age by birth date (the 2006 and 2011 reforms, simplified)."""
    d = birth_day
    return np.select(
        [
            d < day_number(dt.date(1954, 1, 1)),
            d < day_number(dt.date(1954, 7, 1)),
            d < day_number(dt.date(1955, 1, 1)),
            d < day_number(dt.date(1955, 7, 1)),
            d < day_number(dt.date(1963, 1, 1)),
            d < day_number(dt.date(1967, 1, 1)),
        ],
        [65.0, 65.5, 66.0, 66.5, 67.0, 68.0],
        69.0,
    )


def _efterloen_age(rng: np.random.Generator, birth_year: np.ndarray, pension_age: np.ndarray) -> np.ndarray:
    """Members go on efterløn 3-5 years before pension age; fewer members in younger cohorts."""
    member = rng.random(len(birth_year)) < np.where(birth_year < 1965, 0.25, 0.10)
    age = pension_age - 3 - 2 * rng.random(len(birth_year))
    return np.where(member, age, np.inf)


def _death_age(rng: np.random.Generator, n: int) -> np.ndarray:
    """Inverse of the Gompertz cumulative hazard from birth: H(a) = A/B (exp(B a) - 1)."""
    e = rng.exponential(size=n)
    return np.log1p(e * _GOMPERTZ_B / _GOMPERTZ_A) / _GOMPERTZ_B


def _emigration_week(
    rng: np.random.Generator, layout: Layout, birth_day: np.ndarray, immigrant: np.ndarray
) -> np.ndarray:
    n = len(birth_day)
    first, last = layout.week_days[0], layout.week_days[-1]
    emigrates = rng.random(n) < np.where(immigrant, _EMIGRATION_IMMIGRANT, _EMIGRATION)
    # Some left before the range starts (997 throughout), never before the age of 18.
    day = rng.uniform(first - 0.3 * (last - first), last + 7, n)
    day = np.maximum(day, birth_day + 18 * DAYS_PER_YEAR)
    return np.where(emigrates, _event_week(layout, day), NEVER)


def _event_week(layout: Layout, day: np.ndarray) -> np.ndarray:
    """Index of the first week whose Monday is on or after the event day; NEVER after the range."""
    week = np.searchsorted(layout.week_days, np.ceil(day).astype(np.int64), side="left")
    return np.where(week >= len(layout.weeks), NEVER, week).astype(np.int64)


def _pnr_strings(dates: np.ndarray, serial: np.ndarray) -> pa.Array:
    """DDMMYY + 4 digits, built as a digit matrix so 50,000 numbers cost no Python loop."""
    year = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
    day = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
    parts = [(day, 2), (month, 2), (year % 100, 2), (serial, 4)]
    digits = np.concatenate([_digits(v, width) for v, width in parts], axis=1)
    return pa.array((digits + ord("0")).astype(np.uint8).view("S10").ravel()).cast(pa.string())


def _digits(values: np.ndarray, width: int) -> np.ndarray:
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers) % 10
