"""Residence at year end (``nykom_YYYY``) and the population table built from it.

Persons are spread over the 98 municipalities by population; every year a few % move (young adults more
often), to a municipality drawn by population again. The residence is blank (unknown) once a person has
emigrated (997) or died, before birth, and for a rare 0.2 % of person-years. With 50,000 persons or more,
persons 0..97 live in municipality 0..97 throughout so that all 98 are present in every year.

The population table counts the residents at year end by municipality and age (16-66) at year end; it is
a fixed (years x 98 x 51) array, summed chunk by chunk, so its memory does not grow with the persons.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from dream.synth import vocab
from dream.synth.layout import Layout
from dream.synth.persons import Persons

NOT_RESIDENT = -1
MIN_AGE, MAX_AGE = 16, 66
_MOVE_YOUNG, _MOVE = 0.08, 0.03  # yearly share moving municipality: 18-29 year olds, everyone else
_UNKNOWN = 0.002  # share of person-years with unknown residence


def residence(persons: Persons, layout: Layout, rng: np.random.Generator) -> np.ndarray:
    """(years, persons) municipality position 0..97 in ``vocab.kommune_vocab()``, or NOT_RESIDENT."""
    n, weights = persons.n, vocab.kommune_weights()
    forced = persons.forced_kommune >= 0
    kommune = np.where(forced, persons.forced_kommune, rng.choice(len(weights), size=n, p=weights))
    out = np.empty((len(layout.years), n), dtype=np.int16)
    for y, year in enumerate(layout.years):
        if y:
            age = year - persons.birth_year
            moves = ~forced & (rng.random(n) < np.where((age >= 18) & (age < 30), _MOVE_YOUNG, _MOVE))
            kommune = np.where(moves, rng.choice(len(weights), size=n, p=weights), kommune)
        last_week = layout.year_last_week[y]
        gone = (persons.emigration_week <= last_week) | (persons.death_week <= last_week)
        unborn = persons.birth_day > layout.year_end_days[y]
        unknown = ~forced & (rng.random(n) < _UNKNOWN)
        out[y] = np.where(gone | unborn | unknown, NOT_RESIDENT, kommune)
    return out


def nykom_indices(res: np.ndarray, persons: Persons) -> np.ndarray:
    """Residence as vocabulary indices, blanks in the person's own spelling."""
    return np.where(res >= 0, res + 2, persons.blank).astype(np.uint8)


class Population:
    """Residents at year end by municipality and age, accumulated over chunks."""

    def __init__(self, layout: Layout) -> None:
        self.years = layout.years
        self.counts = np.zeros((len(self.years), 98, MAX_AGE - MIN_AGE + 1), dtype=np.int64)

    def add(self, persons: Persons, res: np.ndarray) -> None:
        ages = MAX_AGE - MIN_AGE + 1
        birth_year = persons.birth_year
        for y, year in enumerate(self.years):
            age = year - birth_year  # age on 31 December
            counted = (res[y] >= 0) & (age >= MIN_AGE) & (age <= MAX_AGE)
            flat = res[y][counted].astype(np.int64) * ages + (age[counted] - MIN_AGE)
            self.counts[y] += np.bincount(flat, minlength=98 * ages).reshape(98, ages)

    def table(self) -> pa.Table:
        """Every (municipality, year, age) combination, zeros included, so it joins as a complete grid."""
        years, kommuner, ages = self.counts.shape
        y, k, a = np.meshgrid(np.arange(years), np.arange(kommuner), np.arange(ages), indexing="ij")
        codes = pa.array(vocab.kommune_vocab().values)
        return pa.table(
            {
                "kommune": codes.take(pa.array(k.ravel())),
                "aar": pa.array(np.array(self.years, dtype=np.int32)[y.ravel()]),
                "alder": pa.array((a.ravel() + MIN_AGE).astype(np.int32)),
                "antal": pa.array(self.counts.ravel()),
            }
        )

    def write(self, path: str) -> None:
        pq.write_table(self.table(), path)
