"""Disclosure control of a report's figures: what ``data.Aggregates`` holds -> what may be shown
(``Published``). No figure of a group of 1-4 persons is shown, nor one that would give such a group away.

- A row split into parts that add up to its total (the three statuses 52 weeks on; the duration intervals;
  passive and not passive) is protected as one small table by ``dream.disclosure.suppress`` (threshold
  5): primary suppression of parts or totals of 1-4 persons, secondary suppression so that no hidden part
  can be recomputed from the total and the other parts. Zeros are shown, except in a row whose total is
  hidden (a zero there would tell which part its 1-4 persons are in).
- A single figure without parts (the kommune's full-time persons on public support in a month) is shown
  only when at least 5 persons are behind it.
- The benchmark figures are already published (suppressed in ``dream model``) and are passed on as they are.
A suppressed count is ``pd.NA``; a share derived from it is NaN."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pandas as pd

from dream.benchmark.publish import THRESHOLD
from dream.disclosure import Dimension, suppress
from dream.reference.codes import duration_intervals, group_names, public_support_total, selected_groups
from dream.reference.kommuner import Kommune
from dream.report.data import Aggregates

log = logging.getLogger(__name__)

STATUS_PARTS = ["antal_fortsat", "antal_anden", "antal_ikke_laengere"]
PASSIVE_PARTS = ["antal_passive", "antal_ikke_passive"]
TOTAL = "I alt"


@dataclass(frozen=True)
class Published:
    """What the report shows, disclosure-controlled (see the module docstring); the same periods as in
    ``Aggregates``. ``duration_intervals``: the interval columns of ``duration`` in order."""

    kommune: Kommune
    support: pd.DataFrame
    status_52: pd.DataFrame
    status_52_periode: str | None
    duration: pd.DataFrame
    duration_intervals: list[str]
    duration_periode: str | None
    passive: pd.DataFrame
    passive_periode: str | None
    benchmark: pd.DataFrame
    ranking: pd.DataFrame
    benchmark_periode: str | None


def group_order(groups: pd.Series) -> pd.Series:
    """Sort key: the reference data's group order, the "udvalgte ydelser" and the all-groups rows last."""
    order = {g: i for i, g in enumerate([*group_names(), selected_groups()[0], public_support_total()])}
    return groups.map(lambda g: order.get(g, len(order)))


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """``suppress`` logs each table it protects; here each is one row, and dozens of lines would tell nothing."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def protect_parts(frame: pd.DataFrame, parts: Sequence[str], total: str, what: str = "rows") -> pd.DataFrame:
    """Each row of ``frame`` (parts as columns adding up to ``total``) suppressed on its own; the counts
    become nullable integers, NA where suppressed, and ``undertrykt`` says whether anything was."""
    out = frame.copy()
    for column in [*parts, total]:
        out[column] = pd.array([pd.NA] * len(out), dtype="Int64")
    hidden = []
    for i, (_, row) in enumerate(frame.iterrows()):
        inner = pd.DataFrame({"del": list(parts), "antal": [int(row[p]) for p in parts]})
        with _quiet("dream.disclosure"):
            cells = suppress(inner, [Dimension.flat("del", TOTAL, parts)], value="antal", threshold=THRESHOLD).cells
        shown = {c["del"]: int(c["antal"]) for c in cells.to_dict("records") if not c["suppressed"]}
        if TOTAL not in shown:  # a hidden total hides its zeros too: they would tell where its 1-4 persons are
            shown = {}
        for column in parts:
            out.iloc[i, out.columns.get_loc(column)] = shown.get(column, pd.NA)
        out.iloc[i, out.columns.get_loc(total)] = shown.get(TOTAL, pd.NA)
        hidden.append(bool(cells["suppressed"].any()))
    out["undertrykt"] = hidden
    log.info("  %s: %d of %d rows with suppressed figures", what, sum(hidden), len(hidden))
    return out


def share(part: pd.Series, total: pd.Series) -> pd.Series:
    """part / total as floats, NaN where either is suppressed or the total is 0."""
    p, t = part.astype("Float64"), total.astype("Float64")
    return (p / t.where(t > 0)).astype(float)


def protect_support(support: pd.DataFrame) -> pd.DataFrame:
    out = support.copy()
    none = out["antal_personer"].isna()  # a month without a row: nobody on public support in the kommune
    out.loc[none, ["antal_personer", "fuldtidspersoner", "andel_af_befolkning"]] = 0
    small = out["antal_personer"].between(1, THRESHOLD - 1)
    out["antal_personer"] = out["antal_personer"].astype("Int64").mask(small)
    for column in ("fuldtidspersoner", "andel_af_befolkning"):
        out[column] = out[column].astype(float).mask(small)
    out["undertrykt"] = small
    return out[["periode", "fuldtidspersoner", "antal_personer", "befolkning_16_66", "andel_af_befolkning",
                "andel_land", "undertrykt"]]


def protect_status(rows: pd.DataFrame) -> pd.DataFrame:
    out = protect_parts(rows, STATUS_PARTS, "antal_borgere", "status 52 weeks on")
    for part in STATUS_PARTS:
        out[part.replace("antal_", "andel_")] = share(out[part], out["antal_borgere"])
    return out.sort_values("ydelsesgruppe", key=group_order).reset_index(drop=True)


def shown_intervals() -> list[str]:
    """Under 12 months, then the year intervals of 12 months and more (seed 003 Skema 1), in order."""
    chosen = [d for d in duration_intervals() if d.inddeling == "aar" or (d.inddeling == "sum" and d.fra == 0)]
    return [d.varighed for d in sorted(chosen, key=lambda d: d.fra)]


def duration_table(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Wide per group: one column per shown interval (0 where the table has no row), and their sum."""
    intervals = shown_intervals()
    leaves = rows[rows["varighed"].isin(intervals) & rows["inddeling"].isin(["sum", "aar"])]
    wide = (leaves.pivot_table(index="ydelsesgruppe", columns="varighed", values="antal_personer", aggfunc="sum",
                               fill_value=0).reindex(columns=intervals, fill_value=0).reset_index())
    wide.columns.name = None
    wide["antal_personer"] = wide[intervals].sum(axis=1)
    return wide, intervals


def protect_duration(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    wide, intervals = duration_table(rows)
    out = protect_parts(wide, intervals, "antal_personer", "durations")
    return out.sort_values("ydelsesgruppe", key=group_order).reset_index(drop=True), intervals


def protect_passive(rows: pd.DataFrame) -> pd.DataFrame:
    frame = rows.assign(antal_ikke_passive=rows["antal_personer"] - rows["antal_passive"])
    out = protect_parts(frame, PASSIVE_PARTS, "antal_personer", "passive share")
    out["passivandel"] = share(out["antal_passive"], out["antal_personer"])
    return out.sort_values("ydelsesgruppe", key=group_order).reset_index(drop=True)


def protect(aggregates: Aggregates) -> Published:
    a = aggregates
    duration, intervals = protect_duration(a.duration)
    benchmark = a.benchmark.sort_values(["periode", "maal", "ydelsesgruppe"],
                                        key=lambda s: group_order(s) if s.name == "ydelsesgruppe" else s)
    return Published(a.kommune, protect_support(a.support), protect_status(a.status_52), a.status_52_periode,
                     duration, intervals, a.duration_periode, protect_passive(a.passive), a.passive_periode,
                     benchmark.reset_index(drop=True), a.ranking, a.benchmark_periode)

