"""The 98 municipalities with their regions and populations (1 January 2019)."""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

UNKNOWN_KOMMUNE = "000"  # residence not known that week: its own partition value, never dropped
LAND = "DK"  # the whole country as an area (niveau "land")


@dataclass(frozen=True)
class Kommune:
    kommunekode: str
    kommunenavn: str
    regionskode: str
    regionsnavn: str
    befolkning: int


@functools.cache
def kommuner() -> tuple[Kommune, ...]:
    with resources.files("dream.reference").joinpath("kommuner.csv").open(encoding="utf-8") as f:
        return tuple(
            Kommune(
                kommunekode=f"{int(r['kommunekode']):03d}",
                kommunenavn=r["kommunenavn"],
                regionskode=r["regionskode"],
                regionsnavn=r["regionsnavn"],
                befolkning=int(r["befolkning_ca"]),
            )
            for r in csv.DictReader(f)
        )
