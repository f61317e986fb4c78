"""Jobs: extract -> transform -> load wiring shared by the CLI, ``jobs/`` (spark-submit) and notebooks.
No rules live here; they live in the modules these call."""

from __future__ import annotations

import logging
from pathlib import Path

from dream.config import Config, load_config
from dream.ingest import IngestResult, ingest
from dream.model.pipeline import build_model
from dream.refresh import RefreshResult, refresh
from dream.report import check_out, resolve_kommune, write_report
from dream.session import get_spark

log = logging.getLogger(__name__)


def absolute(path: str | None) -> str | None:
    """A local path made absolute on the driver (an executor's working folder is not the driver's, so a
    relative path would point elsewhere in a task); a URI (``s3://``, ``abfss://``, ``file:/``) as given."""
    if path is None or "://" in path or path.startswith("file:"):
        return path
    return str(Path(path).expanduser().absolute())


def run_ingest(input_path: str, warehouse: str, env: str = "local", conf_dir: str | None = None,
               progress: bool = True) -> IngestResult:
    config = load_config(env, conf_dir)
    spark = get_spark(config)
    result = ingest(spark, absolute(input_path), absolute(warehouse), config, progress=progress)
    _summary(result)
    return result


def run_model(warehouse: str, env: str = "local", conf_dir: str | None = None) -> dict[str, int]:
    config = load_config(env, conf_dir)
    versions = build_model(get_spark(config), absolute(warehouse))
    for table, version in versions.items():
        log.info("  %-18s version %d", table, version)
    return versions


def run_refresh(input_path: str, warehouse: str, env: str = "local", conf_dir: str | None = None,
                leverance: str | None = None, force: bool = False, allow_older: bool = False,
                population: str | None = None) -> RefreshResult:
    config = load_config(env, conf_dir)
    result = refresh(get_spark(config), absolute(input_path), absolute(warehouse), config, leverance=leverance,
                     force=force, allow_older=allow_older, population=absolute(population))
    _refresh_summary(result)
    return result


def run_audit(warehouse: str, leverance: str | None = None, env: str = "local", conf_dir: str | None = None) -> bool:
    """The LP audit of the published benchmark (``dream.benchmark.audit``); logs a line per period and
    measure and every problem; True when nothing is revealed or known to be under the threshold."""
    from dream.benchmark.audit import audit_benchmark

    config = load_config(env, conf_dir)
    summary, results = audit_benchmark(get_spark(config), absolute(warehouse), leverance)
    log.info("Audited %d periods x measures: %d suppressed cells, %d revealed, %d known to be under the threshold",
             len(summary), summary["undertrykte"].sum(), summary["afsloerede"].sum(), summary["under_taerskel"].sum())
    for result in results:
        if not result.ok:
            log.error("%s\n%s", result.summary(), result.problems.to_string(index=False))
    return all(r.ok for r in results)


def run_report(warehouse: str, kommune: str, out: str, env: str = "local", conf_dir: str | None = None) -> Path:
    """One kommune's HTML report. The kommune and the output file are checked before Spark starts."""
    chosen, path = resolve_kommune(kommune), check_out(out)
    config = load_config(env, conf_dir)
    return write_report(get_spark(config), absolute(warehouse), chosen, path)


def run_main(env: str = "local", conf_dir: str | None = None, persons: int | None = None) -> RefreshResult:
    """The embedded default: a synthetic national table (made once, reused) refreshed into the warehouse:
    ingest, model, measures, maintenance, recorded as one delivery."""
    config = load_config(env, conf_dir)
    source = ensure_synthetic_input(config, persons)
    result = refresh(get_spark(config), absolute(str(source)), absolute(config.paths.warehouse), config)
    _refresh_summary(result)
    return result


def ensure_synthetic_input(config: Config, persons: int | None = None) -> Path:
    from dream.synth import generate

    path = Path(config.paths.synthetic_input)
    persons = persons or config.synth.persons
    marker = path.with_suffix(".persons")
    if path.is_file() and marker.is_file() and marker.read_text().strip() == f"{persons}:{config.synth.seed}":
        log.info("Reusing the synthetic table %s (%s persons)", path, f"{persons:,}")
        return path
    log.info("Generating a synthetic national table of %s persons at %s", f"{persons:,}", path)
    generate(persons, config.synth.seed, path)
    marker.write_text(f"{persons}:{config.synth.seed}")
    return path


def _refresh_summary(result: RefreshResult) -> None:
    if result.ingest is not None:
        _summary(result.ingest)
    log.info("Delivery %s: %s; %d tables:", result.leverance, result.status, len(result.versions))
    for table, version in sorted(result.versions.items()):
        log.info("  %-28s version %d", table, version)


def _summary(result: IngestResult) -> None:
    log.info("Summary: %s persons in %.1f s; tables in %s:", f"{result.persons:,}", result.seconds, result.warehouse)
    counts = {c.tabel: c for c in result.counts}
    for table, version in result.versions.items():
        c = counts.get(table)
        rows = f"{c.skrevet:,} rows, {c.karantaene:,} quarantined" if c else ""
        log.info("  %-14s version %-4d %s", table, version, rows)
