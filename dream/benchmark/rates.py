"""Population cells and the companion table ``ydelsesaktivitet_benchmark_noegletal``: rates per 1,000
residents 16-66, ranks among the kommuner, national and regional rates, change on the previous month and
the rolling 12 months average. Anything derived from a suppressed cell is NULL.

Every key figure compares cells of one (ydelsesgruppe, visitationsgruppe, aktivering, maal): the areas of a
month, or the months of an area. The figures are computed with numpy on Arrow in one Spark task
(``figures_of``), by sorting integer codes of the text columns, and are the rows SQL window functions over
the cells give, to the bit. Four window partitionings in Spark cost four shuffles and sorts of every cell:
more than twice the time at 200,000 persons."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from dream.benchmark.cells import ACTIVATED, DIMENSIONS, POPULATION, RECIPIENTS, TOTAL
from dream.benchmark.publish import KEYS, LAND, regions
from dream.errors import InputError
from dream.model.buckets import encoded
from dream.tables import file_tag, filesystem, table_files, write_data_file

RATE_MEASURES = [RECIPIENTS, ACTIVATED]
NOEGLETAL_SCHEMA = ("periode string, niveau string, omraade string, ydelsesgruppe string, visitationsgruppe string, "
                    "aktivering string, maal string, antal long, befolkning long, pr_1000 double, rang int, "
                    "antal_rangeret long, percentil double, pr_1000_land double, pr_1000_region double, "
                    "aendring_antal long, aendring_pr_1000 double, pr_1000_12_mdr double, undertrykt boolean")
NOEGLETAL_COLUMNS = [c.split()[0] for c in NOEGLETAL_SCHEMA.split(", ")]
_NOEGLETAL_TYPES = {"antal": pa.int64(), "befolkning": pa.int64(), "rang": pa.int32(), "antal_rangeret": pa.int64(),
                    "aendring_antal": pa.int64(), "undertrykt": pa.bool_()}
NOEGLETAL_ARROW = pa.schema([(c, _NOEGLETAL_TYPES.get(c, pa.string() if c in KEYS else pa.float64()))
                             for c in NOEGLETAL_COLUMNS])
CELL = [*DIMENSIONS, "maal"]  # every key figure compares cells that agree on these
YEAR_MONTHS = 12  # the rolling average: the month and the 11 calendar months before it
Residents = dict[tuple[int, str, str], int | None]  # (aar, niveau, omraade) -> befolkning
Encoded = tuple[np.ndarray, pa.Array]  # a text column as ``encoded`` gives it: codes (-1 for NULL), values


def region_map(spark: SparkSession) -> DataFrame:
    """kommune -> region as a small DataFrame (the reference data, 99 rows)."""
    return spark.createDataFrame(sorted(regions().items()), "kommune string, region string")


def population(befolkning: DataFrame) -> DataFrame:
    """Residents 16-66 per year and area at every level (kommune, region, land)."""
    spark = befolkning.sparkSession
    kommune = (befolkning.where(F.col("alder").between(16, 66)).groupBy("aar", "kommune")
               .agg(F.sum("antal").cast("long").alias("befolkning")))
    with_region = kommune.join(F.broadcast(region_map(spark)), "kommune", "left")
    region = with_region.groupBy("aar", F.coalesce("region", F.lit("Uoplyst")).alias("omraade")).agg(
        F.sum("befolkning").alias("befolkning"))
    land = kommune.groupBy("aar").agg(F.sum("befolkning").alias("befolkning")).withColumn("omraade", F.lit(LAND))
    return (kommune.select("aar", F.lit("kommune").alias("niveau"), F.col("kommune").alias("omraade"), "befolkning")
            .unionByName(region.select("aar", F.lit("region").alias("niveau"), "omraade", "befolkning"))
            .unionByName(land.select("aar", F.lit("land").alias("niveau"), "omraade", "befolkning")))


def year_of(periode: Column) -> Column:
    return F.substring(periode, 1, 4).cast("int")


def population_cells(pop: DataFrame, periods: DataFrame) -> DataFrame:
    """Measure "antal borgere 16-66 år" for every period: geography only, the other dimensions "I alt".
    Population counts are published statistics and are not suppressed."""
    cells = periods.select("periode", year_of(F.col("periode")).alias("aar")).distinct().join(pop, "aar")
    return cells.select("periode", "niveau", "omraade", *[F.lit(TOTAL).alias(d) for d in DIMENSIONS],
                        F.lit(POPULATION).alias("maal"), "befolkning", "befolkning", F.lit(False), F.lit(None)
                        ).toDF("periode", "niveau", "omraade", *DIMENSIONS, "maal", "antal", "personer", "undertrykt",
                               "aarsag")


def key_figures_files(spark: SparkSession, published: str, path: str, run_id: str, pop: DataFrame) -> DataFrame:
    """The task that writes ``ydelsesaktivitet_benchmark_noegletal`` at ``path``: it reads the cells of the
    rate measures from the files of the published table at ``published`` and writes their figures
    (``figures_of``) as one file, the table's only one; no file for no cells. All cells go to one task: they
    are bounded by the classification (13 published months x 106 areas x 1,020 dimension cells x 2 measures:
    2.8 million at most), and a shuffle into a partition per core cost more than it saved, on two cores.
    One row per file written: its add action."""
    files = table_files(spark, published)
    if files is None:
        raise InputError(f"{published} cannot be read file by file (deletion vectors or column mapping)")
    sources = [f.location for f in files]
    residents = residents_of(pop)

    def task(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        if not any(batch.num_rows for batch in batches):
            return
        parts = []
        for source in sources:
            fs, file = filesystem(source)
            parts.append(pq.read_table(file, filesystem=fs, columns=[*KEYS, "antal", "undertrykt"],
                                       read_dictionary=KEYS, filters=pc.field("maal").isin(RATE_MEASURES)))
        cells = pa.concat_tables(parts).unify_dictionaries().combine_chunks() if parts else None
        if cells is not None and cells.num_rows:
            written = write_data_file(path, figures_of(cells, residents), {}, file_tag(run_id, 0), KEYS)
            yield pa.record_batch([pa.array([written.add_action()], pa.string())], names=["fil"])

    return spark.range(0, 1, 1, 1).mapInArrow(task, "fil string")


def residents_of(pop: DataFrame) -> Residents:
    """``pop`` (``population``'s columns) as (aar, niveau, omraade) -> befolkning, collected: areas x years,
    a few thousand rows at most. Rows with a NULL key are left out, as a join on them would."""
    residents: Residents = {}
    for row in pop.select("aar", "niveau", "omraade", "befolkning").collect():
        key = (row.aar, row.niveau, row.omraade)
        if None in key:
            continue
        if key in residents:
            raise ValueError(f"the population has more than one row for aar {row.aar}, {row.niveau} {row.omraade}: "
                             "it needs one per year and area, as population() gives")
        residents[key] = row.befolkning
    return residents


def figures_of(cells: pa.Table, residents: Residents) -> pa.Table:
    """``NOEGLETAL_COLUMNS`` of published cells of the rate measures (``KEYS``, ``antal``, ``undertrykt``)
    holding all the cells of each of their (dimensions, maal) groups, as SQL would give them:
    - ``befolkning`` from ``residents`` by the year of ``periode`` and the area; ``pr_1000`` = antal * 1000 /
      befolkning, NULL without residents (an area or year the population lacks, or 0): no rate, not an error;
    - ``rang``, ``antal_rangeret``, ``percentil``: ``rank()`` by descending rate, the count and
      ``percent_rank()`` by ascending rate among the kommuner with a rate of the same periode and cell; NULL
      for the other levels and for cells without a rate (suppressed, or no residents);
    - ``pr_1000_land``: the land's rate of the same periode and cell; ``pr_1000_region``: the rate of the
      region of the same periode and cell that is the kommune's region (or the region itself);
    - ``aendring_*``: the change on the same area and cell in the previous calendar month, NULL when that
      month has no row (not the month before it);
    - ``pr_1000_12_mdr``: the mean rate of the same area and cell over the month and the 11 calendar months
      before it (the months it has rows for), NULL when one of those rows is suppressed or has no rate."""
    text = {name: encoded(cells.column(name)) for name in KEYS}
    antal, counted = _values(cells.column("antal"), 0)
    month, befolkning, known = _months_and_residents(text, residents)
    with_residents = counted & known & (befolkning != 0)
    rate = np.where(with_residents, antal * 1000.0 / np.where(with_residents, befolkning, 1), 0.0)
    suppressed = pc.fill_null(cells.column("undertrykt"), False).to_numpy(zero_copy_only=False)
    return pa.table({
        **{name: cells.column(name) for name in [*KEYS, "antal"]},
        "befolkning": pa.array(befolkning, mask=~known), "pr_1000": pa.array(rate, mask=~with_residents),
        **_cell_figures(text, rate, with_residents),
        **_history_figures(text, month, antal, counted, rate, with_residents, suppressed),
        "undertrykt": cells.column("undertrykt")})


def _months_and_residents(text: dict[str, Encoded], residents: Residents
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the month index of ``periode`` ('YYYY-MM' -> year * 12 + month, so that the previous
    calendar month is one less), befolkning (0 where unknown) and whether it is known."""
    periods, levels, areas = (text[name][1].to_pylist() for name in ("periode", "niveau", "omraade"))
    if (text["periode"][0] < 0).any():
        raise ValueError("a published cell of the benchmark has no periode: it is part of the key")
    years = [int(periode[:4]) for periode in periods]
    # befolkning by the codes of (periode, niveau, omraade), with one more level and area at the end: a NULL
    # (code -1) indexes them and finds no residents
    grid = np.array([[[residents.get((year, level, area)) for area in [*areas, None]] for level in [*levels, None]]
                     for year in years], dtype=object)
    known = ~np.equal(grid, None)
    befolkning = np.where(known, grid, 0).astype(np.int64)
    at = tuple(text[name][0] for name in ("periode", "niveau", "omraade"))
    month = np.array([year * 12 + int(periode[5:7]) for year, periode in zip(years, periods)], np.int64)
    return month[at[0]], befolkning[at], known[at]


def _cell_figures(text: dict[str, Encoded], rate: np.ndarray, rated: np.ndarray) -> dict[str, pa.Array]:
    """Ranks among the kommuner, and the land's and region's rates, of the same periode and cell."""
    level = {name: _is(text["niveau"], name) for name in ("kommune", "region", "land")}
    in_cell = [_codes(text[name]) for name in ["periode", *CELL]]
    cell = _key(in_cell)
    ranked = rated & level["kommune"]
    rank, ranked_count, percentile = _ranks(cell, rate, ranked)
    land_rate, has_land = _Groups(cell).largest_of_group(rate, rated & level["land"])
    region = _region_numbers(text)
    in_region = _Groups(_key([*in_cell, (region + 1, int(region.max(initial=-1)) + 2)]))
    region_rate, has_region = in_region.largest_of_group(rate, rated & level["region"])
    return {"rang": pa.array(rank.astype(np.int32), mask=~ranked),
            "antal_rangeret": pa.array(ranked_count, mask=~ranked),
            "percentil": pa.array(percentile, mask=~ranked),
            "pr_1000_land": pa.array(land_rate, mask=~has_land),
            "pr_1000_region": pa.array(region_rate, mask=~(has_region & (region >= 0)))}


def _region_numbers(text: dict[str, Encoded]) -> np.ndarray:
    """Per row, a number for its region: a kommune's by ``regions()``, a region's itself; -1 for the other
    levels and for a kommune without a region."""
    numbers: dict[str, int] = {}
    areas = text["omraade"][1].to_pylist()
    # one more at the end: a NULL omraade (code -1) has no region
    of_kommune = np.array([numbers.setdefault(regions()[a], len(numbers)) if a in regions() else -1 for a in areas]
                          + [-1])
    of_region = np.array([numbers.setdefault(a, len(numbers)) for a in areas] + [-1])
    area = text["omraade"][0]
    return np.where(_is(text["niveau"], "kommune"), of_kommune[area],
                    np.where(_is(text["niveau"], "region"), of_region[area], -1))


def _history_figures(text: dict[str, Encoded], month: np.ndarray, antal: np.ndarray, counted: np.ndarray,
                     rate: np.ndarray, rated: np.ndarray, suppressed: np.ndarray) -> dict[str, pa.Array]:
    """The change on the previous calendar month and the rolling 12 months mean of the same area and cell."""
    first = int(month.min())
    # room for 12 months after the last one: no frame reaches back into the months of the series before
    months = (month - first, int(month.max()) - first + YEAR_MONTHS)
    history = _Groups(_key([_codes(text[name]) for name in ["niveau", "omraade", *CELL]] + [months]))
    before, found = history.find(history.key - 1)
    antal_before, antal_known = (a[before] for a in history.largest(antal, counted))
    rate_before, rate_known = (a[before] for a in history.largest(rate, rated))
    average, averaged = history.rolling_mean(rate, rated & ~suppressed, YEAR_MONTHS)
    return {"aendring_antal": pa.array(antal - antal_before, mask=~(counted & found & antal_known)),
            "aendring_pr_1000": pa.array(rate - rate_before, mask=~(rated & found & rate_known)),
            "pr_1000_12_mdr": pa.array(average, mask=~averaged)}


def _is(column: Encoded, text: str) -> np.ndarray:
    """Per row of an encoded text column: whether it is ``text``."""
    codes, values = column
    values = values.to_pylist()
    return codes == values.index(text) if text in values else np.zeros(len(codes), bool)


def _codes(column: Encoded) -> tuple[np.ndarray, int]:
    """An encoded text column as (a code per row: 0 for NULL, 1.. for its distinct values; how many codes)."""
    indices, values = column
    return indices.astype(np.int64) + 1, len(values) + 1


def _values(column: pa.ChunkedArray, fill: float | int) -> tuple[np.ndarray, np.ndarray]:
    """A numeric column as (its values, ``fill`` for NULL; whether each is not NULL)."""
    return (pc.fill_null(column, fill).to_numpy(zero_copy_only=False),
            pc.is_valid(column).to_numpy(zero_copy_only=False))


def _key(parts: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """One int64 per row, ordered as the rows' tuples of codes (each part: codes in ``range(size)``, size)."""
    key, bound = np.zeros(len(parts[0][0]), np.int64), 1
    for codes, size in parts:
        if bound * size >= 2 ** 62:  # renumber the tuples so far, in their order, before the key overflows
            key = np.unique(key, return_inverse=True)[1].reshape(-1).astype(np.int64)
            bound = int(key.max()) + 1
        key, bound = key * size + codes, bound * size
    return key


def _new(*columns: np.ndarray) -> np.ndarray:
    """Per row of sorted columns: whether it starts a run of equal values (differs from the row before)."""
    new = np.zeros(len(columns[0]), bool)
    new[:1] = True
    for column in columns:
        new[1:] |= column[1:] != column[:-1]
    return new


def _runs(new: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the first and the last row of its run (``new``: where the runs start)."""
    starts = np.flatnonzero(new)
    run = np.cumsum(new) - 1
    return starts[run], np.append(starts[1:], len(new))[run] - 1


def _ranks(cell: np.ndarray, rate: np.ndarray, ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ``ranked`` row, among the ranked rows of its cell: SQL ``rank()`` by descending rate (1 + the
    rows with a higher rate), their count, and ``percent_rank()`` by ascending rate (the rows with a lower
    rate / (count - 1); 0 for a single row). Zero for the other rows."""
    rows = np.flatnonzero(ranked)
    rows = rows[np.lexsort((rate[rows], cell[rows]))]
    first, last = _runs(_new(cell[rows]))
    tie_first, tie_last = _runs(_new(cell[rows], rate[rows]))
    count = last - first + 1
    rank, size, percentile = np.zeros(len(cell), np.int64), np.zeros(len(cell), np.int64), np.zeros(len(cell))
    rank[rows], size[rows] = last - tie_last + 1, count
    percentile[rows] = np.where(count > 1, (tie_first - first) / np.maximum(count - 1, 1), 0.0)
    return rank, size, percentile


class _Groups:
    """The rows grouped by an int64 key: sorted once, then reduced per group and groups found by key."""

    def __init__(self, key: np.ndarray):
        self.key = key
        self.order = np.argsort(key, kind="stable")
        self.sorted = key[self.order]
        new = _new(self.sorted)
        self.starts = np.flatnonzero(new)
        self.group = np.empty(len(key), np.int64)  # per row, its group
        self.group[self.order] = np.cumsum(new) - 1

    def largest(self, values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per group: SQL ``max`` of the ``valid`` values, and whether it has one."""
        lowest = -np.inf if values.dtype.kind == "f" else np.iinfo(values.dtype).min
        best = np.maximum.reduceat(np.where(valid, values, lowest)[self.order], self.starts)
        return best, np.logical_or.reduceat(valid[self.order], self.starts)

    def largest_of_group(self, values: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``largest`` per row: of the row's group."""
        best, found = self.largest(values, valid)
        return best[self.group], found[self.group]

    def find(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The group of each ``wanted`` key, and whether there is one."""
        keys = self.sorted[self.starts]
        at = np.minimum(np.searchsorted(keys, wanted), len(keys) - 1)
        return at, keys[at] == wanted

    def rolling_mean(self, values: np.ndarray, clean: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
        """Per row: SQL ``avg`` of ``values`` over the range frame of keys ``key - span + 1 .. key``, and
        whether all the rows in the frame are ``clean``. Summed as Spark sums a frame, from its first row on
        in key order, so the doubles are the same: the rows whose frames start at the same row (a run, as
        frames only move forward) share one running sum, begun with the frame's rows before the run."""
        size = len(self.sorted)
        low = np.searchsorted(self.sorted, self.sorted - (span - 1), "left")
        high = np.searchsorted(self.sorted, self.sorted, "right")
        ordered = values[self.order]
        heads = np.flatnonzero(_new(low))
        starts, lengths = low[heads], np.diff(np.append(heads, size))
        running = np.zeros(size)
        for step in range(int((heads - starts).max())):  # the frame's rows before the run
            running[heads] += np.where(starts + step < heads, ordered[np.minimum(starts + step, size - 1)], 0.0)
        running[heads] += ordered[heads]
        for offset in range(1, int(lengths.max())):
            rows = heads[lengths > offset] + offset
            running[rows] = running[rows - 1] + ordered[rows]
        dirty = np.append(0, np.cumsum(~clean[self.order]))
        mean, whole = np.empty(size), np.empty(size, bool)
        mean[self.order], whole[self.order] = running[high - 1] / (high - low), dirty[high] == dirty[low]
        return mean, whole
