"""The notebooks as an analyst runs them outside Databricks: `python notebooks/<name>.py` on a warehouse made
by `dream run` (a small synthetic one), parameters from environment variables.

One warehouse for the session (``run_warehouse`` in conftest.py, shared with test_report.py); the notebooks
run side by side in processes of their own. The expected values
are worked out here from the Delta tables' parquet files with pyarrow and pandas (no Spark), so the
notebook's Spark answer is checked against an independent one."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dream.reference import UNKNOWN_KOMMUNE, kommuner
from dream.reference.codes import blank_group, recipient_status

REPO = Path(__file__).resolve().parent.parent
GROUP = "Kontanthjælp (Jobparate)"
NONE = recipient_status()["none"]
# Notebooks run at the same time, each with a local Spark of its own (1 on a busy two-core machine).
AT_ONCE = int(os.environ.get("DREAM_TEST_NOTEBOOKS_AT_ONCE", "2"))
RECIPIENTS, ACTIVATED, TOTAL = "antal ydelsesmodtagere", "antal aktiverede", "I alt"


def read_delta(table: Path, columns: list[str], aar: set[int] | None = None) -> pd.DataFrame:
    """The current snapshot of a Delta table written by `dream` (JSON commits, no checkpoint, no deletion
    vectors): the files its log adds and does not remove, with the partition values put back as columns.
    ``aar``: read only those partitions of a table partitioned by ``aar``."""
    log = table / "_delta_log"
    assert not (log / "_last_checkpoint").exists(), f"{table} has a checkpoint: read_delta does not read those"
    files: dict[str, dict[str, str]] = {}
    partition_types: dict[str, str] = {}
    for commit in sorted(log.glob("*.json")):
        for line in commit.read_text(encoding="utf-8").splitlines():
            action = json.loads(line)
            if "metaData" in action:
                fields = {f["name"]: f["type"] for f in json.loads(action["metaData"]["schemaString"])["fields"]}
                partition_types = {c: fields[c] for c in action["metaData"]["partitionColumns"]}
            elif "add" in action:
                assert not action["add"].get("deletionVector"), f"{table} has deletion vectors"
                files[action["add"]["path"]] = action["add"]["partitionValues"]
            elif "remove" in action:
                files.pop(action["remove"]["path"], None)
    parts = []
    for path, values in sorted(files.items()):
        if aar is not None and int(values["aar"]) not in aar:
            continue
        part = pq.read_table(table / unquote(path), columns=[c for c in columns if c not in partition_types])
        for column, kind in partition_types.items():
            if column in columns:
                value = values[column] if kind == "string" else int(values[column])
                part = part.append_column(column, pa.array([value] * part.num_rows,
                                                           pa.string() if kind == "string" else pa.int64()))
        parts.append(part.select(columns))
    assert parts, f"{table}: no data files"
    return pa.concat_tables(parts).to_pandas()


def benchmark_rates(warehouse: Path, maal: str, periode: str | None = None,
                    ydelsesgruppe: str = TOTAL) -> tuple[str, pd.DataFrame, float]:
    """Independently of the benchmark's key figures: the rates per 1,000 residents 16-66 of every kommune with
    a published (unsuppressed) count in the month (default: the latest published), from the published
    ``ydelsesaktivitet_benchmark`` and ``befolkning``; visitation and activation "I alt".
    -> (periode, frame of kommune, antal, befolkning, pr_1000, rang (1 = highest), percentil, sorted by rank),
    and the whole country's rate (NaN when its cell is suppressed)."""
    cells = read_delta(warehouse / "ydelsesaktivitet_benchmark",
                       ["periode", "niveau", "omraade", "ydelsesgruppe", "visitationsgruppe", "aktivering", "maal",
                        "antal", "undertrykt"])
    periode = periode or cells.periode.max()
    cells = cells[(cells.periode == periode) & (cells.maal == maal) & (cells.ydelsesgruppe == ydelsesgruppe)
                  & (cells.visitationsgruppe == TOTAL) & (cells.aktivering == TOTAL)]
    people = read_delta(warehouse / "befolkning", ["kommune", "aar", "alder", "antal"])
    people = people[(people.aar == int(periode[:4])) & people.alder.between(16, 66)]
    residents = people.groupby("kommune").antal.sum()
    land = cells[cells.niveau == "land"].iloc[0]
    land_rate = float("nan") if land.undertrykt else land.antal * 1000 / residents.sum()
    own = cells[(cells.niveau == "kommune") & ~cells.undertrykt & cells.omraade.isin(residents[residents > 0].index)]
    rates = pd.DataFrame({"kommune": own.omraade, "antal": own.antal.astype(int),
                          "befolkning": own.omraade.map(residents).astype(int)})
    rates["pr_1000"] = rates.antal * 1000 / rates.befolkning
    rates["rang"] = [1 + int((rates.pr_1000 > r).sum()) for r in rates.pr_1000]
    rates["percentil"] = [int((rates.pr_1000 < r).sum()) / max(len(rates) - 1, 1) for r in rates.pr_1000]
    return periode, rates.sort_values(["rang", "kommune"]).reset_index(drop=True), land_rate


def run_notebook(name: str, env: dict[str, str]) -> subprocess.Popen:
    inherited = {k: v for k, v in os.environ.items() if k not in ("DREAM_AAR", "DREAM_UGE", "DREAM_KOMMUNE",
                                                                   "DREAM_YDELSESGRUPPE", "DREAM_PERIODE",
                                                                   "DREAM_CHART_DIR")}
    return subprocess.Popen([sys.executable, str(REPO / "notebooks" / name)], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**inherited, **env})


@pytest.fixture(scope="module")
def warehouse(run_warehouse):
    """`dream run --env test` on 3,000 synthetic persons (the session's ``run_warehouse``, tests/conftest.py)."""
    return run_warehouse


@pytest.fixture(scope="module")
def cohort(warehouse):
    """The week and municipality the report is run for: the latest week of overgang_52 (the notebook's
    default) and there the municipality with the most recipients of GROUP, preferring one where some no
    longer receive any benefit. Should that week have none at all, the best week of all is used instead."""
    overgang = read_delta(warehouse["warehouse"] / "overgang_52",
                          ["person_id", "aar", "uge", "uge_start", "kommune", "ydelsesgruppe", "ydelsesgruppe_52",
                           "modtagerstatus"])
    latest = max(zip(overgang.aar, overgang.uge))
    group = overgang[overgang.ydelsesgruppe == GROUP]
    in_latest = group[(group.aar == latest[0]) & (group.uge == latest[1])]
    candidates = in_latest if len(in_latest) else group
    assert len(candidates), f"no recipient of {GROUP} in any week: the synthetic data has changed"
    ranked = (candidates.assign(ended=candidates.modtagerstatus == NONE)
              .groupby(["aar", "uge", "kommune"]).agg(n=("person_id", "nunique"), ended=("ended", "any"))
              .reset_index().sort_values(["ended", "n", "kommune"], ascending=[False, False, True]))
    aar, uge, kommune = ranked.iloc[0][["aar", "uge", "kommune"]]
    rows = group[(group.aar == aar) & (group.uge == uge) & (group.kommune == kommune)]
    return {"aar": int(aar), "uge": int(uge), "kommune": kommune, "latest": latest, "rows": rows,
            "default_week": (int(aar), int(uge)) == latest}


@pytest.fixture(scope="module")
def dashboard(warehouse):
    """The dashboard's kommune: the one with the most published recipients in the latest month, and the
    figures the notebook should find, worked out independently."""
    periode, recipients, land = benchmark_rates(warehouse["warehouse"], RECIPIENTS)
    assert len(recipients) >= 2, "too few kommuner with a published rate: the synthetic data has changed"
    kommune = recipients.sort_values(["antal", "kommune"], ascending=[False, True]).kommune.iloc[0]
    return {"kommune": kommune, "periode": periode, RECIPIENTS: (recipients, land),
            ACTIVATED: benchmark_rates(warehouse["warehouse"], ACTIVATED, periode)[1:]}


@pytest.fixture(scope="module")
def notebooks(warehouse, cohort, dashboard, tmp_path_factory):
    """The notebooks, AT_ONCE at a time (each starts its own local Spark), -> name -> finished process."""
    common = {"DREAM_WAREHOUSE": str(warehouse["warehouse"]), "DREAM_ENV": "test",
              "DREAM_CONF_DIR": str(warehouse["conf"])}
    report = {**common, "DREAM_KOMMUNE": cohort["kommune"], "DREAM_YDELSESGRUPPE": GROUP}
    if not cohort["default_week"]:
        report |= {"DREAM_AAR": str(cohort["aar"]), "DREAM_UGE": str(cohort["uge"])}
    charts = tmp_path_factory.mktemp("dashboard")
    pending = [("quickstart.py", common), ("kontanthjaelp_52_uger.py", report),
               ("benchmark_dashboard.py", {**common, "DREAM_KOMMUNE": dashboard["kommune"],
                                           "DREAM_CHART_DIR": str(charts)})]
    running: dict[str, subprocess.Popen] = {}
    finished = {}
    while pending or running:
        while pending and len(running) < AT_ONCE:
            name, env = pending.pop(0)
            running[name] = run_notebook(name, env)
        name, process = next(iter(running.items()))  # the one started first
        try:
            stdout, stderr = process.communicate(timeout=600)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        finished[name] = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        del running[name]
    return finished


@pytest.fixture(scope="module")
def result(notebooks):
    run = notebooks["kontanthjaelp_52_uger.py"]
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_quickstart_runs(notebooks):
    run = notebooks["quickstart.py"]
    assert run.returncode == 0, run.stderr[-3000:]
    assert "antal_borgere" in run.stdout


def test_report_runs_for_the_chosen_week_and_municipality(result, cohort):
    assert result["parametre"] == {"kommune": cohort["kommune"], "aar": cohort["aar"], "uge": cohort["uge"],
                                   "ydelsesgruppe": GROUP}
    if cohort["default_week"]:  # no AAR/UGE given: the latest week with a follow-up 52 weeks on
        assert (result["parametre"]["aar"], result["parametre"]["uge"]) == cohort["latest"]


def test_recipients_per_group_match_fact_dream(result, cohort, warehouse):
    fact = read_delta(warehouse["warehouse"] / "fact_dream", ["person_id", "aar", "uge", "kommune", "ydelsesgruppe"],
                      aar={cohort["aar"]})
    week = fact[(fact.uge == cohort["uge"]) & (fact.kommune == cohort["kommune"])]
    expected = week.groupby("ydelsesgruppe").person_id.nunique().to_dict()
    assert dict(map(tuple, result["ydelsesgrupper"])) == expected
    assert expected[GROUP] == cohort["rows"].person_id.nunique() > 0


def test_status_counts_add_up_to_the_groups_recipients(result, cohort):
    recipients = dict(map(tuple, result["ydelsesgrupper"]))[GROUP]
    assert sum(n for *_, n in result["modtagerstatus"]) == recipients
    expected = cohort["rows"].groupby(["modtagerstatus", "ydelsesgruppe_52"]).person_id.nunique().to_dict()
    assert {(s, g): n for s, g, n in result["modtagerstatus"]} == expected
    statuses = recipient_status()
    for status, group_52, _ in result["modtagerstatus"]:
        assert status in statuses.values()
        assert (status == statuses["none"]) == (group_52 == blank_group())
        assert (status == statuses["same"]) == (group_52 == GROUP)


def test_every_ended_person_is_once_in_the_branche_and_the_workplace_table(result, cohort, warehouse):
    ended = sum(n for status, _, n in result["modtagerstatus"] if status == NONE)
    assert ended > 0, "the chosen cohort has nobody who no longer receives benefits: step 3 is not tested"
    assert sum(n for _, n in result["branche"]) == ended
    assert sum(n for *_, n in result["arbejdsstedskommune"]) == ended

    # Independently: the month of the Thursday of the week 52 weeks on, looked up in the monthly tables.
    rows = cohort["rows"][cohort["rows"].modtagerstatus == NONE]
    thursday = pd.to_datetime(rows.uge_start) + pd.Timedelta(days=364 + 3)
    people = pd.DataFrame({"person_id": rows.person_id.to_numpy(), "aar": thursday.dt.year.to_numpy(),
                           "maaned": thursday.dt.month.to_numpy()})
    years = set(people.aar)
    branche = read_delta(warehouse["warehouse"] / "dsa_branche", ["person_id", "aar", "maaned", "branche"], years)
    arbsted = read_delta(warehouse["warehouse"] / "dsa_arbsted",
                         ["person_id", "aar", "maaned", "arbejdsstedskommune"], years)
    keys = ["person_id", "aar", "maaned"]
    with_branche = people.merge(branche, on=keys, how="left")
    with_arbsted = people.merge(arbsted, on=keys, how="left")
    assert len(with_branche) == len(with_arbsted) == ended  # one monthly value per person-month
    expected_branche = Counter(with_branche.branche.fillna("Ingen kendt beskæftigelse"))
    expected_workplace = Counter(with_arbsted.arbejdsstedskommune.fillna("Uoplyst"))
    assert dict(map(tuple, result["branche"])) == expected_branche
    assert {code: n for code, _, _, n in result["arbejdsstedskommune"]} == expected_workplace

    names = {k.kommunekode: k.kommunenavn for k in kommuner()} | {UNKNOWN_KOMMUNE: "Uoplyst", "Uoplyst": "Uoplyst"}
    for code, name, inside, _ in result["arbejdsstedskommune"]:
        assert name == names.get(code, code)  # a code the reference does not know is shown as it is
        assert inside == (code == cohort["kommune"])


def test_report_prints_counts_not_person_ids(notebooks, cohort):
    run = notebooks["kontanthjaelp_52_uger.py"]
    shown = run.stdout + run.stderr
    assert not [p for p in cohort["rows"].person_id if p in shown]


def test_benchmark_dashboard_ranks_the_kommune_as_the_published_counts_do(notebooks, dashboard, warehouse):
    run = notebooks["benchmark_dashboard.py"]
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout.strip().splitlines()[-1])
    kommune = dashboard["kommune"]
    assert result["parametre"] == {"kommune": kommune, "periode": dashboard["periode"]}

    recipients, land = dashboard[RECIPIENTS]
    assert [(k, r) for k, _, r in result["rangliste"]] == list(zip(recipients.kommune, recipients.rang))
    assert [v for _, v, _ in result["rangliste"]] == pytest.approx(list(recipients.pr_1000), rel=1e-9)
    for compared in result["sammenligning"]:
        rates, land = dashboard[compared["maal"]]
        own = rates[rates.kommune == kommune]
        if own.empty:  # the kommune's activated count may be suppressed: then it has no figures
            assert compared["rang"] is None
            continue
        own, others = own.iloc[0], rates[rates.kommune != kommune].pr_1000
        assert (compared["rang"], compared["antal_rangeret"]) == (own.rang, len(rates))
        assert compared["pr_1000"] == pytest.approx(own.pr_1000, rel=1e-6)
        assert compared["percentil"] == pytest.approx(own.percentil, abs=1e-6)
        # the whole country's cell may be suppressed too (secondary suppression in this small warehouse)
        assert compared["pr_1000_land"] == (None if pd.isna(land) else pytest.approx(land, rel=1e-6))
        assert compared["oevrige"] == len(others) == len(rates) - 1
        assert (compared["oevrige_min"], compared["oevrige_median"], compared["oevrige_max"]) == \
            pytest.approx((others.min(), others.median(), others.max()), rel=1e-6)

    groups = dict((g, (v, r)) for g, v, r in result["ydelsesgrupper"])
    assert groups[TOTAL] == pytest.approx((recipients[recipients.kommune == kommune].pr_1000.iloc[0],
                                           recipients[recipients.kommune == kommune].rang.iloc[0]))
    some = next(g for g, (v, _) in groups.items() if g != TOTAL and v is not None)
    rates, _ = benchmark_rates(warehouse["warehouse"], RECIPIENTS, dashboard["periode"], some)[1:]
    own = rates[rates.kommune == kommune].iloc[0]
    assert groups[some] == pytest.approx((own.pr_1000, own.rang))

    # Without matplotlib (not a dependency) and outside IPython the SVG charts are written to DREAM_CHART_DIR.
    written = [Path(p) for p in result["diagrammer"]]
    if importlib.util.find_spec("matplotlib") is None:
        assert len(written) == 2 and all(p.read_text().startswith("<svg") for p in written)
        name = next(k.kommunenavn for k in kommuner() if k.kommunekode == kommune)
        assert all(name in p.read_text() for p in written)
