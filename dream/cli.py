"""The ``dream`` command: thin wiring from arguments to the library. Logging is configured here only."""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time

from dream.errors import DreamError

log = logging.getLogger("dream")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number >= 0, got {text!r}")
    return int(text)


def _month(text: str) -> tuple[int, int]:
    try:
        day = dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a month as YYYY-MM, got {text!r}") from None
    return day.year, day.month


def _delivery_month(text: str) -> str:
    year, month = _month(text)
    return f"{year}-{month:02d}"


def _add_configuration(parser: argparse.ArgumentParser) -> None:
    """``--env`` and ``--conf-dir``: which configuration a command runs with."""
    parser.add_argument("--env", default="local", help="configuration conf/<env>.yaml (default: local)")
    parser.add_argument("--conf-dir", help="folder holding <env>.yaml and spark-defaults.conf")


def cmd_synth(args: argparse.Namespace) -> None:
    from dream.calendar import IsoWeek, last_full_month, last_week_of_month, week_range
    from dream.synth import generate

    year, month = args.end or last_full_month(dt.date.today())
    weeks = week_range(IsoWeek(year - args.years + 1, 1), last_week_of_month(year, month))
    result = generate(args.persons, args.seed, args.out, weeks=weeks, progress=not args.quiet)
    log.info(
        "Wrote %s persons x %s weekly columns (%s columns) to %s in %.1f s; population table: %s",
        f"{result.persons:,}", result.weeks, result.columns, result.path, result.seconds, result.population_path,
    )


def cmd_ingest(args: argparse.Namespace) -> None:
    from dream.jobs import run_ingest

    run_ingest(args.input, args.warehouse, env=args.env, conf_dir=args.conf_dir)


def cmd_model(args: argparse.Namespace) -> None:
    from dream.jobs import run_model

    run_model(args.warehouse, env=args.env, conf_dir=args.conf_dir)


def cmd_refresh(args: argparse.Namespace) -> None:
    from dream.jobs import run_refresh

    run_refresh(args.input, args.warehouse, env=args.env, conf_dir=args.conf_dir, leverance=args.delivery,
                force=args.force, allow_older=args.allow_older, population=args.population)


def cmd_audit(args: argparse.Namespace) -> None:
    from dream.jobs import run_audit

    if not run_audit(args.warehouse, args.delivery, env=args.env, conf_dir=args.conf_dir):
        raise SystemExit(1)  # problems found: listed in the log


def cmd_report(args: argparse.Namespace) -> None:
    from dream.jobs import run_report

    run_report(args.warehouse, args.kommune, args.out, env=args.env, conf_dir=args.conf_dir)


def cmd_run(args: argparse.Namespace) -> None:
    from dream.jobs import run_main

    run_main(env=args.env, conf_dir=args.conf_dir, persons=args.persons)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dream", description="DREAM register pipeline on Spark + Delta")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    synth = sub.add_parser("synth", help="write a synthetic national DREAM wide table (Parquet)")
    synth.add_argument("--persons", type=_positive_int, required=True)
    synth.add_argument("--seed", type=_non_negative_int, default=1)
    synth.add_argument("--out", required=True, help="the Parquet file to write")
    synth.add_argument("--end", type=_month, help="last full month YYYY-MM (default: the last full month)")
    synth.add_argument("--years", type=_positive_int, default=11, help="years of weeks up to --end (default 11)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=cmd_synth)

    ingest = sub.add_parser("ingest", help="unpivot a national wide table into the long Delta tables")
    ingest.add_argument("--input", required=True, help="Parquet file or folder, CSV, SAS (.sas7bdat/.xpt)")
    ingest.add_argument("--warehouse", required=True, help="folder of the Delta tables")
    _add_configuration(ingest)
    ingest.set_defaults(func=cmd_ingest)

    model = sub.add_parser("model", help="dimensions, week fact, transitions 52 weeks on and key figures")
    model.add_argument("--warehouse", required=True, help="folder of the Delta tables (made by ingest)")
    _add_configuration(model)
    model.set_defaults(func=cmd_model)

    refresh = sub.add_parser("refresh", help="the monthly refresh: ingest + model + maintenance, recorded per delivery")
    refresh.add_argument("--input", required=True, help="the delivery: Parquet file or folder, CSV, SAS")
    refresh.add_argument("--warehouse", required=True, help="folder of the Delta tables")
    refresh.add_argument("--delivery", type=_delivery_month,
                         help="the delivery's month YYYY-MM (default: the month of its last week)")
    refresh.add_argument("--population", help="16-66 year olds per kommune, year, age (Parquet; default: "
                         "<input>_befolkning.parquet beside the input)")
    refresh.add_argument("--force", action="store_true", help="rebuild even if this delivery is already published")
    refresh.add_argument("--allow-older", action="store_true",
                         help="accept a delivery older than the published one")
    _add_configuration(refresh)
    refresh.set_defaults(func=cmd_refresh)

    audit = sub.add_parser("audit", help="audit the published benchmark by linear programming (exit 1 on a leak)")
    audit.add_argument("--warehouse", required=True, help="folder of the Delta tables (made by model or refresh)")
    audit.add_argument("--delivery", type=_delivery_month,
                       help="the delivery YYYY-MM whose release is audited (default: the latest published)")
    _add_configuration(audit)
    audit.set_defaults(func=cmd_audit)

    report = sub.add_parser("report", help="one kommune's HTML report from the published aggregate tables")
    report.add_argument("--kommune", required=True, help="the kommune's code, e.g. 101 (København)")
    report.add_argument("--warehouse", required=True, help="folder of the Delta tables (made by model or refresh)")
    report.add_argument("--out", required=True, help="the HTML file to write")
    _add_configuration(report)
    report.set_defaults(func=cmd_report)

    run = sub.add_parser("run", help="the main job on an environment (default: embedded local default)")
    _add_configuration(run)
    run.add_argument("--persons", type=_positive_int, help="synthetic persons (default: from the config)")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    from dream.progress import SparkProgress, command_warehouse, print_summary

    started, since_ms = time.monotonic(), int(time.time() * 1000)
    try:
        with SparkProgress():  # follows Spark once the command has started it; silent for `synth`
            args.func(args)
        warehouse = command_warehouse(args)
    except DreamError as exc:
        print(f"dream {args.command}: error: {exc}", file=sys.stderr)
        return 2
    seconds = time.monotonic() - started
    log.info("dream %s finished in %.1f s", args.command, seconds)
    print_summary(args.command, warehouse, seconds, since_ms)
    return 0


if __name__ == "__main__":
    sys.exit(main())
