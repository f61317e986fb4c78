"""The string vocabularies of the synthetic wide table.

Every cell of the table is generated as a small integer index into one of these vocabularies and only
turned into text when a chunk is written (``pyarrow.compute.take``). Each vocabulary starts with the two
spellings of "blank" that real DREAM deliveries mix: index 0 is NULL and index 1 the empty string, so a
person's blank style is simply 0 or 1.

Benefit codes and municipalities come from the versioned reference data; the workplace, industry,
company-form and a-kasse lists are small, plausible samples (the pipeline does not interpret them).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from dream.reference import benefit_codes, kommuner

BLANK_NULL = 0
BLANK_EMPTY = 1
_BLANKS: list[str | None] = [None, ""]


@dataclass(frozen=True)
class Vocab:
    """Index -> text (index 0 NULL, 1 empty) and text -> index."""

    values: tuple[str, ...]  # the non-blank values, at indices 2, 3, ...

    @functools.cached_property
    def array(self) -> pa.Array:
        return pa.array(_BLANKS + list(self.values), type=pa.string())

    def index(self, value: str) -> int:
        if value not in self.values:
            raise KeyError(f"{value!r} is not in the synthetic vocabulary {self.values[:5]}...")
        return 2 + self.values.index(value)

    def indices(self, values: list[str]) -> np.ndarray:
        return np.array([self.index(v) for v in values], dtype=np.uint8)

    def __len__(self) -> int:
        return 2 + len(self.values)


# DB07 six-digit industry codes with a rough share of employment and whether the employer is public.
# A sample, not the full classification: enough for a realistic mix in the branche_YYYY_MM columns.
BRANCHER: tuple[tuple[str, float, bool], ...] = (
    ("011100", 0.010, False),  # dyrkning af korn
    ("101100", 0.012, False),  # slagterier
    ("107100", 0.008, False),  # bagerier
    ("212000", 0.012, False),  # farmaceutiske præparater
    ("281100", 0.015, False),  # motorer og turbiner
    ("412000", 0.030, False),  # opførelse af bygninger
    ("432100", 0.020, False),  # el-installation
    ("452000", 0.015, False),  # autoværksteder
    ("471110", 0.045, False),  # supermarkeder
    ("471120", 0.030, False),  # discountforretninger
    ("494100", 0.025, False),  # vejgodstransport
    ("561010", 0.035, False),  # restauranter
    ("620100", 0.035, False),  # computerprogrammering
    ("641900", 0.020, False),  # pengeinstitutter
    ("692000", 0.015, False),  # bogføring og revision
    ("711200", 0.020, False),  # rådgivende ingeniører
    ("782000", 0.020, False),  # vikarbureauer
    ("812100", 0.025, False),  # rengøring
    ("841100", 0.060, True),  # generelle offentlige tjenester
    ("852010", 0.060, True),  # grundskoler
    ("854200", 0.030, True),  # videregående uddannelser
    ("861000", 0.090, True),  # hospitaler
    ("862100", 0.015, False),  # praktiserende læger
    ("873000", 0.050, True),  # plejehjem
    ("881000", 0.045, True),  # hjemmehjælp
    ("889120", 0.040, True),  # vuggestuer og børnehaver
    ("949900", 0.010, False),  # foreninger
    ("960200", 0.008, False),  # frisører
)

# CVR company-form codes: private forms for private industries, public forms for public ones.
VIRKFORM_PRIVATE: tuple[tuple[str, float], ...] = (
    ("10", 0.10),  # enkeltmandsvirksomhed
    ("30", 0.03),  # interessentskab
    ("60", 0.40),  # aktieselskab
    ("80", 0.40),  # anpartsselskab
    ("100", 0.04),  # andelsselskab
    ("110", 0.03),  # forening
)
VIRKFORM_PUBLIC: tuple[tuple[str, float], ...] = (
    ("150", 0.10),  # selvejende institution
    ("190", 0.20),  # statslig administrativ enhed
    ("200", 0.20),  # regional administrativ enhed
    ("210", 0.50),  # primærkommunal administrativ enhed
)

# Two-digit a-kasse codes (a sample of the unemployment-insurance funds).
AKASSER: tuple[str, ...] = (
    "01", "03", "05", "07", "08", "10", "12", "15", "17", "20",
    "22", "25", "27", "30", "33", "35", "40", "45", "50", "55",
)  # fmt: skip

VISITATIONER: tuple[str, ...] = ("jobparat", "aktivitetsparat", "uddannelsesparat", "aabenlyst uddannelsesparat")
MATCH: tuple[str, ...] = ("1", "2", "3")
KOEN: tuple[str, ...] = ("M", "K")
AFM: tuple[str, ...] = ("1", "0")


@functools.cache
def ydelser() -> Vocab:
    return Vocab(tuple(c.ydelseskode for c in benefit_codes()))


@functools.cache
def kommune_vocab() -> Vocab:
    return Vocab(tuple(k.kommunekode for k in kommuner()))


@functools.cache
def kommune_weights() -> np.ndarray:
    """Population shares of the 98 municipalities, in the order of ``kommune_vocab``."""
    pop = np.array([k.befolkning for k in kommuner()], dtype=np.float64)
    return pop / pop.sum()


@functools.cache
def branche_vocab() -> Vocab:
    return Vocab(tuple(code for code, _, _ in BRANCHER))


@functools.cache
def virkform_vocab() -> Vocab:
    return Vocab(tuple(code for code, _ in VIRKFORM_PRIVATE + VIRKFORM_PUBLIC))


@functools.cache
def grad_vocab() -> Vocab:
    """"0.00" .. "1.00": the vocabulary index of degree g is 2 + round(100 g)."""
    return Vocab(tuple(f"{i / 100:.2f}" for i in range(101)))


@functools.cache
def akasse_vocab() -> Vocab:
    return Vocab(AKASSER)


@functools.cache
def small_vocab(values: tuple[str, ...]) -> Vocab:
    return Vocab(values)
