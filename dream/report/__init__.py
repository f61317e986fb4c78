"""``dream report``: one kommune's self-contained HTML report from the aggregate tables of a warehouse.

    from dream.report import resolve_kommune, write_report
    write_report(spark, "data/warehouse", resolve_kommune("101"), "koebenhavn.html")

``data`` gathers the figures with Spark into small pandas frames, ``protect`` applies disclosure control
(no group under 5 persons), ``charts`` draws SVG, ``page`` writes the HTML. See docs/report.md."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from pyspark.sql import SparkSession

from dream.reference.kommuner import Kommune
from dream.report.data import TABLES, ReportError, gather, missing_tables, resolve_kommune
from dream.report.page import render
from dream.report.protect import Published, protect

log = logging.getLogger(__name__)

__all__ = ["ReportError", "Published", "TABLES", "check_out", "published_figures", "resolve_kommune", "write_report"]


def check_out(out: str | Path) -> Path:
    """The HTML file to write, its folder made; a clear error when it cannot be (before Spark starts)."""
    path = Path(out)
    if path.is_dir():
        raise ReportError(f"--out {out} is a folder: give the HTML file to write, e.g. {path / 'rapport.html'}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot make the folder of --out {out}: {exc.strerror or exc}") from None
    return path


def published_figures(spark: SparkSession, warehouse: str, kommune: Kommune) -> Published:
    """The report's figures, disclosure-controlled: for the page, or for a notebook or test to use."""
    missing = missing_tables(spark, warehouse)
    if missing:
        raise ReportError(f"the warehouse {warehouse} lacks the Delta table(s) {', '.join(missing)}: run "
                          f"`dream model --warehouse {warehouse}` (or `dream refresh`) first")
    return protect(gather(spark, warehouse, kommune))


def write_report(spark: SparkSession, warehouse: str, kommune: Kommune, out: str | Path) -> Path:
    started = time.monotonic()
    path = check_out(out)
    figures = published_figures(spark, warehouse, kommune)
    html = render(figures)
    try:
        path.write_text(html, encoding="utf-8")
    except OSError as exc:
        raise ReportError(f"cannot write --out {out}: {exc.strerror or exc}") from None
    log.info("Wrote the report of %s (%s) to %s (%s kB) in %.1f s", kommune.kommunenavn, kommune.kommunekode, path,
             f"{len(html.encode()) / 1024:,.0f}", time.monotonic() - started)
    return path
