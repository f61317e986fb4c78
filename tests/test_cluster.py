"""The jobs where users run them: ``./spark-submit.sh`` against a real Spark standalone cluster (a master
and one worker on loopback, started from the pyspark package), executors in processes of their own that
get the library only through ``--py-files`` and the pseudonymisation key only by broadcast. The tables are
read back with an independent Delta reader (delta-rs) and reconciled with the run log and the input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import pyspark
import yaml

from dream.cli import build_parser
from dream.config import load_config, read_spark_defaults
from dream.ingest.pseudonym import KEY_ENV, pseudonymise
from tests.wide import write_parquet

deltalake = pytest.importorskip("deltalake")

REPO = Path(__file__).resolve().parent.parent
SPARK_HOME = Path(pyspark.__file__).resolve().parent
# A key of its own (not the tests' key the other tests put in the environment): only spark-submit gets it.
CLUSTER_KEY = "cluster-test-key-5c0f1e2d9a8b7c6d"
PERSONS = 300

# The commands, as docs/running.md shows them (the ports and paths are filled in at run time).
MASTER = ('"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master --host 127.0.0.1 '
          '--port {port} --webui-port {ui_port}')
WORKER = ('"$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker spark://127.0.0.1:{port} '
          '--cores 1 --memory 1g')
SYNTH = ".venv/bin/dream synth --persons {persons} --out {input} --end 2025-12 --years 2"
LOCAL = [".venv/bin/dream ingest --input {input} --warehouse {warehouse}", ".venv/bin/dream model --warehouse {warehouse}"]
WHEEL = ".venv/bin/pip wheel --no-deps -w dist ."
# The jobs submitted, in order: the monthly refresh (ingest + model + maintenance as one recorded delivery),
# so the model checks below run too. The model's benchmark step (disclosure control solved per group in
# Python tasks) is the slow part on a one-core cluster: cluster_conf publishes two months of it.
SUBMITS = [
    "./spark-submit.sh --master {master} --env {env} refresh --input {input} --warehouse {warehouse}",
]
MODEL_TABLES = ["fact_dream", "overgang_52", "noegletal"]
MODEL_BUILT = any(re.search(r" (model|refresh|main) ", t) for t in SUBMITS)
# Every command docs/running.md shows in a `bash` block is one of these, and each is run below.
TESTED = [SYNTH, *LOCAL, MASTER, WORKER, *SUBMITS, WHEEL]
EXPORTS = {"SPARK_HOME", KEY_ENV}  # environment settings the page may show, set by the tests too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def shell_words(template: str, **values) -> list[str]:
    """A command of the templates above as an argument list, ``$SPARK_HOME`` filled in (no value has spaces)."""
    return template.format(**values).replace('"$SPARK_HOME', str(SPARK_HOME)).replace('"', "").split()


def kill_group(process: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, and everything it started (java under spark-class)."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def master_state(ui_port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as response:
        return json.load(response)


def loopback_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    return {**env, "SPARK_HOME": str(SPARK_HOME), "SPARK_LOCAL_IP": "127.0.0.1", **extra}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A standalone master and one worker (1 core, 1 GB) on loopback; stopped whatever happens."""
    tmp = tmp_path_factory.mktemp("cluster")
    port, ui_port = free_port(), free_port()
    env = loopback_env()
    started: list[subprocess.Popen] = []

    def start(template: str, name: str, *more: str) -> subprocess.Popen:
        log = open(tmp / f"{name}.log", "wb")
        process = subprocess.Popen([*shell_words(template, port=port, ui_port=ui_port), *more], env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=tmp)
        started.append(process)
        return process

    try:
        start(MASTER, "master")
        # A web UI port and a work folder of its own: nothing shared with any other Spark on the machine.
        start(WORKER, "worker", "--host", "127.0.0.1", "--webui-port", str(free_port()),
              "--work-dir", str(tmp / "work"))
        deadline = time.monotonic() + 90
        while True:
            try:
                state = master_state(ui_port)
                if [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]:
                    break
            except OSError:
                pass
            logs = {p.name: p.read_text(errors="replace")[-2000:] for p in tmp.glob("*.log")}
            assert time.monotonic() < deadline, f"the worker did not register within 90 s: {logs}"
            assert all(p.poll() is None for p in started), f"a cluster process ended: {logs}"
            time.sleep(0.5)
        yield {"master": f"spark://127.0.0.1:{port}", "ui_port": ui_port, "work": tmp / "work", "logs": tmp}
    finally:
        for process in reversed(started):
            kill_group(process)


def cluster_conf(folder: Path, warehouse: Path) -> Path:
    """conf/cluster.yaml as a deployment would adapt it: its own paths, a key from the environment, two
    shuffle and Delta snapshot partitions for a one-core cluster and small tables, and an event log (what
    the Spark UI and the history server show)."""
    folder.mkdir()
    for name in ("spark-defaults.conf", "families.yaml"):
        (folder / name).write_text((REPO / "conf" / name).read_text())
    conf = yaml.safe_load((REPO / "conf" / "cluster.yaml").read_text())
    assert conf["spark"]["master"] is None  # the master comes from spark-submit
    events = folder.parent / "events"
    events.mkdir()
    conf["spark"]["conf"] = {**(conf["spark"]["conf"] or {}), "spark.sql.shuffle.partitions": "2",
                             "spark.databricks.delta.snapshotPartitions": "2",
                             "spark.eventLog.enabled": "true", "spark.eventLog.dir": events.as_uri(),
                             "spark.eventLog.compress": "false",  # plain JSON, so the key search below can see
                             "spark.ui.port": str(free_port())}
    conf["paths"] = {"warehouse": str(warehouse), "synthetic_input": str(folder.parent / "unused.parquet")}
    conf["pseudonym"] = {"key_file": None, "create_key_file": False}
    # Two benchmark months, as conf/test.yaml. No compaction and no VACUUM of these small tables (the erasure
    # is tested in test_refresh*.py): VACUUM full lists every table's files in Spark jobs, 25 minutes on a
    # one-core cluster, and its START/END commits would become each table's latest version, where the
    # summary checks below expect the write at version 0.
    conf["refresh"] = {**(conf.get("refresh") or {}), "benchmark_months": 2, "compact_below_mb": 0,
                       "vacuum": "off"}
    (folder / "clustertest.yaml").write_text(yaml.safe_dump(conf))
    return folder


def run(words: list[str], env: dict[str, str], timeout: int = 300, cwd: Path = REPO) -> subprocess.CompletedProcess:
    process = subprocess.Popen(words, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(process)
        stdout, stderr = process.communicate()
        pytest.fail(f"{' '.join(words[:4])} did not finish in {timeout} s: {stderr[-3000:]}")
    except BaseException:  # interrupted: leave no spark-submit (and its JVM) behind
        kill_group(process)
        raise
    return subprocess.CompletedProcess(words, process.returncode, stdout, stderr)


@pytest.fixture(scope="module")
def submitted(cluster, tmp_path_factory):
    """A small synthetic delivery, submitted to the cluster as the jobs in SUBMITS."""
    tmp = tmp_path_factory.mktemp("submit")
    warehouse, source = tmp / "warehouse", tmp / "input" / "dream.parquet"
    conf = cluster_conf(tmp / "conf", warehouse)
    values = {"master": cluster["master"], "env": "clustertest", "input": source, "warehouse": warehouse,
              "persons": PERSONS}
    synth = run(shell_words(SYNTH, **values) + ["--quiet"], loopback_env())
    assert synth.returncode == 0, synth.stderr[-3000:]
    runs = []
    for template in SUBMITS:
        words = shell_words(template, **values)
        words[1:1] = ["--conf-dir", str(conf)]
        started = time.monotonic()
        runs.append(run(words, loopback_env(**{KEY_ENV: CLUSTER_KEY}), timeout=1800))  # the refresh: minutes
        print(f"{template}: {time.monotonic() - started:.1f} s")  # shown with pytest -s
        # spark-submit merges the Python driver's stderr into its stdout.
        assert runs[-1].returncode == 0, runs[-1].stdout[-5000:]
    return {"warehouse": warehouse, "input": source, "runs": runs, "events": tmp / "events", **cluster}


def table(warehouse: Path, name: str, version: int | None = None) -> pa.Table:
    return deltalake.DeltaTable(str(warehouse / name), version=version).to_pyarrow_table()


def test_the_jobs_ran_on_the_cluster_executors(submitted):
    state = master_state(submitted["ui_port"])
    apps = state["completedapps"]
    assert len(apps) == len(SUBMITS) and {a["name"] for a in apps} == {"dream"}  # conf/cluster.yaml app_name
    work = submitted["work"]
    # Every application had an executor on the worker, which fetched the library zip and ran tasks with it.
    for app in apps:
        executor = next((work / app["id"]).iterdir())
        assert (executor / "dream.zip").is_file()
        assert "Finished task" in (executor / "stderr").read_text(errors="replace")


def test_ingest_reconciles_with_the_run_log_and_the_input(submitted):
    warehouse = submitted["warehouse"]
    log = table(warehouse, "koersel_log").to_pylist()
    assert log and all(r["afstemt"] for r in log)
    for row in log:
        written = deltalake.DeltaTable(str(warehouse / row["tabel"]), version=row["delta_version"])
        assert written.to_pyarrow_dataset().count_rows() == row["skrevet"], row["tabel"]

    wide = pq.read_table(submitted["input"])
    weekly = [c for c in wide.column_names if re.fullmatch(r"y_\d{4}", c)]
    cells = sum(pc.sum(pc.not_equal(pc.utf8_trim_whitespace(pc.fill_null(wide[c], "")), "")).as_py() for c in weekly)
    (y_log,) = [r for r in log if r["tabel"] == "dsa_y"]
    assert y_log["input_celler"] == cells == y_log["skrevet"] + y_log["karantaene"]


def test_person_ids_are_made_with_the_key_given_to_spark_submit(submitted):
    warehouse = submitted["warehouse"]
    pnrs = pq.read_table(submitted["input"], columns=["pnr"]).column("pnr").to_pylist()
    quarantined = {r["person_id"] for r in table(warehouse, "karantaene").to_pylist() if r["tabel"] == "dsa_borger"}
    persons = set(table(warehouse, "dsa_borger").column("person_id").to_pylist())
    assert persons == {pseudonymise(CLUSTER_KEY.encode(), p) for p in pnrs} - quarantined
    assert len(persons) > PERSONS * 0.9


@pytest.mark.skipif(not MODEL_BUILT, reason="the submitted jobs do not build the model")
def test_the_model_tables_are_built_from_the_ingested_weeks(submitted):
    warehouse = submitted["warehouse"]
    weeks = table(warehouse, "dsa_y")
    fact = table(warehouse, "fact_dream")
    assert fact.num_rows == weeks.num_rows > 0  # one fact row per person-week on a benefit
    keys = ["person_id", "aar", "uge"]
    assert fact.select(keys).sort_by([(k, "ascending") for k in keys]) == \
        weeks.select(keys).sort_by([(k, "ascending") for k in keys])
    for name in MODEL_TABLES:
        assert table(warehouse, name).num_rows > 0, name


def test_each_job_prints_progress_and_a_summary_of_what_it_wrote(submitted):
    warehouse = submitted["warehouse"]
    ingest = submitted["runs"][0]  # the ingest, or the refresh that ingests
    assert re.search(r"dream\.progress: Spark stage \d+: \d+/\d+ tasks done", ingest.stdout)
    assert re.search(rf"dream (ingest|refresh): done in [\d.]+ s; \d+ Delta tables written in "
                     rf"{re.escape(str(warehouse))}", ingest.stdout), ingest.stdout
    (y_log,) = [r for r in table(warehouse, "koersel_log").to_pylist() if r["tabel"] == "dsa_y"]
    assert re.search(rf"^  dsa_y +0 +{y_log['skrevet']:,}$", ingest.stdout, re.M), ingest.stdout
    if MODEL_BUILT:
        model = submitted["runs"][-1]
        for name in MODEL_TABLES:
            rows = deltalake.DeltaTable(str(warehouse / name)).to_pyarrow_dataset().count_rows()
            assert re.search(rf"^  {name} +0 +{rows:,}$", model.stdout, re.M), model.stdout


def test_the_key_is_in_no_log_and_not_in_the_spark_ui(submitted):
    """The driver reads the key; tasks get it by broadcast. It must not be in the Spark configuration (the
    UI's environment page, replayed from the event log), the driver's output, the cluster's logs or any
    file an executor left behind."""
    key = CLUSTER_KEY.encode()
    for process in submitted["runs"]:
        assert CLUSTER_KEY not in process.stdout + process.stderr
    files = [*submitted["events"].rglob("*"), *submitted["logs"].glob("*.log"), *submitted["work"].rglob("*")]
    # One event log per application: a file, or a folder of rolled files (eventlog_v2_<app>/events_<n>_<app>)
    event_logs: dict[str, list[Path]] = {}
    for event_log in sorted(submitted["events"].rglob("events_*"), key=lambda p: (len(p.name), p.name)):
        app = event_log.parent.name if event_log.parent.name.startswith("eventlog_v2_") else event_log.name
        event_logs.setdefault(app, []).append(event_log)
    assert len(event_logs) == len(SUBMITS)
    for parts in event_logs.values():  # the application's settings, as the UI's environment page shows them
        assert any('"Event":"SparkListenerEnvironmentUpdate"' in p.read_text() for p in parts)
    leaked = [f for f in files if f.is_file() and key in f.read_bytes()]
    assert not leaked


# --- On one machine: `dream ingest` and `dream model` as a user runs them, with the end summary -------------

# Two persons, four weeks: five non-blank weekly cells (the three blank forms are dropped). Person B has no
# residence in 2024, so the unknown-residence partition 000.
TINY = [
    {"pnr": "0101701234", "koen": "M", "foed_dato": "1970-01-01",
     "y_2401": "111", "y_2402": "111", "y_2403": " ", "y_2404": "130", "nykom_2024": "101"},
    {"pnr": "0202801234", "koen": "K", "foed_dato": "1980-02-02",
     "y_2401": None, "y_2402": "", "y_2403": "890", "y_2404": "890", "nykom_2024": ""},
]


def test_dream_ingest_and_model_on_one_machine_print_what_they_wrote(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    for name in ("spark-defaults.conf", "families.yaml"):
        (conf / name).write_text((REPO / "conf" / name).read_text())
    (conf / "test.yaml").write_text((REPO / "conf" / "test.yaml").read_text().replace("data/", f"{tmp_path}/"))
    source, warehouse = write_parquet(TINY, tmp_path / "tiny.parquet"), tmp_path / "warehouse"
    runs = []
    for template in LOCAL:
        words = shell_words(template, input=source, warehouse=warehouse) + ["--env", "test", "--conf-dir", str(conf)]
        runs.append(run(words, {**os.environ, KEY_ENV: CLUSTER_KEY}, timeout=900))  # the model: ~200 Spark jobs
        assert runs[-1].returncode == 0, runs[-1].stderr[-5000:]
    ingest, model = runs
    assert re.search(rf"^dream ingest: done in [\d.]+ s; \d+ Delta tables written in {re.escape(str(warehouse))}$",
                     ingest.stdout, re.M), ingest.stdout
    assert re.search(r"^  dsa_y +0 +5$", ingest.stdout, re.M) and re.search(r"^  dsa_borger +0 +2$", ingest.stdout, re.M)
    assert re.search(r"^  fact_dream +0 +5$", model.stdout, re.M), model.stdout
    assert "dsa_y" not in model.stdout  # the model reads the weekly table; it does not write it
    weeks = table(warehouse, "dsa_y").to_pylist()
    person_b = pseudonymise(CLUSTER_KEY.encode(), "0202801234")
    assert sorted((r["uge"], r["ydelseskode"], r["kommune"]) for r in weeks if r["person_id"] == person_b) == \
        [(3, "890", "000"), (4, "890", "000")]


# --- Databricks: the job definition, its configuration and the wheel it installs -------------------------

JOB = json.loads((REPO / "databricks" / "job.json").read_text())
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def wheel_task() -> dict:
    (task,) = [t for t in JOB["tasks"] if "python_wheel_task" in t]
    return task


def test_the_databricks_job_runs_the_console_script_with_the_databricks_configuration():
    task = wheel_task()["python_wheel_task"]
    assert task["package_name"] == PROJECT["name"]
    assert PROJECT["scripts"][task["entry_point"]] == "dream.cli:main"
    args = build_parser().parse_args(task["parameters"])
    assert (args.command, args.env) == ("refresh", "databricks")

    config = load_config("databricks")
    assert config.spark.master is None and config.delta.packages == []  # the runtime's session, Delta built in
    assert config.pseudonym.key_file is None and not config.pseudonym.create_key_file
    cluster = JOB["job_clusters"][0]["new_cluster"]
    env = cluster["spark_env_vars"]
    assert args.warehouse == config.paths.warehouse == env["DREAM_WAREHOUSE"]
    assert env["DREAM_ENV"] == "databricks"
    assert re.fullmatch(r"\{\{secrets/[\w-]+/[\w-]+\}\}", env[KEY_ENV])  # a secret reference, never the key
    # An existing session is not reconfigured: the cluster carries the settings every environment has.
    assert cluster["spark_conf"] == read_spark_defaults(REPO / "conf" / "spark-defaults.conf")
    major = int(cluster["spark_version"].split(".")[0])
    assert major >= 17 and cluster["spark_version"].endswith("-scala2.13")  # Databricks Runtime 17+: Spark 4


def test_the_databricks_job_is_monthly_in_copenhagen_and_runs_every_notebook_after_the_refresh():
    schedule = JOB["schedule"]
    assert schedule["timezone_id"] == "Europe/Copenhagen"
    seconds, minutes, hours, day, month, weekday = schedule["quartz_cron_expression"].split()
    assert (seconds, month, weekday) == ("0", "*", "?") and 1 <= int(day) <= 28 and 0 <= int(hours) < 24
    notebooks = [t for t in JOB["tasks"] if "notebook_task" in t]
    assert {Path(t["notebook_task"]["notebook_path"]).name for t in notebooks} == \
        {p.stem for p in (REPO / "notebooks").glob("*.py")}
    refresh = wheel_task()["task_key"]
    assert all(t["depends_on"] == [{"task_key": refresh}] for t in notebooks)
    clusters = {c["job_cluster_key"] for c in JOB["job_clusters"]}
    wheel = f"{PROJECT['name'].replace('-', '_')}-{PROJECT['version']}-py3-none-any.whl"
    for t in JOB["tasks"]:
        assert t["job_cluster_key"] in clusters
        assert [Path(lib["whl"]).name for lib in t["libraries"]] == [wheel]


def test_the_databricks_job_has_only_fields_the_jobs_api_knows():
    """The SDK's model of the Jobs API drops fields it does not know: a misspelt field would not survive."""
    jobs = pytest.importorskip("databricks.sdk.service.jobs", reason="pip install databricks-sdk")
    assert jobs.JobSettings.from_dict(JOB).as_dict() == JOB


def test_the_wheel_the_job_installs_is_built_with_its_entry_point_and_reference_data(tmp_path):
    """Built from a copy of the package, as docs/running.md shows (the build leaves build/ behind)."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "dream", tmp_path / "dream", ignore=shutil.ignore_patterns("__pycache__"))
    words = shell_words(WHEEL)
    build = run([str(REPO / words[0]), *words[1:]], os.environ, timeout=300, cwd=tmp_path)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").iterdir()
    assert wheel.name == Path(wheel_task()["libraries"][0]["whl"]).name
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {"dream/cli.py", "dream/progress.py", "dream/reference/ydelseskoder.csv",
                "dream/reference/kommuner.csv", "dream/reference/ydelsesgrupper.yaml"} <= names
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        assert "dream = dream.cli:main" in z.read(entry_points).decode().splitlines()


# --- docs/running.md shows only commands the tests run ----------------------------------------------------

def page_commands() -> list[str]:
    """The commands of the ```bash blocks of docs/running.md: continuation lines joined, `&` dropped."""
    text = (REPO / "docs" / "running.md").read_text()
    commands = []
    for block in re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+&$", "", line.strip())
            if line and not line.startswith("#"):
                commands.append(re.sub(r"\s+", " ", line))
    return commands


def as_pattern(template: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{\w+\\\}", r"\\S+", re.escape(template)))


def test_every_command_on_the_running_page_is_one_the_tests_run():
    commands = page_commands()
    assert len(commands) >= len(TESTED)
    patterns = [as_pattern(t) for t in TESTED]
    for command in commands:
        export = re.fullmatch(r"export (\w+)=.+", command)
        if export:
            assert export[1] in EXPORTS, command
        else:
            assert any(p.fullmatch(command) for p in patterns), f"docs/running.md shows an untested command: {command}"
