"""`dream report` as a user runs it: a subprocess on the small synthetic warehouse of the session
(``run_warehouse`` in conftest.py, shared with the notebooks), its HTML page read back with the standard
library's parser. The figures it shows are checked against the Delta tables read with pyarrow and pandas
(no Spark), and against the disclosure rule: no count of 1-4 persons anywhere, no person id."""

from __future__ import annotations

import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from dream.reference.codes import public_support_total
from dream.reference.kommuner import kommuner
from dream.report.protect import protect_parts
from tests.test_notebooks import RECIPIENTS, TOTAL, benchmark_rates, read_delta

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ["offentlig-forsoergelse", "status-52-uger", "varighed", "passivandel", "benchmark"]


class Page(HTMLParser):
    """What the tests look at: every start tag with its attributes, the text and SVG marks of each section,
    and every table as rows of cell texts (by the table's id)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.sections: dict[str, dict] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.title = self.h1 = ""
        self._section = self._table = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._in: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._in.append(tag)
        if tag == "section":
            self._section = attrs.get("id")
            self.sections[self._section] = {"text": [], "svg": 0, "marks": 0}
        elif self._section and tag == "svg":
            self.sections[self._section]["svg"] += 1
        elif self._section and tag in ("rect", "polyline", "circle", "line", "text"):
            self.sections[self._section]["marks"] += 1
        elif tag == "table":
            self._table = attrs.get("id")
            self.tables[self._table] = []
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if self._in and self._in[-1] == tag:
            self._in.pop()
        if tag == "section":
            self._section = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._table].append(self._row)
            self._row = None

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.handle_endtag(tag)

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if self._section:
            self.sections[self._section]["text"].append(data)
        if "title" in self._in and "svg" not in self._in:
            self.title += data
        if "h1" in self._in:
            self.h1 += data

    def table(self, table_id: str) -> pd.DataFrame:
        header, *rows = self.tables[table_id]
        return pd.DataFrame(rows, columns=header)


def danish(value: float, decimals: int = 1) -> str:
    return f"{value:,.{decimals}f}".replace(",", "\0").replace(".", ",").replace("\0", ".")


def dream_report(*args: str, conf: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--env", "test", *(["--conf-dir", str(conf)] if conf else [])]
    return subprocess.run([sys.executable, "-m", "dream.cli", "report", *args, *extra], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def support(run_warehouse) -> pd.DataFrame:
    """maaling_offentlig_forsoergelse, the all-groups rows."""
    table = read_delta(run_warehouse["warehouse"] / "maaling_offentlig_forsoergelse",
                       ["periode", "kommune", "ydelsesgruppe", "antal_personer", "fuldtidspersoner",
                        "andel_af_befolkning"])
    return table[table.ydelsesgruppe == public_support_total()]


@pytest.fixture(scope="module")
def chosen(support) -> str:
    """The kommune with the most persons on public support in the latest month."""
    latest = support[(support.periode == support.periode.max()) & (support.kommune != "000")]
    return latest.sort_values(["antal_personer", "kommune"], ascending=[False, True]).kommune.iloc[0]


@pytest.fixture(scope="module")
def report(run_warehouse, chosen, tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "sub" / "rapport.html"  # the folder is made
    run = dream_report("--kommune", str(int(chosen)), "--warehouse", str(run_warehouse["warehouse"]),
                       "--out", str(out), conf=run_warehouse["conf"])
    assert run.returncode == 0, run.stderr[-3000:]
    html = out.read_text(encoding="utf-8")
    return {"run": run, "html": html, "page": Page(html), "warehouse": run_warehouse["warehouse"]}


def test_the_report_logs_its_steps_and_ends_with_a_summary(report):
    run = report["run"]
    for step in range(1, 6):
        assert f"Report {step}/5:" in run.stderr
    assert re.search(r"^dream report: done in [\d.]+ s$", run.stdout, re.M), run.stdout


def test_the_page_is_self_contained(report):
    page, html = report["page"], report["html"]
    for tag, attrs in page.tags:
        for name in ("src", "href", "xlink:href", "action", "data"):
            value = (attrs.get(name) or "").strip().lower()
            assert not re.match(r"(https?:)?//", value), (tag, name, value)
        assert tag not in ("script", "link", "iframe", "img", "object", "embed"), tag
    assert "url(" not in html and "@import" not in html
    # The only URL anywhere is the SVG namespace name (an identifier; nothing is fetched).
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}


def test_the_page_names_the_kommune_and_has_every_section_with_a_chart(report, chosen):
    page = report["page"]
    name = next(k.kommunenavn for k in kommuner() if k.kommunekode == chosen)
    assert name in page.h1 and name in page.title
    assert list(page.sections) == SECTIONS
    for section, found in page.sections.items():
        assert found["svg"] == 1 and found["marks"] > 0, section  # bars, lines, points or words


def test_the_share_on_public_support_is_the_measure_tables(report, chosen, support):
    own = support[support.kommune == chosen].set_index("periode").sort_index()
    latest = support.periode.max()
    assert latest in own.index and own.loc[latest, "antal_personer"] >= 5
    shown = report["page"].table("tabel-offentlig-forsoergelse")
    assert list(shown["Måned"]) == sorted(support.periode.unique())[-13:]
    last = shown.iloc[-1]
    assert last["Andel"] == f"{danish(own.loc[latest, 'andel_af_befolkning'] * 100)} %"
    assert last["Personer"] == danish(own.loc[latest, "antal_personer"], 0)
    assert last["Fuldtidspersoner"] == danish(own.loc[latest, "fuldtidspersoner"])
    assert f"{danish(own.loc[latest, 'andel_af_befolkning'] * 100)} %" in "".join(
        report["page"].sections["offentlig-forsoergelse"]["text"])


def test_the_ranks_among_the_kommuner_are_the_published_counts(report, chosen):
    """Every group's row of the latest month: suppressed where the published benchmark suppresses it, else
    its count, rate, rank and percentile as worked out from the published counts and the population."""
    cells = read_delta(report["warehouse"] / "ydelsesaktivitet_benchmark",
                       ["periode", "niveau", "omraade", "ydelsesgruppe", "visitationsgruppe", "aktivering", "maal",
                        "antal", "undertrykt"])
    periode = cells.periode.max()
    own = cells[(cells.periode == periode) & (cells.niveau == "kommune") & (cells.omraade == chosen)
                & (cells.maal == RECIPIENTS) & (cells.visitationsgruppe == TOTAL) & (cells.aktivering == TOTAL)]
    shown = report["page"].table("tabel-benchmark").set_index("Ydelsesgruppe")
    assert set(shown.index) == set(own.ydelsesgruppe) and shown.index[0] == TOTAL
    compared = 0
    for cell in own.itertuples():
        row = shown.loc[cell.ydelsesgruppe]
        if cell.undertrykt:
            assert (row["Modtagere"], row["Pr. 1.000"], row["Rang"]) == ("#", "#", "#")
            continue
        assert row["Modtagere"] == danish(cell.antal, 0)
        _, rates, land = benchmark_rates(report["warehouse"], RECIPIENTS, periode, cell.ydelsesgruppe)
        ranked = rates[rates.kommune == chosen]
        if ranked.empty:  # no residents 16-66 in the population table: no rate
            continue
        ranked = ranked.iloc[0]
        assert row["Rang"] == f"{ranked.rang} af {len(rates)}"
        assert row["Pr. 1.000"] == danish(ranked.pr_1000)
        assert row["Percentil"] == str(round(ranked.percentil * 100))
        assert row["Hele landet"] == ("#" if pd.isna(land) else danish(land))  # the country's cell may be hidden
        compared += 1
    assert compared, f"kommune {chosen} has no published benchmark cell: nothing was compared"


def test_status_52_weeks_on_shows_the_key_figures_of_groups_of_5_or_more(report, chosen):
    figures = read_delta(report["warehouse"] / "noegletal",
                         ["periodetype", "periode", "niveau", "omraade", "ydelsesgruppe", "antal_borgere"])
    months = figures[figures.periodetype == "maaned"]
    own = months[(months.periode == months.periode.max()) & (months.niveau == "kommune")
                 & (months.omraade == chosen)]
    shown = report["page"].table("tabel-status-52-uger").set_index("Ydelsesgruppe")["Antal borgere"]
    assert set(shown.index) == set(own.ydelsesgruppe)
    expected = {g: danish(n, 0) if n >= 5 else "#" for g, n in zip(own.ydelsesgruppe, own.antal_borgere)}
    assert shown.to_dict() == expected
    assert any(n >= 5 for n in own.antal_borgere)


def test_no_count_of_1_to_4_persons_and_no_person_id_is_shown(report):
    page = report["page"]
    for table_id in ("tabel-status-52-uger", "tabel-varighed", "tabel-passivandel", "tabel-benchmark"):
        frame = page.table(table_id)
        for column in frame.columns[1:]:
            for text in frame[column]:
                count = re.match(r"^(\d[\d.]*)( \(|$)", text)  # "12", "1.234" or "12 (34 %)"; not "12,5"
                if count and column not in ("Rang", "Percentil"):
                    assert not 1 <= int(count[1].replace(".", "")) <= 4, (table_id, column, text)
    assert "#" in "".join(c for rows in page.tables.values() for r in rows for c in r), \
        "nothing is suppressed: the disclosure rule is not exercised by this warehouse"
    assert not re.search(r"\b[0-9a-f]{64}\b", report["html"])


def test_a_row_is_protected_so_no_hidden_part_can_be_recomputed():
    rows = pd.DataFrame({"gruppe": ["a", "b", "c", "d", "e"], "x": [10, 3, 0, 2, 0], "y": [7, 9, 0, 1, 0],
                         "z": [9, 8, 0, 1, 3], "n": [26, 20, 0, 4, 3]})
    out = protect_parts(rows, ["x", "y", "z"], "n").set_index("gruppe")
    assert out.loc["a", ["x", "y", "z", "n"]].tolist() == [10, 7, 9, 26] and not out.loc["a", "undertrykt"]
    b = out.loc["b"]
    assert pd.isna(b["x"]) and b["n"] == 20 and sum(pd.isna(b[c]) for c in "xyz") == 2  # 3 and its partner
    assert out.loc["c", ["x", "y", "z", "n"]].tolist() == [0, 0, 0, 0]  # zeros are shown
    assert all(pd.isna(out.loc["d", c]) for c in "xyzn")  # 4 persons in all: nothing of them
    assert all(pd.isna(out.loc["e", c]) for c in "xyzn")  # not even the zeros saying all 3 are in z
    assert out["undertrykt"].tolist() == [False, True, False, True, True]


def test_an_unknown_kommune_is_a_clear_error_before_spark_starts(tmp_path):
    run = dream_report("--kommune", "999", "--warehouse", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert run.returncode == 2
    assert "dream report: error: unknown kommune code '999'" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "r.html").exists()


def test_a_warehouse_without_the_tables_is_a_clear_error(tmp_path):
    run = dream_report("--kommune", "101", "--warehouse", str(tmp_path), "--out", str(tmp_path / "r.html"))
    assert run.returncode == 2, run.stderr[-3000:]
    assert re.search(r"dream report: error: the warehouse \S+ lacks the Delta table\(s\) "
                     r"maaling_offentlig_forsoergelse, noegletal, .*run `dream model", run.stderr)
    assert "Traceback" not in run.stderr and not (tmp_path / "r.html").exists()


def test_dream_audit_passes_on_the_published_benchmark(run_warehouse):
    """`dream audit`: every suppressed cell of the release the run published is audited by linear
    programming; none is revealed or known to be under 5 (exit 0), and the summary line counts them."""
    done = subprocess.run([sys.executable, "-m", "dream.cli", "audit", "--warehouse", str(run_warehouse["warehouse"]),
                           "--env", "test", "--conf-dir", str(run_warehouse["conf"])],
                          cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = re.search(r"Audited (\d+) periods x measures: (\d+) suppressed cells, 0 revealed, 0 known", done.stderr)
    assert summary and int(summary[1]) >= 2 and int(summary[2]) > 0, done.stderr[-3000:]  # 2 months published
