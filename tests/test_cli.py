"""The ``dream`` command as a user runs it: a separate process, its exit status and its messages."""

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from dream.reference import benefit_codes

REPO = Path(__file__).resolve().parent.parent
DREAM = [sys.executable, "-m", "dream.cli"]


def dream(*args, cwd=REPO, env=None):
    return subprocess.run([*DREAM, *args], cwd=cwd, capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("persons", ["-1", "0", "many"])
def test_persons_must_be_positive(tmp_path, persons):
    run = dream("synth", "--persons", persons, "--out", str(tmp_path / "x.parquet"))
    assert run.returncode == 2
    assert f"--persons: must be a positive whole number, got '{persons}'" in run.stderr


def test_unwritable_out_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    run = dream("synth", "--persons", "10", "--out", str(blocker / "x.parquet"), "--quiet")
    assert run.returncode == 2
    assert "dream synth: error:" in run.stderr and str(blocker) in run.stderr
    assert "Traceback" not in run.stderr


def test_config_with_an_unknown_key_is_a_clear_error(tmp_path):
    conf = tmp_path / "conf"
    conf.mkdir()
    for name in ("spark-defaults.conf", "families.yaml"):
        (conf / name).write_text((REPO / "conf" / name).read_text())
    (conf / "local.yaml").write_text((REPO / "conf" / "local.yaml").read_text().replace("warehouse:", "warehous:"))
    run = dream("run", "--conf-dir", str(conf))
    assert run.returncode == 2
    assert "unknown configuration key 'paths.warehous' (did you mean 'warehouse'?)" in run.stderr


def test_synth_50000_persons_all_municipalities_week_53_and_only_listed_codes(tmp_path):
    out = tmp_path / "x.parquet"
    run = dream("synth", "--persons", "50000", "--seed", "1", "--out", str(out), "--end", "2026-10", "--quiet")
    assert run.returncode == 0, run.stderr
    table = pq.read_table(out)
    nykom = {v for c in table.column_names if c.startswith("nykom_") for v in table.column(c).unique().to_pylist()}
    assert len(nykom - {None, ""}) == 98
    assert "y_2053" in table.column_names and "y_1553" not in table.column_names  # range starts 2016
    listed = {c.ydelseskode for c in benefit_codes()}
    weekly = [c for c in table.column_names if c.startswith("y_")]
    used = {v for c in weekly for v in table.column(c).unique().to_pylist()} - {None, ""}
    assert used and used <= listed


def test_main_job_on_the_test_environment(tmp_path):
    """`dream run` end to end: a small synthetic table, ingested into Delta, read by the quickstart."""
    conf = tmp_path / "conf"
    conf.mkdir()
    for name in ("spark-defaults.conf", "families.yaml"):
        (conf / name).write_text((REPO / "conf" / name).read_text())
    (conf / "test.yaml").write_text((REPO / "conf" / "test.yaml").read_text().replace("data/", f"{tmp_path}/"))
    run = dream("run", "--env", "test", "--conf-dir", str(conf), "--persons", "300")
    assert run.returncode == 0, run.stderr[-3000:]
    assert "dsa_y" in run.stderr and "MISMATCH" not in run.stderr
    assert (tmp_path / "test-warehouse" / "dsa_y" / "_delta_log").is_dir()

    notebook = subprocess.run(
        [sys.executable, str(REPO / "notebooks" / "quickstart.py")], cwd=REPO, capture_output=True, text=True,
        timeout=600, env={**os.environ, "DREAM_WAREHOUSE": str(tmp_path / "test-warehouse"), "DREAM_ENV": "test",
                          "DREAM_CONF_DIR": str(conf)})
    assert notebook.returncode == 0, notebook.stderr[-3000:]
    assert "antal_borgere" in notebook.stdout


def test_local_paths_are_made_absolute_on_the_driver_and_uris_are_left_alone(monkeypatch, tmp_path):
    from dream.jobs import absolute

    monkeypatch.chdir(tmp_path)
    assert absolute("data/warehouse") == str(tmp_path / "data" / "warehouse")
    assert absolute("~/wh") == str(Path.home() / "wh")
    assert absolute("/srv/dream/wh") == "/srv/dream/wh"
    for uri in ("s3://bucket/wh", "abfss://c@a.dfs.core.windows.net/wh", "file:/srv/wh"):
        assert absolute(uri) == uri
    assert absolute(None) is None
