"""``generate``: write a synthetic national DREAM wide table and its population table.

Validates the arguments, then generates the persons chunk by chunk (``numpy.random.default_rng([seed,
chunk_index])``, so a run is reproducible for the same persons, seed, weeks and chunk size) and appends each
chunk to one Parquet file. The file is written under a ``.partial`` name and renamed when complete, so a
crashed run never leaves a truncated table behind under the real name.
"""

from __future__ import annotations

import datetime as dt
import logging
import numbers
import os
import sys
import time
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from dream.calendar import IsoWeek, default_week_range
from dream.errors import InputError
from dream.synth.chunk import make_chunk
from dream.synth.layout import Layout
from dream.synth.persons import PnrAllocator
from dream.synth.residence import Population
from dream.synth.writer import chunk_table, open_writer

log = logging.getLogger(__name__)

_FIRST_YEAR, _LAST_YEAR = 1950, 2080  # birth dates must fit the CPR century rule and the serial table
# CPR numbers allow 2,000-3,000 persons per birth date and sex; 50 million persons use about a third of that.
_MAX_PERSONS = 50_000_000


@dataclass(frozen=True)
class SynthResult:
    path: str  # the wide Parquet file
    population_path: str  # residents by municipality, year and age
    persons: int
    weeks: int
    columns: int
    seconds: float
    chunks: int
    bytes: int  # size of the wide file


def generate(
    persons: int,
    seed: int,
    out: str | os.PathLike,
    weeks: list[IsoWeek] | None = None,
    chunk_size: int = 50_000,
    progress: bool = True,
    today: dt.date | None = None,
) -> SynthResult:
    """Write ``persons`` synthetic persons over ``weeks`` (default: the last 11 years) to ``out``."""
    _check_whole(persons, "--persons", minimum=1, what="a positive whole number")
    if persons > _MAX_PERSONS:
        raise InputError(f"--persons must be at most {_MAX_PERSONS:,} (ten times Denmark), got {persons:,}")
    _check_whole(seed, "--seed", minimum=0, what="a whole number >= 0")
    _check_whole(chunk_size, "--chunk-size", minimum=1, what="a positive whole number")
    weeks = list(weeks) if weeks is not None else default_week_range(today or dt.date.today())
    _check_weeks(weeks)
    path, population_path = _output_paths(out)

    started = time.perf_counter()
    layout = Layout(tuple(weeks))
    schema = layout.schema()
    log.info(
        "Generating %s synthetic persons over %s weeks (%s to %s), %s columns, seed %s, into %s",
        f"{persons:,}", f"{len(weeks):,}", weeks[0].column, weeks[-1].column, f"{len(schema):,}", seed, path,
    )  # fmt: skip
    chunks = _write_wide(path, layout, schema, int(persons), int(seed), int(chunk_size), progress)
    chunks.population.write(population_path)

    seconds = time.perf_counter() - started
    size = os.path.getsize(path)
    log.info(
        "Wrote %s persons in %s chunks to %s (%.1f MB) and %s in %.1f s",
        f"{persons:,}", chunks.count, path, size / 1e6, population_path, seconds,
    )  # fmt: skip
    return SynthResult(
        path=path,
        population_path=population_path,
        persons=int(persons),
        weeks=len(weeks),
        columns=len(schema),
        seconds=seconds,
        chunks=chunks.count,
        bytes=size,
    )


@dataclass
class _Written:
    count: int
    population: Population


def _write_wide(
    path: str, layout: Layout, schema: pa.Schema, persons: int, seed: int, chunk_size: int, progress: bool
) -> _Written:
    """Generate and append chunk after chunk; only one chunk is alive at a time."""
    partial = path + ".partial"
    pnrs, population = PnrAllocator(), Population(layout)
    starts = range(0, persons, chunk_size)
    try:
        with open_writer(partial, schema) as writer, tqdm(
            total=persons, unit=" persons", unit_scale=True, file=sys.stderr, disable=not progress
        ) as bar:
            for chunk_index, start in enumerate(starts):
                rng = np.random.default_rng([seed, chunk_index])
                index = np.arange(start, min(start + chunk_size, persons), dtype=np.int64)
                chunk = make_chunk(rng, index, persons, layout, pnrs)
                writer.write_table(chunk_table(chunk, schema))
                population.add(chunk.persons, chunk.residence)
                bar.update(len(index))
                log.debug("chunk %s: persons %s-%s written", chunk_index, start, start + len(index) - 1)
                del chunk  # free it before the next one is built, not after
        os.replace(partial, path)
    except BaseException:
        if os.path.exists(partial):
            os.remove(partial)
        raise
    return _Written(count=len(starts), population=population)


def _check_whole(value, option: str, minimum: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise InputError(f"{option} must be {what}, got {value!r}")


def _check_weeks(weeks: list[IsoWeek]) -> None:
    if not weeks:
        raise InputError("weeks is empty: give at least one ISO week (or None for the default range)")
    if any(not isinstance(w, IsoWeek) for w in weeks):
        raise InputError("weeks must be dream.calendar.IsoWeek values")
    if any(b <= a for a, b in zip(weeks, weeks[1:])):
        raise InputError(f"weeks must be in increasing order without repeats (from {weeks[0]} to {weeks[-1]})")
    if weeks[0].aar < _FIRST_YEAR or weeks[-1].aar > _LAST_YEAR:
        raise InputError(f"weeks must lie in the years {_FIRST_YEAR}-{_LAST_YEAR}, got {weeks[0]} to {weeks[-1]}")
    columns = [w.column for w in weeks]
    if len(set(columns)) != len(columns):
        raise InputError("weeks span more than 100 years: the two-digit y_YYWW column names would repeat")


def _output_paths(out: str | os.PathLike) -> tuple[str, str]:
    """The wide file and the population file next to it; the folder is created if it is missing."""
    try:
        path = os.path.abspath(os.fspath(out))
    except TypeError:
        raise InputError(f"--out must be a file path, got {out!r}") from None
    if os.path.isdir(path):
        raise InputError(f"--out {path} is a folder; give a file name such as {os.path.join(path, 'dream.parquet')}")
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the output folder {folder} for --out {path}: {e.strerror}") from None
    if not os.access(folder, os.W_OK):
        raise InputError(f"cannot write to the output folder {folder} for --out {path}: permission denied")
    stem = path[: -len(".parquet")] if path.endswith(".parquet") else path
    return path, stem + "_befolkning.parquet"
