"""One chunk of synthetic persons: every column of the wide table as vocabulary indices.

The chunk is the unit of memory: all of its arrays are (columns, persons) uint8 matrices, so a chunk of
50,000 persons over 11 years holds about 40 MB before it is turned into Arrow strings by ``writer``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dream.synth import families, histories, residence, vocab
from dream.synth.layout import MONTHLY_FAMILIES, QUARTERLY_FAMILIES, YEARLY_FAMILIES, Layout
from dream.synth.persons import PnrAllocator, Persons, make_persons


@dataclass
class Chunk:
    persons: Persons
    residence: np.ndarray  # (years, persons) municipality position or residence.NOT_RESIDENT
    families: list[tuple[np.ndarray, vocab.Vocab]]  # in column order after the person columns

    def person_columns(self) -> list[pa.Array]:
        koen = vocab.small_vocab(vocab.KOEN).array.take(pa.array(np.where(self.persons.male, 2, 3)))
        return [self.persons.pnr, koen, self.persons.foed_dato]


def make_chunk(
    rng: np.random.Generator, index: np.ndarray, total: int, layout: Layout, pnrs: PnrAllocator
) -> Chunk:
    persons = make_persons(rng, index, total, layout, pnrs)
    weekly = histories.simulate(persons, layout, rng)
    res = residence.residence(persons, layout, rng)
    monthly = families.employment(persons, weekly, res, layout, rng)
    quarterly = families.visitation(persons, weekly, rng)
    yearly = families.akasse(persons, weekly, layout, rng)
    vocabularies = {
        "arbsted": vocab.kommune_vocab(),
        "branche": vocab.branche_vocab(),
        "virkform": vocab.virkform_vocab(),
        "grad": vocab.grad_vocab(),
        "match": vocab.small_vocab(vocab.MATCH),
        "visit": vocab.small_vocab(vocab.VISITATIONER),
        "ak": vocab.akasse_vocab(),
        "afm": vocab.small_vocab(vocab.AFM),
    }
    matrices = [
        (weekly.codes, vocab.ydelser()),
        (residence.nykom_indices(res, persons), vocab.kommune_vocab()),
        *[(monthly[f], vocabularies[f]) for f in MONTHLY_FAMILIES],
        *[(quarterly[f], vocabularies[f]) for f in QUARTERLY_FAMILIES],
        *[(yearly[f], vocabularies[f]) for f in YEARLY_FAMILIES],
    ]
    return Chunk(persons=persons, residence=res, families=matrices)
