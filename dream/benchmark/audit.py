"""The audit of a warehouse's published benchmark, as anyone holding the releases can run it.

``ydelsesaktivitet_benchmark`` as published (the count of a suppressed cell is NULL) is audited per
(periode, maal) by linear programming (``dream.disclosure.audit``): for every suppressed cell, the lowest
and highest value the published cells allow; a cell fails when that interval has zero width or its upper
bound is below 5. With the release of the delivery before, the periods both releases publish are audited
together (``audit_releases``: the differencing attack). The population cells ("antal borgere 16-66 år")
are public statistics and never suppressed: they are not audited.

Command line (exit status 0: no problem; 1: problems, listed; 2: nothing to audit)::

    dream audit --warehouse DIR [--delivery YYYY-MM] [--env local]
"""

from __future__ import annotations

import logging
import time

import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from dream.benchmark.cells import POPULATION
from dream.benchmark.pipeline import TABLE
from dream.benchmark.publish import THRESHOLD, dimensions
from dream.disclosure import AuditResult, audit, audit_releases
from dream.errors import InputError
from dream.refresh.runlog import last_published, last_published_before, table_versions
from dream.tables import current_version, table_path

log = logging.getLogger(__name__)

SUMMARY_COLUMNS = ["periode", "maal", "celler", "undertrykte", "afsloerede", "under_taerskel", "sekunder"]


def _release(spark: SparkSession, warehouse: str, version: int | None) -> pd.DataFrame:
    reader = spark.read.format("delta")
    if version is not None:
        reader = reader.option("versionAsOf", version)
    return (reader.load(table_path(warehouse, TABLE)).where(F.col("maal") != POPULATION)
            .toPandas().rename(columns={"niveau": "omraade_niveau", "undertrykt": "suppressed"}))


def _versions(spark: SparkSession, warehouse: str, leverance: str | None) -> tuple[int | None, int | None, str]:
    """(version of the release, version of the release before it or None, what is audited)."""
    row = last_published(spark, warehouse, leverance)
    if row is None:
        if leverance is not None:
            table_versions(spark, warehouse, leverance)  # raises: no such published delivery
        return None, None, "the current version (no run log)"
    before = last_published_before(spark, warehouse, row.leverance)
    previous = dict(before.tabelversioner).get(TABLE) if before is not None else None
    return dict(row.tabelversioner).get(TABLE), previous, f"delivery {row.leverance}"


def audit_benchmark(spark: SparkSession, warehouse: str, leverance: str | None = None,
                    threshold: int = THRESHOLD) -> tuple[pd.DataFrame, list[AuditResult]]:
    """Audit the benchmark published with ``leverance`` (default: the latest published; the table's
    current version in a warehouse without a run log). Returns one summary row per (periode, maal) and
    the audit results (``AuditResult.problems`` lists what fails)."""
    if current_version(spark, warehouse, TABLE) is None:
        raise InputError(f"no {TABLE} table in {warehouse}: run `dream refresh` or `dream model` first")
    version, previous_version, what = _versions(spark, warehouse, leverance)
    current = _release(spark, warehouse, version)
    if current.empty:
        raise InputError(f"{warehouse}: {TABLE} of {what} has no cells to audit")
    previous = _release(spark, warehouse, previous_version) if previous_version is not None else None
    groups = list(current.groupby(["periode", "maal"], sort=True))
    log.info("Auditing %s of %s: %d periods x measures, %s cells%s", TABLE, what, len(groups), f"{len(current):,}",
             "" if previous is None else ", together with the release before it where both publish a period")
    rows, results, started = [], [], time.monotonic()
    for i, ((periode, maal), cells) in enumerate(groups, 1):
        before = pd.DataFrame() if previous is None else previous[(previous.periode == periode)
                                                                  & (previous.maal == maal)]
        both = pd.concat([cells, before]) if len(before) else cells
        dims = dimensions(both[both["omraade_niveau"] == "kommune"], pd.DataFrame())
        if len(before):
            result = audit_releases(before, cells, dims, value="antal", threshold=threshold)
        else:
            result = audit(cells, dims, value="antal", threshold=threshold)
        problems = result.problems["problem"].value_counts()
        rows.append((periode, maal, len(cells), int(cells["suppressed"].sum()), int(problems.get("afsløret", 0)),
                     int(problems.get("under tærskel", 0)), round(time.monotonic() - started, 1)))
        results.append(result)
        log.info("  %d/%d %s %-26s %5d cells, %4d suppressed: %s", i, len(groups), periode, maal, len(cells),
                 rows[-1][3], "ok" if result.ok else f"{len(result.problems)} PROBLEMS")
        started = time.monotonic()
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS), results
